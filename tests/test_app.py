"""The app's handlers, called directly: PosterApp methods, input, examples and start-up."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio.data_classes import ImageData
from PIL import Image

import app
from tests.app_fixtures import EXAMPLES, pixels, save_small_model, write_poster
from vaegan import to_tensor

SIZE = 64  # app_fixtures.SMALL's resolution
TRAIN_EXAMPLE = "toulouse-lautrec-moulin-rouge-la-goulue.jpg"
HELDOUT_EXAMPLE = "mucha-job.jpg"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Square posters A and B (their reconstructions are square too), a tall and a wide one,
    and inputs the app must refuse."""
    root = tmp_path_factory.mktemp("posters")
    (root / "notes.png").write_text("not an image, whatever the name says")
    (root / "empty.png").write_bytes(b"")
    Image.new("RGB", (20, 200), "red").save(root / "thin.png")
    return {
        "a": write_poster(root / "a.png", 1, (100, 100)),
        "b": write_poster(root / "b.png", 2, (100, 100)),
        "tall": write_poster(root / "tall.png", 3, (90, 126)),
        "wide": write_poster(root / "wide.jpg", 4, (150, 70)),
        "text": root / "notes.png",
        "empty": root / "empty.png",
        "thin": root / "thin.png",
    }


@pytest.fixture(scope="module")
def poster_app(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> app.PosterApp:
    model, folder = app.load_model(model_dir)
    examples = app.load_examples(EXAMPLES, app.read_metrics(model_dir))
    return app.PosterApp(model, folder, examples, workdir=tmp_path_factory.mktemp("work"))


def reference_reconstruction(poster_app: app.PosterApp, path: Path) -> np.ndarray:
    """The model's own reconstruction at its resolution, as uint8-valued pixels."""
    return np.asarray(poster_app.model.reconstruct_image(path), dtype=np.int16)


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal within 1/255 everywhere."""
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1


def assert_different(got: np.ndarray, other: np.ndarray) -> None:
    """Visibly different: a mean difference of several grey levels."""
    assert np.abs(got - other).mean() > 5


# ------------------------------------------------------------------ reconstruct


@pytest.mark.parametrize("name", ["tall", "wide", "a"])
def test_reconstruction_is_png_at_twice_the_resolution_in_the_input_aspect(
    poster_app: app.PosterApp, posters: dict[str, Path], name: str
) -> None:
    path, _ = poster_app.reconstruct(str(posters[name]))
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as shown, Image.open(posters[name]) as source:
        assert shown.format == "PNG"
        assert max(shown.size) == 2 * SIZE
        # The short side is rounded to whole pixels.
        assert shown.width / shown.height == pytest.approx(
            source.width / source.height, abs=1 / min(shown.size)
        )


def test_report_gives_psnr_and_ssim_of_the_reconstruction(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    _, report = poster_app.reconstruct(str(posters["tall"]))
    found = re.search(r"PSNR (\d+\.\d) dB · SSIM (-?\d\.\d{3})", report)
    assert found, report
    # PSNR recomputed here from the model's input and output at its resolution.
    x = to_tensor(posters["tall"], SIZE)[None]
    x01 = (x + 1) / 2
    rec01 = (poster_app.model.reconstruct(x).clamp(-1, 1) + 1) / 2
    mse = (x01 - rec01).square().mean().item()
    assert float(found[1]) == pytest.approx(10 * np.log10(1 / mse), abs=0.06)
    assert -1 <= float(found[2]) <= 1
    assert f"{SIZE}×{SIZE}" in report


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("text", "not an image file"),
        ("empty", "empty"),
        ("thin", "too small"),
        ("missing", "No such file"),
    ],
)
def test_unusable_uploads_are_refused_with_a_clear_message(
    poster_app: app.PosterApp, posters: dict[str, Path], name: str, phrase: str
) -> None:
    path = posters.get(name, posters["a"].parent / "gone.png")
    with pytest.raises(app.Refused) as refused:
        poster_app.reconstruct(str(path))
    assert isinstance(refused.value, gr.Error)
    assert phrase in refused.value.message
    assert refused.value.title == "Input refused"


def test_no_upload_is_refused(poster_app: app.PosterApp) -> None:
    with pytest.raises(app.Refused, match="Upload or paste a poster"):
        poster_app.reconstruct(None)


def test_refusals_are_escaped_for_the_page() -> None:
    # File names reach messages; the UI renders them as HTML.
    assert app.Refused("No such file: <b>x</b>.png").message == (
        "No such file: &lt;b&gt;x&lt;/b&gt;.png"
    )


# ------------------------------------------------------------------------ input


def test_poster_image_passes_the_raw_path_without_decoding(posters: dict[str, Path]) -> None:
    box = app.PosterImage(type="filepath")
    # A non-image passes too: only vaegan.open_image, in the handler, may judge it.
    assert box.preprocess(ImageData(path=str(posters["text"]))) == str(posters["text"])
    assert box.preprocess(None) is None


def test_pasted_images_arrive_as_bytes_and_reconstruct(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    data = posters["a"].read_bytes()
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    source = app.PosterImage(type="filepath").preprocess(ImageData(url=url))
    assert source == data
    path, _ = poster_app.reconstruct(source)
    assert_close(pixels(path), pixels(poster_app.reconstruct(str(posters["a"]))[0]))


def test_unreadable_paste_is_refused() -> None:
    with pytest.raises(app.Refused, match="could not be read"):
        app.PosterImage(type="filepath").preprocess(ImageData(url="data:image/png;base64,!!"))


# ------------------------------------------------------------------ interpolate


def test_frame_ends_are_the_reconstructions_and_the_middle_is_neither(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    a, b = str(posters["a"]), str(posters["b"])
    recon_a = pixels(poster_app.reconstruct(a)[0])
    recon_b = pixels(poster_app.reconstruct(b)[0])
    state: dict = {}
    frames = {}
    for t in (0.0, 0.5, 1.0):
        path, state, status = poster_app.frame(a, b, t, "slerp", state)
        frames[t] = pixels(path)
        assert f"{round(100 * t)}% of the way" in status
    assert_close(frames[0.0], recon_a)
    assert_close(frames[1.0], recon_b)
    assert_different(frames[0.5], recon_a)
    assert_different(frames[0.5], recon_b)


def test_frames_have_one_fixed_size_whatever_the_inputs(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    for t, mode in [(0.0, "lerp"), (0.3, "lerp"), (0.7, "slerp")]:
        path, _, _ = poster_app.frame(str(posters["tall"]), str(posters["wide"]), t, mode, None)
        with Image.open(path) as frame:
            assert (frame.format, frame.size) == ("PNG", (2 * SIZE, 2 * SIZE))


def test_latents_are_kept_in_state_so_a_slider_move_only_decodes(
    poster_app: app.PosterApp, posters: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = []
    real = poster_app.model.encode_image

    def counting(image):
        encoded.append(image)
        return real(image)

    monkeypatch.setattr(poster_app.model, "encode_image", counting)
    a, b, tall = str(posters["a"]), str(posters["b"]), str(posters["tall"])
    _, state, _ = poster_app.frame(a, b, 0.2, "slerp", None)
    assert len(encoded) == 2
    _, state, _ = poster_app.frame(a, b, 0.8, "lerp", state)
    poster_app.morph(a, b, 3, "slerp", state)
    assert len(encoded) == 2  # the second frame and the strip reused both latents
    poster_app.frame(a, tall, 0.5, "slerp", state)
    assert len(encoded) == 3  # a new poster B: only B is encoded


def test_a_poster_uploaded_again_under_a_new_path_is_not_encoded_again(
    poster_app: app.PosterApp,
    posters: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """API clients upload both posters on every call; their content finds the latents."""
    encoded = []
    real = poster_app.model.encode_image
    monkeypatch.setattr(poster_app.model, "encode_image", lambda i: encoded.append(i) or real(i))
    a, b = str(posters["a"]), str(posters["b"])
    _, state, _ = poster_app.frame(a, b, 0.2, "slerp", None)
    again = tmp_path / "upload-2" / "a.png"
    again.parent.mkdir()
    again.write_bytes(posters["a"].read_bytes())

    _, state, _ = poster_app.frame(str(again), b, 0.4, "slerp", state)
    _, state, _ = poster_app.frame(posters["a"].read_bytes(), b, 0.6, "slerp", state)
    assert len(encoded) == 2

    changed = tmp_path / "upload-3" / "a.png"
    changed.parent.mkdir()
    changed.write_bytes(posters["tall"].read_bytes())
    poster_app.frame(str(changed), b, 0.4, "slerp", state)
    assert len(encoded) == 3  # same name, other content: encoded


def test_frame_waits_for_both_posters_but_encodes_the_first_at_once(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    path, state, status = poster_app.frame(str(posters["a"]), None, 0.5, "slerp", None)
    assert path is None
    assert set(state) == {"a"}
    assert "poster A and poster B" in status
    _, state, status = poster_app.frame(None, str(posters["b"]), 0.5, "slerp", state)
    assert set(state) == {"a", "b"}  # A's latent kept, though A is cleared for now


def test_a_bad_poster_is_refused_before_the_other_arrives(
    poster_app: app.PosterApp, posters: dict[str, Path]
) -> None:
    with pytest.raises(app.Refused, match="not an image file"):
        poster_app.frame(str(posters["text"]), None, 0.5, "slerp", None)
    with pytest.raises(app.Refused, match="not an image file"):
        poster_app.frame(None, str(posters["text"]), 0.5, "slerp", None)


def test_refused_poster_in_a_morph(poster_app: app.PosterApp, posters: dict[str, Path]) -> None:
    with pytest.raises(app.Refused, match="not an image file"):
        poster_app.frame(str(posters["a"]), str(posters["text"]), 0.5, "slerp", None)
    with pytest.raises(app.Refused, match="between 2 and"):
        poster_app.morph(str(posters["a"]), str(posters["b"]), 1, "slerp", None)
    with pytest.raises(app.Refused, match="blend must be"):
        poster_app.morph(str(posters["a"]), str(posters["b"]), 4, "cubic", None)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_morph_strip_holds_every_frame_and_the_gif_plays_forth_and_back(
    poster_app: app.PosterApp, posters: dict[str, Path], mode: str
) -> None:
    steps = 5
    strip_path, gif_path, _ = poster_app.morph(
        str(posters["a"]), str(posters["b"]), steps, mode, None
    )
    strip = pixels(strip_path)
    assert strip.shape == (SIZE, steps * SIZE, 3)
    tiles = [strip[:, i * SIZE : (i + 1) * SIZE] for i in range(steps)]
    # Both ends included: the first and last tiles are A's and B's reconstructions.
    assert_close(tiles[0], reference_reconstruction(poster_app, posters["a"]))
    assert_close(tiles[-1], reference_reconstruction(poster_app, posters["b"]))
    assert_different(tiles[steps // 2], tiles[0])
    with Image.open(gif_path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 2 * steps - 2
        assert gif.size == (2 * SIZE, 2 * SIZE)


# ------------------------------------------------------------------------ dream


def test_dreams_are_reproducible_by_seed(poster_app: app.PosterApp) -> None:
    first = [pixels(p) for p in poster_app.dream(7, 3)]
    again = [pixels(p) for p in poster_app.dream(7, 3)]
    other = [pixels(p) for p in poster_app.dream(8, 3)]
    assert len(first) == 3
    assert all(x.shape == (2 * SIZE, 2 * SIZE, 3) for x in first)
    for x, y, z in zip(first, again, other, strict=True):
        assert np.array_equal(x, y)
        assert_different(x, z)
    assert_different(first[0], first[1])


@pytest.mark.parametrize(("seed", "count"), [(-1, 2), (1.5, 2), (None, 2), (3, 0), (3, 17)])
def test_dream_refuses_bad_seeds_and_counts(
    poster_app: app.PosterApp, seed: float | None, count: int
) -> None:
    with pytest.raises(app.Refused):
        poster_app.dream(seed, count)


# --------------------------------------------------------------------- examples


def test_examples_are_labelled_with_their_split(poster_app: app.PosterApp) -> None:
    labels = {e.path.name: e.label for e in poster_app.examples}
    assert len(labels) == 6
    assert labels[TRAIN_EXAMPLE].endswith("· training set")
    assert labels[HELDOUT_EXAMPLE].endswith("· held-out set")
    assert labels[HELDOUT_EXAMPLE].startswith("JOB cigarette papers (Alphonse Mucha, 1898)")


def test_the_model_metrics_decide_an_example_split(tmp_path: Path) -> None:
    # The example CSV calls Toulouse-Lautrec training data; this model held it out.
    metrics = {
        "heldout": {"per_image": {"vintage/toulouse-lautrec-moulin-rouge-la-goulue.jpg": {}}},
        "train": {"per_image": {"vintage/mucha-job.jpg": {}}},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    examples = app.load_examples(EXAMPLES, app.read_metrics(tmp_path))
    splits = {e.path.name: e.split for e in examples}
    assert splits[TRAIN_EXAMPLE] == "heldout"
    assert splits[HELDOUT_EXAMPLE] == "train"
    assert splits["cardinaux-zermatt.jpg"] == "unseen"


def test_report_says_whether_the_model_saw_the_poster(
    poster_app: app.PosterApp, posters: dict[str, Path], tmp_path: Path
) -> None:
    assert "**training set**" in poster_app.reconstruct(str(EXAMPLES / TRAIN_EXAMPLE))[1]
    assert "**held-out set**" in poster_app.reconstruct(str(EXAMPLES / HELDOUT_EXAMPLE))[1]
    # Recognised by content, under any name (Gradio stores uploads under its own paths).
    renamed = shutil.copy(EXAMPLES / TRAIN_EXAMPLE, tmp_path / "upload.jpg")
    assert "**training set**" in poster_app.reconstruct(str(renamed))[1]
    assert "An upload" in poster_app.reconstruct(str(posters["tall"]))[1]


# ---------------------------------------------------------------- page, start-up


def test_page_keeps_latents_in_expiring_state_and_names_its_endpoints(
    poster_app: app.PosterApp,
) -> None:
    demo = app.build_demo(poster_app)
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    assert [s.time_to_live for s in states] == [app.LATENT_TTL_S]
    names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert names == {"reconstruct", "frame", "morph", "dream"}


def test_model_folder_comes_from_flag_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAEGAN_MODEL", "from-env")
    assert app.build_parser().parse_args([]).model == "from-env"
    assert app.build_parser().parse_args(["--model", "flag"]).model == "flag"
    assert app.build_parser().parse_args(["--port", "7999"]).port == 7999
    monkeypatch.delenv("VAEGAN_MODEL")
    assert app.build_parser().parse_args([]).model is None


def test_default_model_is_the_shipped_checkpoint(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "DEFAULT_MODEL", model_dir)
    model, folder = app.load_model(None)
    assert (folder, model.config.image_size) == (str(model_dir), SIZE)
    monkeypatch.setattr(app, "DEFAULT_MODEL", tmp_path / "posters-128")
    with pytest.raises(app.ModelLoadError, match="VAEGAN_MODEL"):
        app.load_model(None)


def test_a_missing_model_stops_start_up_with_a_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    threads = torch.get_num_threads()
    try:
        assert app.main(["--model", str(tmp_path / "nowhere")]) == 2
    finally:
        torch.set_num_threads(threads)  # main() sizes torch's pool for serving
    assert "model folder" in caplog.text


def test_create_app_loads_model_and_examples(model_dir: Path) -> None:
    poster_app = app.create_app(model_dir)
    try:
        assert poster_app.size == SIZE
        assert len(poster_app.examples) == 6
    finally:
        shutil.rmtree(poster_app.workdir)


def test_malloc_arenas_are_capped_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert app.limit_malloc_arenas() is False  # the user's setting stands
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert app.limit_malloc_arenas() is True  # glibc (Debian, the Space's image) takes it
