"""Study parts on samples ``G(z)``: what they look like, how their law compares with the test
images, which modes they cover, whether they copy training images.

- ``samples``: ``samples.png``, 64 samples from ``N(0, Id)``.
- ``distribution``: FID/KID, precision/recall, density/coverage of the ``N(0, Id)`` samples
  against the test split (``sample/...``), and of real training images (``data/...``: the floor
  a perfect generator would reach with this many images); the samples' high-frequency energy
  over the test images' (``sample/high_frequency_ratio``: sharpness of what the model makes).
- ``modes``: for sources with labelled modes, mode coverage of ``mode_samples`` (10,000) samples
  from ``N(0, Id)`` by a cached classifier (refused below its accuracy bar): confident samples
  only, as the mode-dropping literature counts them (``metrics/mode_coverage.py``).
- ``samplers``: every prior of ``study.samplers`` (``gaussian``, ``gmm``, ``empirical``) scored the
  same way (``sampler/<prior>/...``: confident-sample rate, modes covered, precision, recall,
  density, coverage, FID), and one grid of samples per prior.
- ``memorisation``: the nearest training image of samples and of test images.
"""

from __future__ import annotations

import numpy as np
import torch

from scatgen.data.datasets import to_unit
from scatgen.metrics.distribution import density_coverage, fid_kid, precision_recall
from scatgen.metrics.memorisation import memorisation as nearest_distances
from scatgen.metrics.memorisation import nearest_neighbours, pixel_rms
from scatgen.metrics.mode_coverage import load_or_train_classifier, mode_coverage, mode_histogram, predict
from scatgen.metrics.reconstruction import high_frequency_ratio
from scatgen.studies.context import StudyContext
from scatgen.viz import plots
from scatgen.viz.grids import save_png


def distribution_scores(ctx: StudyContext, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """FID, KID (seeded), precision/recall and density/coverage between two feature sets."""
    s = ctx.settings
    out = fid_kid(real, fake, kid_subset_size=s.kid_subset_size, seed=s.seed)
    out.update(precision_recall(real, fake, k=s.precision_recall_k))
    out.update(density_coverage(real, fake, k=s.density_coverage_k))
    return out


def samples(ctx: StudyContext) -> None:
    save_png(ctx.samples("gaussian")[:64], ctx.figure(ctx.out_dir / "samples.png"))


def distribution(ctx: StudyContext) -> None:
    f_test = ctx.embed("test")
    fake = ctx.embed("samples/gaussian", ctx.samples("gaussian"))
    ctx.metrics.update({f"sample/{k}": v for k, v in distribution_scores(ctx, f_test, fake).items()})
    f_train = ctx.embed("train")
    floor = f_train[torch.randperm(len(f_train), generator=torch.Generator().manual_seed(ctx.settings.seed))]
    ctx.metrics.update({f"data/{k}": v for k, v in distribution_scores(ctx, f_test, floor[: ctx.settings.n_samples]).items()})
    ctx.metrics["sample/high_frequency_ratio"] = high_frequency_ratio(to_unit(ctx.samples("gaussian")),
                                                                      to_unit(ctx.images("test")))
    ctx.metrics.update({"n_samples": len(fake), "n_real_test": len(f_test)})


def _classifier(ctx: StudyContext):
    """The mode classifier and real-test predictions, or ``None`` for data without modes."""
    if not ctx.source.n_modes:
        return None

    def build():
        s = ctx.settings
        classifier, acc, origin = load_or_train_classifier(ctx.source, s.cache_dir, steps=s.classifier_steps,
                                                           min_accuracy=s.min_classifier_accuracy, device=ctx.device,
                                                           shipped=s.shipped_classifier)
        ctx.metrics["classifier/test_accuracy"] = acc
        ctx.metrics["classifier/source"] = origin
        return classifier, predict(classifier, ctx.images("test"))

    return ctx.cached("classifier", build)


def modes(ctx: StudyContext, chunk: int = 2000) -> None:
    found = _classifier(ctx)
    if found is None:
        return
    classifier, real_probs = found
    s = ctx.settings
    prior = ctx.prior("gaussian")
    # sampled and classified in chunks (seeds seed, seed + 1, ...): 10,000 images never held at once
    fake_probs = torch.cat([predict(classifier, ctx.model.sample(min(chunk, s.mode_samples - i), s.seed + i // chunk,
                                                                 prior, precision=ctx.precision))
                            for i in range(0, s.mode_samples, chunk)])
    ctx.metrics.update({f"modes/{k}": v for k, v in mode_coverage(fake_probs, real_probs, s.mode_min_count,
                                                                  s.mode_confidence).items()})
    ctx.metrics["modes/min_count"], ctx.metrics["modes/confidence"] = s.mode_min_count, s.mode_confidence
    confident = fake_probs[fake_probs.max(1).values >= s.mode_confidence]
    name = ctx.metrics.get("model_name") or type(ctx.model).__name__
    hist = {"real test": mode_histogram(real_probs), f"{name} (confident samples)": mode_histogram(confident)}
    np.save(ctx.out_dir / "mode_histogram.npy", np.stack([h.numpy() for h in hist.values()]))
    plots.mode_bars(hist, ctx.figure(ctx.out_dir / "mode_histogram.png"), mode_axes=ctx.source.mode_axes())


def samplers(ctx: StudyContext) -> None:
    s = ctx.settings
    f_test = ctx.embed("test")
    found = _classifier(ctx)
    grids = []
    for name in s.samplers:
        images = ctx.samples(name)
        scores = distribution_scores(ctx, f_test, ctx.embed(f"samples/{name}", images))
        row = {k: scores[k] for k in ("precision", "recall", "density", "coverage", "fid")}
        if found is not None:
            classifier, real_probs = found
            coverage = mode_coverage(predict(classifier, images), real_probs, s.mode_min_count, s.mode_confidence)
            row.update({"confident": coverage["good_fraction"], "modes_covered": coverage["modes_covered"]})
        ctx.metrics.update({f"sampler/{name}/{k}": v for k, v in row.items()})
        grids.append(images[:16])
    save_png(torch.cat(grids), ctx.figure(ctx.out_dir / "samplers.png"), nrow=16)
    ctx.metrics["samplers"] = list(s.samplers)


def memorisation(ctx: StudyContext) -> None:
    fakes = ctx.samples("gaussian")
    train_x, test_x = ctx.images("train"), ctx.images("test")
    pix_train = pixel_rms(train_x)
    mem = nearest_distances(pixel_rms(fakes), pixel_rms(test_x), pix_train, ctx.embed("samples/gaussian", fakes),
                            ctx.embed("test"), ctx.embed("train"))
    for key, d in mem.items():
        ctx.metrics[f"nn/{key}_mean"] = float(d.mean())
    plots.histograms({"samples": mem["samples/pixel"], "test images": mem["test/pixel"]},
                     ctx.figure(ctx.out_dir / "memorisation_pixel.png"), "RMS pixel distance to the nearest training image")
    plots.histograms({"samples": mem["samples/feature"], "test images": mem["test/feature"]},
                     ctx.figure(ctx.out_dir / "memorisation_feature.png"), "feature distance to the nearest training image")
    _, idx = nearest_neighbours(pixel_rms(fakes[:8]), pix_train, k=5)
    rows = torch.cat([torch.cat([fakes[i:i + 1], train_x[idx[i]]]) for i in range(len(idx))])
    save_png(rows, ctx.figure(ctx.out_dir / "nearest_neighbours.png"), nrow=6)
