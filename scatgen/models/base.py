"""What every generative model of the comparison provides, so that runs and studies treat them alike.

A model maps latents ``z`` of size ``latent_dim`` to images through its ``generator`` (the shared
``Generator``), samples ``G(z)`` with ``z`` from a prior (``N(0, Id)`` by default, see
``priors.py``), and can reconstruct a batch (from cached codes, an encoder, or latent inversion).
Validation logs ``val/psnr`` and ``val/ssim`` (torchmetrics, images in ``[0, 1]``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import lightning as L
import torch
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from scatgen.data.datasets import to_unit
from scatgen.models.components.priors import GaussianPrior, LatentPrior
from scatgen.models.components.schedules import BudgetedCosineLR, fit_budget_clock


class GenerativeModel(L.LightningModule):
    """The contract the pipeline, the evaluation and the study read: the class attributes below, with
    their defaults (a model overrides what differs), and the methods under "to implement"."""

    generator: torch.nn.Module
    #: trains on the cached codes ``z = L S_J x``: the pipeline's encoding stage runs for it and the
    #: data module carries the codes (``pipeline.encode``, ``evaluate.load_model``, ``config.validate``)
    uses_codes: bool = False
    #: reconstructs by latent inversion: the study's inversion control applies (``studies.context``,
    #: ``studies.reconstruction``)
    reconstructs_by_inversion: bool = False
    #: images per split the study reconstructs when ``study.eval_limit`` is unset (``None``: all)
    default_eval_limit: int | None = None
    #: ``optimizer_factory(parameters)``: the one optimiser of a single-optimiser model (set in ``__init__``)
    optimizer_factory: Callable | None = None
    #: ``scheduler_factory(optimizer, T_max=steps)``, or ``None`` for a constant learning rate
    scheduler_factory: Callable | None = None

    def __init__(self):
        super().__init__()
        self.val_psnr = PeakSignalNoiseRatio(data_range=1.0, reduction="elementwise_mean", dim=(1, 2, 3))
        self.val_ssim = StructuralSimilarityIndexMeasure(data_range=1.0)

    @property
    def latent_dim(self) -> int:
        return self.generator.z_dim

    @property
    def generator_steps(self) -> int:
        """Optimiser steps of the generator so far (a GAN overrides: its ``global_step`` counts D's too)."""
        return self.trainer.global_step if self._trainer is not None else 0

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["g_step"] = self.generator_steps  # generator steps (a GAN: not global_step), for whoever reads the file

    # -- to implement ------------------------------------------------------------------------
    def latents(self, batch) -> torch.Tensor:
        """Latent codes of the images of ``batch`` (used for reconstructions and interpolations)."""
        raise NotImplementedError

    def validation_loss(self, batch, x_hat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    # -- shared ------------------------------------------------------------------------------
    @staticmethod
    def batch_images(batch) -> torch.Tensor:
        return batch[-1]

    @torch.no_grad()
    def reconstruct(self, batch) -> torch.Tensor:
        return self.generator(self.latents(batch))

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, prior: LatentPrior | None = None, batch: int = 256,
               precision=contextlib.nullcontext) -> torch.Tensor:
        """``n`` samples ``G(z)``, ``z`` from ``prior`` (``N(0, Id)``) drawn from ``seed``: float32 images
        in ``[-1, 1]`` on the CPU, generated on the model's device in batches."""
        z = (prior or GaussianPrior()).sample(n, self.latent_dim, seed)
        was_training = self.generator.training
        self.generator.eval()
        out = []
        for i in range(0, n, batch):
            with precision():
                out.append(self.generator(z[i:i + batch].to(self.device)).float().cpu())
        self.generator.train(was_training)
        return torch.cat(out).clamp(-1, 1)

    def validation_step(self, batch, batch_idx):
        x = self.batch_images(batch)
        x_hat = self.reconstruct(batch)
        for name, value in self.validation_loss(batch, x_hat).items():
            self.log(f"val/{name}", value, on_epoch=True, sync_dist=True)
        with torch.autocast(self.device.type, enabled=False):  # metrics in float32, not bf16
            self.val_psnr(to_unit(x_hat.float()), to_unit(x.float()))
            self.val_ssim(to_unit(x_hat.float()), to_unit(x.float()))
        self.log("val/psnr", self.val_psnr, on_epoch=True, prog_bar=True)
        self.log("val/ssim", self.val_ssim, on_epoch=True)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.trainable_parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer, T_max=max(1, int(self.trainer.estimated_stepping_batches)))
        clock = fit_budget_clock(self.trainer)
        if clock is not None and isinstance(scheduler, BudgetedCosineLR):  # anneal over the time budget where it binds
            scheduler.clock = clock
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def trainable_parameters(self):
        return self.parameters()
