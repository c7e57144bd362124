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

from scatgen.studies.context import StudyContext
from scatgen.viz import plots
from scatgen.viz.grids import save_png


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
    """Frames ``G((1 - a) z1 + a z2)`` for ``a`` in ``linspace(0, 1, steps)``: ``(P, steps, C, H, W)``."""
    a = torch.linspace(0, 1, steps, device=z1.device).view(1, steps, 1)
    z = (1 - a) * z1[:, None] + a * z2[:, None]
    frames = generator(z.reshape(-1, z1.shape[-1]))
    return frames.view(len(z1), steps, *frames.shape[1:]).float()


def interpolation(ctx: StudyContext) -> None:
    """Strips between pairs of test images (real images at both ends), the pixel cross-fade
    between the same ends, and their step sizes."""
    s, model = ctx.settings, ctx.model
    batch = [t.to(ctx.device) for t in ctx.datamodule.fixed_batch("test", 2 * s.n_pairs)]
    pairs = len(batch[0]) // 2
    batch = [t[: 2 * pairs] for t in batch]
    x = model.batch_images(batch).float()
    was_training = model.training
    model.eval()
    with ctx.precision():
        z = model.latents(batch).float()
        frames = latent_paths(model.generator, z[0::2], z[1::2], s.steps).clamp(-1, 1)
    model.train(was_training)
    fades = crossfade(x[0::2], x[1::2], s.steps)
    save_png(torch.cat([x[0::2, None], frames, x[1::2, None]], 1).flatten(0, 1),
             ctx.figure(ctx.out_dir / "interpolations.png"), nrow=s.steps + 2)
    save_png(fades.flatten(0, 1), ctx.figure(ctx.out_dir / "crossfades.png"), nrow=s.steps)
    ctx.metrics.update({f"interp/{k}": v for k, v in smoothness(frames).items()})
    ctx.metrics.update({f"crossfade/{k}": v for k, v in smoothness(fades).items()})
    plots.curves({"G(z) path": step_sizes(frames).mean(0), "pixel cross-fade": step_sizes(fades).mean(0)},
                 ctx.figure(ctx.out_dir / "interpolation_smoothness.png"), "step along the path",
                 "mean |x_t - x_(t-1)| (pixels in [0,1])", "interpolation step sizes (mean over pairs)")
