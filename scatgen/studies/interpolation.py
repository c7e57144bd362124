"""Interpolation paths ``G((1 - a) z1 + a z2)`` and how smoothly they move through image space.

For a path of frames ``x_0 .. x_T`` (endpoints included) the step size is the mean absolute
pixel difference ``d_t = mean |x_t - x_(t-1)|`` (images in [0, 1]).  Two summaries:
``jump`` = max_t d_t / mean_t d_t (1 for a path that moves evenly; large when the image snaps
from one shape to another) and ``path_ratio`` = sum_t d_t / mean|x_T - x_0| (1 for a pixel
cross-fade, which is the straight line in pixel space; above 1 when the path goes through other
images, as a deformation does).  The pixel cross-fade between the same endpoints is the reference.
"""

from __future__ import annotations

import torch

from scatgen.studies.figures import interpolate


def step_sizes(frames: torch.Tensor) -> torch.Tensor:
    """``(P, T+1, C, H, W)`` frames in ``[-1, 1]`` -> step sizes ``(P, T)`` in [0, 1] units."""
    return (frames[:, 1:] - frames[:, :-1]).abs().flatten(2).mean(2) / 2


def smoothness(frames: torch.Tensor) -> dict[str, float]:
    d = step_sizes(frames.float())
    ends = (frames[:, -1] - frames[:, 0]).abs().flatten(1).mean(1) / 2
    return {"step_mean": float(d.mean()), "jump": float((d.max(1).values / d.mean(1).clamp_min(1e-12)).mean()),
            "path_ratio": float((d.sum(1) / ends.clamp_min(1e-12)).mean())}


def crossfade(x1: torch.Tensor, x2: torch.Tensor, steps: int) -> torch.Tensor:
    """``(1 - a) x1 + a x2`` for ``a`` in ``linspace(0, 1, steps)``: ``(P, steps, C, H, W)``."""
    a = torch.linspace(0, 1, steps, device=x1.device).view(1, steps, 1, 1, 1)
    return (1 - a) * x1[:, None] + a * x2[:, None]


@torch.no_grad()
def latent_paths(generator, z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """Generated frames ``(P, steps, C, H, W)`` between the latents of pairs."""
    frames = interpolate(generator, z1, z2, steps)
    return frames.view(len(z1), steps, *frames.shape[1:]).float()
