"""How long one recipe takes to reach another's quality: a speed claim at equal quality.

    python scripts/time_to_quality.py --reference docs/quality/seed.csv \\
        --reference-speed 14.1 --candidate checkpoints/posters-128 --candidate-speed 96.2

Each run is the trainer's metrics.csv (both splits at every snapshot), or a run or export
folder holding one. The
reference's last row is the quality to reach; for each metric and split, the candidate's
curve gives the images it needed to get there (interpolated between snapshots). Images
become seconds through each recipe's idle training speed in images/s (bench/train_speed.py
on the same machine), because a run's own wall time counts whatever else shared the CPU.
Prints a Markdown table: per metric, the images and minutes each recipe needed, and the
reference's time over the candidate's (above 1: the candidate is faster to that quality).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from train.snapshots import read_csv

METRICS = ("psnr", "ssim", "sharpness")
SPLITS = ("train", "heldout")


def curve(run: Path) -> list[dict[str, float]]:
    """A metrics.csv (or the one in folder `run`) as rows of floats, by images shown."""
    path = run / "metrics.csv" if run.is_dir() else run
    rows = read_csv(path)
    if not rows:
        raise SystemExit(f"{path} is missing or has no rows; train with snapshots first")
    floats = ({k: float(v) for k, v in r.items() if v != ""} for r in rows)
    return sorted(floats, key=lambda row: row["images"])


def images_to_reach(rows: list[dict[str, float]], key: str, target: float) -> tuple[float, bool]:
    """(images, exact): the first point where rows[key] reaches target, higher being better.

    Linear between snapshots. Reached at the first snapshot already: (its images, False),
    an upper bound. Never reached: (inf, False).
    """
    previous = None
    for row in rows:
        value = row.get(key, math.nan)
        if value >= target:
            if previous is None:
                return row["images"], False
            (x0, y0), x1 = previous, row["images"]
            return x0 + (x1 - x0) * (target - y0) / (value - y0), True
        if not math.isnan(value):
            previous = (row["images"], value)
    return math.inf, False


def comparison(
    reference: list[dict[str, float]],
    reference_speed: float,
    candidate: list[dict[str, float]],
    candidate_speed: float,
) -> list[dict]:
    """One entry per split and metric: targets, images, minutes and the speed-up."""
    goal = reference[-1]
    ref_min = goal["images"] / reference_speed / 60
    entries = []
    for split in SPLITS:
        for metric in METRICS:
            key = f"{split}/{metric}"
            if key not in goal:
                continue
            images, exact = images_to_reach(candidate, key, goal[key])
            cand_min = images / candidate_speed / 60
            entries.append(
                {
                    "key": key,
                    "target": goal[key],
                    "reference_images": goal["images"],
                    "reference_min": ref_min,
                    "candidate_images": images,
                    "candidate_min": cand_min,
                    "exact": exact,
                    "speedup": ref_min / cand_min,
                }
            )
    return entries


def markdown(entries: list[dict], names: tuple[str, str]) -> str:
    ref, cand = names
    lines = [
        f"| metric | {ref}'s value | {ref}: images, min | {cand}: images, min | speed-up |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        if math.isinf(e["candidate_images"]):
            reached, speedup = "not reached", "< 1"
        else:
            bound = "" if e["exact"] else "≤ "
            reached = f"{bound}{e['candidate_images']:,.0f}, {bound}{e['candidate_min']:.1f}"
            speedup = f"{'' if e['exact'] else '≥ '}{e['speedup']:.1f}x"
        lines.append(
            f"| {e['key']} | {e['target']:.3g} | {e['reference_images']:,.0f}, "
            f"{e['reference_min']:.1f} | {reached} | {speedup} |"
        )
    return "\n".join(lines)


def run_name(run: Path) -> str:
    """A short name for a table header: the folder's name, or the CSV's stem."""
    return run.name if run.is_dir() else run.stem


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", type=Path, required=True, help="metrics.csv to catch up with")
    p.add_argument("--reference-speed", type=float, required=True, help="its images/s")
    p.add_argument("--candidate", type=Path, required=True, help="metrics.csv that catches up")
    p.add_argument("--candidate-speed", type=float, required=True, help="its images/s")
    args = p.parse_args(argv)

    for speed in (args.reference_speed, args.candidate_speed):
        if not speed > 0:
            p.error("speeds are images per second and must be positive")
    entries = comparison(
        curve(args.reference), args.reference_speed, curve(args.candidate), args.candidate_speed
    )
    print(markdown(entries, (run_name(args.reference), run_name(args.candidate))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
