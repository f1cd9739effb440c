"""poster-vaegan: encode, reconstruct and morph posters with a VAEGAN."""

from .config import FORMAT_VERSION, SEED_MODEL, ModelConfig
from .images import MAX_PIXELS, MIN_SIDE, ImageError, open_image, to_pil, to_tensor
from .latent import interpolate, lerp, slerp
from .model import VAEGAN, HubUnreachableError, ModelLoadError
from .nets import Decoder, Discriminator, Encoder

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "MAX_PIXELS",
    "MIN_SIDE",
    "SEED_MODEL",
    "VAEGAN",
    "Decoder",
    "Discriminator",
    "Encoder",
    "HubUnreachableError",
    "ImageError",
    "ModelConfig",
    "ModelLoadError",
    "interpolate",
    "lerp",
    "open_image",
    "slerp",
    "to_pil",
    "to_tensor",
]
