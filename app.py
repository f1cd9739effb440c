"""The Gradio app: reconstruct a poster, morph between two, dream new ones.

    python app.py [--model DIR_OR_REPO] [--port 7860] [--host 127.0.0.1] [--max-file-size 20mb]

The model comes from --model, else $VAEGAN_MODEL (a folder, or a Hub repo id
OWNER/NAME[@REVISION]), else the shipped checkpoint in
checkpoints/posters-128. It loads once at start-up; every handler runs on CPU. Uploads
reach the handlers as raw file paths and are decoded only by `vaegan.open_image`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import csv
import ctypes
import hashlib
import html
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from PIL import Image

from vaegan import VAEGAN, ImageError, ModelLoadError, open_image, to_pil, to_tensor
from vaegan.cli import display_size, save_gif
from vaegan.hub import fetch_optional, is_repo_id, repo_url
from vaegan.images import save_png
from vaegan.latent import lerp, slerp
from vaegan.metrics import image_metrics
from vaegan.model import HubUnreachableError

logger = logging.getLogger("vaegan.app")

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = ROOT / "checkpoints" / "posters-128"
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES_CSV = "examples.csv"

# Sized for a 2-vCPU Space: one model call per core, one torch thread each; a decode at
# 128 px takes ~10 ms, so a long queue still drains quickly.
CONCURRENCY = 2
QUEUE_SIZE = 128
MAX_FILE_SIZE = "20mb"
LATENT_TTL_S = 3600  # session latents expire after an hour without use
OUTPUT_TTL_S = 3600  # our own PNG/GIF files are pruned after an hour; Gradio keeps copies
MAX_STEPS = 24
MAX_DREAMS = 16
MAX_SEED = 2**32 - 1
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h

SPLIT_LABELS = {
    "train": "training set",
    "heldout": "held-out set",
    "unseen": "not in this model's data",
}


class Refused(gr.Error):
    """A user-facing refusal: the message shows in the UI, no traceback in the log."""

    def __init__(self, message: str) -> None:
        # gr.Error renders HTML; messages may quote file names chosen by the uploader.
        super().__init__(html.escape(message), title="Input refused", print_exception=False)


class PosterImage(gr.Image):
    """An image input that passes the raw upload's path (or bytes), never decoded.

    gr.Image's own preprocessing would open the file with Pillow first, convert modes
    (alpha onto black, 16-bit clipped) and fail on non-images before our checks run.
    """

    is_template = True  # the browser side stays gr.Image's

    def preprocess(self, payload: Any) -> str | bytes | None:
        """FileData -> its path on disk; an inline data: URL -> its bytes."""
        if payload is None:
            return None
        if payload.path:
            return str(payload.path)
        url = payload.url or ""
        if url.startswith("data:"):
            try:
                return base64.b64decode(url.partition(",")[2], validate=True)
            except (binascii.Error, ValueError) as err:
                raise Refused("The pasted image could not be read.") from err
        raise Refused("No image arrived; upload the file again.")


@dataclass(frozen=True)
class Example:
    """A bundled poster and where it sits in the model's data."""

    path: Path
    title: str
    artist: str
    year: str
    dataset_path: str
    split: str  # "train", "heldout" or "unseen"

    @property
    def label(self) -> str:
        return f"{self.title} ({self.artist}, {self.year}) · {SPLIT_LABELS[self.split]}"


def load_examples(folder: Path, metrics: dict | None) -> list[Example]:
    """Read folder/examples.csv; the split comes from metrics.json when the model has one."""
    table = folder / EXAMPLES_CSV
    if not table.is_file():
        logger.warning("No %s; the app runs without examples", table)
        return []
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    examples = []
    for row in rows:
        path = folder / row["file"]
        if not path.is_file():
            logger.warning("Example %s is listed but missing; skipped", path)
            continue
        split = model_split(row["dataset_path"], metrics) or row["split"]
        examples.append(
            Example(path, row["title"], row["artist"], row["year"], row["dataset_path"], split)
        )
    return examples


def model_split(dataset_path: str, metrics: dict | None) -> str | None:
    """'train', 'heldout' or 'unseen' from a metrics.json's per-image keys; None if unknown."""
    if not metrics:
        return None
    for split in ("heldout", "train"):
        if dataset_path in metrics.get(split, {}).get("per_image", {}):
            return split
    return "unseen"


def read_metrics(folder: Path) -> dict | None:
    """The model folder's metrics.json, or None when absent or unreadable."""
    path = folder / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        logger.warning("Ignoring unreadable %s: %s", path, err)
        return None


class OutputFiles:
    """Unique files for every output, so no two requests ever share (and rewrite) one.

    Gradio copies each returned file into its content-addressed cache under the file's
    name; unique names keep identical images from different users apart there too.
    """

    def __init__(self, root: Path, ttl_s: float = OUTPUT_TTL_S) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self._last_prune = time.monotonic()
        self._lock = threading.Lock()

    def png(self, image: Image.Image, stem: str) -> str:
        """Write image as PNG to a fresh path and return it."""
        path = self._fresh(stem, ".png")
        save_png(image, path)
        return str(path)

    def gif(self, frames: list[Image.Image], stem: str) -> str:
        """Write frames as a looping animated GIF (forth and back) and return its path."""
        path = self._fresh(stem, ".gif")
        save_gif(frames, path)
        return str(path)

    def _fresh(self, stem: str, suffix: str) -> Path:
        self._prune()
        return self.root / f"{stem}-{uuid.uuid4().hex[:12]}{suffix}"

    def _prune(self) -> None:
        """Delete our files older than ttl_s, at most once a minute."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_prune < 60:
                return
            self._last_prune = now
        cutoff = time.time() - self.ttl_s
        for entry in os.scandir(self.root):
            with contextlib.suppress(OSError):  # another thread may have removed it
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)


def file_key(source: str | bytes) -> str:
    """Identity of an upload's file: path, size and mtime (cheap), or a hash of bytes."""
    if isinstance(source, bytes):
        return "bytes:" + hashlib.sha256(source).hexdigest()
    try:
        stat = os.stat(source)
    except OSError:
        return f"missing:{source}"
    return f"{source}:{stat.st_size}:{stat.st_mtime_ns}"


def latent_at(z_a: torch.Tensor, z_b: torch.Tensor, t: float, mode: str) -> torch.Tensor:
    """The latent a fraction t in [0, 1] of the way from z_a to z_b: (1, latent_dim).

    The ends are returned exactly, so t=0 and t=1 decode to the posters' reconstructions.
    """
    if t <= 0:
        return z_a[None].clone()
    if t >= 1:
        return z_b[None].clone()
    blend = slerp if mode == "slerp" else lerp
    return blend(z_a, z_b, torch.tensor([t]))


class PosterApp:
    """The handlers behind the UI, holding the model and its bundled examples."""

    def __init__(
        self,
        model: VAEGAN,
        source: str,
        examples: list[Example] | None = None,
        workdir: Path | None = None,
        notice: str | None = None,
    ) -> None:
        self.model = model.eval()
        self.source = source
        self.notice = notice  # why this model and not the one asked for, if so
        self.size = model.config.image_size
        self.examples = examples or []
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="poster-vaegan-"))
        self.outputs = OutputFiles(self.workdir / "outputs")
        # Examples are recognised by content, whatever name or path they arrive under.
        self._example_by_digest = {_digest(e.path): e for e in self.examples}
        self._example_sizes = {e.path.stat().st_size for e in self.examples}

    # ------------------------------------------------------------ reconstruct

    def reconstruct(self, source: str | bytes | None) -> tuple[str, str]:
        """Upload -> (PNG path, report).

        The PNG has the input's aspect ratio with its long side at twice the model's
        resolution; the report gives PSNR and SSIM at the model's resolution.
        """
        if source is None:
            raise Refused("Upload or paste a poster first, or pick an example below.")
        image = self._open(source)
        x = to_tensor(image, self.size)[None]
        x_rec = self.model.reconstruct(x)
        scores = image_metrics(x, x_rec)
        shown = to_pil(x_rec[0]).resize(
            display_size(image.size, 2 * self.size), Image.Resampling.BICUBIC
        )
        report = (
            f"**PSNR {scores['psnr'][0]:.1f} dB · SSIM {scores['ssim'][0]:.3f}** "
            f"(at {self.size}×{self.size} px, the model's resolution; higher is closer)  \n"
            + self._provenance(source)
        )
        return self.outputs.png(shown, "reconstruction"), report

    def _provenance(self, source: str | bytes) -> str:
        example = self._find_example(source)
        if example is None:
            return (
                "An upload: if the model never saw this poster, expect a loose "
                "impression of its layout and colours, not a copy."
            )
        if example.split == "train":
            return f"*{example.title}* is from the **training set**: the model has seen it."
        where = (
            "from the **held-out set**"
            if example.split == "heldout"
            else ("**not in this model's data**")
        )
        return (
            f"*{example.title}* is {where}: the model never saw it, so this is its "
            "impression of a new poster."
        )

    def _find_example(self, source: str | bytes) -> Example | None:
        size = len(source) if isinstance(source, bytes) else _size(source)
        if size not in self._example_sizes:  # skip hashing ordinary uploads
            return None
        return self._example_by_digest.get(_digest(source))

    # ------------------------------------------------------------ interpolate

    def frame(
        self,
        a: str | bytes | None,
        b: str | bytes | None,
        t: float,
        mode: str,
        state: dict | None,
    ) -> tuple[str | None, dict, str]:
        """Posters A and B, t in [0, 1] -> (PNG of the morph at t, state, status).

        The PNG is square at twice the model's resolution. Latents come from the session
        state when these uploads were encoded before, so a slider move only decodes.
        """
        state = dict(state or {})
        # Each poster is encoded as soon as it arrives: a bad one is refused at once, and
        # when the other comes only that one is encoded.
        z_a = self._latent(state, "a", a) if a is not None else None
        z_b = self._latent(state, "b", b) if b is not None else None
        if z_a is None or z_b is None:
            return None, state, "Upload poster A and poster B, then move the slider."
        with torch.inference_mode():
            x = self.model.decode(latent_at(z_a, z_b, float(t), _mode(mode)))
        frame = self.outputs.png(self._large(x[0]), f"frame-{round(100 * t):03d}")
        return frame, state, f"{100 * min(max(t, 0.0), 1.0):.0f}% of the way from A to B ({mode})."

    def morph(
        self,
        a: str | bytes | None,
        b: str | bytes | None,
        steps: float,
        mode: str,
        state: dict | None,
    ) -> tuple[str, str, dict]:
        """Posters A and B -> (strip PNG, GIF path, state).

        The strip holds `steps` frames of the model's resolution side by side, A first
        and B last; the GIF plays them forth and back at twice that size.
        """
        if a is None or b is None:
            raise Refused("Upload poster A and poster B first.")
        steps = round(steps)
        if not 2 <= steps <= MAX_STEPS:
            raise Refused(f"The strip needs between 2 and {MAX_STEPS} frames.")
        state = dict(state or {})
        z_a, z_b = self._latent(state, "a", a), self._latent(state, "b", b)
        frames = self.model.interpolate(z_a, z_b, steps=steps, mode=_mode(mode))
        tiles = [to_pil(x) for x in frames]
        strip = Image.new("RGB", (steps * self.size, self.size))
        for i, tile in enumerate(tiles):
            strip.paste(tile, (i * self.size, 0))
        gif = self.outputs.gif([self._large(x) for x in frames], "morph")
        return self.outputs.png(strip, "strip"), gif, state

    def _latent(self, state: dict, slot: str, source: str | bytes) -> torch.Tensor:
        """The posterior mean of an upload, (latent_dim,), encoded once per poster.

        The browser sends the same file path on every move (a stat finds it); API clients
        upload the poster again each call, so a new path is also matched by its content.
        """
        key = file_key(source)
        cached = state.get(slot)
        if cached is not None and cached[0] == key:
            return cached[2]
        readable = isinstance(source, bytes) or os.path.isfile(source)
        digest = _digest(source) if readable else None
        if cached is not None and digest is not None and cached[1] == digest:
            state[slot] = (key, digest, cached[2])
            return cached[2]
        z = self.model.encode_image(self._open(source))
        state[slot] = (key, digest, z)
        return z

    # ------------------------------------------------------------------ dream

    def dream(self, seed: float, count: float) -> list[str]:
        """Seed, count -> PNG paths of `count` posters drawn from the prior, 2x size."""
        if seed is None or not 0 <= seed <= MAX_SEED or seed != int(seed):
            raise Refused(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        count = round(count or 0)
        if not 1 <= count <= MAX_DREAMS:
            raise Refused(f"Dream between 1 and {MAX_DREAMS} posters at a time.")
        images = self.model.sample(count, seed=int(seed))
        return [
            self.outputs.png(self._large(x), f"dream-{int(seed)}-{i}") for i, x in enumerate(images)
        ]

    # ---------------------------------------------------------------- helpers

    def _open(self, source: str | bytes) -> Image.Image:
        try:
            return open_image(source)
        except ImageError as err:
            logger.warning("Refused an upload: %s", err)
            raise Refused(str(err)) from err

    def _large(self, x: torch.Tensor) -> Image.Image:
        """(3, S, S) in [-1, 1] -> a 2S x 2S image (bicubic, for display)."""
        side = 2 * self.size
        return to_pil(x).resize((side, side), Image.Resampling.BICUBIC)


def _mode(mode: str) -> str:
    if mode not in ("lerp", "slerp"):
        raise Refused("The blend must be 'lerp' or 'slerp'.")
    return mode


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def _digest(source: str | bytes | Path) -> str:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ page

THEME = gr.themes.Soft(
    primary_hue="red",
    secondary_hue="amber",
    neutral_hue="stone",
    # System fonts: the page makes no requests beyond the app itself.
    font=["Futura", "Avenir Next", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
)

CSS = """
#title h1 { letter-spacing: 0.04em; text-transform: uppercase; margin-bottom: 0.2em; }
.honest { border-left: 4px solid var(--color-accent); padding-left: 0.8em; }
footer { display: none !important; }
/* Outputs are 256 px (twice the model's resolution); the browser scales them up to fill
   their panel like the upload beside them, which costs no server time. */
#recon-output img, #morph-frame img { width: 100%; height: 100%; object-fit: contain; }
"""


def model_card_hint(source: str) -> str:
    """Where the loaded model's card is, as Markdown: its Hub page for a repo id."""
    if _is_hub_source(source):
        return f"[model card]({repo_url(source)})"
    folder = Path(source)
    card = folder / "README.md"
    if not card.is_file():
        return "no model card in its folder"
    try:
        shown = card.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return f"model card `{card}`"
    space = os.environ.get("SPACE_ID")  # set by Hugging Face Spaces
    if space:
        return f"[model card](https://huggingface.co/spaces/{space}/blob/main/{shown})"
    return f"model card `{shown}`"


def model_name(source: str) -> str:
    """The model's folder relative to the repo when inside it, or its repo id, for display."""
    if _is_hub_source(source):
        return source
    folder = Path(source).resolve()
    try:
        return folder.relative_to(ROOT).as_posix()
    except ValueError:
        return str(folder)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the duration of a block."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def build_demo(app: PosterApp) -> gr.Blocks:
    """The Blocks page: Reconstruct, Interpolate and Dream tabs."""
    cfg = app.model.config
    with gr.Blocks(title="Poster VAEGAN", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# Poster VAEGAN", elem_id="title")
        gr.Markdown(
            f"A VAEGAN squeezes a poster into a code of {cfg.latent_dim} numbers and draws "
            "it back, with a discriminator teaching the decoder sharp edges; blend two codes "
            "to morph one poster into another, or draw codes at random to dream new ones.  \n"
            f"Model: `{model_name(app.source)}` ({cfg.image_size}×{cfg.image_size} px, "
            f"{cfg.latent_dim}-number code) · {model_card_hint(app.source)}{fallback_note(app)}",
            elem_id="intro",
        )
        with gr.Tab("Reconstruct", id="reconstruct"):
            _reconstruct_tab(app)
        with gr.Tab("Interpolate", id="interpolate"):
            _interpolate_tab(app)
        with gr.Tab("Dream", id="dream"):
            _dream_tab(app)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def _poster_input(label: str, elem_id: str) -> PosterImage:
    return PosterImage(
        label=label,
        type="filepath",
        image_mode=None,
        format="png",
        sources=["upload", "clipboard"],
        height=420,
        elem_id=elem_id,
    )


def _reconstruct_tab(app: PosterApp) -> None:
    gr.Markdown(
        "Posters the model never saw come back as **loose impressions, not copies**: "
        f"{app.model.config.latent_dim} numbers hold the layout and the main colours, "
        "not the lettering or the faces. Posters from its training set come back closest.",
        elem_classes="honest",
    )
    with gr.Row(equal_height=True):
        source = _poster_input("Your poster", "recon-input")
        result = gr.Image(
            label="Reconstruction",
            type="filepath",
            format="png",
            interactive=False,
            height=420,
            buttons=["download", "fullscreen"],
            elem_id="recon-output",
        )
    report = gr.Markdown(elem_id="recon-report")
    run = gr.Button("Reconstruct", variant="primary")
    run.click(app.reconstruct, [source], [result, report], api_name="reconstruct")
    # .upload, not .change: an example click fills the input and shows its cached output.
    source.upload(
        app.reconstruct,
        [source],
        [result, report],
        api_name="reconstruct_upload",
        api_visibility="private",
    )
    if app.examples:
        examples_cache = app.workdir / "cached_examples"
        # Cached outputs belong to this model and process, so they never go stale.
        with _env("GRADIO_EXAMPLES_CACHE", str(examples_cache)):
            gr.Examples(
                [[str(e.path)] for e in app.examples],
                inputs=[source],
                outputs=[result, report],
                fn=app.reconstruct,
                cache_examples=True,
                cache_mode="lazy",
                example_labels=[e.label for e in app.examples],
                label="Examples (public-domain posters; see examples/SOURCES.md)",
                api_visibility="private",
            )


def _interpolate_tab(app: PosterApp) -> None:
    gr.Markdown(
        "Each poster is encoded once per upload; moving the slider only decodes. "
        "**slerp** follows the sphere where most of the prior's codes lie, **lerp** a "
        "straight line, whose middle frames tend to be greyer and flatter.",
    )
    latents = gr.State(time_to_live=LATENT_TTL_S)
    with gr.Row():
        a = _poster_input("Poster A", "morph-a")
        frame = gr.Image(
            label="Morph",
            type="filepath",
            format="png",
            interactive=False,
            height=420,
            elem_id="morph-frame",
        )
        b = _poster_input("Poster B", "morph-b")
    t = gr.Slider(0, 1, value=0.5, step=0.01, label="From A (0) to B (1)", elem_id="morph-t")
    with gr.Row():
        mode = gr.Radio(["slerp", "lerp"], value="slerp", label="Blend")
        steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Frames in the strip")
    status = gr.Markdown(elem_id="morph-status")
    run = gr.Button("Make strip and GIF", variant="primary")
    strip = gr.Image(
        label="Strip: A to B, both ends included",
        type="filepath",
        format="png",
        interactive=False,
        elem_id="morph-strip",
    )
    gif = gr.File(label="Animated GIF of the morph", elem_id="morph-gif")

    frame_io = {"inputs": [a, b, t, mode, latents], "outputs": [frame, latents, status]}
    t.change(
        app.frame, **frame_io, api_name="frame", trigger_mode="always_last", show_progress="hidden"
    )
    # One listener for all three, so that its always_last mode orders them within a
    # session: a slow answer for "A alone" can never land after the frame for A and B.
    gr.on(
        [a.change, b.change, mode.change],
        app.frame,
        **frame_io,
        trigger_mode="always_last",
        api_visibility="private",
        show_progress="minimal",
    )
    run.click(app.morph, [a, b, steps, mode, latents], [strip, gif, latents], api_name="morph")
    if len(app.examples) >= 2:
        # Each example paired with the next, so every poster appears once as A.
        pairs = list(zip(app.examples, app.examples[1:] + app.examples[:1], strict=True))
        gr.Examples(
            [[str(x.path), str(y.path)] for x, y in pairs],
            inputs=[a, b],
            label="Example pairs",
            example_labels=[f"{x.title} → {y.title}" for x, y in pairs],
            api_visibility="private",
        )


def _dream_tab(app: PosterApp) -> None:
    gr.Markdown(
        "Random codes from the prior, decoded. The same seed gives the same posters. "
        "A small training set covers the prior thinly, so many dreams are blurry blends."
    )
    with gr.Row():
        seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
        count = gr.Slider(1, MAX_DREAMS, value=8, step=1, label="Posters")
    with gr.Row():
        run = gr.Button("Dream", variant="primary")
        surprise = gr.Button("Surprise me")
    gallery = gr.Gallery(label="Dreams", columns=4, format="png", elem_id="dreams")
    run.click(app.dream, [seed, count], [gallery], api_name="dream")
    surprise.click(_random_seed, None, [seed], api_visibility="private").then(
        app.dream, [seed, count], [gallery], api_visibility="private"
    )


def _random_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")


# ---------------------------------------------------------------------- start-up


def load_model(source: str | os.PathLike | None) -> tuple[VAEGAN, str]:
    """Load the model; (model, source used). Raises ModelLoadError (see resolve_model)."""
    model, used, _ = resolve_model(source)
    return model, used


def resolve_model(source: str | os.PathLike | None) -> tuple[VAEGAN, str, str | None]:
    """(model, source used, fallback notice or None) for --model / $VAEGAN_MODEL.

    A path that exists is a model folder; otherwise OWNER/NAME[@REVISION] is loaded
    through the Hub cache (HF_HUB_OFFLINE honoured, safetensors only). When the Hub
    cannot be reached and nothing is cached, the shipped checkpoint is used and the
    notice says so; a missing repo or a rejected token is an error, not a fallback.
    """
    if not source:
        return _load_shipped(), str(DEFAULT_MODEL), None
    path = Path(source)
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{source} is a file, not a model folder.")
        return VAEGAN.from_pretrained(path), str(source), None
    if not is_repo_id(str(source)):
        raise ModelLoadError(
            f"{source} is neither a model folder nor a Hub repo id (OWNER/NAME[@REVISION])."
        )
    try:
        return VAEGAN.from_pretrained(str(source)), str(source), None
    except HubUnreachableError as err:
        logger.warning("%s Falling back to the shipped checkpoint %s.", err, DEFAULT_MODEL)
        model = _load_shipped(f"{err} The shipped checkpoint to fall back to, ")
        notice = f"the Hub could not be reached, so this is the shipped checkpoint, not `{source}`"
        return model, str(DEFAULT_MODEL), notice
    except ModelLoadError as err:
        if Path(str(source).split("/")[0]).is_dir():  # e.g. a mistyped runs/NAME
            raise ModelLoadError(f"{err} There is no local folder {source} either.") from err
        raise


def _load_shipped(reason: str = "The shipped checkpoint ") -> VAEGAN:
    """checkpoints/posters-128, or a ModelLoadError saying it is missing."""
    if not DEFAULT_MODEL.is_dir():
        raise ModelLoadError(
            f"{reason}{DEFAULT_MODEL}, is missing. Pass --model or set VAEGAN_MODEL to an "
            "exported model folder or a Hub repo id (OWNER/NAME[@REVISION])."
        )
    return VAEGAN.from_pretrained(DEFAULT_MODEL)


def _is_hub_source(source: str) -> bool:
    """True for a repo id that is not also a local path."""
    return not Path(source).exists() and is_repo_id(source)


def model_metrics(source: str) -> dict | None:
    """The loaded model's metrics.json (it labels the examples): local, or from the Hub."""
    if not _is_hub_source(source):
        return read_metrics(Path(source))
    path = fetch_optional(source, "metrics.json")
    return read_metrics(path.parent) if path is not None else None


def fallback_note(app: PosterApp) -> str:
    """A line for the intro when the app fell back to the shipped checkpoint."""
    return f"  \n**Note:** {app.notice}." if app.notice else ""


def create_app(source: str | os.PathLike | None = None) -> PosterApp:
    """Load the model and the bundled examples, labelled by the model's metrics.json."""
    model, used, notice = resolve_model(source)
    examples = load_examples(EXAMPLES_DIR, model_metrics(used))
    return PosterApp(model, used, examples, notice=notice)


def launch(
    demo: gr.Blocks,
    app: PosterApp,
    *,
    host: str | None = None,
    port: int | None = None,
    max_file_size: str = MAX_FILE_SIZE,
    block: bool = True,
) -> None:
    """Serve the page; host and port default to Gradio's (GRADIO_SERVER_NAME/PORT)."""
    demo.launch(
        server_name=host,
        server_port=port,
        max_file_size=max_file_size,
        allowed_paths=[str(app.workdir)],
        theme=THEME,
        css=CSS,
        ssr_mode=False,
        footer_links=["api"],
        prevent_thread_lock=not block,
        show_error=False,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Poster VAEGAN web app")
    p.add_argument(
        "--model",
        default=os.environ.get("VAEGAN_MODEL") or None,
        help="exported model folder or Hub repo id OWNER/NAME[@REVISION] "
        "(default: $VAEGAN_MODEL, else checkpoints/posters-128)",
    )
    p.add_argument("--host", default=None, help="address to bind (default: Gradio's)")
    p.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860)")
    p.add_argument("--max-file-size", default=MAX_FILE_SIZE, help="upload limit, e.g. 20mb")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // CONCURRENCY))
    limit_malloc_arenas()
    try:
        app = create_app(args.model)
    except ModelLoadError as err:
        logger.error("%s", err)
        return 2
    logger.info("Serving %s with %d examples", app.source, len(app.examples))
    # Gradio's own cache (uploads, copies of outputs and examples) outlives its shutdown
    # clean-up, which times out under load and keeps example copies: kept in the workdir,
    # it goes with the rmtree below. Read when the page is built, so set before it.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(app.workdir / "gradio"))
    # Hosts stop the app with SIGTERM, which by default ends Python at once: no server
    # shutdown and a leaked workdir. As an interrupt it takes Ctrl-C's orderly way out.
    signal.signal(signal.SIGTERM, _interrupt)
    demo = build_demo(app)
    try:
        launch(demo, app, host=args.host, port=args.port, max_file_size=args.max_file_size)
    except KeyboardInterrupt:
        # A stop during start-up, before Gradio's own wait loop would have caught it.
        logger.info("Stopped while starting")
        demo.close()
    finally:
        shutil.rmtree(app.workdir, ignore_errors=True)
    return 0


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX would; True when it was set here.

    glibc gives threads that allocate at once arenas of their own (up to 8 per core), and
    freed pages stay in them: over `scripts/load_test.py --users 32 --calls 4` the server's
    resident memory rose by 45 MiB, still climbing, with 16 arenas and by 8 MiB with 2. A
    Space cannot set the variable before Python starts, so it is set from here, before the
    server's threads exist. An explicit MALLOC_ARENA_MAX wins; elsewhere than glibc, nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def _interrupt(signum: int, frame: Any) -> None:
    """A signal handler that stops the server as Ctrl-C does."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
