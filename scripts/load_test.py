"""A bounded load test of the app, on loopback only.

    python scripts/load_test.py --users 32 --calls 4 [--model DIR | --url URL]

Starts `python app.py` on a free 127.0.0.1 port (or uses --url, which must be a loopback
address), then runs `--users` gradio_client users at once. Each makes `--calls` rounds of
one /reconstruct and one /frame call; half of them send the same bundled poster at the
same moment, as when everyone clicks the same example, so identical outputs are produced
and fetched concurrently. Every returned image is downloaded and decoded.

Printed: p50/p95 latency per endpoint, failed requests, the server's resident memory after
a warm-up round and its peak over the run, and the app's temporary files left once the
server stops. The exit code is 0 only with zero failures, the peak within --max-growth-mb
of the warm-up level and (for a server started here) nothing left behind; --json writes
the same numbers for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from bench.common import QUIET_ENV, ROOT, free_port, stop, wait_until_up

SHARED_POSTER = ROOT / "examples" / "mucha-job.jpg"  # the example everyone clicks
OTHER_POSTER = ROOT / "examples" / "cardinaux-zermatt.jpg"  # poster B of every morph
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
START_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 600
ENDPOINTS = ("/reconstruct", "/frame")


@dataclass
class Tally:
    """Latencies and failures of every user, guarded by one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, seconds: float, error: str | None, timed=True) -> None:
        """A failure always counts; a latency only outside the warm-up round."""
        with self.lock:
            if error is not None:
                self.failures.append(f"{endpoint}: {error}")
            elif timed:
                self.latencies[endpoint].append(seconds)


class MemoryWatch(threading.Thread):
    """Samples a process's resident memory (Linux /proc) every 50 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))

    def reset(self) -> float:
        """Start a new peak from the current level and return that level."""
        self.peak_mb = rss_mb(self.pid)
        return self.peak_mb

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_mb


def rss_mb(pid: int) -> float:
    """Resident memory of pid in MiB, 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def started_app(model: str | None, tmp: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python app.py` on a free loopback port, its temporary files all under tmp."""
    port = free_port()
    cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)]
    if model:
        cmd += ["--model", model]
    # The app keeps its files, Gradio's cache included, in a workdir under TMPDIR: every
    # file it writes lands under tmp, so leftovers can be counted.
    env = {**os.environ, **QUIET_ENV, "TMPDIR": str(tmp)}
    env.pop("GRADIO_TEMP_DIR", None)
    log_path = tmp.parent / "app.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            try:
                wait_until_up(url, START_TIMEOUT_S, proc)
            except (RuntimeError, TimeoutError) as err:
                raise RuntimeError(f"{err}; its log:\n{log_path.read_text()[-3000:]}") from err
            yield url, proc
        finally:
            stop(proc, timeout_s=60)


def files_under(folder: Path) -> list[Path]:
    """Every regular file below folder (empty folders do not count)."""
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def check_image(path: str) -> None:
    """Decode a downloaded output fully: a truncated or mixed-up file raises here."""
    with Image.open(path) as image:
        image.load()


def user_poster(index: int, folder: Path) -> Path:
    """Even users share the bundled example; odd ones get a poster of their own."""
    if index % 2 == 0:
        return SHARED_POSTER
    rng = np.random.default_rng(index)
    image = Image.new("RGB", (120, 168), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    draw.ellipse([20, 40, 100, 120], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    path = folder / f"user{index:03d}.png"
    image.save(path)
    return path


def timed_call(client: Client, tally: Tally, timed: bool, endpoint: str, *args) -> None:
    """One request, its outputs downloaded and decoded, then recorded."""
    started = time.perf_counter()
    error = None
    try:
        result = client.predict(*args, api_name=endpoint)
        check_image(result[0])
    except Exception as err:  # every kind of failure counts, and the run goes on
        error = f"{type(err).__name__}: {err}"
    tally.record(endpoint, time.perf_counter() - started, error, timed)


def one_round(client: Client, poster: Path, t: float, tally: Tally, timed: bool) -> None:
    """One reconstruct of the poster, then one morph frame from it to the other poster."""
    timed_call(client, tally, timed, "/reconstruct", handle_file(str(poster)))
    a, b = handle_file(str(poster)), handle_file(str(OTHER_POSTER))
    timed_call(client, tally, timed, "/frame", a, b, t, "slerp")


def run_user(
    index: int, url: str, args: argparse.Namespace, scratch: Path, gates: list, tally: Tally
) -> None:
    """One user: a warm-up round, then --calls rounds, each begun with all users at once."""
    try:
        client = Client(
            url,
            verbose=False,
            download_files=str(scratch / f"dl{index:03d}"),
            # httpx's 5 s default would count a slow upload on a busy machine as a failure.
            httpx_kwargs={"timeout": REQUEST_TIMEOUT_S},
        )
        poster = user_poster(index, scratch)
    except Exception as err:
        tally.record("/reconstruct", 0.0, f"client start: {type(err).__name__}: {err}")
        client = None
    for round_, gate in enumerate(gates):
        try:
            gate.wait(REQUEST_TIMEOUT_S)  # identical requests arrive together
        except threading.BrokenBarrierError:
            tally.record("/reconstruct", 0.0, f"user {index}: the others never came")
            return
        if client is not None and round_ < len(gates) - 1:
            # Even users all ask for the same frame: identical outputs at the same moment.
            t = 0.5 if index % 2 == 0 else (index % 10) / 10
            one_round(client, poster, t, tally, timed=round_ > 0)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def run_load(url: str, args: argparse.Namespace, scratch: Path, watch: MemoryWatch | None):
    """All users' rounds; returns (tally, server RSS in MiB after the warm-up round and
    after each measured round, empty without a server of our own)."""
    tally = Tally()
    levels: list[float] = []

    def mark(index: int) -> None:
        # Run by the last user to reach a gate: the level between two rounds. The peak
        # is counted from the end of the warm-up round (gate 1) on.
        if watch is not None and index > 0:
            levels.append(watch.reset() if index == 1 else rss_mb(watch.pid))

    # Gate 0 starts the warm-up round, gate k round k, the last one closes the run.
    gates = [
        threading.Barrier(args.users, action=lambda i=i: mark(i)) for i in range(args.calls + 2)
    ]
    threads = [
        threading.Thread(target=run_user, args=(i, url, args, scratch, gates, tally))
        for i in range(args.users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S * (args.calls + 2))
    return tally, levels


def summary(args, tally: Tally, levels: list[float], peak_mb, at_end, left) -> dict:
    """The run's numbers as a plain dict (what --json writes)."""
    warm_mb = levels[0] if levels else None
    endpoints = {
        e: {
            "requests": len(v),
            "p50_s": round(percentile(v, 50), 3),
            "p95_s": round(percentile(v, 95), 3),
        }
        for e, v in tally.latencies.items()
    }
    growth = None if warm_mb is None else round(peak_mb - warm_mb, 1)
    return {
        "users": args.users,
        "calls": args.calls,
        "requests": args.users * (args.calls + 1) * len(ENDPOINTS),  # warm-up included
        "failures": len(tally.failures),
        "failure_examples": tally.failures[:5],
        "endpoints": endpoints,
        "rss_after_warmup_mb": None if warm_mb is None else round(warm_mb, 1),
        "rss_peak_mb": None if warm_mb is None else round(peak_mb, 1),
        "rss_growth_mb": growth,
        "rss_between_rounds_mb": [round(level) for level in levels],
        "max_growth_mb": args.max_growth_mb,
        "temp_files_at_end": at_end,
        "temp_files_left": left,
    }


def report(result: dict) -> None:
    """Print the numbers for people."""
    print(
        f"{result['users']} users x {result['calls']} rounds (and a warm-up round): "
        f"{result['requests']} requests, {result['failures']} failed"
    )
    for failure in result["failure_examples"]:
        print(f"  failed: {failure[:300]}")
    for name, e in result["endpoints"].items():
        print(f"  {name:13s} n={e['requests']:4d}  p50 {e['p50_s']:.3f} s  p95 {e['p95_s']:.3f} s")
    if result["rss_peak_mb"] is not None:
        print(
            f"server RSS: {result['rss_after_warmup_mb']:.0f} MiB after warm-up, peak "
            f"{result['rss_peak_mb']:.0f} MiB (+{result['rss_growth_mb']:.0f}, "
            f"bound +{result['max_growth_mb']:.0f}); between rounds "
            + ", ".join(str(level) for level in result["rss_between_rounds_mb"])
        )
    if result["temp_files_left"] is not None:
        print(
            f"temporary files: {result['temp_files_at_end']} at the end of the run, "
            f"{result['temp_files_left']} left after shutdown"
        )
        for path in result.get("temp_files_left_examples", []):
            print(f"  left: {path}")


def passed(result: dict) -> bool:
    """Zero failures, memory within the bound, nothing left behind."""
    growth, left = result["rss_growth_mb"], result["temp_files_left"]
    return (
        result["failures"] == 0
        and (growth is None or growth <= result["max_growth_mb"])
        and (left is None or left == 0)
    )


def check_loopback(url: str) -> None:
    """Refuse any --url off this machine: the load is for our own server only."""
    host = urllib.parse.urlparse(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"--url must be a loopback address (127.0.0.1, localhost), not {host}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=32, help="concurrent gradio_client users")
    p.add_argument("--calls", type=int, default=4, help="rounds of reconstruct + frame each")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", help="model folder for the app started here")
    source.add_argument("--url", help="a running app on a loopback address instead")
    p.add_argument(
        "--max-growth-mb",
        type=float,
        default=640.0,
        help="allowed rise of the server's RSS over its warm-up level (MiB)",
    )
    p.add_argument("--json", type=Path, help="also write the numbers to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.users < 1 or args.calls < 1:
        raise SystemExit("--users and --calls must be at least 1")
    scratch = Path(tempfile.mkdtemp(prefix="vaegan-load-"))
    # gradio_client stages downloads in the temp dir: keep them out of the server's count.
    tempfile.tempdir = str(scratch)
    try:
        result = measure(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if passed(result) else 1


def measure(args: argparse.Namespace, scratch: Path) -> dict:
    """Run the load against --url, or against an app started here and then stopped."""
    if args.url:
        check_loopback(args.url)
        tally, _ = run_load(args.url, args, scratch, None)
        return summary(args, tally, [], None, None, None)
    server_tmp = scratch / "server" / "tmp"
    server_tmp.mkdir(parents=True)
    with started_app(args.model, server_tmp) as (url, proc):
        watch = MemoryWatch(proc.pid)
        watch.start()
        tally, levels = run_load(url, args, scratch, watch)
        peak_mb = watch.stop()
        at_end = len(files_under(server_tmp))
    left = files_under(server_tmp)
    result = summary(args, tally, levels, peak_mb, at_end, len(left))
    result["temp_files_left_examples"] = [str(p.relative_to(server_tmp)) for p in left[:5]]
    return result


if __name__ == "__main__":
    sys.exit(main())
