"""Screenshot of the app on the shipped checkpoint, for the README and the Space.

    python scripts/screenshot.py [--out docs/screenshot.png] [--model DIR]

Starts `python app.py` on a free loopback port, opens it in Debian's Chromium
($CHROMIUM_PATH, default /usr/bin/chromium) through Playwright, reconstructs the
first bundled example and saves the page.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_fixtures import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402

FIRST_EXAMPLE = ROOT / "examples" / "toulouse-lautrec-moulin-rouge-la-goulue.jpg"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    p.add_argument("--model", type=Path, default=ROOT / "checkpoints" / "posters-128")
    args = p.parse_args()

    log = Path(os.environ.get("TMPDIR", "/tmp")) / "poster-vaegan-screenshot.log"
    with serve_app(args.model, log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("#recon-input input[type=file]").set_input_files(str(FIRST_EXAMPLE))
        page.locator("#recon-output img").wait_for(timeout=60_000)
        page.locator("#recon-report").get_by_text("PSNR").wait_for(timeout=60_000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
