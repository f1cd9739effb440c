"""The app's latency through gradio_client beside Gradio's own floor, its start-up and memory.

python bench/app_latency.py [--model DIR] [--calls 40] [--moves 40] [--json out.json]

Runs `app.main` (the page, queue, threads and launch settings of `python app.py`) in a
subprocess, with one endpoint added: /identity, built from the same components as
/reconstruct (the app's PosterImage input, a gr.Image output of type filepath in PNG, a
Markdown), whose function writes the upload unchanged as PNG through the same
OutputFiles. Its round trip is what Gradio itself costs. Measured:
- start-up: from starting the process to the first answer of /reconstruct;
- round trips of /identity and /reconstruct, called alternately with a real poster
  (upload, queue, result, download), p50 and p95;
- slider moves: /frame called --moves times with the posters uploaded once, as the
  browser does, and Gradio's own server-side timings of each call (GRADIO_PROFILING=1);
- the server's peak resident memory (VmHWM) after start-up and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, too

from bench.common import (
    POSTER,
    QUIET_ENV,
    ROOT,
    free_port,
    median,
    model_folder,
    peak_rss_mb,
    percentile,
    stop,
    table,
    wait_until_up,
)

POSTER_B = ROOT / "examples" / "cardinaux-zermatt.jpg"
SERVER_ENV = {**QUIET_ENV, "GRADIO_PROFILING": "1"}
START_TIMEOUT_S = 300  # importing torch and gradio is slow on a busy machine


# ----------------------------------------------------------------- the server side


def add_identity(demo, posters) -> None:
    """Add /identity to a built page: reconstruct's components around an identity function."""
    import gradio as gr

    import app
    from vaegan import open_image

    def identity(source: str | bytes | None) -> tuple[str, str]:
        """The upload, decoded by the app's one door and written unchanged as PNG."""
        if source is None:
            raise app.Refused("No image arrived.")
        image = open_image(source)
        return posters.outputs.png(image, "identity"), "**The upload, unchanged.**"

    with demo, gr.Tab("Identity (benchmark)", visible=False):
        source = app._poster_input("Poster", "identity-input")  # the app's own input component
        result = gr.Image(type="filepath", format="png", interactive=False)
        report = gr.Markdown()
        gr.Button(visible=False).click(identity, [source], [result, report], api_name="identity")


def serve(argv: list[str]) -> int:
    """app.main with /identity added to the page it builds."""
    import app

    build = app.build_demo

    def build_with_identity(posters):
        demo = build(posters)
        add_identity(demo, posters)
        return demo

    app.build_demo = build_with_identity  # app.main looks it up at call time
    return app.main(argv)


# ----------------------------------------------------------------- the client side


@contextlib.contextmanager
def server(model: Path, log: Path) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """Start the server; yield (process, URL, perf_counter at start); stop it after."""
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--model", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **SERVER_ENV}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc, f"http://127.0.0.1:{port}/", started
        finally:
            stop(proc)


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def round_trips(client, poster: Path, calls: int, warmup: int) -> dict[str, list[float]]:
    """Round-trip milliseconds of /identity and /reconstruct, called alternately."""
    from gradio_client import handle_file

    names = ["identity", "reconstruct"]
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + calls):
        for name in names if i % 2 == 0 else names[::-1]:  # neither always goes first
            ms = timed(lambda n=name: client.predict(handle_file(poster), api_name=f"/{n}"))
            if i >= warmup:
                times[name].append(ms)
    return times


def upload_once(upload: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap gradio_client's per-file upload so that each file is uploaded only once.

    The browser uploads a poster once and sends its server path on every slider move;
    gradio_client uploads on every call, and a fresh upload is a new file to the app's
    latent cache, so each move would re-encode both posters.
    """
    done: dict[tuple[str, int], dict] = {}

    def wrapper(f: dict, data_index: int) -> dict:
        key = (f["path"], data_index)
        if key not in done:
            done[key] = upload(f, data_index=data_index)
        return done[key]

    return wrapper


def slider_moves(client, a: Path, b: Path, moves: int, warmup: int) -> list[float]:
    """Round-trip milliseconds of /frame at points along the slider, posters sent once."""
    from gradio_client import handle_file

    endpoint = next(e for e in client.endpoints.values() if e.api_name == "/frame")
    endpoint._upload_file = upload_once(endpoint._upload_file)
    times = []
    for i in range(warmup + moves):
        t = round(0.01 + 0.98 * (i % 50) / 49, 2)  # distinct points, as a dragged slider
        ms = timed(
            lambda t=t: client.predict(
                handle_file(a), handle_file(b), t, "slerp", api_name="/frame"
            )
        )
        if i >= warmup:
            times.append(ms)
    return times


def server_traces(url: str) -> list[dict]:
    """Gradio's per-request phase timings (GRADIO_PROFILING=1), oldest first."""
    with urllib.request.urlopen(url + "gradio_api/profiling/traces", timeout=30) as response:
        return json.loads(response.read())


def phases(traces: list[dict], fn_name: str, last: int) -> dict[str, list[float]]:
    """Server-side milliseconds per phase of the last `last` calls of one endpoint."""
    mine = [t for t in traces if t["fn_name"] == fn_name][-last:]
    keys = ("queue_wait", "preprocess", "fn_call", "postprocess", "total")
    found = {k: [t[f"{k}_ms"] for t in mine] for k in keys}
    # A slider move's server time: the handler, then Gradio's output processing.
    found["fn_and_post"] = [t["fn_call_ms"] + t["postprocess_ms"] for t in mine]
    return found


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": median(values), "p95": percentile(values, 95), "n": len(values)}


def run(args: argparse.Namespace, scratch: Path) -> dict:
    """Start the server, measure everything, stop it; one JSON-ready dict."""
    from gradio_client import Client, handle_file

    folder, described = model_folder(args.model, scratch)
    with server(folder, scratch / "server.log") as (proc, url, started):
        try:
            wait_until_up(url, START_TIMEOUT_S, proc, poll_s=0.05)
            page_s = time.perf_counter() - started
            client = Client(url, verbose=False, download_files=str(scratch / "downloads"))
            client.predict(handle_file(args.poster), api_name="/reconstruct")
            answer_s = time.perf_counter() - started
            memory_start = peak_rss_mb(proc.pid)
            trips = round_trips(client, args.poster, args.calls, args.warmup)
            moves = slider_moves(client, args.poster, args.poster_b, args.moves, args.warmup)
            traces = server_traces(url)
            memory_end = peak_rss_mb(proc.pid)
        except Exception as err:
            log = (scratch / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{err}; the server's log:\n{log}") from err
    server_ms = {
        name: {k: stats(v) for k, v in phases(traces, name, count).items() if v}
        for name, count in (
            ("identity", args.calls),
            ("reconstruct", args.calls),
            ("frame", args.moves),
        )
    }
    return {
        "model": described,
        "poster": args.poster.name,
        "poster_b": args.poster_b.name,
        "startup_s": {"page": page_s, "first_answer": answer_s},
        "round_trip_ms": {name: stats(v) for name, v in trips.items()},
        "ratio_p50": median(trips["reconstruct"]) / median(trips["identity"]),
        "slider_round_trip_ms": stats(moves),
        "server_ms": server_ms,
        "peak_rss_mb": {"after_startup": memory_start, "end": memory_end},
    }


def markdown(result: dict) -> str:
    """Round trips, server phases, start-up and memory as Markdown tables."""
    trips, srv = result["round_trip_ms"], result["server_ms"]
    trip_rows = [
        [name, f"{trips[name]['p50']:.0f}", f"{trips[name]['p95']:.0f}", trips[name]["n"]]
        for name in ("identity", "reconstruct")
    ]
    trip_rows.append(["reconstruct / identity (p50)", f"{result['ratio_p50']:.2f}x", "", ""])
    slider = result["slider_round_trip_ms"]
    trip_rows.append(
        ["frame (slider move)", f"{slider['p50']:.0f}", f"{slider['p95']:.0f}", slider["n"]]
    )
    phase_names = ("queue_wait", "preprocess", "fn_call", "postprocess", "total", "fn_and_post")
    phase_rows = [
        [name] + [f"{srv[name][k]['p50']:.1f}" if k in srv[name] else "" for k in phase_names]
        for name in ("identity", "reconstruct", "frame")
        if name in srv
    ]
    startup, memory = result["startup_s"], result["peak_rss_mb"]
    return "\n\n".join(
        [
            table(["gradio_client round trip", "p50 ms", "p95 ms", "calls"], trip_rows),
            table(["server side, p50 ms", *phase_names], phase_rows),
            table(
                ["start-up and memory", "value"],
                [
                    ["process start to page served", f"{startup['page']:.1f} s"],
                    [
                        "process start to first /reconstruct answer",
                        f"{startup['first_answer']:.1f} s",
                    ],
                    ["server peak RSS after start-up", _mb(memory["after_startup"])],
                    ["server peak RSS at the end", _mb(memory["end"])],
                ],
            ),
        ]
    )


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MiB"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="exported model folder (default: the shipped checkpoint)")
    p.add_argument("--poster", type=Path, default=POSTER, help="the upload; poster A of /frame")
    p.add_argument("--poster-b", type=Path, default=POSTER_B, help="poster B of /frame")
    p.add_argument("--calls", type=int, default=40, help="round trips per endpoint")
    p.add_argument("--moves", type=int, default=40, help="slider moves")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first, of each kind")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server process that main starts
        return serve(argv[1:])
    args = build_parser().parse_args(argv)
    os.environ.update({k: v for k, v in SERVER_ENV.items() if k != "GRADIO_PROFILING"})
    with tempfile.TemporaryDirectory(prefix="bench-app-") as scratch:
        result = run(args, Path(scratch))
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
