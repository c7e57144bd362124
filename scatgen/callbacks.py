"""Lightning callbacks of a run: image grids after each validation, written as PNG and to wandb."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from scatgen.studies.figures import save_png, side_by_side


def log_images(trainer: L.Trainer, key: str, path: Path, caption: str = "") -> None:
    """Send a PNG to every wandb logger of the trainer (other loggers keep the file only)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], caption=[caption or path.name], step=trainer.global_step)


class ReconstructionGrids(L.Callback):
    """Inputs beside reconstructions for a fixed train batch and a fixed test batch, every
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
        for split in ("train", "test"):
            if split not in self._batches:
                self._batches[split] = trainer.datamodule.fixed_batch(split, self.n_images)
            batch = [t.to(pl_module.device) for t in self._batches[split]]
            x_hat = pl_module.reconstruct(batch)
            path = save_png(side_by_side(pl_module.images_of(batch), x_hat), out / f"recon_{split}_epoch{trainer.current_epoch:03d}.png")
            log_images(trainer, f"reconstructions/{split}", path, f"epoch {trainer.current_epoch}: inputs above reconstructions")
        pl_module.train(was_training)
