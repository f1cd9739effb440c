"""The networks and the inference model: shapes, saving, strict loading."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vaegan import (
    FORMAT_VERSION,
    SEED_MODEL,
    VAEGAN,
    Discriminator,
    ModelConfig,
    ModelLoadError,
)
from vaegan.model import split_revision

from .conftest import TINY


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("base", [ModelConfig(), SEED_MODEL], ids=["default", "seed"])
def test_shapes_for_every_size(size: int, base: ModelConfig):
    cfg = replace(
        base,
        image_size=size,
        latent_dim=16,
        base_channels=4,
        max_channels=16,
        d_base_channels=4,
        d_max_channels=16,
        fc_dim=min(base.fc_dim, 32),
        d_feature_block=2,
    )
    model, disc = VAEGAN(cfg).eval(), Discriminator(cfg)
    x = torch.rand(2, 3, size, size) * 2 - 1

    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, 16)
    x_rec = model.decode(mu)
    assert x_rec.shape == x.shape
    assert x_rec.abs().max() <= 1
    logits, features = disc(x)
    assert logits.shape == (2,)
    assert features.shape == (2, 8, size // 4, size // 4)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(image_size=100)
    with pytest.raises(ValueError, match="kernel_size"):
        ModelConfig(kernel_size=5)


def test_round_trip_gives_identical_outputs(tiny_model: VAEGAN, saved_model: Path):
    loaded = VAEGAN.from_pretrained(saved_model)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.reconstruct(x), tiny_model.reconstruct(x), rtol=0, atol=0)
    assert loaded.config == tiny_model.config
    assert not loaded.training


def test_loaded_weights_are_nhwc_and_save_back_unchanged(saved_model: Path, tmp_path: Path):
    loaded = VAEGAN.from_pretrained(saved_model)
    conv = loaded.encoder.features[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)

    loaded.save_pretrained(tmp_path / "again")
    before = load_file(saved_model / "model.safetensors")
    after = load_file(tmp_path / "again" / "model.safetensors")
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_saved_files_are_config_and_safetensors_only(saved_model: Path):
    names = {p.name for p in saved_model.iterdir()}
    assert {"config.json", "model.safetensors"} <= names
    assert not {n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))}
    config = json.loads((saved_model / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION
    assert config["image_size"] == 32


def test_missing_key_is_an_error(saved_model: Path):
    weights = load_file(saved_model / "model.safetensors")
    weights.pop(next(iter(weights)))
    save_file(weights, saved_model / "model.safetensors")
    with pytest.raises(ModelLoadError, match="Missing key"):
        VAEGAN.from_pretrained(saved_model)


def test_unexpected_key_is_an_error(saved_model: Path):
    weights = load_file(saved_model / "model.safetensors")
    weights["extra.weight"] = torch.zeros(1)
    save_file(weights, saved_model / "model.safetensors")
    with pytest.raises(ModelLoadError, match="Unexpected key"):
        VAEGAN.from_pretrained(saved_model)


def test_config_that_does_not_match_the_weights(saved_model: Path):
    config = json.loads((saved_model / "config.json").read_text())
    config["latent_dim"] = 12
    (saved_model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not match"):
        VAEGAN.from_pretrained(saved_model)


def test_pickled_weights_are_never_loaded(saved_model: Path, tiny_model: VAEGAN):
    (saved_model / "model.safetensors").unlink()
    torch.save(tiny_model.state_dict(), saved_model / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="pickled weights are never loaded"):
        VAEGAN.from_pretrained(saved_model)


def test_truncated_safetensors_is_a_clear_error(saved_model: Path):
    path = saved_model / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        VAEGAN.from_pretrained(saved_model)


def corrupted(data: bytes, how: str) -> bytes:
    """A safetensors file damaged in place, its length unchanged."""
    (length,) = struct.unpack("<Q", data[:8])
    if how == "header-length":
        return struct.pack("<Q", len(data)) + data[8:]  # claims a header past the end
    if how == "header-json":
        return data[:8] + b"x" * 16 + data[24:]
    header = json.loads(data[8 : 8 + length])
    header.pop("__metadata__", None)  # room for the longer offsets below
    name = next(iter(header))
    header[name]["data_offsets"] = [0, 10 * len(data)]  # how == "offsets": past the end
    raw = json.dumps(header, separators=(",", ":")).encode()
    return data[:8] + raw.ljust(length) + data[8 + length :]  # the format pads with spaces


@pytest.mark.parametrize("how", ["header-length", "header-json", "offsets"])
def test_corrupt_safetensors_of_the_right_length_is_a_clear_error(saved_model: Path, how: str):
    path = saved_model / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(corrupted(data, how))
    assert path.stat().st_size == len(data)
    with pytest.raises(ModelLoadError, match=r"not a readable safetensors file.*corrupt"):
        VAEGAN.from_pretrained(saved_model)


@pytest.mark.parametrize("change", [{"latent_dim": 8.5}, {"base_channels": None}])
def test_config_values_of_the_wrong_type_are_a_clear_error(saved_model: Path, change: dict):
    # They pass the config's own checks and would fail deep inside torch.
    config = json.loads((saved_model / "config.json").read_text())
    (saved_model / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ModelLoadError, match="cannot be built"):
        VAEGAN.from_pretrained(saved_model)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"format_version": 99}, "format_version"), ({"colour": 1}, "unknown keys")],
)
def test_config_format_is_checked(saved_model: Path, change: dict, message: str):
    config = json.loads((saved_model / "config.json").read_text())
    (saved_model / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ModelLoadError, match=message):
        VAEGAN.from_pretrained(saved_model)


def test_loading_prints_nothing_and_lands_on_cpu(saved_model: Path, capsys):
    model = VAEGAN.from_pretrained(saved_model)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_fp16_storage_loads_into_fp32(saved_model: Path, tiny_model: VAEGAN):
    weights = {k: v.half() for k, v in load_file(saved_model / "model.safetensors").items()}
    save_file(weights, saved_model / "model.safetensors")
    model = VAEGAN.from_pretrained(saved_model)
    assert next(model.parameters()).dtype == torch.float32
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(model.reconstruct(x), tiny_model.reconstruct(x), atol=2e-2, rtol=0)


def test_not_a_model_folder(tmp_path: Path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        VAEGAN.from_pretrained(tmp_path)


def test_repo_id_with_revision():
    assert split_revision("owner/name@v1") == ("owner/name", "v1")
    assert split_revision("owner/name") == ("owner/name", None)


def test_reconstruct_is_deterministic(tiny_model: VAEGAN):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(tiny_model.reconstruct(x), tiny_model.reconstruct(x))


def test_sample_is_reproducible_by_seed(tiny_model: VAEGAN):
    a, b, c = tiny_model.sample(4, seed=1), tiny_model.sample(4, seed=1), tiny_model.sample(4, 2)
    assert a.shape == (4, 3, 32, 32)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_interpolate_includes_both_ends(tiny_model: VAEGAN, mode: str):
    z_a, z_b = torch.randn(TINY.latent_dim), torch.randn(TINY.latent_dim)
    frames = tiny_model.interpolate(z_a, z_b, steps=5, mode=mode)
    assert frames.shape == (5, 3, 32, 32)
    ends = tiny_model.decode(torch.stack([z_a, z_b]))
    torch.testing.assert_close(frames[0], ends[0])
    torch.testing.assert_close(frames[-1], ends[1])


def test_image_helpers(tiny_model: VAEGAN, tmp_path: Path):
    from .conftest import poster

    path = tmp_path / "p.png"
    poster(3).save(path)
    z = tiny_model.encode_image(path)
    assert z.shape == (TINY.latent_dim,)
    assert tiny_model.reconstruct_image(path).size == (32, 32)
