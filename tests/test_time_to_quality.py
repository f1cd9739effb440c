"""scripts/time_to_quality.py: images and minutes for one recipe to reach another's quality."""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "time_to_quality.py"
HEADER = ["epoch", "images", "wall_s", "train/psnr", "train/ssim", "heldout/psnr"]


def load_script():
    spec = importlib.util.spec_from_file_location("time_to_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ttq = load_script()


def write_run(folder: Path, rows: list[list[float]]) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return folder


def test_images_to_reach_interpolates_between_snapshots() -> None:
    rows = [{"images": 100.0, "m": 10.0}, {"images": 200.0, "m": 20.0}]
    assert ttq.images_to_reach(rows, "m", 15.0) == (150.0, True)
    assert ttq.images_to_reach(rows, "m", 20.0) == (200.0, True)


def test_reached_at_the_first_snapshot_is_an_upper_bound_and_never_is_infinite() -> None:
    rows = [{"images": 100.0, "m": 10.0}, {"images": 200.0, "m": 5.0}]
    assert ttq.images_to_reach(rows, "m", 8.0) == (100.0, False)
    assert ttq.images_to_reach(rows, "m", 11.0) == (math.inf, False)


def test_comparison_turns_images_into_minutes_at_each_speed(tmp_path: Path) -> None:
    ref = ttq.curve(write_run(tmp_path / "seed", [[1, 6000, 1, 16.0, 0.4, 11.0]]))
    cand = ttq.curve(
        write_run(tmp_path / "fast", [[1, 6000, 1, 12.0, 0.2, 13.0], [2, 12000, 2, 18.0, 0.6, 12]])
    )
    entries = {e["key"]: e for e in ttq.comparison(ref, 10.0, cand, 60.0)}

    psnr = entries["train/psnr"]
    assert psnr["candidate_images"] == pytest.approx(10000)
    assert psnr["reference_min"] == pytest.approx(10.0)  # 6000 images at 10/s
    assert psnr["candidate_min"] == pytest.approx(10000 / 60 / 60)
    assert psnr["speedup"] == pytest.approx(6000 / 10 / (10000 / 60))
    assert not entries["heldout/psnr"]["exact"]  # better from its first snapshot on


def test_command_prints_a_table_and_refuses_a_zero_speed(tmp_path: Path) -> None:
    seed = write_run(tmp_path / "seed", [[1, 6000, 1, 16.0, 0.4, 11.0]])
    fast = write_run(tmp_path / "fast", [[1, 6000, 1, 12.0, 0.2, 10.0]])
    # A folder holding metrics.csv, or the file itself.
    base = [sys.executable, str(SCRIPT), "--reference", str(seed), "--candidate"]
    base.append(str(fast / "metrics.csv"))

    done = subprocess.run(
        [*base, "--reference-speed", "10", "--candidate-speed", "60"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| train/psnr | 16 | 6,000, 10.0 | not reached | < 1 |" in done.stdout

    bad = subprocess.run(
        [*base, "--reference-speed", "0", "--candidate-speed", "60"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "must be positive" in bad.stderr
