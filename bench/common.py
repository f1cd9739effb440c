"""What the benchmarks share: the model to measure, statistics, Markdown tables, the machine,
and running the app as a server process (the load test and the app's tests use that too)."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import time
import urllib.error
import urllib.request
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


# Environment of every app process started here: no analytics calls, no Hub lookups.
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(
    url: str, timeout_s: float, proc: subprocess.Popen | None = None, poll_s: float = 0.5
) -> None:
    """Poll url until it answers 200; fail at once if proc exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before serving")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(poll_s)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


def stop(proc: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM (the app's orderly way out: it removes its workdir), then kill if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
