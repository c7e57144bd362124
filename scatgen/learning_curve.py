"""A GAN's learning curve (``make study-gan-long``): the run's ``checkpoints/gstepNNNNNN.ckpt``
(``scatgen.training.GeneratorStepCheckpoint``), each evaluated by the study's sample parts on
``N(0, Id)`` samples, gathered into ``curve.json`` (one record per checkpoint: ``g_step`` and the
metrics under their registry keys) and ``curve.png`` (one panel per measure against generator
steps, with a reference model's value as a flat line)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from omegaconf import DictConfig

from scatgen.evaluate import evaluate_checkpoint
from scatgen.storage.artefacts import write_json
from scatgen.studies.metric_registry import REGISTRY
from scatgen.viz.numbers import format_value
from scatgen.viz.plots import panel_curves

log = logging.getLogger(__name__)

# what the curve follows (registry keys), in panel order
CURVE_KEYS = ("modes/good_fraction", "sample/precision", "sample/recall", "sample/fid", "modes/modes_covered",
              "modes/kl")
STEP_FILE = re.compile(r"gstep(\d+)\.ckpt$")


def curve_checkpoints(run_dir: Path) -> dict[int, Path]:
    """``{generator step: checkpoint}`` of ``<run>/checkpoints/gstep*.ckpt``, in step order."""
    found = {int(m.group(1)): p for p in (run_dir / "checkpoints").glob("gstep*.ckpt") if (m := STEP_FILE.search(p.name))}
    return dict(sorted(found.items()))


def evaluate_curve(run_dir: Path, cfg: DictConfig) -> dict[int, Path]:
    """Evaluate every curve checkpoint not yet evaluated into ``<run>/curve/gstepNNNNNN/`` (``summary.md``,
    written last, marks a finished one); returns ``{step: evaluation dir}``."""
    done = {}
    for step, ckpt in curve_checkpoints(run_dir).items():
        target = run_dir / "curve" / ckpt.stem
        if not (target / "summary.md").exists():
            log.info("evaluating generator step %d (%s)", step, ckpt.name)
            evaluate_checkpoint(ckpt, target, cfg)
        done[step] = target
    return done


def curve_records(evaluations: dict[int, Path]) -> list[dict]:
    """One record per checkpoint: ``g_step`` and the ``CURVE_KEYS`` its evaluation measured, plus the
    settings that label them (sample counts, the mode measures' k and confidence)."""
    records = []
    for step, target in evaluations.items():
        metrics = json.loads((target / "metrics.json").read_text())
        settings = ("n_samples", "modes/n_samples", "modes/min_count", "modes/confidence", "data/n_modes")
        records.append({"g_step": step, **{k: metrics[k] for k in (*CURVE_KEYS, *settings) if k in metrics}})
    return records


def plot_curve(records: list[dict], path: Path, reference: dict | None = None, reference_name: str = "",
               bar: dict | None = None) -> Path:
    """One panel per ``CURVE_KEYS`` measure against generator steps; ``reference``'s value of each and the
    ``bar`` (``{key: least value}``) as dashed flat lines (labelled ``reference_name`` and "bar")."""
    steps = [r["g_step"] for r in records]
    panels = {}
    for key in CURVE_KEYS:
        points = [(r["g_step"], r[key]) for r in records if r.get(key) is not None]
        series = {"GAN": ([s for s, _ in points], [v for _, v in points])}
        if reference and key in reference and steps:
            series[reference_name] = ([min(steps), max(steps)], [reference[key]] * 2)
        if bar and key in bar and steps:
            series["bar"] = ([min(steps), max(steps)], [bar[key]] * 2)
        panels[REGISTRY[key].heading(records[-1] if records else None)] = series
    return panel_curves(panels, path, xlabel="generator steps", columns=3)


def curve_page(records: list[dict], folder: str, bar: dict[str, float], reference: dict | None = None,
               reference_name: str = "", header: list[str] | None = None, grid_steps: tuple[int, ...] = (),
               title: str = "The GAN at a GAN's budget") -> str:
    """The curve's page (``docs/gan_long.md``): a table of every checkpoint, the figure, the sample grids,
    and the verdict at the last point against ``bar`` (``{registry key: least value}``), in words drawn
    from the numbers."""
    last = records[-1]
    met = {k: last.get(k) is not None and last[k] >= v for k, v in bar.items()}
    cols = [k for k in CURVE_KEYS if any(k in r for r in records)]
    lines = [f"# {title}", "", *(header or []),
             f"At its last checkpoint ({last['g_step']:,} generator steps), on {format_value(last.get('modes/n_samples'))} "
             "samples from N(0, Id): " + "; ".join(
                 f"{REGISTRY[k].heading(last)} {format_value(last.get(k))} (bar {v:g}: {'met' if met[k] else 'not met'})"
                 for k, v in bar.items()) + ". " +
             ("The bar is met." if all(met.values()) else "The bar is not met."), ""]
    best = {k: max(records, key=lambda r: r.get(k) if r.get(k) is not None else -1) for k in bar}
    lines += ["Best point of the curve: " + "; ".join(
        f"{REGISTRY[k].heading(last)} {format_value(best[k].get(k))} at {best[k]['g_step']:,} steps" for k in bar) + ".", ""]
    if reference:
        lines += [f"{reference_name}, for reference: " + "; ".join(
            f"{REGISTRY[k].heading(last)} {format_value(reference[k])}" for k in cols if k in reference) + ".", ""]
    lines += ["| generator steps | " + " | ".join(REGISTRY[k].heading(last) for k in cols) + " |",
              "|---|" + "---|" * len(cols)]
    lines += [f"| {r['g_step']:,} | " + " | ".join(format_value(r.get(k)) for k in cols) + " |" for r in records]
    lines += ["", f"![learning curve]({folder}/curve.png)", ""]
    for step in grid_steps:
        if any(r["g_step"] == step for r in records):
            lines += [f"Samples at {step:,} generator steps:", "", f"![samples at {step}]({folder}/samples_gstep{step:06d}.png)", ""]
    return "\n".join(lines) + "\n"


def write_curve(run_dir: Path, cfg: DictConfig, out_dir: Path, reference: dict | None = None,
                reference_name: str = "", grid_steps: tuple[int, ...] = (), bar: dict | None = None,
                labels: dict | None = None) -> list[dict]:
    """Evaluate the run's curve checkpoints and write ``out_dir/curve.json`` (each record with ``labels``:
    what the run trained on, e.g. ``data/n_train``), ``curve.png`` and, for each of ``grid_steps``
    measured, ``samples_gstepNNNNNN.png`` (64 samples from N(0, Id))."""
    evaluations = evaluate_curve(run_dir, cfg)
    records = [{**record, **(labels or {})} for record in curve_records(evaluations)]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "curve.json", records)
    plot_curve(records, out_dir / "curve.png", reference, reference_name, bar)
    for step in grid_steps:
        if step in evaluations and (evaluations[step] / "samples.png").exists():
            shutil.copyfile(evaluations[step] / "samples.png", out_dir / f"samples_gstep{step:06d}.png")
    return records
