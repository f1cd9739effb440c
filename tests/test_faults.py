"""Faults: training killed with SIGKILL at random moments, and broken models at start-up.

A killed run must always leave a checkpoint that loads, and `--resume` must carry it to
the end as if nothing had happened. A broken model folder must stop the app with one
clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import app
from train.__main__ import main as train_main
from train.checkpoint import LINK_NAME, load_checkpoint
from vaegan import VAEGAN

from .app_fixtures import QUIET_ENV, ROOT, START_TIMEOUT_S, save_small_model
from .conftest import make_folder

pytestmark = pytest.mark.slow

IMAGES, BATCH, EPOCHS = 8, 4, 30  # two steps an epoch, a checkpoint after each epoch
STEPS_PER_EPOCH = IMAGES // BATCH
KILL_SEED = 6
RANDOM_KILLS = 2  # besides the one forced while a checkpoint is half written
TRAIN_FLAGS = [
    "--preset",
    "vae",
    "--image-size",
    "32",
    "--latent-dim",
    "8",
    "--batch-size",
    str(BATCH),
    "--epochs",
    str(EPOCHS),
    "--checkpoint-every",
    "1",
    "--snapshot-every",
    "1000",  # only the final snapshot: the epochs stay short
    "--seed",
    "0",
    "--threads",
    "1",
    "--device",
    "cpu",  # deterministic: the killed run must match an uninterrupted one
]


# --------------------------------------------------------------- kill -9 in training


def start_training(data: Path, out: Path, resume: bool) -> subprocess.Popen:
    """`python -m train` on data as a child process; its log goes to OUT/../train.log."""
    cmd = [sys.executable, "-m", "train", "--data", str(data), "--out", str(out), *TRAIN_FLAGS]
    if resume:
        cmd.append("--resume")
    with open(out.parent / "train.log", "ab") as log:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def checkpoint_steps(out: Path) -> tuple[int | None, list[int]]:
    """(step OUT/checkpoint points at or None, steps of every checkpoint-* folder)."""
    try:
        target = os.readlink(out / LINK_NAME)
    except OSError:
        target = None
    try:
        names = os.listdir(out)
    except FileNotFoundError:
        names = []
    folders = [int(n.rsplit("-", 1)[1]) for n in names if n.startswith(f"{LINK_NAME}-")]
    linked = int(target.rsplit("-", 1)[1]) if target else None
    return linked, folders


def wait_for(proc: subprocess.Popen, condition, timeout_s: float = START_TIMEOUT_S) -> bool:
    """Poll condition() every millisecond; False if proc ended first (it must not)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    raise TimeoutError("training made no progress")


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL proc, which must still be running."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def kill_after_some_checkpoints(data: Path, out: Path, rng: random.Random) -> None:
    """Start (or resume) a run and SIGKILL it a random moment after 1-3 new checkpoints."""
    before, _ = checkpoint_steps(out)
    wanted = (before or 0) + STEPS_PER_EPOCH * rng.randint(1, 3)
    proc = start_training(data, out, resume=before is not None)
    assert wait_for(proc, lambda: (checkpoint_steps(out)[0] or 0) >= wanted)
    time.sleep(rng.uniform(0, 0.15))  # anywhere in the steps or the writing that follow
    kill(proc)


def kill_while_writing(data: Path, out: Path, attempts: int = 5) -> int:
    """Resume, and SIGKILL the run while a newer checkpoint folder exists but is not yet
    linked: mid-write. Returns that folder's step; a kill that came too late (the link
    had moved) counts as one more random kill, and the next attempt tries again."""

    def writing() -> bool:
        linked, folders = checkpoint_steps(out)
        return any(step > (linked or 0) for step in folders)

    step = 0
    for _ in range(attempts):
        proc = start_training(data, out, resume=True)
        assert wait_for(proc, writing)
        kill(proc)
        linked, folders = checkpoint_steps(out)
        if max(folders) > (linked or 0):  # killed before the link moved to it
            return max(folders)
        step = assert_loads(out, step)
    raise AssertionError(f"no kill landed inside a checkpoint's writing in {attempts} tries")


def assert_loads(out: Path, previous: int) -> int:
    """OUT/checkpoint loads and is no older than the one before; returns its step."""
    state = load_checkpoint(out)
    step = state["counters"]["step"]
    assert step >= previous
    assert step == checkpoint_steps(out)[0]
    assert all(torch.isfinite(t).all() for t in state["vae"].values() if t.is_floating_point())
    return step


def epochs_logged(out: Path) -> list[int]:
    """The epoch column of OUT/losses.csv."""
    with open(out / "losses.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def rec_losses(out: Path) -> list[float]:
    """The mean reconstruction loss of every epoch in OUT/losses.csv."""
    with open(out / "losses.csv", newline="") as f:
        return [float(row["train/rec_loss"]) for row in csv.DictReader(f)]


def test_sigkill_at_random_moments_then_resume_finishes_as_if_uninterrupted(
    tmp_path: Path,
) -> None:
    data = make_folder(tmp_path / "data", IMAGES, nested=False)
    out = tmp_path / "run"
    rng = random.Random(KILL_SEED)
    step = 0
    for kill_number in range(RANDOM_KILLS + 1):
        if kill_number == 1:
            # After the first random kill, one is forced into a checkpoint's writing.
            half_written = kill_while_writing(data, out)
            step = assert_loads(out, step)
            assert step < half_written
        else:
            kill_after_some_checkpoints(data, out, rng)
            step = assert_loads(out, step)

    finish = start_training(data, out, resume=True)
    assert finish.wait(timeout=START_TIMEOUT_S) == 0, (tmp_path / "train.log").read_text()[-3000:]
    assert load_checkpoint(out)["counters"]["step"] == EPOCHS * STEPS_PER_EPOCH
    assert VAEGAN.from_pretrained(out / "model").config.image_size == 32
    # Rows logged after the checkpoint a kill fell back to were dropped on resume.
    assert epochs_logged(out) == list(range(1, EPOCHS + 1))
    # Same data order, noise and weights: the same losses as a run never killed.
    whole = tmp_path / "whole"
    assert train_main(["--data", str(data), "--out", str(whole), *TRAIN_FLAGS]) == 0
    assert rec_losses(out) == pytest.approx(rec_losses(whole), rel=1e-4)


# -------------------------------------------------------------- broken models at start


def broken_model(folder: Path, how: str) -> Path:
    """A saved small model, then damaged in one way."""
    save_small_model(folder)
    weights = folder / "model.safetensors"
    if how == "corrupt-header":
        data = bytearray(weights.read_bytes())
        data[8:24] = b"x" * 16  # same length, unreadable header
        weights.write_bytes(bytes(data))
    elif how == "truncated":
        weights.write_bytes(weights.read_bytes()[:2000])
    elif how == "config-mismatch":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "latent_dim": 12}))
    elif how == "pickled":
        state = VAEGAN.from_pretrained(folder).state_dict()
        weights.unlink()
        torch.save(state, folder / "pytorch_model.bin")
    return folder


BROKEN = {
    "corrupt-header": "not a readable safetensors file",
    "truncated": "it may be truncated or corrupt",
    "config-mismatch": "do not match config.json",
    "pickled": "pickled weights are never loaded",
}


@pytest.mark.parametrize(("how", "message"), BROKEN.items(), ids=list(BROKEN))
def test_a_broken_model_stops_start_up_with_one_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys, how: str, message: str
) -> None:
    folder = broken_model(tmp_path / "model", how)
    threads = torch.get_num_threads()
    try:
        assert app.main(["--model", str(folder)]) == 2
    finally:
        torch.set_num_threads(threads)  # main() sizes torch's pool for serving
    assert message in caplog.text
    assert "Traceback" not in caplog.text + "".join(capsys.readouterr())


def test_the_app_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    folder = broken_model(tmp_path / "model", "corrupt-header")
    done = subprocess.run(
        [sys.executable, "app.py", "--model", str(folder)],
        cwd=ROOT,
        env={**os.environ, **QUIET_ENV},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert BROKEN["corrupt-header"] in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
