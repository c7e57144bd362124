"""Study parts on reconstructions ``G(z(x))``: how well, for which modes, at which frequencies.

- ``reconstruction``: train/test PSNR and SSIM, the gap, a histogram, input/output grids.
- ``per_mode``: test PSNR and SSIM per labelled mode (polygons: vertices x colour), a heatmap,
  the minimum, median and maximum over modes and the count of *forgotten* modes, whose PSNR is
  more than ``forgotten_db`` below the model's median mode: mode dropping measured by
  reconstruction, whatever the samples look like.
- ``resolution``: radially averaged power spectra of the test reconstructions against the
  originals, the high-frequency energy ratio, and PSNR on edge against flat pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from scatgen.metrics.reconstruction import HIGH_FREQUENCY, radial_power_spectrum, high_frequency_ratio, summarise
from scatgen.studies.context import StudyContext
from scatgen.viz import plots
from scatgen.viz.grids import save_png, side_by_side


def reconstruction(ctx: StudyContext) -> None:
    scores = {split: ctx.reconstruction(split) for split in ("train", "test")}
    ctx.metrics.update(summarise(scores))
    ctx.metrics.update({f"n_eval/{split}": len(v["psnr"]) for split, v in scores.items()})
    plots.histograms({split: v["psnr"] for split, v in scores.items()}, ctx.figure(ctx.out_dir / "psnr_histogram.png"),
                     "PSNR (dB)", f"per-image reconstruction PSNR ({type(ctx.model).__name__})")
    for split in ("train", "test"):
        batch = [t.to(ctx.device) for t in ctx.datamodule.fixed_batch(split, 16)]
        with ctx.precision():
            x_hat = ctx.model.reconstruct(batch).float()
        save_png(side_by_side(ctx.model.batch_images(batch).float(), x_hat), ctx.figure(ctx.out_dir / f"reconstructions_{split}.png"))


def per_mode(ctx: StudyContext) -> None:
    """Skipped (no metrics) for data without labelled modes."""
    axes = ctx.source.mode_axes()
    modes = ctx.modes("test", ctx.settings.eval_limit)
    if axes is None or modes is None:
        return
    scores = ctx.reconstruction("test")
    n_modes = ctx.source.n_modes
    psnr = np.full(n_modes, np.nan)
    ssim = np.full(n_modes, np.nan)
    count = np.bincount(modes, minlength=n_modes)
    for m in range(n_modes):
        if count[m]:
            psnr[m] = float(scores["psnr"][torch.from_numpy(modes == m)].mean())
            ssim[m] = float(scores["ssim"][torch.from_numpy(modes == m)].mean())
    seen = np.isfinite(psnr)
    median = float(np.median(psnr[seen]))
    forgotten = np.flatnonzero(seen & (psnr < median - ctx.settings.forgotten_db))
    shape = (len(axes[0][1]), len(axes[1][1]))
    ctx.metrics.update({
        "per_mode/psnr_min": float(psnr[seen].min()), "per_mode/psnr_median": median,
        "per_mode/psnr_max": float(psnr[seen].max()), "per_mode/ssim_min": float(ssim[seen].min()),
        "per_mode/forgotten": int(len(forgotten)), "per_mode/forgotten_modes": [int(m) for m in forgotten],
        "per_mode/modes_seen": int(seen.sum()), "per_mode/min_images": int(count[seen].min()),
        "per_mode/psnr": [None if not np.isfinite(v) else float(v) for v in psnr],
        "per_mode/ssim": [None if not np.isfinite(v) else float(v) for v in ssim],
    })
    plots.heatmap(psnr.reshape(shape), axes[0], axes[1], ctx.figure(ctx.out_dir / "per_mode_psnr.png"),
                  f"test PSNR (dB) per mode, {type(ctx.model).__name__}: median {median:.1f}, "
                  f"{len(forgotten)} forgotten (< median - {ctx.settings.forgotten_db:g} dB)")


def resolution(ctx: StudyContext) -> None:
    scores = ctx.reconstruction("test")
    x, x_hat = scores["images"], scores["reconstructions"]
    radii, p = radial_power_spectrum(x)
    _, p_hat = radial_power_spectrum(x_hat)
    ctx.metrics.update({
        "resolution/high_frequency_ratio": high_frequency_ratio(x_hat, x),
        "resolution/psnr_edges": float(scores["psnr_edges"].nanmean()),
        "resolution/psnr_flat": float(scores["psnr_flat"].nanmean()),
        "resolution/spectrum_radii": radii.tolist(), "resolution/spectrum_original": p.tolist(),
        "resolution/spectrum_reconstruction": p_hat.tolist(),
    })
    path = ctx.figure(ctx.out_dir / "power_spectrum.png")
    plots.curves({"test images": p, "reconstructions": p_hat}, path, f"ring (cycles/pixel x {2 * len(radii)})",
                 "power", f"radial power spectrum; high-frequency ratio (r > {HIGH_FREQUENCY}) "
                 f"{ctx.metrics['resolution/high_frequency_ratio']:.3f}", log_y=True)
