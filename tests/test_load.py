"""The load test (scripts/load_test.py) at CI size: a few users, no failures, no leftovers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app_fixtures import QUIET_ENV, ROOT, save_small_model

SCRIPT = ROOT / "scripts" / "load_test.py"
USERS, CALLS = 8, 2
RUN_TIMEOUT_S = 480  # start-up, warm-up and the rounds, beside other work on 2 cores

pytestmark = pytest.mark.slow


def load_script():
    """scripts/load_test.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_concurrent_users_get_every_answer_and_the_server_cleans_up(tmp_path: Path) -> None:
    model = save_small_model(tmp_path / "model")
    numbers = tmp_path / "load.json"
    cmd = [sys.executable, str(SCRIPT), "--users", str(USERS), "--calls", str(CALLS)]
    cmd += ["--model", str(model), "--json", str(numbers)]
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, **QUIET_ENV},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(numbers.read_text())
    assert result["failures"] == 0
    # Every user's reconstruct and frame in every round, half of them the same poster.
    assert {e: v["requests"] for e, v in result["endpoints"].items()} == {
        "/reconstruct": USERS * CALLS,
        "/frame": USERS * CALLS,
    }
    assert result["rss_growth_mb"] <= result["max_growth_mb"]
    # The run wrote files (uploads, outputs, Gradio's copies); none outlive the server.
    assert result["temp_files_at_end"] > 0
    assert result["temp_files_left"] == 0
    assert "p95" in done.stdout


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.0.0.7:7860/"])
def test_the_load_test_only_targets_loopback(url: str) -> None:
    with pytest.raises(SystemExit, match="loopback"):
        load_script().check_loopback(url)
