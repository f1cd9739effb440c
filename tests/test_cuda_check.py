"""bench/cuda_check.py's CPU path: the script a GPU machine runs, exercised here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cpu_path_learns_exports_and_reloads():
    cmd = [
        sys.executable,
        "bench/cuda_check.py",
        "--device",
        "cpu",
        "--tiny",
        "--steps",
        "160",
        "--warmup",
        "5",
        "--batch-size",
        "8",
        "--image-size",
        "32",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["loss_fell"]
    assert result["rec_loss_last"] < result["rec_loss_first"]
    assert result["reload_ok"]
    assert result["images_per_s"] > 0
    assert result["precision"] in ("bfloat16", "fp32")
