"""What a training run adds to Lightning: image grids after each validation (PNG and wandb), a
stop on divergence that keeps the last finite checkpoint, a checkpoint of the state at Ctrl-C,
checkpoints written sealed and atomically, a fit timer that survives resuming, and a CSV logger
that appends to a resumed run's history."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter as _CSVWriter
from lightning.pytorch.utilities.exceptions import SIGTERMException

from scatgen.errors import UserError
from scatgen.storage.checkpoints import load_sealed, write_checkpoint
from scatgen.viz.grids import save_png, side_by_side

log = logging.getLogger(__name__)


class DivergenceError(UserError):
    """Training produced a non-finite loss."""


def log_images(trainer: L.Trainer, key: str, path: Path, caption: str = "") -> None:
    """Send a PNG to every wandb logger of the trainer (other loggers keep the file only)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], caption=[caption or path.name], step=trainer.global_step)


class ReconstructionGrids(L.Callback):
    """Inputs beside reconstructions for a fixed train batch and a fixed validation batch, every
    ``every_n_epochs`` validations: ``<run>/images/recon_<split>_epoch<E>.png``."""

    def __init__(self, n_images: int = 16, every_n_epochs: int = 1, dirname: str = "images"):
        self.n_images, self.every_n_epochs, self.dirname = n_images, every_n_epochs, dirname
        self._batches: dict[str, tuple[torch.Tensor, ...]] = {}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        if trainer.current_epoch % self.every_n_epochs:
            return
        out = Path(trainer.default_root_dir) / self.dirname
        was_training = pl_module.training
        pl_module.eval()
        for split in ("train", "val"):
            if split not in self._batches:
                self._batches[split] = trainer.datamodule.fixed_batch(split, self.n_images)
            batch = [t.to(pl_module.device) for t in self._batches[split]]
            x_hat = pl_module.reconstruct(batch)
            path = save_png(side_by_side(pl_module.batch_images(batch), x_hat), out / f"recon_{split}_epoch{trainer.current_epoch:03d}.png")
            log_images(trainer, f"reconstructions/{split}", path, f"epoch {trainer.current_epoch}: inputs above reconstructions")
        pl_module.train(was_training)


# the config key of each optimiser -> the attribute a model keeps its factory in
OPTIMIZER_SETTINGS = {"optimizer": "optimizer_factory", "optimizer_g": "optimizer_g", "optimizer_d": "optimizer_d"}


class StopOnDivergence(L.Callback):
    """Stop at the first non-finite training loss, with one line naming the likely cause.

    The exception is raised before the checkpoint callbacks run for that step or epoch, so the
    checkpoints on disk are the last finite ones (``last.ckpt`` is never overwritten with NaN
    weights), and no ``metrics.json`` is written for the run."""

    def __init__(self, keys: tuple[str, ...] = ("train/loss", "train/loss_d", "train/loss_g")):
        self.keys = keys

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        values = {}
        if isinstance(outputs, torch.Tensor):
            values["loss"] = outputs
        elif isinstance(outputs, dict) and "loss" in outputs:
            values["loss"] = outputs["loss"]
        values.update({k: v for k, v in trainer.callback_metrics.items() if k.startswith(self.keys)})
        for name, value in values.items():
            value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(value):
                lr = [g["lr"] for opt in trainer.optimizers for g in opt.param_groups]
                keys = " and ".join(f"model.{k}.lr" for k, attr in OPTIMIZER_SETTINGS.items()
                                    if getattr(pl_module, attr, None) is not None) or "the learning rate"
                folder = Path(trainer.default_root_dir) / "checkpoints"
                kept = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
                raise DivergenceError(
                    f"training diverged: {name}={value} at step {trainer.global_step} (epoch {trainer.current_epoch}); "
                    f"the learning rate is the usual cause (lr={', '.join(f'{x:g}' for x in lr)}): lower "
                    f"{keys}; " + (f"the finite checkpoints are kept in {folder} ({', '.join(kept)})" if kept else
                                   "no checkpoint had been written yet"))


class SealedCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O through ``storage.checkpoints``: every checkpoint a run writes
    is sealed with its sha256 and written atomically (temporary file, rename; a full disk is one
    line and leaves no partial file), and every checkpoint it resumes from is verified first."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        write_checkpoint(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        return load_sealed(path, "ckpt_path", map_location)


def resume_command(path: str | Path) -> str:
    """``python train.py ckpt_path=<path>`` as a line that works when pasted into a shell: a path with
    spaces is quoted for Hydra inside (``'...'``) and for the shell outside (``"..."``)."""
    import shlex

    text = str(path)
    if shlex.quote(text) == text:
        return f"python train.py ckpt_path={text}"
    if not set(text) & set("\"$`\\'!"):
        return f"python train.py \"ckpt_path='{text}'\""
    return "python train.py " + shlex.quote("ckpt_path='" + text.replace("\\", "\\\\").replace("'", "\\'") + "'")


class SaveOnInterrupt(L.Callback):
    """Ctrl-C (``KeyboardInterrupt``) or a scheduler's SIGTERM (Lightning's ``SIGTERMException``)
    during training: the state reached is saved as ``checkpoints/interrupted.ckpt``, with one line
    saying how to resume from it (``pipeline.train`` then exits 143 on SIGTERM: not a success)."""

    def __init__(self, filename: str = "interrupted.ckpt"):
        self.filename = filename

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or not trainer.is_global_zero:
            return
        path = Path(trainer.default_root_dir) / "checkpoints" / self.filename
        trainer.save_checkpoint(path)
        what = "stopped by SIGTERM" if isinstance(exception, SIGTERMException) else "interrupted"
        print(f"{what} at step {trainer.global_step} (epoch {trainer.current_epoch}): the state is saved in {path}; "
              f"resume with: {resume_command(path)}", file=sys.stderr, flush=True)


RESUMABLE = ("last.ckpt", "interval.ckpt", "interrupted.ckpt", "gstep*.ckpt", "hpc_ckpt_*.ckpt")


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The most recently written of a run's resumable checkpoints (``RESUMABLE``), or ``None``."""
    found = [p for pattern in RESUMABLE for p in (Path(run_dir) / "checkpoints").glob(pattern) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def requeued_checkpoint(run_dir: Path) -> Path | None:
    """Under SLURM, a job the scheduler requeued after a preemption or a time limit
    (``SLURM_RESTART_COUNT`` > 0, the submitit launcher's requeue included) starts again in the same
    job directory: the checkpoint it resumes from by itself, or ``None`` for a first start."""
    import os

    if os.environ.get("SLURM_RESTART_COUNT", "0") in ("", "0"):
        return None
    return newest_checkpoint(run_dir)


class IntervalCheckpoint(L.Callback):
    """``checkpoints/interval.ckpt`` every ``minutes`` of training, inside epochs, for every model:
    Lightning's ``ModelCheckpoint(train_time_interval=...)`` never saves under manual optimisation (the
    GANs), so a killed GAN run lost everything since its last validation."""

    def __init__(self, minutes: float = 5.0, filename: str = "interval.ckpt", dirname: str = "checkpoints"):
        if not minutes > 0:
            raise UserError(f"callbacks.interval_checkpoint.minutes={minutes} must be > 0")
        self.seconds, self.filename, self.dirname = 60.0 * minutes, filename, dirname
        self._last = None

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last >= self.seconds:
            self._last = now
            trainer.save_checkpoint(Path(trainer.default_root_dir) / self.dirname / self.filename)


class GeneratorStepCheckpoint(L.Callback):
    """``checkpoints/gstepNNNNNN.ckpt`` every ``every`` generator steps (``model.generator_steps``,
    which for a GAN is not ``global_step``): the points of a learning curve, kept (never rotated)."""

    def __init__(self, every: int = 2500, dirname: str = "checkpoints"):
        if every < 1:
            raise UserError(f"callbacks.generator_step_checkpoint.every={every} must be >= 1 (generator steps)")
        self.every, self.dirname, self._saved = every, dirname, -1

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        steps = pl_module.generator_steps
        if steps and steps % self.every == 0 and steps != self._saved:
            self._saved = steps
            trainer.save_checkpoint(Path(trainer.default_root_dir) / self.dirname / f"gstep{steps:06d}.ckpt")


class FitTimer(L.Callback):
    """Training wall time summed over every process that trained this run (kept in checkpoints,
    so that a resumed run reports its whole ``time/fit_s``)."""

    def __init__(self):
        self.total_s, self._start = 0.0, None

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return self.total_s + (time.perf_counter() - self._start if self._start is not None else 0.0)

    def state_dict(self) -> dict:
        return {"total_s": self.elapsed()}

    def load_state_dict(self, state: dict) -> None:
        self.total_s = float(state.get("total_s", 0.0))


class AppendingCSVLogger(CSVLogger):
    """Lightning's CSV logger, but a resumed run appends to the run's ``metrics.csv`` instead of
    deleting it (Lightning's writer removes an existing file): one history per run directory."""

    @property
    @rank_zero_experiment
    def experiment(self):
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(self.log_dir)
        return self._experiment


class _AppendingWriter(_CSVWriter):
    # overrides a private hook of Lightning's writer (no public option appends); pinned by
    # tests/test_train.py::test_appending_csv_writer_keeps_the_history_lightning_would_delete
    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                header = f.readline().strip()
            self.metrics_keys = sorted(k for k in header.split(",") if k)
