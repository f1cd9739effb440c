"""The benchmarks' helpers: statistics, FLOP counting, ratios, targets and the report page.

Nothing here times anything: benchmarks measure, tests never assert a wall-clock time.
"""

from __future__ import annotations

import pytest

from bench import app_latency, inference, report, train_speed
from bench.common import median, percentile, table
from vaegan import VAEGAN

from .conftest import TINY


def test_percentile_interpolates_like_numpy():
    values = [4.0, 1.0, 3.0, 2.0]
    assert median(values) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)


def test_table_is_markdown():
    assert table(["a", "b"], [[1, "x"]]) == "| a | b |\n| --- | --- |\n| 1 | x |"


def test_forward_flops_are_positive_and_add_up():
    flops = inference.forward_flops(VAEGAN(TINY).eval())
    assert flops["encode"] > 0
    assert flops["decode"] > 0
    assert flops["reconstruct"] == flops["encode"] + flops["decode"]


def test_grid_puts_presets_side_by_side_and_ratios_divide():
    order = train_speed.plan(["default", "seed"], [], [], grid=True, seed_256=False)
    assert len(order) == 9 + 2
    i = order.index(("default", 128, 16))
    assert order[i + 1] == ("seed", 128, 16)
    rows = [
        {"preset": "default", "image_size": 128, "batch_size": 16, "images_per_s": 60.0},
        {"preset": "seed", "image_size": 128, "batch_size": 16, "images_per_s": 15.0},
        {"preset": "default", "image_size": 64, "batch_size": 8, "images_per_s": 200.0},
    ]
    (ratio,) = train_speed.ratios(rows)
    assert (ratio["preset"], ratio["over"], ratio["ratio"]) == ("default", "seed", 4.0)


def test_upload_once_uploads_each_file_once():
    calls = []

    def upload(f, data_index):
        calls.append(f["path"])
        return {"path": f"/server/{f['path']}"}

    wrapped = app_latency.upload_once(upload)
    for _ in range(3):
        assert wrapped({"path": "a.jpg"}, data_index=0) == {"path": "/server/a.jpg"}
    wrapped({"path": "b.jpg"}, data_index=1)
    assert calls == ["a.jpg", "b.jpg"]


def _stats(p50: float) -> dict:
    return {"p50": p50, "p95": p50 * 1.2, "n": 40}


def fake_results(model_ms: float = 9.0, slider_ms: float = 20.0) -> dict:
    """Results shaped as the three benchmarks write them."""
    trace = {k: _stats(1.0) for k in ("queue_wait", "preprocess", "fn_call", "postprocess")}
    ops = dict.fromkeys(inference.OPS, 5.0)
    return {
        "train": {
            "threads": 2,
            "rows": [
                {"preset": p, "image_size": 128, "batch_size": 16, "precision": "bf16"}
                | {"images_per_s": rate}
                for p, rate in (("default", 60.0), ("seed", 15.0))
            ],
            "ratios": [
                {"image_size": 128, "batch_size": 16, "preset": "default", "over": "seed"}
                | {"ratio": 4.0}
            ],
        },
        "inference": {
            "image_size": 128,
            "repeats": 50,
            "timings_ms": {"1": ops | {"reconstruct": model_ms}, "2": ops},
            "forward_flops": {"encode": 1e8, "decode": 2e8, "reconstruct": 3e8},
            "peak_gflops": {"fp32": 160.0, "bf16": 400.0},
            "matmul_size": 2048,
            "all_threads": 2,
            "training": [
                {"preset": "default", "image_size": 128, "batch_size": 16}
                | {"precision": "bf16", "flops_per_image": 2e9, "gflops_per_s": 100.0}
                | {"share_of_peak": 0.25}
            ],
            "peak_rss_mb": {"inference": 300.0, "end": 400.0},
        },
        "app": {
            "poster": "mucha-job.jpg",
            "poster_b": "cardinaux-zermatt.jpg",
            "startup_s": {"page": 8.0, "first_answer": 9.0},
            "round_trip_ms": {"identity": _stats(240.0), "reconstruct": _stats(260.0)},
            "ratio_p50": 260.0 / 240.0,
            "slider_round_trip_ms": _stats(120.0),
            "server_ms": {
                name: trace | {"total": _stats(30.0), "fn_and_post": _stats(slider_ms)}
                for name in ("identity", "reconstruct", "frame")
            },
            "peak_rss_mb": {"after_startup": 500.0, "end": 520.0},
        },
    }


def test_targets_pass_and_fail_from_the_numbers():
    results = [row[-1] for row in report.targets(fake_results())]
    assert results == ["pass"] * 4
    failing = report.targets(fake_results(model_ms=16.0, slider_ms=31.0))
    assert [row[-1] for row in failing] == ["pass", "pass", "**fail**", "**fail**"]


def test_page_has_every_section():
    context = {
        "command": "python bench/report.py",
        "date": "2025-01-01 00:00 UTC",
        "minutes": 6.0,
        "load_before": 0.1,
        "load_after": 0.2,
        "quick": False,
        "model": "`checkpoints/posters-128`",
        "commands": {"train": ["bench/train_speed.py", "--grid"]},
    }
    text = report.page(fake_results(), context)
    for heading in ("## Targets", "## Training throughput", "## Inference", "## The app"):
        assert heading in text
    assert "| default | 128 | 16 | bf16 | 60.0 |" in text
    assert "4.00x (128 px, batch 16)" in text
    assert "python bench/train_speed.py --grid" in text
    assert "Smoke run" not in text
