"""Latent inversion: reconstruct images with a generator that has no encoder (the GAN).

``z* = argmin_z ||G(z) - x||_2^2`` by Adam from random starts, a fixed number of steps, keeping
per image the best of several restarts.  Used for the GAN's train/test PSNR and by the study for
every model that lacks an encoder.
"""

from __future__ import annotations

import contextlib

import torch


def invert_latents(generator: torch.nn.Module, x: torch.Tensor, steps: int = 100, restarts: int = 2, lr: float = 0.05,
                   seed: int = 0, precision=contextlib.nullcontext) -> torch.Tensor:
    """Latents ``(B, z_dim)`` whose images ``G(z)`` best match ``x`` (per-image squared error).
    The generator is used in eval mode and left unchanged."""
    was_training = generator.training
    generator.eval()
    flags = [p.requires_grad for p in generator.parameters()]
    generator.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    best_z = best_err = None
    try:
        with torch.enable_grad():
            for _ in range(restarts):
                z = torch.randn(x.shape[0], generator.z_dim, generator=gen).to(x.device).requires_grad_(True)
                opt = torch.optim.Adam([z], lr=lr)
                for _ in range(steps):
                    with precision():
                        err = (generator(z).float() - x).pow(2).flatten(1).mean(1)
                    opt.zero_grad(set_to_none=True)
                    err.sum().backward()
                    opt.step()
                with torch.no_grad(), precision():
                    err = (generator(z).float() - x).pow(2).flatten(1).mean(1)
                z = z.detach()
                if best_z is None:
                    best_z, best_err = z, err
                else:
                    better = err < best_err
                    best_z = torch.where(better[:, None], z, best_z)
                    best_err = torch.minimum(err, best_err)
    finally:
        for p, flag in zip(generator.parameters(), flags):
            p.requires_grad_(flag)
        generator.train(was_training)
    return best_z
