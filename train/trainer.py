"""The training loop: one step for all three players, then snapshots and checkpoints."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from vaegan import VAEGAN, Discriminator
from vaegan.losses import d_adv_loss, feat_loss, g_adv_loss, kl_loss, rec_loss

from . import snapshots
from .augment import augment
from .checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import Split
from .evaluate import reconstruct_split, summarize

logger = logging.getLogger(__name__)

COLLAPSE_WINDOW, COLLAPSE_LEVEL, COLLAPSE_WARN_EVERY = 200, 0.05, 2000
PREVIEW_COUNT = 8


def ema_with_warmup(decay: float):
    """EMA update for AveragedModel whose decay ramps up as (1 + n) / (10 + n).

    A fixed 0.999 would keep half the random initialisation for the first
    ~700 steps, so early snapshots and short runs would show grey images.
    """

    @torch.no_grad()
    def update(averaged: list, current: list, num_averaged) -> None:
        n = int(num_averaged)
        weight = 1.0 - min(decay, (1 + n) / (10 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
        # Integer buffers (BatchNorm's batch counter) are copied, not averaged.
        for a, c in zip(averaged, current, strict=True):
            if not a.is_floating_point():
                a.copy_(c)

    return update


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the message names the step."""


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(name)


def pick_amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """bf16 where the hardware has it, fp16 (with a grad scaler) on older GPUs, else None."""
    if amp == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # Without native bf16 (AVX512-BF16 or AMX) oneDNN emulates it, 20x slower than fp32.
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    logger.info("This CPU has no native bf16; training in fp32")
    return None


class Trainer:
    """Holds the networks, optimisers and counters of one run in OUT."""

    def __init__(self, cfg: TrainConfig, train: Split, heldout: Split, out: Path) -> None:
        self.cfg, self.train_set, self.heldout_set, self.out = cfg, train, heldout, Path(out)
        self.device = pick_device(cfg.device)
        self.amp_dtype = pick_amp_dtype(self.device, cfg.amp)
        torch.manual_seed(cfg.seed)

        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.vae = VAEGAN(cfg.model).to(self.device, memory_format=self.memory_format)
        self.disc = (
            Discriminator(cfg.model).to(self.device, memory_format=self.memory_format)
            if cfg.uses_discriminator
            else None
        )
        self.opt_vae = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_disc = (
            torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=cfg.betas)
            if self.disc is not None
            else None
        )
        self.ema = (
            AveragedModel(self.vae, multi_avg_fn=ema_with_warmup(cfg.ema_decay), use_buffers=True)
            if cfg.ema_decay
            else None
        )
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )

        self.step = self.epoch = self.images_seen = 0
        self.wall_time = 0.0
        self.order_gen = torch.Generator().manual_seed(cfg.seed)
        self.aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.d_history: deque[float] = deque(maxlen=COLLAPSE_WINDOW)
        self.last_collapse_warning = -COLLAPSE_WARN_EVERY
        self.shared_objective = cfg.enc_weights == cfg.dec_weights
        # Called with the trainer after every epoch but the last, once its snapshot and
        # checkpoint are written (train.push.SnapshotPusher pushes to the Hub from here).
        self.epoch_hooks: list[Callable[[Trainer], None]] = []

    # ------------------------------------------------------------------ one step

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def compute_losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward every player once; returns each loss term (and d_adv when D exists)."""
        cfg, batch = self.cfg, x.shape[0]
        mu, logvar = self.vae.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation
        x_rec = self.vae.decode(z)
        terms = {
            "kl": kl_loss(mu, logvar, cfg.kl_reduction),
            "rec": rec_loss(x, x_rec, cfg.rec_distance, cfg.rec_reduction),
        }
        if self.disc is None:
            return terms

        fakes = [x_rec]
        if cfg.d_prior_samples:
            z_prior = torch.randn(batch, cfg.model.latent_dim, device=x.device)
            fakes.append(self.vae.decode(z_prior))
        # One D pass over real, reconstructed and sampled images, augmented alike.
        views = augment([x, *fakes], cfg.augment, self.aug_gen)
        logits, features = self.disc(torch.cat(views))
        real_logits, fake_logits = logits[:batch], logits[batch:]
        terms["d_adv"] = d_adv_loss(real_logits, fake_logits, cfg.d_loss)
        terms["feat"] = feat_loss(
            features[:batch], features[batch : 2 * batch], cfg.feat_distance, cfg.feat_reduction
        )
        terms["adv"] = g_adv_loss(fake_logits, cfg.d_loss)
        return terms

    def _weighted(self, terms: dict[str, torch.Tensor], weights: dict) -> torch.Tensor:
        return sum(w * terms[k] for k, w in weights.items() if w and k in terms)

    def lr_scale(self) -> float:
        """Factor on both base learning rates at the current point of the run."""
        if self.cfg.lr_decay == "none":
            return 1.0
        progress = min(1.0, self.images_seen / max(1, self.total_images()))
        floor = self.cfg.lr_final_ratio
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def _set_lr(self) -> None:
        scale = self.lr_scale()
        for opt, base in ((self.opt_vae, self.cfg.lr), (self.opt_disc, self.cfg.d_lr)):
            for group in opt.param_groups if opt is not None else []:
                group["lr"] = base * scale

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        """One simultaneous update of D, encoder and decoder; returns plain floats."""
        self._set_lr()
        with self.autocast():
            terms = self.compute_losses(x)
        loss_enc = self._weighted(terms, self.cfg.enc_weights)
        loss_dec = self._weighted(terms, self.cfg.dec_weights)
        self._check_finite({**terms, "enc": loss_enc, "dec": loss_dec})

        # Each player's loss reaches only its own parameters, so D's loss never
        # moves the decoder and the decoder's adversarial term never moves D.
        params_enc = list(self.vae.encoder.parameters())
        params_dec = list(self.vae.decoder.parameters())
        if self.disc is not None:
            self._backward(terms["d_adv"], list(self.disc.parameters()), retain=True)
        if self.shared_objective:
            self._backward(loss_enc, params_enc + params_dec)
        else:
            self._backward(loss_enc, params_enc, retain=True)
            self._backward(loss_dec, params_dec)

        for opt in (self.opt_disc, self.opt_vae):
            if opt is not None:
                self._clip(opt)
                self.scaler.step(opt)
                opt.zero_grad(set_to_none=True)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.vae)

        self.step += 1
        logs = {f"train/{k}_loss": v.item() for k, v in terms.items()}
        logs["train/enc_loss"] = float(loss_enc.detach())
        logs["train/dec_loss"] = float(loss_dec.detach())
        return logs

    def _clip(self, opt: torch.optim.Optimizer) -> None:
        if self.cfg.grad_clip:
            self.scaler.unscale_(opt)  # clip true gradients, not fp16-scaled ones
            params = [p for group in opt.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)

    def _backward(self, loss: torch.Tensor, params: list, retain: bool = False) -> None:
        self.scaler.scale(loss).backward(inputs=params, retain_graph=retain)

    def _check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        bad = [k for k, v in losses.items() if not math.isfinite(float(v.detach()))]
        if bad:
            raise TrainingError(
                f"Non-finite loss ({', '.join(bad)}) at step {self.step + 1}, epoch "
                f"{self.epoch + 1}. Training stopped before this update; the last good "
                f"checkpoint in {self.out} is untouched. Lower --lr or turn off mixed precision "
                "(--amp off), then --resume."
            )

    def _watch_collapse(self, d_loss: float) -> None:
        """Warn (rate-limited) when D wins so completely that the decoder learns nothing."""
        if not self.cfg.dec_weights.get("adv"):
            return
        self.d_history.append(d_loss)
        full = len(self.d_history) == COLLAPSE_WINDOW
        mean = sum(self.d_history) / len(self.d_history)
        if (
            full
            and mean < COLLAPSE_LEVEL
            and self.step - self.last_collapse_warning >= (COLLAPSE_WARN_EVERY)
        ):
            self.last_collapse_warning = self.step
            logger.warning(
                "Discriminator loss has stayed near zero (mean %.4f over the last %d steps, "
                "step %d): D wins and the decoder's adversarial signal vanishes. Try a lower "
                "d_lr, stronger augmentation, or a smaller adv weight.",
                mean,
                COLLAPSE_WINDOW,
                self.step,
            )

    # ------------------------------------------------------------------ the loop

    def total_images(self) -> int:
        return self.cfg.images or self.cfg.epochs * self.images_per_epoch()

    def batches_per_epoch(self) -> list[int]:
        n, size = len(self.train_set), min(self.cfg.batch_size, len(self.train_set))
        # A last batch of one would break BatchNorm; it joins the next epoch's draw instead.
        sizes = [size] * (n // size)
        if n % size > 1:
            sizes.append(n % size)
        return sizes

    def images_per_epoch(self) -> int:
        return sum(self.batches_per_epoch())

    def run(self) -> Path:
        """Train until the target, with snapshots and checkpoints; returns the export folder."""
        total = self.total_images()
        bar = tqdm(total=total, initial=self.images_seen, unit="img", dynamic_ncols=True)
        while self.images_seen < total:
            started = time.perf_counter()
            sums = self._run_epoch(total, bar)
            self.wall_time += time.perf_counter() - started
            self.epoch += 1
            self._end_epoch(sums, final=self.images_seen >= total)
        bar.close()
        return self.export()

    def _run_epoch(self, total: int, bar) -> dict[str, float]:
        self.vae.train()
        if self.disc is not None:
            self.disc.train()
        order = torch.randperm(len(self.train_set), generator=self.order_gen)
        sums: dict[str, float] = defaultdict(float)
        start = 0
        for size in self.batches_per_epoch():
            if self.images_seen >= total:
                break
            x = self.train_set.batch(order[start : start + size])
            x = x.to(self.device, memory_format=self.memory_format)
            start += size
            logs = self.train_step(x)
            self.images_seen += size
            for k, v in logs.items():
                sums[k] += v * size
            sums["_n"] += size
            if "train/d_adv_loss" in logs:
                self._watch_collapse(logs["train/d_adv_loss"])
            bar.update(size)
            bar.set_postfix(
                {k.split("/")[1][:-5]: f"{v:.3g}" for k, v in logs.items()}, refresh=False
            )
        return sums

    def _end_epoch(self, sums: dict[str, float], final: bool) -> None:
        count = sums.pop("_n", 0) or 1
        row = {
            "epoch": self.epoch,
            "step": self.step,
            "images": self.images_seen,
            "wall_s": round(self.wall_time, 2),
        }
        row.update({k: round(v / count, 6) for k, v in sums.items()})
        snapshots.append_csv(self.out / "losses.csv", row)

        if final or self.epoch % self.cfg.snapshot_every_epochs == 0:
            self.snapshot()
        if final or self.epoch % self.cfg.checkpoint_every_epochs == 0:
            self.save()
        if not final:
            for hook in self.epoch_hooks:
                hook(self)

    # ---------------------------------------------------------- outputs and state

    def eval_model(self) -> VAEGAN:
        model = self.ema.module if self.ema is not None else self.vae
        return model.eval()

    def split_metrics(self, split: Split) -> dict:
        """Means and per-image metrics of a split, as train.evaluate computes them."""
        if len(split) == 0:
            return {}
        x = split.batch(torch.arange(len(split)))
        return summarize(split.names, x, reconstruct_split(self.eval_model(), split))

    @torch.no_grad()
    def snapshot(self) -> None:
        """Grids named by epoch, the held-out metrics and the loss plot."""
        tag = f"epoch{self.epoch:04d}"
        model = self.eval_model()
        for name, split in (("reconstructed", self.train_set), ("heldout", self.heldout_set)):
            if len(split):
                idx = torch.arange(min(PREVIEW_COUNT, len(split)))
                x = split.batch(idx).to(self.device)
                snapshots.save_pairs_grid(x, model.reconstruct(x), self.out / f"{name}_{tag}.png")
        x_gen = model.sample(16, seed=1234)
        snapshots.save_samples_grid(x_gen, self.out / f"generated_{tag}.png")
        snapshots.plot_losses(self.out / "losses.csv", self.out / "losses.png")

        # Both splits at every snapshot: the curves show when training memorises
        # and whether held-out quality follows or falls away.
        row = {"epoch": self.epoch, "images": self.images_seen, "wall_s": round(self.wall_time, 2)}
        for name, split in (("train", self.train_set), ("heldout", self.heldout_set)):
            for key, value in self.split_metrics(split).get("mean", {}).items():
                row[f"{name}/{key}"] = "" if value is None else round(value, 4)
        snapshots.append_csv(self.out / "metrics.csv", row)
        snapshots.plot_metrics(self.out / "metrics.csv", self.out / "metrics.png")
        logger.info(
            "Epoch %d: %s", self.epoch, ", ".join(f"{k} {v}" for k, v in row.items() if "/" in k)
        )

    def state_dict(self) -> dict:
        return {
            "settings": self.cfg.to_dict(),
            "vae": self.vae.state_dict(),
            "disc": self.disc.state_dict() if self.disc is not None else {},
            "opt_vae": self.opt_vae.state_dict(),
            "opt_disc": self.opt_disc.state_dict() if self.opt_disc is not None else {},
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "scaler": self.scaler.state_dict(),
            "counters": {
                "step": self.step,
                "epoch": self.epoch,
                "images_seen": self.images_seen,
                "wall_time": self.wall_time,
            },
            "rng": {
                "torch": torch.get_rng_state(),
                "order": self.order_gen.get_state(),
                "aug": self.aug_gen.get_state(),
            },
        }

    def save(self) -> None:
        save_checkpoint(self.out, self.state_dict(), self.step)

    def resume(self) -> bool:
        """Load OUT/checkpoint if there is one; True when a run was resumed."""
        if not has_checkpoint(self.out):
            return False
        state = load_checkpoint(self.out)
        self.vae.load_state_dict(state["vae"])
        self.opt_vae.load_state_dict(state["opt_vae"])
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.opt_disc.load_state_dict(state["opt_disc"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.scaler.load_state_dict(state["scaler"])
        counters = state["counters"]
        self.step, self.epoch = counters["step"], counters["epoch"]
        self.images_seen, self.wall_time = counters["images_seen"], counters["wall_time"]
        torch.set_rng_state(state["rng"]["torch"])
        self.order_gen.set_state(state["rng"]["order"])
        self.aug_gen.set_state(state["rng"]["aug"])
        # Rows logged after this checkpoint belong to the lost part of the run.
        for name in ("losses.csv", "metrics.csv"):
            snapshots.truncate_csv(self.out / name, self.images_seen)
        logger.info(
            "Resumed from step %d (epoch %d, %d images shown)",
            self.step,
            self.epoch,
            self.images_seen,
        )
        return True

    def export(self) -> Path:
        """OUT/model: config.json, model.safetensors (EMA weights), metrics.json, grids."""
        from .export import export_model

        return export_model(self)
