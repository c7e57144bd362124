"""The study's metrics, each registered once (as stylegan2-ada's metric registry): its key in
``metrics.json``, its label, which way is better, the report sections it stands in, and the real
data's value shown beside it.  ``summary.md`` (every metric present), the report's tables and ``gan_recipes.py`` read
their rows from here; a part writes ``ctx.metrics[key]``.  A new metric is its function (in a
study part) plus one ``Metric`` line below.

Labels may name ``{n_modes}`` (the data source's mode count, ``data/n_modes`` in ``metrics.json``),
``{min_count}``, ``{confidence}`` and ``{mode_samples}`` (the mode measures' settings and sample count,
``modes/min_count``, ``modes/confidence``, ``modes/n_samples``), so a label states the values its run used."""

from __future__ import annotations

from dataclasses import dataclass

from scatgen.viz.numbers import format_value

SECTIONS = ("per_mode", "resolution")  # the report's sections beyond its table of every metric


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str | None = None           # "higher" | "lower" | None (neither: a count, a ratio to match)
    sections: tuple[str, ...] = ()     # report sections it also stands in
    reference: str | None = None        # the key of the real data's own value (train vs test)

    def heading(self, metrics: dict | None = None) -> str:
        """The label, with the data's mode count, the mode settings and an arrow for the better direction."""
        metrics = metrics or {}
        given = {"n_modes": metrics.get("data/n_modes"), "min_count": metrics.get("modes/min_count"),
                 "confidence": metrics.get("modes/confidence"), "mode_samples": metrics.get("modes/n_samples")}
        fallback = {"n_modes": "the", "min_count": "k", "confidence": "c", "mode_samples": "N"}
        label = self.label.format(**{k: fallback[k] if v is None else format_value(v) for k, v in given.items()})
        return label + {"higher": " ↑", "lower": " ↓"}.get(self.better or "", "")

    def cell(self, metrics: dict) -> str:
        return format_value(metrics.get(self.key))


def _sample(key: str, label: str, better: str) -> Metric:
    """A sample metric against the test split, beside the real training images' own value."""
    return Metric(key, label, better, reference=key.replace("sample/", "data/"))


METRICS = [
    Metric("train/psnr", "train PSNR (dB)", "higher"),
    Metric("test/psnr", "test PSNR (dB)", "higher"),
    Metric("gap/psnr", "PSNR gap, train - test (dB)"),
    Metric("test/ssim", "test SSIM", "higher"),
    Metric("per_mode/psnr_min", "test PSNR, worst mode (dB)", "higher", ("per_mode",)),
    Metric("per_mode/psnr_median", "test PSNR, median mode (dB)", "higher", ("per_mode",)),
    Metric("per_mode/psnr_max", "test PSNR, best mode (dB)", "higher", ("per_mode",)),
    Metric("per_mode/forgotten", "forgotten modes of {n_modes} (< median mode - 3 dB)", "lower", ("per_mode",)),
    Metric("per_mode/ssim_min", "test SSIM, worst mode", "higher", ("per_mode",)),
    Metric("per_mode/min_images", "test images of the rarest mode", None, ("per_mode",)),
    Metric("resolution/high_frequency_ratio", "high-frequency energy kept, reconstructions (r > 1/4)", "higher",
           ("resolution",)),
    Metric("resolution/psnr_edges", "PSNR on edge pixels (dB)", "higher", ("resolution",)),
    Metric("resolution/psnr_flat", "PSNR on flat pixels (dB)", "higher", ("resolution",)),
    Metric("sample/high_frequency_ratio", "high-frequency energy of samples / test images", None, ("resolution",)),
    _sample("sample/fid", "FID (scattering features)", "lower"),
    _sample("sample/kid", "KID", "lower"),
    _sample("sample/precision", "precision (k=3)", "higher"),
    _sample("sample/recall", "recall (k=3)", "higher"),
    _sample("sample/density", "density (k=5)", "higher"),
    _sample("sample/coverage", "coverage (k=5)", "higher"),
    Metric("inversion/own_psnr_median", "own samples' inversion PSNR, median (dB)", "higher"),
    Metric("inversion/forgotten", "forgotten modes of {n_modes} (test PSNR < own samples' - 3 dB)", "lower"),
    Metric("modes/good_fraction", "confident samples (conf >= {confidence}) of {mode_samples}", "higher",
           reference="modes/real_good_fraction"),
    Metric("modes/real_good_fraction", "confident real test images (conf >= {confidence})"),
    Metric("modes/modes_covered", "modes of {n_modes} covered (>= {min_count} confident of {mode_samples} samples)", "higher"),
    Metric("modes/modes_predicted", "modes of {n_modes} predicted (>= {min_count} of {mode_samples} samples)", "higher"),
    Metric("modes/kl", "mode KL(confident ‖ real) (nats)", "lower"),
    Metric("modes/jsd", "mode JSD (bits)", "lower"),
    Metric("interp/jump", "interp. jump (max/mean step)", "lower"),
    Metric("interp/path_ratio", "interp. path / end distance", "lower"),
    Metric("nn/samples/pixel_mean", "NN pixel dist., samples"),
    Metric("nn/test/pixel_mean", "NN pixel dist., test"),
]
REGISTRY = {m.key: m for m in METRICS}

# Keys a study part writes to metrics.json that no table reports as a metric: per-mode and spectrum lists
# read by the figures, counts and settings that label the tables, the sampler table's cells, timings
# (fnmatch patterns). A part's declared key (``scatgen.studies.study.PARTS``) is in REGISTRY or here.
RECORDED = (
    "train/ssim", "n_eval/*", "time/*", "n_samples", "n_real_test", "samplers", "sampler/*/*", "classifier/*",
    "per_mode/forgotten_modes", "per_mode/modes_seen", "per_mode/psnr", "per_mode/ssim",
    "inversion/test_psnr_median", "inversion/n_own", "inversion/forgotten_modes",
    "resolution/spectrum_*", "sample/kid_std", "data/*", "modes/min_count", "modes/confidence", "modes/n_samples",
    "modes/n_good", "modes/histogram*", "interp/step_mean", "crossfade/*", "nn/*/feature_mean",
)


def is_declarable(key: str) -> bool:
    """Whether a part may declare ``key``: a registered metric, or a recorded key (``RECORDED``)."""
    from fnmatch import fnmatchcase

    return key in REGISTRY or any(fnmatchcase(key, pattern) for pattern in RECORDED)


def section(name: str) -> list[Metric]:
    """The metrics of one report section, in registry order."""
    if name not in SECTIONS:
        raise KeyError(f"{name!r} is not a section; choose from {', '.join(SECTIONS)}")
    return [m for m in METRICS if name in m.sections]
