"""Pushing, deploying and loading through the Hugging Face Hub, all offline.

The Hub is replaced at its boundary: HfApi's methods (push, deploy) or the HTTP
transport under huggingface_hub's own client (error paths, so the errors are the ones
the real client raises), or a local Hub cache laid out as the real one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx2 as httpx  # the HTTP client of the pinned huggingface_hub
import pytest
import torch
from huggingface_hub import HfApi, constants, set_client_factory
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import _http as hub_http
from huggingface_hub.utils import hf_raise_for_status
from huggingface_hub.utils._http import default_client_factory
from PIL import Image

import app as app_module
from train import deploy, push
from train.__main__ import main as train_main
from train.config import TrainConfig
from vaegan import VAEGAN, HubUnreachableError, ModelLoadError
from vaegan.hub import classify, is_repo_id, parse_repo_id, repo_url

from .conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
INVALID_TOKEN = {"X-Error-Message": "Invalid credentials in Authorization header"}


# ------------------------------------------------------------------ helpers


def make_export(folder: Path, model: VAEGAN) -> Path:
    """An export as train/export.py writes it, with a stray pickle that must stay local."""
    model.save_pretrained(folder)  # also writes the mixin's default README.md
    scores = {"psnr": 21.5, "ssim": 0.61, "sharpness": None}
    split = {"mean": scores, "per_image": {"soviet/a.jpg": scores}}
    metrics = {
        "preset": "default",
        "images_shown": 1600,
        "epochs": 20,
        "steps": 100,
        "wall_time_s": 90.0,
        "images_per_s": 17.8,
        "hardware": "test CPU",
        "device": "cpu",
        "amp": "fp32",
        "train": split,
        "heldout": split,
        "settings": TrainConfig(model=TINY).to_dict(),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in ("reconstructed.png", "heldout.png", "losses.png"):
        Image.new("RGB", (8, 8), "red").save(folder / name)
    (folder / "pytorch_model.bin").write_bytes(b"not to be pushed")
    return folder


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def http_error(status: int, headers: dict | None = None, url: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, request=httpx.Request("GET", url))


class FakeHubApi:
    """Records what HfApi would send; `fail` maps a method name to an exception to raise."""

    def __init__(self, user: str = "me", role: str = "write") -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.commits: list[dict] = []
        self.fail: dict[str, BaseException] = {}
        self.whoami_reply = {
            "name": user,
            "orgs": [{"name": "posters-org"}],
            "auth": {"accessToken": {"role": role}},
        }

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeHubApi:
        for name in ("whoami", "create_repo", "create_branch", "create_commit"):
            monkeypatch.setattr(HfApi, name, self._method(name))
        monkeypatch.setattr(HfApi, "add_space_variable", self._method("add_space_variable"))
        return self

    def _method(self, name: str):
        def method(api, *args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name in self.fail:
                error = self.fail[name]
                if not isinstance(error, list):
                    raise error
                if error:
                    raise error.pop(0)
            if name == "whoami":
                return self.whoami_reply
            if name == "create_commit":
                self.commits.append(
                    {
                        "message": kwargs["commit_message"],
                        "kwargs": kwargs,
                        "files": {op.path_in_repo: _content(op) for op in args[1]},
                    }
                )
                return SimpleNamespace(commit_url=f"https://hub.test/{args[0]}/commit/1")
            return None

        return method

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def _content(op) -> bytes:
    data = op.path_or_fileobj
    return data if isinstance(data, bytes) else Path(data).read_bytes()


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> FakeHubApi:
    return FakeHubApi().install(monkeypatch)


@pytest.fixture
def hub_transport(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """huggingface_hub's real client over a fake transport; set `.handler(request)`.

    The client's back-off sleeps are recorded instead of slept: with no cached file it
    retries a failed HEAD five times (about 23 s) before giving up.
    """
    state = SimpleNamespace(handler=None, requests=[], sleeps=[])

    def transport(request: httpx.Request) -> httpx.Response:
        state.requests.append(request)
        return state.handler(request)

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(hub_http.time, "sleep", state.sleeps.append)
    set_client_factory(lambda: httpx.Client(transport=httpx.MockTransport(transport)))
    yield state
    set_client_factory(default_client_factory)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)


def make_cache(cache: Path, repo: str, files: dict[str, bytes], refs=("main",)) -> None:
    """A Hub cache entry as huggingface_hub writes it: blobs, a snapshot of links, refs."""
    owner, name = repo.split("/")
    entry = cache / f"models--{owner}--{name}"
    snapshot = entry / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (entry / "blobs").mkdir()
    for filename, data in files.items():
        blob = entry / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / filename).symlink_to(os.path.relpath(blob, snapshot))
    (entry / "refs").mkdir()
    for ref in refs:
        (entry / "refs" / ref).write_text(COMMIT)


def model_files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("config.json", "model.safetensors")}


# ---------------------------------------------------------------- repo ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner/name", ("owner/name", None)),
        ("my-org/posters_128.v2@v1.0", ("my-org/posters_128.v2", "v1.0")),
        (f"o/n@{COMMIT}", ("o/n", COMMIT)),
    ],
)
def test_repo_ids_parse(text: str, expected: tuple):
    assert parse_repo_id(text) == expected
    assert is_repo_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "name",
        "a/b/c",
        "/name",
        "owner/",
        "owner/na me",
        "owner/a--b",
        "owner/-x",
        "o/n@",
        "o/n.git",
    ],
)
def test_bad_repo_ids_are_refused_with_the_expected_form(text: str):
    with pytest.raises(ValueError, match=r"OWNER/NAME|\.git"):
        parse_repo_id(text)
    assert not is_repo_id(text)


def test_repo_url_links_the_revision():
    assert repo_url("o/n") == f"{constants.ENDPOINT}/o/n"
    assert repo_url("o/n@v2") == f"{constants.ENDPOINT}/o/n/tree/v2"


# ------------------------------------------ what the real client raises, sorted


def test_unreachable_hub_is_classified_from_the_real_client(hub_transport):
    hub_transport.handler = refuse_connection
    with pytest.raises(httpx.ConnectError) as raised:
        HfApi().whoami()
    failure = classify(raised.value, "o/n")
    assert failure.kind == "unreachable"
    assert failure.unreachable
    assert "Cannot reach the Hugging Face Hub" in failure.message


def test_rejected_token_is_classified_from_the_real_client(hub_transport):
    hub_transport.handler = lambda request: http_error(401, INVALID_TOKEN)
    with pytest.raises(HfHubHTTPError, match="Invalid user token") as raised:
        HfApi().whoami()
    failure = classify(raised.value, "o/n")
    assert failure.kind == "token_rejected"
    assert not failure.unreachable
    assert hub_transport.requests[0].headers["authorization"] == "Bearer hf_test_token"


def test_a_hub_outage_counts_as_unreachable(hub_transport):
    hub_transport.handler = lambda request: http_error(503)
    with pytest.raises(HfHubHTTPError, match="503") as raised:
        HfApi().whoami()
    failure = classify(raised.value)
    assert (failure.kind, failure.message) == (
        "unreachable",
        "The Hugging Face Hub is not answering (HTTP 503).",
    )


def test_errors_that_are_not_hub_failures_are_left_alone():
    assert classify(KeyError("x")) is None


# ------------------------------------------------------------ loading a repo id


def test_loading_over_an_unreachable_hub_is_a_distinct_error(hub_transport):
    hub_transport.handler = refuse_connection
    with pytest.raises(HubUnreachableError, match=r"Cannot reach.*needed: config\.json"):
        VAEGAN.from_pretrained("owner/name")
    heads = [r.url.path for r in hub_transport.requests if r.method == "HEAD"]
    assert len(heads) > 1  # the client retries on its own, then gives up
    assert all(path.endswith("/config.json") for path in heads)


def test_a_missing_repo_is_an_error_not_unreachable(hub_transport):
    hub_transport.handler = lambda request: http_error(404, {"X-Error-Code": "RepoNotFound"})
    with pytest.raises(ModelLoadError, match="owner/name was not found") as raised:
        VAEGAN.from_pretrained("owner/name")
    assert not isinstance(raised.value, HubUnreachableError)


def test_a_rejected_token_is_an_error_not_unreachable(hub_transport):
    hub_transport.handler = lambda request: http_error(401, INVALID_TOKEN)
    with pytest.raises(ModelLoadError, match="rejected the token") as raised:
        VAEGAN.from_pretrained("owner/name")
    assert not isinstance(raised.value, HubUnreachableError)


def test_a_repo_without_safetensors_is_refused(hub_transport, saved_model: Path):
    config = (saved_model / "config.json").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/config.json"):
            headers = {"X-Repo-Commit": COMMIT, "ETag": '"abc"', "Content-Length": str(len(config))}
            return httpx.Response(200, headers=headers, content=config, request=request)
        return http_error(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})

    hub_transport.handler = handler
    with pytest.raises(ModelLoadError, match=r"has no model\.safetensors") as raised:
        VAEGAN.from_pretrained("owner/name")
    assert not isinstance(raised.value, HubUnreachableError)
    asked = {r.url.path.rsplit("/", 1)[1] for r in hub_transport.requests}
    assert asked == {"config.json", "model.safetensors"}  # never a pickle


OFFLINE_SCRIPT = """
import json, os, sys
assert os.environ["HF_HUB_OFFLINE"] == "1"
import torch
from vaegan import VAEGAN, HubUnreachableError, ModelLoadError
out = {}
for model_id in sys.argv[1:]:
    try:
        model = VAEGAN.from_pretrained(model_id)
        out[model_id] = ["ok", model.decode(torch.zeros(1, model.config.latent_dim)).sum().item()]
    except ModelLoadError as err:
        out[model_id] = [type(err).__name__, str(err)]
print(json.dumps(out))
"""


def test_repo_ids_load_from_the_hub_cache_with_hf_hub_offline(
    tmp_path: Path, saved_model: Path, tiny_model: VAEGAN
):
    cache = tmp_path / "cache"
    make_cache(cache, "owner/name", model_files(saved_model), refs=("main", "v1"))
    make_cache(
        cache,
        "owner/pickled",
        {"config.json": (saved_model / "config.json").read_bytes(), "pytorch_model.bin": b"x"},
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_TOKEN": ""}
    ids = ["owner/name", "owner/name@v1", f"owner/name@{COMMIT}", "owner/missing", "owner/pickled"]
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, *ids],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    expected = tiny_model.decode(torch.zeros(1, TINY.latent_dim)).sum().item()
    for model_id in ids[:3]:
        assert out[model_id][0] == "ok"
        assert out[model_id][1] == pytest.approx(expected, rel=1e-5)
    assert out["owner/missing"][0] == "HubUnreachableError"
    assert "HF_HUB_OFFLINE is set" in out["owner/missing"][1]
    assert out["owner/pickled"][0] == "HubUnreachableError"
    assert "needed: model.safetensors" in out["owner/pickled"][1]


# --------------------------------------------------------------------- the app


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model: VAEGAN) -> Path:
    """A stand-in for checkpoints/posters-128, the app's fallback."""
    folder = tmp_path / "shipped"
    tiny_model.save_pretrained(folder)
    monkeypatch.setattr(app_module, "DEFAULT_MODEL", folder)
    return folder


def intro(demo) -> str:
    return next(b.value for b in demo.blocks.values() if getattr(b, "elem_id", "") == "intro")


def test_app_falls_back_to_the_shipped_checkpoint_when_the_hub_is_unreachable(
    hub_transport, shipped: Path, caplog
):
    hub_transport.handler = refuse_connection
    with caplog.at_level(logging.WARNING, logger="vaegan.app"):
        poster_app = app_module.create_app("owner/name")
    assert poster_app.source == str(shipped)
    assert "Falling back to the shipped checkpoint" in caplog.text
    assert "Cannot reach the Hugging Face Hub" in caplog.text
    page = intro(app_module.build_demo(poster_app))
    assert "the Hub could not be reached, so this is the shipped checkpoint" in page
    assert "`owner/name`" in page


def test_app_falls_back_when_offline_with_nothing_cached(monkeypatch, tmp_path, shipped, caplog):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with caplog.at_level(logging.WARNING, logger="vaegan.app"):
        _, used, notice = app_module.resolve_model("owner/name@v2")
    assert used == str(shipped)
    assert "`owner/name@v2`" in notice
    assert "HF_HUB_OFFLINE is set" in caplog.text


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (http_error(404, {"X-Error-Code": "RepoNotFound"}), "was not found"),
        (http_error(401, INVALID_TOKEN), "rejected the token"),
    ],
)
def test_app_does_not_fall_back_for_a_missing_repo_or_rejected_token(
    hub_transport, shipped, response, match
):
    hub_transport.handler = lambda request: response
    with pytest.raises(ModelLoadError, match=match):
        app_module.create_app("owner/name")
    assert app_module.main(["--model", "owner/name"]) == 2


def test_a_mistyped_local_path_is_named_as_such(hub_transport, monkeypatch, tmp_path):
    hub_transport.handler = lambda request: http_error(404, {"X-Error-Code": "RepoNotFound"})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ModelLoadError, match=r"not found.*no local folder runs/posters either"):
        app_module.load_model("runs/posters")


def test_app_without_a_shipped_checkpoint_to_fall_back_to(hub_transport, monkeypatch, tmp_path):
    hub_transport.handler = refuse_connection
    monkeypatch.setattr(app_module, "DEFAULT_MODEL", tmp_path / "absent")
    with pytest.raises(ModelLoadError, match=r"Cannot reach.*fall back to.*is missing"):
        app_module.create_app("owner/name")


def test_app_loads_a_cached_repo_by_id_with_its_metrics(
    monkeypatch, tmp_path, saved_model, tiny_model
):
    export = make_export(tmp_path / "export", tiny_model)
    files = {**model_files(saved_model), "metrics.json": (export / "metrics.json").read_bytes()}
    make_cache(tmp_path / "cache", "owner/name", files)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(app_module, "DEFAULT_MODEL", tmp_path / "absent")

    poster_app = app_module.create_app("owner/name")
    assert poster_app.source == "owner/name"
    assert app_module.model_name("owner/name") == "owner/name"
    assert (
        app_module.model_card_hint("owner/name") == f"[model card]({constants.ENDPOINT}/owner/name)"
    )
    assert app_module.model_metrics("owner/name")["preset"] == "default"
    assert app_module.fallback_note(poster_app) == ""


def test_app_refuses_what_is_neither_a_folder_nor_a_repo_id(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="neither a model folder nor a Hub repo id"):
        app_module.load_model(str(tmp_path / "no" / "such" / "folder"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        app_module.load_model(str(tmp_path / "file"))


# ----------------------------------------------------------------------- pushing


def test_push_uploads_the_model_and_a_generated_card(fake_api, tmp_path, tiny_model):
    export = make_export(tmp_path / "model", tiny_model)
    before = tree_digest(export)
    url = push.push_export(export, "me/posters", private=True, revision="v1")

    assert url == "https://hub.test/me/posters/commit/1"
    assert fake_api.names() == ["create_repo", "create_branch", "create_commit"]
    assert fake_api.calls[0][2] == {"private": True, "exist_ok": True}
    assert fake_api.calls[1][2] == {"branch": "v1", "exist_ok": True}
    (commit,) = fake_api.commits
    assert commit["kwargs"]["revision"] == "v1"
    assert sorted(commit["files"]) == [
        "README.md",
        "config.json",
        "heldout.png",
        "losses.png",
        "metrics.json",
        "model.safetensors",
        "reconstructed.png",
    ]
    for name in ("config.json", "model.safetensors", "metrics.json", "losses.png"):
        assert commit["files"][name] == (export / name).read_bytes()

    card = commit["files"]["README.md"].decode()
    assert card != (export / "README.md").read_text()  # the mixin's card is replaced
    metadata = card.split("---")[1]
    for line in ("license: mit", "library_name: poster-vaegan", "pipeline_tag: image-to-image"):
        assert line in metadata
    assert "- vaegan" in metadata
    assert card.count("```python") == 1
    usage = card.split("```python\n")[1].split("```")[0].strip().splitlines()
    assert len(usage) == 3
    assert 'VAEGAN.from_pretrained("me/posters")' in usage[1]
    for text in ("# poster-vaegan: posters", "## Data", "rights", "preset `default`"):
        assert text in card
    assert "| train | 1 | 21.50 | 0.610 | n/a |" in card
    assert "![Training posters (top) and reconstructions (bottom)](reconstructed.png)" in card
    assert "(losses.png)" in card
    assert tree_digest(export) == before


def forbidden() -> Exception:
    """The error hf_raise_for_status makes of a 403 from the Hub."""
    try:
        hf_raise_for_status(http_error(403, url="https://huggingface.co/api/repos/create"))
    except Exception as err:
        return err
    raise AssertionError("403 did not raise")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (lambda: httpx.ConnectError("down"), "Cannot reach the Hugging Face Hub"),
        (forbidden, "may not do this on me/posters"),
    ],
)
def test_push_failures_give_one_message_and_keep_local_files(
    fake_api, tmp_path, tiny_model, error, message
):
    fake_api.fail["create_commit"] = error()
    export = make_export(tmp_path / "model", tiny_model)
    before = tree_digest(export)
    with pytest.raises(push.HubError, match=message):
        push.push_export(export, "me/posters")
    assert tree_digest(export) == before


def test_push_refuses_a_folder_that_is_not_an_export(fake_api, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"lacks config\.json, model\.safetensors"):
        push.push_export(tmp_path, "me/posters")
    assert fake_api.calls == []


def test_hub_access_checks_token_role_and_namespace(fake_api):
    assert push.check_hub_access("me/posters") == "me"
    assert push.check_hub_access("posters-org/x") == "me"
    with pytest.raises(push.HubError, match="'me', who may not create repos under 'other'"):
        push.check_hub_access("other/x")
    fake_api.whoami_reply["auth"]["accessToken"]["role"] = "read"
    with pytest.raises(push.HubError, match="read-only"):
        push.check_hub_access("me/posters")


def test_a_missing_token_is_reported_without_a_request(monkeypatch, tmp_path, hub_transport):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(push.HubError, match="No Hugging Face token: set HF_TOKEN"):
        push.check_hub_access("me/posters")
    assert hub_transport.requests == []


def test_offline_mode_is_named_when_pushing(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    with pytest.raises(push.HubError, match="HF_HUB_OFFLINE is set"):
        push.check_hub_access("me/posters")


def test_push_cli_exit_codes(fake_api, tmp_path, tiny_model, caplog):
    export = make_export(tmp_path / "model", tiny_model)
    assert push.main([str(export), "--repo", "not-a-repo"]) == 2
    assert "not a Hub repo id" in caplog.text
    assert fake_api.calls == []
    assert push.main([str(tmp_path / "nothing"), "--repo", "me/posters"]) == 2
    fake_api.fail["whoami"] = httpx.ConnectError("down")
    assert push.main([str(export), "--repo", "me/posters"]) == 4
    del fake_api.fail["whoami"]
    assert push.main([str(export), "--repo", "me/posters", "--title", "My posters"]) == 0
    assert b"# My posters" in fake_api.commits[-1]["files"]["README.md"]


# -------------------------------------------------------- python -m train --push


def run_train(data: Path, out: Path, *extra: str) -> int:
    flags = ["--image-size", "32", "--batch-size", "4", "--seed", "3", "--epochs", "2"]
    return train_main(["--data", str(data), "--out", str(out), *flags, *extra])


def test_training_fails_fast_on_a_bad_repo_id_or_token(fake_api, image_folder, tmp_path, caplog):
    out = tmp_path / "run"
    assert run_train(image_folder, out, "--push-to-hub", "posters") == 2
    assert "not a Hub repo id" in caplog.text
    assert fake_api.calls == []
    fake_api.fail["whoami"] = httpx.ConnectError("down")
    assert run_train(image_folder, out, "--push-to-hub", "me/posters") == 4
    assert "Cannot reach the Hugging Face Hub" in caplog.text
    assert not out.exists()  # nothing was trained
    assert run_train(image_folder, out, "--push-every", "1") == 2  # needs --push-to-hub
    del fake_api.fail["whoami"]
    assert run_train(image_folder, out, "--push-to-hub", "me/p", "--push-every", "3") == 2
    assert "multiple of the snapshot interval" in caplog.text


def test_training_pushes_snapshots_and_the_export(fake_api, image_folder, tmp_path, caplog):
    out = tmp_path / "run"
    fake_api.fail["create_commit"] = [httpx.ConnectError("down")]  # the first push fails
    flags = ("--snapshot-every", "1", "--push-every", "1", "--push-to-hub", "me/posters")
    with caplog.at_level(logging.WARNING):
        assert run_train(image_folder, out, "--epochs", "3", *flags) == 0
    assert "Push at epoch 1 failed; training goes on" in caplog.text
    assert fake_api.names().count("whoami") == 1
    assert fake_api.names().count("create_commit") == 3
    snapshot, commit = fake_api.commits  # epoch 2's snapshot, then the final export
    assert snapshot["message"] == "Snapshot at epoch 2"
    assert "(2 epochs" in snapshot["files"]["README.md"].decode()
    export = out / "model"
    assert set(commit["files"]) == {
        "README.md",
        "config.json",
        "model.safetensors",
        "metrics.json",
        "reconstructed.png",
        "generated.png",
        "losses.png",
        "metrics.png",
        "metrics.csv",
    }
    assert commit["files"]["model.safetensors"] == (export / "model.safetensors").read_bytes()
    assert "(3 epochs" in commit["files"]["README.md"].decode()


def test_a_failed_final_push_keeps_the_export_and_says_how_to_retry(
    fake_api, image_folder, tmp_path, caplog
):
    out = tmp_path / "run"
    fake_api.fail["create_commit"] = httpx.ConnectError("down")
    assert run_train(image_folder, out, "--push-to-hub", "me/posters") == 4
    assert f"python -m train.push {out / 'model'} --repo me/posters" in caplog.text
    assert VAEGAN.from_pretrained(out / "model").config.image_size == 32


# -------------------------------------------------------------------- the Space


def fake_checkout(root: Path, model: VAEGAN) -> Path:
    """The repo's top level in miniature, with what must not reach the Space."""
    for name in ("app.py", "requirements.txt", "LICENSE"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "README.md").write_text((ROOT / "README.md").read_text())
    for name in (
        "vaegan/__init__.py",
        "vaegan/model.py",
        "vaegan/__pycache__/model.cpython-311.pyc",
        "examples/examples.csv",
        "examples/a.jpg",
        "examples/SOURCES.md",
        "train/push.py",
        "tests/test_hub.py",
        "runs/x/model/model.safetensors",
        "scripts/test.sh",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    model.save_pretrained(root / "checkpoints" / "posters-128")
    (root / "checkpoints" / "posters-128" / "state.pt").write_text("pickle")
    return root


def test_deploy_uploads_only_what_the_space_needs_and_sets_the_model(
    fake_api, tmp_path, tiny_model
):
    root = fake_checkout(tmp_path / "repo", tiny_model)
    url = deploy.deploy_space("me/poster-space", "me/posters@v1", root=root)
    assert url == "https://hub.test/me/poster-space/commit/1"
    assert fake_api.names() == ["create_repo", "add_space_variable", "create_commit"]
    assert fake_api.calls[0][2] == {
        "repo_type": "space",
        "space_sdk": "gradio",
        "private": False,
        "exist_ok": True,
    }
    assert fake_api.calls[1][1] == ("me/poster-space", "VAEGAN_MODEL", "me/posters@v1")
    (commit,) = fake_api.commits
    assert commit["kwargs"]["repo_type"] == "space"
    assert sorted(commit["files"]) == [
        "LICENSE",
        "README.md",
        "app.py",
        "checkpoints/posters-128/README.md",
        "checkpoints/posters-128/config.json",
        "checkpoints/posters-128/model.safetensors",
        "examples/SOURCES.md",
        "examples/a.jpg",
        "examples/examples.csv",
        "requirements.txt",
        "vaegan/__init__.py",
        "vaegan/model.py",
    ]
    assert commit["files"]["README.md"].startswith(b"---\ntitle: Poster VAEGAN")


def test_deploy_refuses_a_checkout_without_the_shipped_checkpoint(fake_api, tmp_path, tiny_model):
    root = fake_checkout(tmp_path / "repo", tiny_model)
    (root / "checkpoints" / "posters-128" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"posters-128/model\.safetensors"):
        deploy.deploy_space("me/s", "me/m", root=root)
    tiny_model.save_pretrained(root / "checkpoints" / "posters-128")
    (root / "README.md").write_text("# no front matter\n")
    with pytest.raises(FileNotFoundError, match="front matter"):
        deploy.space_files(root)
    assert "create_commit" not in fake_api.names()


def test_deploy_cli_errors(fake_api, caplog):
    assert deploy.main(["--space", "me/s@v1"]) == 2
    assert deploy.main(["--space", "me/s", "--model", "posters"]) == 2
    assert "not a Hub repo id" in caplog.text
    assert fake_api.calls == []


def test_the_real_readme_configures_the_space():
    deploy._check_front_matter(ROOT / "README.md")
