"""The study of one trained model: reconstruction, interpolation, sampling, distribution metrics,
mode coverage (polygons) and memorisation; ``metrics.json``, PNG figures and ``summary.md``.

Every model is evaluated with the same counts and seeds: ``n_samples`` samples G(z), z ~ N(0, Id)
(seed ``seed``), against the real *test* split (unseen by every model); the feature map is fitted
on the real training split.  The row ``data/...`` scores real training images against the test
split in the same way: the floor that a perfect generator would reach with this many images.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import Polygons
from scatgen.metrics.distribution import density_coverage, fid_kid, inception_fid, precision_recall
from scatgen.metrics.features import ScatteringFeatures
from scatgen.metrics.memorisation import memorisation, nearest_neighbours, pixel_rms
from scatgen.metrics.mode_coverage import load_or_train_classifier, mode_coverage, mode_histogram, predict
from scatgen.studies import plots
from scatgen.studies.figures import save_png, side_by_side
from scatgen.studies.interpolation import crossfade, latent_paths, smoothness, step_sizes
from scatgen.studies.reconstruction import reconstruction_scores, summarise


@dataclass
class StudySettings:
    """The knobs of the study (``conf/study/default.yaml``)."""
    n_samples: int = 2048
    n_pairs: int = 8
    steps: int = 10
    seed: int = 0
    eval_limit: int | None = None
    feature_J: int = 3
    feature_L: int = 8
    feature_components: int | None = 64
    precision_recall_k: int = 3
    density_coverage_k: int = 5
    kid_subset_size: int = 1000
    classifier_steps: int = 2000
    min_classifier_accuracy: float = 0.95
    mode_min_count: int = 10
    mode_confidence: float = 0.9
    inception_weights: str | None = None
    extra: dict = field(default_factory=dict)


def _images(array) -> torch.Tensor:
    return images_to_tensor(np.asarray(array))


@torch.no_grad()
def generate(model, n: int, seed: int, batch: int = 256, precision=contextlib.nullcontext) -> torch.Tensor:
    """``n`` samples G(z), z ~ N(0, Id) from one seeded stream, in ``[-1, 1]`` float32."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=gen)
    out = []
    for i in tqdm(range(0, n, batch), desc="sample", unit="batch", leave=False):
        with precision():
            out.append(model.generator(z[i:i + batch].to(model.device)).float().cpu())
    return torch.cat(out).clamp(-1, 1)


def distribution_scores(real: torch.Tensor, fake: torch.Tensor, s: StudySettings) -> dict[str, float]:
    """FID, KID, precision/recall and density/coverage between two feature sets."""
    out = fid_kid(real, fake, kid_subset_size=s.kid_subset_size)
    out.update(precision_recall(real, fake, k=s.precision_recall_k))
    out.update(density_coverage(real, fake, k=s.density_coverage_k))
    return out


def evaluate_model(model, datamodule, out_dir: str | Path, s: StudySettings, cache_dir: str | Path,
                   precision=contextlib.nullcontext) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    metrics: dict = {"model": type(model).__name__, **s.extra}

    # Reconstruction: per-image PSNR/SSIM on both splits, the gap, a histogram, grids.
    eval_limit = s.eval_limit or getattr(model, "default_eval_limit", None)
    scores = {split: reconstruction_scores(model, datamodule.split_loader(split, eval_limit), f"reconstruct {split}",
                                           precision) for split in ("train", "test")}
    metrics.update(summarise(scores))
    metrics.update({f"n_eval/{split}": len(v["psnr"]) for split, v in scores.items()})
    plots.histograms({split: v["psnr"].numpy() for split, v in scores.items()}, out_dir / "psnr_histogram.png",
                     "PSNR (dB)", f"per-image reconstruction PSNR ({metrics['model']})")
    for split in ("train", "test"):
        batch = [t.to(model.device) for t in datamodule.fixed_batch(split, 16)]
        with precision():
            x_hat = model.reconstruct(batch).float()
        save_png(side_by_side(model.images_of(batch).float(), x_hat), out_dir / f"reconstructions_{split}.png")

    # Interpolation between pairs of test images, and the pixel cross-fade between the same ends.
    batch = [t.to(model.device) for t in datamodule.fixed_batch("test", 2 * s.n_pairs)]
    x = model.images_of(batch).float()
    with precision():
        z = model.latents(batch).float()
        frames = latent_paths(model.generator, z[0::2], z[1::2], s.steps)
    fades = crossfade(x[0::2], x[1::2], s.steps)
    save_png(torch.cat([x[0::2, None], frames, x[1::2, None]], 1).flatten(0, 1), out_dir / "interpolations.png",
             nrow=s.steps + 2)
    save_png(fades.flatten(0, 1), out_dir / "crossfades.png", nrow=s.steps)
    metrics.update({f"interp/{k}": v for k, v in smoothness(frames).items()})
    metrics.update({f"crossfade/{k}": v for k, v in smoothness(fades).items()})
    plots.curves({"G(z) path": step_sizes(frames).mean(0).numpy(), "pixel cross-fade": step_sizes(fades).mean(0).numpy()},
                 out_dir / "interpolation_smoothness.png", "step along the path",
                 "mean |x_t - x_(t-1)| (pixels in [0,1])", "interpolation step sizes (mean over pairs)")

    # Sampling.
    samples = generate(model, s.n_samples, s.seed, precision=precision)
    save_png(samples[:64], out_dir / "samples.png")

    # Feature space (fitted on the real training split) and distribution metrics against test.
    train_images, _ = datamodule.source.split("train")
    test_images, test_labels = datamodule.source.split("test")
    train_x, test_x = _images(train_images), _images(test_images)
    features = ScatteringFeatures(image_size=train_x.shape[-1], J=s.feature_J, L=s.feature_L,
                                  n_components=s.feature_components)
    features.fit(train_x)
    f_train = features.embed(train_x, "features train")
    f_test = features.embed(test_x, "features test")
    f_fake = features.embed(samples, "features samples")
    metrics.update({f"sample/{k}": v for k, v in distribution_scores(f_test, f_fake, s).items()})
    gen = torch.Generator().manual_seed(s.seed)
    floor = f_train[torch.randperm(len(f_train), generator=gen)[: s.n_samples]]
    metrics.update({f"data/{k}": v for k, v in distribution_scores(f_test, floor, s).items()})
    metrics["n_samples"] = len(samples)
    metrics["n_real_test"] = len(test_x)
    if s.inception_weights:
        metrics["sample/inception_fid"] = inception_fid(test_x, samples, s.inception_weights)

    # Mode coverage (polygons only: the data must carry the 48 mode labels).
    source = datamodule.source
    if isinstance(source, Polygons) and test_labels is not None:
        classifier, acc = load_or_train_classifier(source, cache_dir, steps=s.classifier_steps,
                                                   min_accuracy=s.min_classifier_accuracy)
        real_probs, fake_probs = predict(classifier, test_x), predict(classifier, samples)
        metrics["classifier/test_accuracy"] = acc
        metrics.update({f"modes/{k}": v for k, v in mode_coverage(fake_probs, real_probs, s.mode_min_count,
                                                                    s.mode_confidence).items()})
        metrics["modes/min_count"] = s.mode_min_count
        hist = {"real test": mode_histogram(real_probs).numpy(), metrics["model"]: mode_histogram(fake_probs).numpy()}
        np.save(out_dir / "mode_histogram.npy", np.stack(list(hist.values())))
        plots.mode_bars(hist, out_dir / "mode_histogram.png")

    # Memorisation: nearest training image of samples and of test images.
    pix_train = pixel_rms(train_x)
    mem = memorisation(pixel_rms(samples), pixel_rms(test_x), pix_train, f_fake, f_test, f_train)
    for key, d in mem.items():
        metrics[f"nn/{key}_mean"] = float(d.mean())
    plots.histograms({"samples": mem["samples/pixel"].numpy(), "test images": mem["test/pixel"].numpy()},
                     out_dir / "memorisation_pixel.png", "RMS pixel distance to the nearest training image")
    plots.histograms({"samples": mem["samples/feature"].numpy(), "test images": mem["test/feature"].numpy()},
                     out_dir / "memorisation_feature.png", "feature distance to the nearest training image")
    _, idx = nearest_neighbours(pixel_rms(samples[:8]), pix_train, k=5)
    rows = torch.cat([torch.cat([samples[i:i + 1], train_x[idx[i]]]) for i in range(len(idx))])
    save_png(rows, out_dir / "nearest_neighbours.png", nrow=6)

    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    figures = [n for n in ("samples", "interpolations", "mode_histogram", "nearest_neighbours") if (out_dir / f"{n}.png").exists()]
    (out_dir / "summary.md").write_text(summary_markdown(metrics, figures))
    return metrics


SUMMARY_ROWS = [
    ("train PSNR (dB)", "train/psnr"), ("test PSNR (dB)", "test/psnr"), ("PSNR gap (dB)", "gap/psnr"),
    ("test SSIM", "test/ssim"), ("FID (scattering features)", "sample/fid"), ("KID", "sample/kid"),
    ("precision (k=3)", "sample/precision"), ("recall (k=3)", "sample/recall"), ("density (k=5)", "sample/density"),
    ("coverage (k=5)", "sample/coverage"), ("Inception FID", "sample/inception_fid"),
    ("modes covered (of 48)", "modes/modes_covered"), ("mode KL(real||gen)", "modes/kl"), ("mode JSD", "modes/jsd"),
    ("good samples (conf >= 0.9)", "modes/good_fraction"), ("interp. jump (max/mean step)", "interp/jump"),
    ("interp. path / end distance", "interp/path_ratio"), ("NN pixel dist., samples", "nn/samples/pixel_mean"),
    ("NN pixel dist., test", "nn/test/pixel_mean"),
]


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e-2 else f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def summary_markdown(m: dict, figures: list[str]) -> str:
    lines = [f"# Evaluation: {m.get('model')}", "", "| metric | value | real data (train vs test) |", "|---|---|---|"]
    for name, key in SUMMARY_ROWS:
        if key in m:
            ref = m.get(key.replace("sample/", "data/")) if key.startswith("sample/") else None
            lines.append(f"| {name} | {fmt(m[key])} | {fmt(ref)} |")
    lines += ["", f"{m.get('n_samples')} samples against {m.get('n_real_test')} real test images; "
              f"modes counted when predicted >= {m.get('modes/min_count', '-')} times.", ""]
    lines += [f"![{name}]({name}.png)" for name in figures]
    return "\n".join(lines) + "\n"
