"""Study parts on reconstructions ``G(z(x))``: how well, for which modes, at which frequencies.

- ``reconstruction``: train/test PSNR and SSIM, the gap, a histogram, input/output grids.
- ``per_mode``: test PSNR and SSIM per labelled mode (polygons: vertices x colour), a heatmap,
  the minimum, median and maximum over modes and the count of *forgotten* modes, whose PSNR is
  more than ``forgotten_db`` below the model's median mode: mode dropping measured by
  reconstruction, whatever the samples look like.
- ``inversion_control`` (Webster et al. 2019), for models whose reconstructions are latent
  inversions (the GAN): the model's *own* samples ``G(z)`` inverted with the same optimiser and
  steps.  They come back at high PSNR when the optimiser is strong enough; a mode whose test
  images stay ``forgotten_db`` below that PSNR is then forgotten by ``G``, not lost to a weak
  optimiser (``inversion/forgotten``).
- ``resolution``: radially averaged power spectra of the test reconstructions against the
  originals, the high-frequency energy ratio, and PSNR on edge against flat pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from scatgen.metrics.reconstruction import (HIGH_FREQUENCY, high_frequency_ratio, radial_power_spectrum,
                                            reconstruction_scores, summarise)
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


def mode_scores(ctx: StudyContext) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean test PSNR and SSIM per labelled mode (``nan`` where no test image has it) and the image
    count per mode, computed once; ``None`` for data without labelled modes."""
    modes = ctx.modes("test", ctx.settings.eval_limit)
    if ctx.source.mode_axes() is None or modes is None:
        return None

    def build():
        scores = ctx.reconstruction("test")
        count = np.bincount(modes, minlength=ctx.source.n_modes)
        psnr, ssim = np.full(len(count), np.nan), np.full(len(count), np.nan)
        for m in np.flatnonzero(count):
            psnr[m] = float(scores["psnr"][torch.from_numpy(modes == m)].mean())
            ssim[m] = float(scores["ssim"][torch.from_numpy(modes == m)].mean())
        return psnr, ssim, count

    return ctx.cached("mode_scores", build)


def per_mode(ctx: StudyContext) -> None:
    """Skipped (no metrics) for data without labelled modes."""
    found = mode_scores(ctx)
    if found is None:
        return
    psnr, ssim, count = found
    axes = ctx.source.mode_axes()
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


def inversion_control(ctx: StudyContext) -> None:
    """Skipped (no metrics) for models that reconstruct with an encoder or cached codes."""
    if not ctx.model.reconstructs_by_inversion:
        return
    batch = ctx.settings.inversion_batch
    own = ctx.model.sample(len(ctx.reconstruction("test")["psnr"]), ctx.settings.seed + 1, precision=ctx.precision)
    batches = [[own[i:i + batch]] for i in range(0, len(own), batch)]  # scored as the test split is
    own_psnr = reconstruction_scores(ctx.model, batches, "invert own samples", ctx.precision)["psnr"]
    test_psnr = ctx.reconstruction("test")["psnr"]
    own_median = float(own_psnr.median())
    ctx.metrics.update({"inversion/own_psnr_median": own_median, "inversion/test_psnr_median": float(test_psnr.median()),
                        "inversion/n_own": len(own_psnr)})
    found = mode_scores(ctx)
    if found is not None:
        forgotten = np.flatnonzero(np.isfinite(found[0]) & (found[0] < own_median - ctx.settings.forgotten_db))
        ctx.metrics.update({"inversion/forgotten": int(len(forgotten)),
                            "inversion/forgotten_modes": [int(m) for m in forgotten]})
    plots.histograms({"own samples G(z)": own_psnr, "test images": test_psnr},
                     ctx.figure(ctx.out_dir / "inversion_control.png"), "PSNR of the latent inversion (dB)",
                     f"inversion control ({type(ctx.model).__name__}): own samples {own_median:.1f} dB, "
                     f"test images {float(test_psnr.median()):.1f} dB (medians)")


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
