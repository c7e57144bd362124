"""The inverse-scattering generator (Angles & Mallat 2018): minimise ``sum_i ||G(L S_J x_i) - x_i||_1``.

``S_J`` (scattering) and ``L`` (PCA whitening) are fixed; training reads the cached ``z = L S_J x``
and never calls the encoder.  Both are kept in the module (the whitening in the checkpoint) so
that a trained model can encode new images: ``encode(x) = L S_J x``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from scatgen.scattering.transform import Scattering
from scatgen.encoding.whitening import PCAWhitening
from scatgen.models.base import GenerativeModel
from scatgen.models.components.generator import Generator

LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss}


class InverseScattering(GenerativeModel):
    uses_codes = True  # trains on the cached z = L S_J x

    def __init__(self, generator: Callable[..., Generator], encoder: Scattering, whitening: PCAWhitening,
                 optimizer: Callable, scheduler: Callable | None = None, loss: str = "l1"):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"model.loss={loss!r} is unknown; use one of {', '.join(LOSSES)}")
        self.save_hyperparameters(ignore=["generator", "encoder", "whitening", "optimizer", "scheduler"])
        self.generator = generator(z_dim=whitening.z_dim)
        self.encoder, self.whitening = encoder, whitening
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.loss_fn = LOSSES[loss]

    def trainable_parameters(self):
        return self.generator.parameters()

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``z = L S_J x`` for images in ``[-1, 1]``."""
        return self.whitening(self.encoder(x))

    def latents(self, batch) -> torch.Tensor:
        return batch[0] if len(batch) == 2 else self.encode(batch[-1])

    def training_step(self, batch, batch_idx):
        z, x = batch
        loss = self.loss_fn(self.generator(z), x)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_loss(self, batch, x_hat):
        return {"loss": self.loss_fn(x_hat, self.batch_images(batch))}
