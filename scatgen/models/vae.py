"""VAE baseline (Kingma & Welling 2014) whose decoder is the shared generator ``G``.

``q(z|x) = N(mu(x), diag(sigma^2(x)))`` from a ``ConvEncoder``; loss per image:
``rec(G(z), x) + beta KL(q(z|x) || N(0, Id))`` with ``z = mu + sigma eps``.  ``rec`` sums the L1 or
squared error over pixels (the negative log-likelihood of a unit-scale Laplace or Gaussian, up
to constants), so ``beta = 1`` is the ELBO.  Reconstructions and interpolations use ``mu(x)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from scatgen.models.base import GenerativeModel
from scatgen.models.components.conv_encoder import ConvEncoder
from scatgen.models.components.generator import Generator

RECONSTRUCTION = {"l1": lambda a, b: (a - b).abs(), "l2": lambda a, b: (a - b).pow(2)}


class VAE(GenerativeModel):
    def __init__(self, generator: Callable[..., Generator], encoder: Callable[..., ConvEncoder], latent_dim: int,
                 optimizer: Callable, scheduler: Callable | None = None, loss: str = "l1", beta: float = 1.0):
        super().__init__()
        if loss not in RECONSTRUCTION:
            raise ValueError(f"model.loss={loss!r} is unknown; use one of {', '.join(RECONSTRUCTION)}")
        self.save_hyperparameters(ignore=["generator", "encoder", "optimizer", "scheduler"])
        self.generator = generator(z_dim=latent_dim)
        self.encoder = encoder(out_dim=2 * latent_dim)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.rec, self.beta = RECONSTRUCTION[loss], beta

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).float().chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)

    def latents(self, batch) -> torch.Tensor:
        return self.posterior(self.batch_images(batch))[0]

    def losses(self, x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> dict:
        rec = self.rec(x_hat.float(), x).flatten(1).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        return {"loss": rec + self.beta * kl, "rec": rec, "kl": kl}

    def training_step(self, batch, batch_idx):
        x = self.batch_images(batch)
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out = self.losses(x, self.generator(z), mu, logvar)
        self.log_dict({f"train/{k}": v for k, v in out.items()}, on_step=True, on_epoch=True, prog_bar=False)
        return out["loss"]

    def validation_loss(self, batch, x_hat):
        x = self.batch_images(batch)
        mu, logvar = self.posterior(x)
        return self.losses(x, x_hat, mu, logvar)
