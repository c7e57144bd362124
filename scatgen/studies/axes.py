"""The study's two axes (``make study-axes``): where memory can saturate.

* **complexity**: ``k`` polygons per image (``data.source.n_polygons``, the labelled one on top,
  ``scatgen/data/polygons.py``) at one data size and one budget: k objects' edges, corners and
  occlusions per image against one, as a bedroom's many objects against one polygon;
* **size**: ``n`` training images at ``k = 1`` and *equal optimiser steps* (``epochs x n`` fixed):
  the train - test PSNR gap as a function of n measures what the generator stores of its
  training images.

Each point is the same models, generator and seed; every run is evaluated by the study's parts.
``axis_table`` gathers ``{axis: {value: {model: metrics}}}``; ``write_axes_report`` plots one curve
per model for each metric of ``CURVES`` (PNG) and writes the answer to claims 1 and 2, each verdict
drawn from the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from scatgen.storage.artefacts import write_json
from scatgen.studies.metric_registry import REGISTRY
from scatgen.studies.report import MODEL_ORDER, role
from scatgen.viz import plots
from scatgen.viz.numbers import format_value

AXIS_LABELS = {"complexity": "polygons per image (k)", "size": "training images (n)"}
# (group, metric keys): one PNG per axis, one panel per metric, one curve per model
CURVES = (
    ("resolution", ("resolution/high_frequency_ratio", "resolution/psnr_edges")),
    ("structure", ("per_mode/forgotten", "modes/modes_covered", "modes/kl")),
    ("memorisation", ("gap/psnr", "nn/samples/pixel_mean")),
)
# verdict thresholds (stated in the report): a change along the axis counts when it exceeds these
EDGE_DB = 1.0          # edge-pixel PSNR falls by more than this (dB) from the simplest to the most complex data
HF_DROP = 0.1          # or the high-frequency energy kept falls by more than this (absolute)
FORGOTTEN_RISE = 2.0   # forgotten modes rise by at least this
GAP_DB = 0.5           # the train - test gap at the smallest n exceeds the largest n's by more than this (dB)
# the report's table per axis: the curves' metrics, then what reads them
TABLE_ROWS = (*(key for _, keys in CURVES for key in keys), "test/psnr", "modes/good_fraction",
              "modes/real_good_fraction")


@dataclass(frozen=True)
class Point:
    """One training setting of an axis: ``value`` is k (complexity) or n (size)."""
    axis: str
    value: int
    n_polygons: int
    n_train: int
    epochs: int

    def overrides(self) -> list[str]:
        return [f"data.source.n_polygons={self.n_polygons}", f"data.n_train={self.n_train}"]


def axis_points(complexity: list[int], sizes: list[int], n_train: int, epochs: int) -> list[Point]:
    """The complexity levels at ``n_train`` images and ``epochs``; the sizes at one polygon per
    image, each with the epochs that keep ``epochs x n_train`` images seen (equal steps)."""
    points = [Point("complexity", int(k), int(k), int(n_train), int(epochs)) for k in complexity]
    points += [Point("size", int(n), 1, int(n), max(1, round(epochs * n_train / n))) for n in sizes]
    return points


def axis_table(evaluations: dict[Point, list[Path]]) -> dict[str, dict[int, dict[str, dict]]]:
    """``{axis: {value: {model: metrics}}}`` from each point's evaluation dirs (``metrics.json``)."""
    table: dict[str, dict[int, dict[str, dict]]] = {}
    for point, dirs in evaluations.items():
        for d in dirs:
            metrics = json.loads((Path(d) / "metrics.json").read_text())
            name = metrics.get("model_name") or metrics["model"]
            table.setdefault(point.axis, {}).setdefault(point.value, {})[name] = metrics
    return table


def models_of(table: dict) -> list[str]:
    found = {m for levels in table.values() for row in levels.values() for m in row}
    return [m for m in MODEL_ORDER if m in found] + sorted(found - set(MODEL_ORDER))


def model_runs(table: dict) -> dict[str, dict]:
    """``{model: the metrics of one of its points}`` (what ``report.role`` reads)."""
    return {m: row[m] for levels in table.values() for row in levels.values() for m in row}


def series(table: dict, axis: str, model: str, key: str) -> tuple[list[int], list[float]]:
    """The values of ``key`` for ``model`` along ``axis`` (points where it was measured)."""
    xs, ys = [], []
    for value in sorted(table.get(axis, {})):
        v = table[axis][value].get(model, {}).get(key)
        if v is not None:
            xs.append(value)
            ys.append(float(v))
    return xs, ys


def plot_axis(table: dict, axis: str, path: Path) -> Path:
    """One panel per metric of ``CURVES``, one curve per model, the axis' values on x."""
    panels = [(group, key) for group, keys in CURVES for key in keys]
    any_run = next(iter(next(iter(table[axis].values())).values()))
    curves = {f"{group}: {REGISTRY[key].heading(any_run)}":
              {m: series(table, axis, m, key) for m in models_of(table)} for group, key in panels}
    return plots.panel_curves(curves, path, AXIS_LABELS[axis], log_x=axis == "size")


def change(table: dict, axis: str, model: str | None, key: str) -> tuple[float | None, float | None]:
    """``(value at the axis' first point, value at its last)`` for ``model``."""
    if model is None:
        return None, None
    _, ys = series(table, axis, model, key)
    return (ys[0], ys[-1]) if len(ys) >= 2 else (None, None)


def measured_axis(table: dict, axis: str) -> tuple[str | None, list[int]]:
    """The inverse-scattering model's name and the axis' values, or ``(None, values)`` when the
    axis has fewer than two points or no inverse-scattering model (no verdict can be drawn)."""
    iss = role(model_runs(table), "inverse_scattering")
    values = sorted(table.get(axis, {}))
    return (iss if len(values) >= 2 else None), values


def claim2(table: dict) -> tuple[str, str]:
    """Memory saturates on complex data: loss of resolution (edge PSNR, high-frequency energy) or
    of structures (forgotten modes) of the inverse-scattering generator from k_min to k_max."""
    models = models_of(table)
    iss, levels = measured_axis(table, "complexity")
    if iss is None:
        return "not shown", "the complexity axis needs the inverse-scattering model at two levels or more."
    e0, e1 = change(table, "complexity", iss, "resolution/psnr_edges")
    h0, h1 = change(table, "complexity", iss, "resolution/high_frequency_ratio")
    f0, f1 = change(table, "complexity", iss, "per_mode/forgotten")
    c0, c1 = change(table, "complexity", iss, "modes/modes_covered")
    resolution = (e0 is not None and e1 < e0 - EDGE_DB) or (h0 is not None and h1 < h0 - HF_DROP)
    structure = f0 is not None and f1 >= f0 + FORGOTTEN_RISE
    sharper = e0 is not None and e1 > e0 + EDGE_DB and f0 is not None and f1 <= f0
    verdict = "shown" if resolution or structure else "contradicted" if sharper else "not shown"
    k0, k1 = levels[0], levels[-1]
    text = (f"From k = {k0} to k = {k1} polygons per image (same generator, budget and seed), the inverse-scattering "
            f"generator's edge pixels go from {format_value(e0)} to {format_value(e1)} dB and the high-frequency energy "
            f"its reconstructions keep from {format_value(h0)} to {format_value(h1)}"
            + (" (loss of resolution)" if resolution else "") +
            f"; its forgotten modes go from {format_value(f0)} to {format_value(f1)}"
            + (" (loss of structures)" if structure else "") +
            f", the modes its N(0, Id) samples cover from {format_value(c0)} to {format_value(c1)}.")
    others = []
    for m in models:
        if m == iss:
            continue
        oe0, oe1 = change(table, "complexity", m, "resolution/psnr_edges")
        of0, of1 = change(table, "complexity", m, "per_mode/forgotten")
        if oe0 is not None:
            others.append(f"{m}: edges {format_value(oe0)} -> {format_value(oe1)} dB, forgotten modes "
                          f"{format_value(of0)} -> {format_value(of1)}")
    if others:
        text += " Beside it, " + "; ".join(others) + "."
    text += (f" (A change counts when edge PSNR falls by more than {EDGE_DB} dB, the high-frequency share by more "
             f"than {HF_DROP}, or forgotten modes rise by {FORGOTTEN_RISE:g} or more.)")
    return verdict, text


def claim1(table: dict) -> tuple[str, str]:
    """Memory storage: the train - test gap of the inverse-scattering generator falls as n grows
    at equal steps (it stores the few images it is given, and generalises from many)."""
    iss, _ = measured_axis(table, "size")
    if iss is None:
        return "not shown", "the size axis needs the inverse-scattering model at two sizes or more."
    ns, gaps = series(table, "size", iss, "gap/psnr")
    _, tests = series(table, "size", iss, "test/psnr")
    if len(gaps) < 2:
        return "not shown", "the size axis has no train - test gap of the inverse-scattering model."
    stores = gaps[0] > gaps[-1] + GAP_DB
    verdict = "shown" if stores else "not shown"
    text = (f"At equal optimiser steps, its train - test PSNR gap is " +
            ", ".join(f"{format_value(g)} dB at n = {n:,}" for n, g in zip(ns, gaps)) +
            (f" (test PSNR {', '.join(format_value(t) for t in tests)} dB)" if len(tests) == len(ns) else "") +
            (": it stores the few images it is given and generalises from many." if stores else
             f": no fall of more than {GAP_DB} dB, so storage of the training images does not show at these sizes."))
    return verdict, text


def load_axes_table(path: Path) -> dict | None:
    """The table ``write_axes_report`` saved in ``axes.json`` (levels back to integers), or ``None``
    when there is none yet."""
    path = Path(path)
    if not path.is_file():
        return None
    return {axis: {int(v): row for v, row in levels.items()} for axis, levels in json.loads(path.read_text()).items()}


def write_axes_report(table: dict, out_dir: Path, header: list[str] | None = None) -> Path:
    """``report.md`` (what the axes measure for claims 1 and 2, a table per axis), a PNG per axis, ``axes.json``;
    the verdicts are the study report's (``report.findings``), which reads these measurements."""
    out_dir.mkdir(parents=True, exist_ok=True)
    models = models_of(table)
    (_, t2), (_, t1) = claim2(table), claim1(table)
    lines = ["# Study axes: data complexity and data size", "",
             "What the two axes measure for claims 1 and 2. The one verdict per claim, drawn from these tables, the "
             "equal-budget study and the GAN's long run, is in [the study report](../study/report.md).", "",
             f"**Claim 1, memory storage (the size axis).** {t1}", "",
             f"**Claim 2, saturation (the complexity axis).** {t2}", ""]
    lines += header or []
    for axis in ("complexity", "size"):
        if axis not in table:
            continue
        values = sorted(table[axis])
        path = plot_axis(table, axis, out_dir / f"axis_{axis}.png")
        cols = [(m, v) for m in models for v in values]
        lines += [f"## {AXIS_LABELS[axis].capitalize()}", ""]
        if axis == "size":
            epochs = {v: next((r.get("epochs") for r in table[axis][v].values() if r.get("epochs")), None) for v in values}
            lines += ["Equal optimiser steps at every size: epochs " +
                      ", ".join(f"{epochs[v]} at n = {v:,}" for v in values) + ".", ""]
        lines += ["| metric | " + " | ".join(f"{m}, {v:,}" if axis == "size" else f"{m}, k={v}" for m, v in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        any_run = next(iter(table[axis][values[0]].values()))
        for key in TABLE_ROWS:
            lines.append(f"| {REGISTRY[key].heading(any_run)} | " + " | ".join(
                format_value(table[axis][v].get(m, {}).get(key)) for m, v in cols) + " |")
        lines += ["", f"![{axis}]({path.name})", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    write_json(out_dir / "axes.json", {axis: {str(v): row for v, row in levels.items()} for axis, levels in table.items()})
    return path
