"""The inference model: encoder + decoder, saved as config.json + model.safetensors.

model = VAEGAN.from_pretrained("checkpoints/posters-128")
x = to_tensor("poster.jpg", model.config.image_size)[None]
x_rec = model.reconstruct(x)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .config import ModelConfig
from .images import ImageSource, to_pil, to_tensor
from .latent import interpolate
from .nets import Decoder, Encoder

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelLoadError(RuntimeError):
    """A model folder or repo that cannot be loaded; the message says why."""


class HubUnreachableError(ModelLoadError):
    """The Hub could not be asked (no connection, HF_HUB_OFFLINE) and nothing was cached."""


class VAEGAN(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="poster-vaegan",
    license="mit",
    pipeline_tag="image-to-image",
    tags=["vaegan", "vae", "gan", "posters"],
    repo_url="https://github.com/poster-vaegan/poster-vaegan",
):
    """Encoder and decoder of a VAEGAN; the discriminator is needed only to train."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else ModelConfig()
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    # ---------------------------------------------------------------- inference

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, S, S) in [-1, 1] -> (mu, logvar), each (N, latent_dim)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, 3, S, S) in [-1, 1]."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x)

    @torch.inference_mode()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: deterministic, (N, 3, S, S) in [-1, 1]."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    @torch.inference_mode()
    def interpolate(
        self, z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 8, mode: str = "slerp"
    ) -> torch.Tensor:
        """Decode `steps` latents from z_a to z_b, ends included: (steps, 3, S, S)."""
        return self.decode(interpolate(z_a, z_b, steps, mode))

    @torch.inference_mode()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I); the same seed gives the same images."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return self.decode(z.to(self.device))

    @torch.inference_mode()
    def encode_image(self, image: ImageSource) -> torch.Tensor:
        """Any image -> its posterior mean, (latent_dim,)."""
        x = to_tensor(image, self.config.image_size)[None].to(self.device)
        return self.encode(x)[0][0]

    def reconstruct_image(self, image: ImageSource):
        """Any image -> its reconstruction as a PIL image at the model's resolution."""
        x = to_tensor(image, self.config.image_size)[None].to(self.device)
        return to_pil(self.reconstruct(x)[0])

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------- save / load

    def _save_pretrained(self, save_directory: Path) -> None:
        """config.json (with format_version) + model.safetensors; nothing pickled."""
        save_directory = Path(save_directory)
        (save_directory / CONFIG_NAME).write_text(
            json.dumps(self.config.to_dict(), indent=2, sort_keys=True) + "\n"
        )
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(save_directory / WEIGHTS_NAME), metadata={"format": "pt"})

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        """A short card; training replaces it with one holding metrics and grids."""
        card = ModelCard.from_template(
            card_data=self._hub_mixin_info.model_card_data,
            template_str=(
                "---\n{{ card_data }}\n---\n\n# poster-vaegan model\n\n"
                "A VAEGAN encoder and decoder. Load with "
                "`VAEGAN.from_pretrained(...)` from the poster-vaegan library.\n"
            ),
        )
        return card

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
        **_unused,
    ) -> VAEGAN:
        """Load from a local folder or a Hub repo id (`owner/name[@revision]`).

        Unlike the mixin's default this loads strictly (missing, unexpected or
        misshapen weights are an error), reads only safetensors, never prints,
        and always loads on CPU in eval mode.
        """
        folder = Path(pretrained_model_name_or_path)
        if folder.is_dir():
            config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
            _check_local_files(folder, config_path, weights_path)
        else:
            config_path, weights_path = _download(
                str(pretrained_model_name_or_path),
                revision=revision,
                cache_dir=cache_dir,
                token=token,
                local_files_only=local_files_only,
                force_download=force_download,
            )
        return cls.from_files(config_path, weights_path)

    @classmethod
    def from_files(cls, config_path: str | os.PathLike, weights_path: str | os.PathLike) -> VAEGAN:
        """Build from a config.json and load a safetensors file into it strictly."""
        try:
            config = ModelConfig.from_dict(json.loads(Path(config_path).read_text()))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise ModelLoadError(f"{config_path} is not a valid model config: {err}") from err
        try:
            model = cls(config)
        except (TypeError, ValueError, RuntimeError) as err:
            # Values of the wrong type (a float or null width) pass the config's checks
            # and fail only here, inside torch.
            raise ModelLoadError(
                f"{config_path} describes networks that cannot be built: {err}"
            ) from err
        try:
            state = load_file(str(weights_path), device="cpu")
        except (SafetensorError, OSError, ValueError) as err:
            raise ModelLoadError(
                f"{weights_path} is not a readable safetensors file ({err}); "
                "it may be truncated or corrupt."
            ) from err
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ModelLoadError(
                f"The weights in {weights_path} do not match config.json: {err}"
            ) from err
        logger.info(
            "Loaded %s (image %d px, latent %d)", weights_path, config.image_size, config.latent_dim
        )
        # NHWC weights steer oneDNN (and cuDNN) to their faster kernels: decoding 16 frames
        # took 51 ms instead of 87 on one CPU thread. Outputs come back NHWC-strided too.
        return model.eval().to(memory_format=torch.channels_last)


def _check_local_files(folder: Path, config_path: Path, weights_path: Path) -> None:
    if not config_path.is_file():
        raise ModelLoadError(f"{folder} has no {CONFIG_NAME}; is it an exported model folder?")
    if not weights_path.is_file():
        pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt*")]
        hint = f" (found {', '.join(pickled)}: pickled weights are never loaded)" if pickled else ""
        raise ModelLoadError(f"{folder} has no {WEIGHTS_NAME}{hint}.")


def split_revision(model_id: str) -> tuple[str, str | None]:
    """'owner/name@rev' -> ('owner/name', 'rev'); no '@' gives revision None."""
    repo_id, _, revision = model_id.partition("@")
    return repo_id, (revision or None)


def _download(model_id: str, *, revision: str | None, **kwargs) -> tuple[str, str]:
    """Fetch config.json and model.safetensors (never a pickle) through the Hub cache.

    Hub failures become a ModelLoadError naming the cause; HubUnreachableError when
    the Hub could not be asked at all, so that a caller may fall back.
    """
    from huggingface_hub import hf_hub_download

    from .hub import classify, parse_repo_id

    try:
        repo_id, at_revision = parse_repo_id(model_id)
    except ValueError as err:
        raise ModelLoadError(
            f"{model_id!r} is neither a local folder nor a Hub repo id like 'owner/name'."
        ) from err
    revision = revision or at_revision
    paths = []
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            paths.append(hf_hub_download(repo_id, name, revision=revision, **kwargs))
        except Exception as err:
            failure = classify(err, repo_id)
            if failure is None:
                raise
            raise _load_error(failure, model_id, name) from err
    return paths[0], paths[1]


def _load_error(failure, model_id: str, name: str) -> ModelLoadError:
    """The ModelLoadError for a failed download of `name` from `model_id`."""
    message = failure.message
    if failure.kind == "file_not_found":
        message = f"Hub repo {model_id} has no {name} (only safetensors weights are loaded)."
    elif failure.kind == "revision_not_found":
        message = f"Hub repo {model_id}: no such revision."
    elif failure.unreachable:
        message = f"{message[:-1]} (needed: {name})."
    error = HubUnreachableError if failure.unreachable else ModelLoadError
    return error(f"Cannot load {model_id}: {message}")
