"""Train a VAEGAN on a folder of images.

    python -m train --data data/posters --out runs/posters --preset default \
        --images 200000 --holdout-every 10

A flag beats the preset, which beats the default. OUT/settings.json records the
resolved settings; `--resume` continues OUT/checkpoint with them. `--push-to-hub
OWNER/NAME` checks the token before training, pushes the export at the end and, with
`--push-every N`, a snapshot every N epochs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from .config import PRESETS, TrainConfig, resolve
from .data import DataError, load_folder
from .push import EXIT_HUB, HubError, SnapshotPusher, check_hub_access, check_repo_id, push_export
from .trainer import Trainer, TrainingError

logger = logging.getLogger("train")

# Flags that may differ on --resume: they say how long to go on, not how to train.
RESUME_MAY_CHANGE = {"epochs", "images"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder tree of training images")
    p.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the training images")
    length.add_argument("--images", type=int, help="real training images to show in all")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--image-size", type=int, help="64, 128 or 256 (a power of two)")
    p.add_argument("--lr", type=float, help="Adam learning rate of encoder and decoder")
    p.add_argument("--d-lr", type=float, help="Adam learning rate of the discriminator")
    p.add_argument("--lr-decay", choices=["none", "cosine"], help="learning-rate schedule")
    p.add_argument("--snapshot-every", type=int, dest="snapshot_every_epochs", help="epochs")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        dest="checkpoint_every_epochs",
        help="epochs (default: the snapshot interval)",
    )
    p.add_argument("--holdout-every", type=int, help="hold out every K-th image")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--amp", choices=["auto", "off"], help="mixed precision (bf16/fp16)")
    p.add_argument("--threads", type=int, dest="num_threads", help="torch CPU threads")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", help="continue OUT/checkpoint")
    hub = p.add_argument_group("Hugging Face Hub")
    hub.add_argument("--push-to-hub", metavar="OWNER/NAME", help="push the export to this repo")
    hub.add_argument("--push-every", type=int, metavar="N", help="also push every N epochs")
    hub.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def settings_from_args(args: argparse.Namespace) -> TrainConfig:
    flags = {
        k: getattr(args, k)
        for k in (
            "epochs",
            "images",
            "batch_size",
            "lr",
            "d_lr",
            "lr_decay",
            "snapshot_every_epochs",
            "checkpoint_every_epochs",
            "holdout_every",
            "device",
            "amp",
            "num_threads",
            "seed",
        )
    }
    if flags["checkpoint_every_epochs"] is None and flags["snapshot_every_epochs"] is not None:
        flags["checkpoint_every_epochs"] = flags["snapshot_every_epochs"]
    if flags["images"] is not None:
        flags["epochs"] = 0
    model = {"latent_dim": args.latent_dim, "image_size": args.image_size}
    return resolve(args.preset, flags, model)


def settings_for_resume(args: argparse.Namespace, saved: TrainConfig) -> TrainConfig:
    """The saved settings, with only the run length taken from the flags."""
    given = settings_from_args(args)
    changes = {}
    if args.epochs is not None or args.images is not None:
        changes = {"epochs": given.epochs, "images": given.images}
    ignored = [
        f"--{k.replace('_', '-')}"
        for k in (
            "batch_size",
            "lr",
            "d_lr",
            "lr_decay",
            "holdout_every",
            "seed",
            "amp",
            "latent_dim",
            "image_size",
        )
        if getattr(args, k, None) is not None
    ]
    if ignored:
        logger.warning("Resuming keeps the saved settings; ignored: %s", ", ".join(ignored))
    data = {**saved.to_dict(), **changes}
    return TrainConfig.from_dict(data)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    out: Path = args.out
    settings_path = out / "settings.json"
    if (code := check_push_args(args)) is not None:
        return code
    try:
        if args.resume and settings_path.exists():
            cfg = settings_for_resume(args, TrainConfig.load(settings_path))
        else:
            if args.resume:
                logger.warning("Nothing to resume in %s; starting a new run", out)
            cfg = settings_from_args(args)
        check_push_every(args, cfg)
        train_set, heldout_set = load_folder(args.data, cfg.model.image_size, cfg.holdout_every)
    except (DataError, ValueError) as err:
        logger.error("%s", err)
        return 2

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(settings_path)
    trainer = Trainer(cfg, train_set, heldout_set, out)
    if args.resume:
        trainer.resume()
    if args.push_every:
        trainer.epoch_hooks.append(
            SnapshotPusher(args.push_to_hub, args.push_every, private=args.private)
        )
    logger.info(
        "Preset %s on %s (%s), %d images to show",
        cfg.preset,
        trainer.device,
        trainer.amp_dtype or "fp32",
        trainer.total_images(),
    )
    try:
        export = trainer.run()
    except TrainingError as err:
        logger.error("%s", err)
        return 3
    logger.info("Done: %s", export)
    return push_at_end(args, export)


def check_push_args(args: argparse.Namespace) -> int | None:
    """Fail fast on a bad repo id or token, before any data is read; an exit code or None."""
    if args.push_to_hub is None:
        if args.push_every:
            logger.error("--push-every needs --push-to-hub OWNER/NAME")
            return 2
        return None
    try:
        check_repo_id(args.push_to_hub)
        user = check_hub_access(args.push_to_hub)
    except ValueError as err:
        logger.error("--push-to-hub: %s", err)
        return 2
    except HubError as err:
        logger.error("Cannot push to %s: %s Nothing was trained.", args.push_to_hub, err)
        return EXIT_HUB
    logger.info("Will push to %s as %s", args.push_to_hub, user)
    return None


def check_push_every(args: argparse.Namespace, cfg: TrainConfig) -> None:
    """Pushes happen at snapshots: N must be a multiple of the snapshot interval."""
    every = args.push_every
    if every is not None and (every < 1 or every % cfg.snapshot_every_epochs):
        raise ValueError(
            f"--push-every {every} must be a multiple of the snapshot interval "
            f"({cfg.snapshot_every_epochs} epochs): pushes happen at snapshots."
        )


def push_at_end(args: argparse.Namespace, export: Path) -> int:
    """Push the final export when asked; a failure keeps it and says how to retry."""
    if args.push_to_hub is None:
        return 0
    try:
        push_export(export, args.push_to_hub, private=args.private)
    except (HubError, OSError) as err:
        logger.error(
            "The push to %s failed: %s The export is kept in %s; push it again with "
            "`python -m train.push %s --repo %s`.",
            args.push_to_hub,
            err,
            export,
            export,
            args.push_to_hub,
        )
        return EXIT_HUB
    return 0


if __name__ == "__main__":
    sys.exit(main())
