"""Inference from the command line.

python -m vaegan reconstruct poster.jpg out.png [--model DIR_OR_REPO]
python -m vaegan morph a.jpg b.jpg morph.gif [--steps 16] [--mode slerp]
python -m vaegan sample out.png [--n 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from .images import ImageError, open_image, to_pil, to_tensor
from .model import VAEGAN, ModelLoadError

logger = logging.getLogger("vaegan")

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "checkpoints" / "posters-128"


def load_model(name: str | None) -> VAEGAN:
    return VAEGAN.from_pretrained(name or DEFAULT_MODEL)


def reconstruct_file(model: VAEGAN, src: Path, dst: Path, keep_aspect: bool = True) -> Image.Image:
    """Reconstruct one image file; by default stretched back to its aspect ratio."""
    image = open_image(src)
    rec = to_pil(model.reconstruct(to_tensor(image, model.config.image_size)[None])[0])
    if keep_aspect:
        rec = rec.resize(
            display_size(image.size, 2 * model.config.image_size), Image.Resampling.BICUBIC
        )
    rec.save(dst)
    return rec


def display_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is long_side, aspect kept."""
    width, height = size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def morph_frames(model: VAEGAN, a: Path, b: Path, steps: int, mode: str) -> list[Image.Image]:
    """Decoded frames from a's latent to b's, both ends included."""
    z_a, z_b = model.encode_image(a), model.encode_image(b)
    frames = model.interpolate(z_a, z_b, steps=steps, mode=mode)
    return [to_pil(x) for x in frames]


def save_gif(frames: list[Image.Image], dst: Path, frame_ms: int = 120) -> None:
    """An animated GIF that plays forth and back, looping forever."""
    sequence = frames + frames[-2:0:-1]
    sequence[0].save(dst, save_all=True, append_images=sequence[1:], duration=frame_ms, loop=0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vaegan", description="VAEGAN inference")
    p.add_argument("--model", help="exported model folder or Hub repo id (owner/name[@rev])")
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("reconstruct", help="reconstruct one image")
    rec.add_argument("input", type=Path)
    rec.add_argument("output", type=Path)
    rec.add_argument("--square", action="store_true", help="keep the model's square output")
    morph = sub.add_parser("morph", help="write the morph between two images as a GIF")
    morph.add_argument("a", type=Path)
    morph.add_argument("b", type=Path)
    morph.add_argument("output", type=Path)
    morph.add_argument("--steps", type=int, default=16)
    morph.add_argument("--mode", choices=["lerp", "slerp"], default="slerp")
    morph.add_argument("--frame-ms", type=int, default=120)
    sample = sub.add_parser("sample", help="a grid of random posters from the prior")
    sample.add_argument("output", type=Path)
    sample.add_argument("--n", type=int, default=16)
    sample.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        model = load_model(args.model)
        if args.command == "reconstruct":
            reconstruct_file(model, args.input, args.output, keep_aspect=not args.square)
        elif args.command == "morph":
            frames = morph_frames(model, args.a, args.b, args.steps, args.mode)
            save_gif(frames, args.output, args.frame_ms)
        else:
            grid = make_grid((model.sample(args.n, args.seed) + 1) / 2, nrow=4, padding=2)
            to_pil(grid * 2 - 1).save(args.output)
    except (ImageError, ModelLoadError, ValueError) as err:
        logger.error("%s", err)
        return 2
    logger.info("Wrote %s", args.output)
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
