"""What the benchmarks share: the model to measure, statistics, Markdown tables, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "posters-128"
POSTER = ROOT / "examples" / "mucha-job.jpg"  # 450x629 JPEG, a typical upload


def model_folder(name: str | None, scratch: Path) -> tuple[Path, str]:
    """The exported model to measure, and a line saying what it is.

    Without a name: the shipped checkpoint, or, while it does not exist yet, an untrained
    model with the default ModelConfig saved to scratch. That is the shipped architecture,
    and speed does not depend on the weights' values.
    """
    if name:
        return Path(name), f"`{name}`"
    if SHIPPED.is_dir():
        return SHIPPED, "`checkpoints/posters-128` (the shipped model)"
    from vaegan import VAEGAN, ModelConfig

    folder = scratch / "untrained-default"
    if not (folder / "model.safetensors").is_file():
        VAEGAN(ModelConfig()).save_pretrained(folder)
    return folder, "an untrained model with the default ModelConfig (the shipped architecture)"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; numbers are printed as given, so round them first."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    """lscpu's model name, else /proc/cpuinfo's, else the platform's processor string."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    if not out and Path("/proc/cpuinfo").is_file():
        out = Path("/proc/cpuinfo").read_text()
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory (VmHWM) of a live process in MiB; None where /proc lacks it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    return None


def load_average() -> float | None:
    """The 1-minute load average; anything near the core count means the CPU was busy."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
