"""GAN baselines whose generator is the shared ``G``: the classic DCGAN (Radford et al. 2016) and
the small-budget recipe (spectral norm in D, hinge loss, Adam betas (0, 0.9), an exponential
moving average of G, DiffAugment), chosen by config (``model=dcgan`` / ``model=sngan``).

Manual optimisation (Lightning 2): per batch one discriminator step on real ``x`` and fake
``G(z)``, and every ``d_steps_per_g`` batches one generator step (SN-GAN's ``n_dis``; with 1,
``global_step`` counts 2 per batch; ``generator_steps`` counts G's alone).  Losses:
``non_saturating`` (D: softplus(-D(x)) + softplus(D(G(z))); G: softplus(-D(G(z)))) or ``hinge``
(D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))).  ``augment`` (DiffAugment) is applied to real
and fake images alike before D.  With ``ema_decay``, ``generator`` holds the moving average
``G_ema <- d G_ema + (1 - d) G`` of the trained weights ``generator_online`` (``d`` ramped up as
``min(ema_decay, (1 + t) / (10 + t))``; batch-norm statistics copied), and sampling, inversion and
evaluation use ``G_ema``.  ``r1_gamma > 0`` adds the lazy R1 penalty on real images to D's loss (measured in
README's recipe table).  Without an encoder, reconstructions come from latent inversion.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F

from scatgen.models.base import GenerativeModel
from scatgen.models.components.conv_encoder import ConvEncoder
from scatgen.models.components.generator import Generator
from scatgen.models.components.inversion import invert_latents

ADVERSARIAL = ("non_saturating", "hinge")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's loss on its outputs for real and generated images (``kind`` in ``ADVERSARIAL``)."""
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss on D's outputs for generated images."""
    return -fake.mean() if kind == "hinge" else F.softplus(-fake).mean()


@torch.no_grad()
def ema_step(averaged: torch.nn.Module, trained: torch.nn.Module, ema_decay: float, t: int) -> None:
    """``averaged <- d averaged + (1 - d) trained`` with ``d = min(ema_decay, (1 + t) / (10 + t))``
    at update ``t``; buffers (batch-norm statistics) copied."""
    decay = min(ema_decay, (1 + t) / (10 + t))
    for a, w in zip(averaged.parameters(), trained.parameters()):
        a.lerp_(w, 1 - decay)
    for a, w in zip(averaged.buffers(), trained.buffers()):
        a.copy_(w)


def r1_penalty(discriminator: Callable, augment: Callable, real: torch.Tensor) -> torch.Tensor:
    """``E_x ||grad_x D(augment(x))||^2`` over the batch (differentiable: the D step descends it)."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(augment(real)).float().sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


class GAN(GenerativeModel):
    reconstructs_by_inversion = True  # the study's inversion control applies
    default_eval_limit = 256  # latent inversion is costly: evaluate this many images per split

    def __init__(self, generator: Callable[..., Generator], discriminator: Callable[..., ConvEncoder], latent_dim: int,
                 optimizer_g: Callable, optimizer_d: Callable, loss: str = "non_saturating",
                 inversion: dict | None = None, val_inversion_images: int = 64, ema_decay: float | None = None,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None, r1_gamma: float = 0.0,
                 r1_interval: int = 16, d_steps_per_g: int = 1):
        super().__init__()
        if loss not in ADVERSARIAL:
            raise ValueError(f"model.loss={loss!r} is unknown; use one of {', '.join(ADVERSARIAL)}")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"model.ema_decay={ema_decay} must be in (0, 1), or null for no moving average")
        self.save_hyperparameters(ignore=["generator", "discriminator", "optimizer_g", "optimizer_d", "augment"])
        self.automatic_optimization = False
        self.generator = generator(z_dim=latent_dim)  # sampled and evaluated (the moving average, with ema_decay)
        self.generator_online = None
        if ema_decay is not None:
            self.generator_online = self.generator
            self.generator = copy.deepcopy(self.generator_online).requires_grad_(False)
        self.ema_decay, self.augment = ema_decay, augment or torch.nn.Identity()
        if ema_decay is not None:
            self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self.discriminator = discriminator(out_dim=1)
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.loss, self.inversion = loss, dict(inversion or {})
        self.val_inversion_images = val_inversion_images
        if r1_gamma < 0 or r1_interval < 1:
            raise ValueError(f"model.r1_gamma={r1_gamma}, model.r1_interval={r1_interval}: use r1_gamma >= 0 "
                             "(0: no R1) and r1_interval >= 1")
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval
        if d_steps_per_g < 1:
            raise ValueError(f"model.d_steps_per_g={d_steps_per_g} must be >= 1 (discriminator steps per generator step)")
        self.d_steps_per_g = d_steps_per_g

    @property
    def trained_generator(self) -> Generator:
        """The generator the optimiser steps (``generator`` itself without a moving average)."""
        return self.generator_online if self.generator_online is not None else self.generator

    def configure_optimizers(self):
        return [self.optimizer_d(self.discriminator.parameters()), self.optimizer_g(self.trained_generator.parameters())]

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.generator_online is None:
            return
        ema_step(self.generator, self.generator_online, self.ema_decay, int(self.ema_steps))
        self.ema_steps += 1

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(self.loss, real, fake)

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return generator_loss(self.loss, fake)

    def d_step_index(self, batch_idx: int) -> int:
        """Discriminator steps taken before this batch's: one per batch, across epochs (restored on resume)."""
        return self.trainer.fit_loop.total_batch_idx if self._trainer is not None else batch_idx

    @property
    def generator_steps(self) -> int:
        """Generator steps taken: one per ``d_steps_per_g`` batches completed (``global_step`` counts
        both optimisers' steps)."""
        if self._trainer is None:
            return 0
        return (self.trainer.fit_loop.total_batch_idx + 1) // self.d_steps_per_g

    def r1_loss(self, real: torch.Tensor, d_step: int) -> torch.Tensor:
        """Lazy R1 (Mescheder et al. 2018; StyleGAN2's lazy form): ``gamma / 2 * interval * E||grad_x D(x)||^2``
        on the real images every ``r1_interval`` discriminator steps, else 0."""
        if self.r1_gamma == 0 or d_step % self.r1_interval:
            return real.new_zeros(())
        return 0.5 * self.r1_gamma * self.r1_interval * r1_penalty(self.discriminator, self.augment, real)

    def training_step(self, batch, batch_idx):
        opt_d, opt_g = self.optimizers()
        d_step = self.d_step_index(batch_idx)
        x = self.batch_images(batch)
        z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        fake = self.trained_generator(z)
        loss_d = self.d_loss(self.discriminator(self.augment(x)).float(),
                             self.discriminator(self.augment(fake.detach())).float()) + self.r1_loss(x, d_step)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self.log("train/loss_d", loss_d, on_step=True, on_epoch=True, prog_bar=True)
        if (d_step + 1) % self.d_steps_per_g:
            return
        loss_g = self.g_loss(self.discriminator(self.augment(fake)).float())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.update_ema()
        self.log("train/loss_g", loss_g, on_step=True, on_epoch=True, prog_bar=True)

    def latents(self, batch) -> torch.Tensor:
        """Latent inversion (runs under the caller's autocast, if any)."""
        return invert_latents(self.generator, self.batch_images(batch), **self.inversion)

    def validation_step(self, batch, batch_idx):
        # inversion is costly: PSNR/SSIM on the first val_inversion_images of the first batch only
        if batch_idx == 0:
            super().validation_step([t[: self.val_inversion_images] for t in batch], batch_idx)
