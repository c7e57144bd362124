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
from dataclasses import replace
from pathlib import Path

from scatgen.errors import ConfigError
from scatgen.studies.context import StudyContext, StudySettings, precision_context
from scatgen.studies.interpolation import interpolation
from scatgen.studies.metric_registry import METRICS
from scatgen.studies.reconstruction import inversion_control, per_mode, reconstruction, resolution
from scatgen.studies.sampling import distribution, memorisation, modes, samplers, samples
from scatgen.viz.numbers import format_value

log = logging.getLogger(__name__)

PARTS: dict[str, Callable[[StudyContext], None]] = {
    "reconstruction": reconstruction, "per_mode": per_mode, "inversion_control": inversion_control,
    "resolution": resolution, "interpolation": interpolation,
    "samples": samples, "distribution": distribution, "modes": modes, "samplers": samplers, "memorisation": memorisation,
}
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
        settings = replace(settings, eval_limit=getattr(model, "default_eval_limit", None))
    n_modes = getattr(datamodule.source, "n_modes", 0) or None
    axes = datamodule.source.mode_axes() if n_modes else None
    ctx = StudyContext(model.eval(), datamodule, out_dir, settings, precision,
                       metrics={"model": type(model).__name__, "data/n_modes": n_modes,
                                "data/mode_axes": [[name, list(values)] for name, values in axes] if axes else None,
                                **settings.extra})
    for name in settings.parts:
        t = time.perf_counter()
        PARTS[name](ctx)
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
        lines += ["", "| sampler | confident | modes covered | precision | recall | density | coverage | FID |",
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
