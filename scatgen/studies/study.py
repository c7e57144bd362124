"""The study of one model: a list of named parts, run in order (as stylegan2-ada's metric
registry), each adding metrics and PNG figures.  The end of training runs a few of them; the
study of a checkpoint (``scripts/evaluate.py``) runs them all.  The caller writes ``metrics.json``.

A part that needs labelled modes (``per_mode``, ``modes``) adds nothing for data sets without them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path

from scatgen.errors import ConfigError
from scatgen.studies.context import StudyContext, StudySettings, precision_context
from scatgen.studies.interpolation import interpolation
from scatgen.studies.metric_registry import METRICS
from scatgen.studies.reconstruction import inversion_control, per_mode, reconstruction, resolution
from scatgen.studies.sampling import distribution, memorisation, modes, samplers, samples
from scatgen.viz.numbers import format_value

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Part:
    """A study part: what it runs and the ``metrics.json`` keys it writes (fnmatch patterns), each a
    registered metric or a recorded key (``metric_registry.is_declarable``); ``run_study`` refuses a key
    a part writes without declaring it, so no metric silently misses the tables."""
    run: Callable[[StudyContext], None]
    writes: tuple[str, ...]


_SCORES = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage")
PARTS: dict[str, Part] = {
    "reconstruction": Part(reconstruction, ("train/psnr", "train/ssim", "test/psnr", "test/ssim", "gap/psnr", "n_eval/*")),
    "per_mode": Part(per_mode, ("per_mode/psnr_min", "per_mode/psnr_median", "per_mode/psnr_max", "per_mode/ssim_min",
                                "per_mode/forgotten", "per_mode/forgotten_modes", "per_mode/modes_seen",
                                "per_mode/min_images", "per_mode/psnr", "per_mode/ssim")),
    "inversion_control": Part(inversion_control, ("inversion/own_psnr_median", "inversion/test_psnr_median",
                                                  "inversion/n_own", "inversion/forgotten", "inversion/forgotten_modes")),
    "resolution": Part(resolution, ("resolution/high_frequency_ratio", "resolution/psnr_edges", "resolution/psnr_flat",
                                    "resolution/spectrum_*")),
    "interpolation": Part(interpolation, ("interp/jump", "interp/path_ratio", "interp/step_mean", "crossfade/*")),
    "samples": Part(samples, ()),
    "distribution": Part(distribution, (*(f"sample/{k}" for k in _SCORES), *(f"data/{k}" for k in _SCORES),
                                        "sample/high_frequency_ratio", "n_samples", "n_real_test")),
    "modes": Part(modes, ("modes/modes_covered", "modes/modes_predicted", "modes/good_fraction", "modes/real_good_fraction",
                          "modes/kl", "modes/jsd", "modes/n_samples", "modes/min_count", "modes/confidence",
                          "classifier/*")),
    "samplers": Part(samplers, ("sampler/*/*", "samplers", "classifier/*")),
    "memorisation": Part(memorisation, ("nn/samples/pixel_mean", "nn/test/pixel_mean", "nn/*/feature_mean")),
}


def check_written(name: str, before: set[str], metrics: dict) -> None:
    """Every key part ``name`` added is one it declares (``Part.writes``)."""
    undeclared = [k for k in metrics if k not in before and not any(fnmatchcase(k, p) for p in PARTS[name].writes)]
    if undeclared:
        raise RuntimeError(f"study part {name!r} wrote {undeclared} without declaring it: add it to PARTS[{name!r}].writes "
                           "and register it in scatgen/studies/metric_registry.py (METRICS, or RECORDED if no table shows it)")
TRAINING_PARTS = ("reconstruction", "samples", "interpolation")


def run_study(model, datamodule, out_dir: str | Path, settings: StudySettings,
              precision=contextlib.nullcontext) -> dict:
    """Run ``settings.parts`` on ``model`` (in eval mode); returns the metrics (and ``figures``)."""
    unknown = [p for p in settings.parts if p not in PARTS]
    if unknown:
        raise ConfigError(f"study.parts: {unknown[0]!r} is not a part of the study; choose from {', '.join(PARTS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if settings.eval_limit is None:  # the GAN's latent inversion is costly: it sets its own default
        settings = replace(settings, eval_limit=model.default_eval_limit)
    n_modes = getattr(datamodule.source, "n_modes", 0) or None
    axes = datamodule.source.mode_axes() if n_modes else None
    ctx = StudyContext(model.eval(), datamodule, out_dir, settings, precision,
                       metrics={"model": type(model).__name__, "data/n_modes": n_modes,
                                "data/mode_axes": [[name, list(values)] for name, values in axes] if axes else None,
                                **settings.extra})
    for name in settings.parts:
        t, before = time.perf_counter(), set(ctx.metrics)
        PARTS[name].run(ctx)
        check_written(name, before, ctx.metrics)
        ctx.metrics[f"time/study_{name}_s"] = time.perf_counter() - t
        log.info("study part %s: %.1f s", name, ctx.metrics[f"time/study_{name}_s"])
    ctx.metrics["figures"] = ctx.figures
    return ctx.metrics


def summary_markdown(m: dict) -> str:
    lines = [f"# Evaluation: {m.get('model')}", "", "| metric | value | real data (train vs test) |", "|---|---|---|"]
    for metric in METRICS:
        if metric.key in m:
            ref = m.get(metric.reference) if metric.reference else None
            lines.append(f"| {metric.heading(m)} | {metric.cell(m)} | {format_value(ref)} |")
    if m.get("samplers"):
        n = m.get("n_samples", "N")
        lines += ["", f"| sampler | confident (of {n}) | modes covered (of {n} samples) | precision | recall | density | "
                  "coverage | FID |",
                  "|---|---|---|---|---|---|---|---|"]
        for name in m["samplers"]:
            lines.append(f"| {name} | " + " | ".join(format_value(m.get(f"sampler/{name}/{k}")) for k in (
                "confident", "modes_covered", "precision", "recall", "density", "coverage", "fid")) + " |")
    lines += ["", f"{m.get('n_samples')} samples against {m.get('n_real_test')} real test images; "
              f"a mode is covered by >= {m.get('modes/min_count', '-')} confident samples (classifier confidence "
              f">= {m.get('modes/confidence', '-')}); ↑ / ↓: higher / lower is better.", ""]
    lines += [f"![{name}]({name}.png)" for name in m.get("figures", [])]
    return "\n".join(lines) + "\n"


__all__ = ["PARTS", "TRAINING_PARTS", "StudySettings", "run_study", "summary_markdown", "precision_context", "format_value"]
