#!/usr/bin/env bash
# Install what the tests need (pinned packages, Debian's Chromium) and run them.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python -m pip install --quiet --disable-pip-version-check --no-deps -e .

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

python -m pytest "$@"
