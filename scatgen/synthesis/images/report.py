"""``docs/synthesis.md``: every texture synthesised by scatgen's three moment models and by the two
anchors (Portilla-Simoncelli from plenoptic, wavelet phase harmonics from pywph) side by side, from
the same white-noise starts, each model run the way its authors run it (its own optimiser and
settings) until its own loss plateaus or a cap of evaluations (``scatgen.synthesis.trajectory``).
Each result is scored the same way at 50, 200 and 1,000 evaluations, at its end, and at the
reference model's wall time: held-out statistics no model fits, and every model's statistics
(cross-evaluation).  Per texture: the samples, the loss curves (against evaluations and wall
seconds), a table at convergence, one at equal wall time, and one of the checkpoints.

The headers, cells and sentences all follow ``models``: a new scatgen model is one
``IMAGE_MODELS.register`` beside its class (``images/moments.py``); a new anchor is one entry in
``ANCHOR_LABELS`` and its branch in ``synthesize_with``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scatgen.devices import cpu_kind  # noqa: E402
from scatgen.storage.artefacts import write_json  # noqa: E402
from scatgen.synthesis.images import anchors  # noqa: E402
from scatgen.synthesis.microcanonical import Synthesis, phase_randomized, synthesize  # noqa: E402
from scatgen.synthesis.images.moments import (DEFAULT_MARGINAL, IMAGE_MODELS, MARGINAL_WORDS, MODEL_OPTIONS,  # noqa: E402
                                             MODELS, moment_model)  # noqa: E402
from scatgen.synthesis.images.statistics import image_statistics  # noqa: E402
from scatgen.synthesis.registry import moment_errors  # noqa: E402
from scatgen.synthesis.images.textures import load_texture  # noqa: E402
from scatgen.synthesis.trajectory import Trajectory  # noqa: E402
from scatgen.viz import plots  # noqa: E402
from scatgen.viz.numbers import format_value  # noqa: E402

# scatgen's registered models, then the anchors (the field's tools, run by scatgen.synthesis.images.anchors)
ANCHOR_LABELS = {"portilla_simoncelli": "Portilla-Simoncelli (plenoptic)", "pywph": "phase harmonics (pywph)"}
LABELS = {**IMAGE_MODELS.labels(), **ANCHOR_LABELS}
EXACT = "phase_randomized"
HELD_OUT = (("held out: orientation histogram TV", "heldout/orientation_tv"),
            ("held out: gradient magnitude W1", "heldout/gradient_w1"),
            ("pixel histogram W1", "marginal_w1"))
CHECKPOINTS = (50, 200, 1000)       # evaluations at which every descent is scored
CONVERGED = 0.1                     # a model has converged when its own statistics' mean relative error is below
EQUAL = 0.05                        # "equal": within the two spreads, or within 5% (one sample has no spread)
TV_MARGIN = 0.10                    # the any-texture check: orientation TV within 10% of pywph's
REFERENCE = "portilla_simoncelli"   # the equal-wall-time table gives every model this model's time


@dataclass(frozen=True)
class Settings:
    size: int = 128
    J: int = 5
    L: int = 4
    n_samples: int = 1
    cap: int = 1000          # loss+gradient evaluations per sample at most, every model
    plateau: bool = True     # also stop at the plateau: best loss down by < 1e-4 relative over 50 evaluations
    seed: int = 0
    device: str = "cpu"


def synthesize_with(model: str, target: torch.Tensor, s: Settings,
                    watch: Callable[[], Trajectory]) -> tuple[Synthesis, int]:
    """One model's samples, each descent watched by ``watch()``, and the model's moment count."""
    shape = tuple(target.shape[-2:])
    if model in MODELS:
        moments = moment_model(model, shape, s.J, s.L).to(target.device)
        return synthesize(moments, target, s.n_samples, s.cap, 1, s.seed, evaluations=s.cap, watch=watch), moments.count
    if model == "portilla_simoncelli":
        count = anchors.PortillaSimoncelliStatistics(shape).count
        return anchors.synthesize_portilla_simoncelli(target, s.n_samples, s.cap, s.seed, watch), count
    if model == "pywph":
        count = anchors.WaveletPhaseHarmonicStatistics(shape, s.J, s.device).count
        return anchors.synthesize_pywph(target, s.n_samples, s.cap, s.J, s.seed, watch), count
    raise ValueError(f"model={model!r} is unknown; use one of {', '.join(LABELS)}")


def judges_for(models: list[str], shape: tuple[int, int], s: Settings) -> dict[str, torch.nn.Module]:
    out = {m: moment_model(m, shape, s.J, s.L).to(s.device) for m in models if m in MODELS}
    out.update({m: anchors.anchor_statistics(m, shape, s.J, s.device) for m in models if m in anchors.ANCHORS})
    return out


def score(x: torch.Tensor, target: torch.Tensor, judges: dict, references: dict) -> dict[str, float]:
    """Held-out image statistics, and the mean family relative error under each judge's statistics."""
    errors = moment_errors(judges, x, target, references)
    out = {**image_statistics(x, target), **errors}
    for judge in judges:
        family = [v for k, v in errors.items() if k.startswith(f"moments/{judge}/")]
        out[f"cross/{judge}"] = float(np.mean(family))
    return out


def summarise(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """``{key: [mean, spread]}`` over the samples (spread: the sample standard deviation)."""
    return {k: [float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows], ddof=1)) if len(rows) > 1 else 0.0]
            for k in rows[0]}


def point_names(cap: int) -> list[str]:
    return [f"eval{n}" for n in CHECKPOINTS if n <= cap] + ["final", "wall"]


def score_points(trajectories: list[Trajectory], target, judges, references, cap: int) -> dict[str, dict]:
    """Every sample's snapshots scored, per point: ``eval50`` ... (a descent that stopped before
    that count is scored where it stopped), ``final`` and ``wall``."""
    points = {}
    for name in point_names(cap):
        shots = [t.snapshots.get(name, t.snapshots["final"]) for t in trajectories]
        points[name] = {"evaluations": float(np.mean([p.evaluations for p in shots])),
                        "seconds": float(np.mean([p.seconds for p in shots])),
                        "loss": float(np.mean([p.loss for p in shots])),
                        "scores": summarise([score(p.image, target, judges, references) for p in shots])}
    return points


def model_identity(model: str, shape: tuple[int, int], s: Settings) -> dict:
    """What makes a scatgen model's run reusable besides the settings: its moment count and options as
    built now (a changed default, e.g. ``scale_links``, changes them); ``{}`` for the anchors."""
    if model not in MODELS:
        return {}
    moments = moment_model(model, shape, s.J, s.L)
    return {"n_moments": moments.count,
            "model_options": {option: getattr(moments, option) for option in MODEL_OPTIONS[model]}}


def reusable(done: dict, identity: dict, s: Settings, judges: list[str], at_seconds: float | None) -> bool:
    """A stored run answers for this one: the same settings, judges, reference time and model (its
    options compared where the run recorded them)."""
    same_model = done.get("n_moments") == identity.get("n_moments", done.get("n_moments")) and \
        done.get("model_options", identity.get("model_options")) == identity.get("model_options")
    return done.get("settings") == asdict(s) and done.get("judges") == judges and done.get("at_seconds") == at_seconds \
        and same_model


def run_model(texture: str, model: str, target: torch.Tensor, s: Settings, judges: dict, references: dict,
              run_dir: Path, at_seconds: float | None) -> dict:
    """One model on one texture; reused from ``run_dir`` when it ran with the same settings, judges,
    reference time and model (``reusable``: an interrupted report resumes where it stopped)."""
    path = run_dir / "metrics.json"
    identity = model_identity(model, tuple(target.shape[-2:]), s)
    if path.is_file():
        done = json.loads(path.read_text())
        if reusable(done, identity, s, sorted(judges), at_seconds):
            return done
    window = 50 if s.plateau else None
    print(f"[scatgen] {Path(texture).name} / {model}: synthesising {s.n_samples} sample(s), at most {s.cap} evaluations "
          "each ...", flush=True)
    result, count = synthesize_with(model, target, s, lambda: Trajectory(
        cap=s.cap, window=window, at_evaluations=CHECKPOINTS, at_seconds=at_seconds))
    trajectories = result.trajectories
    print(f"[scatgen] {Path(texture).name} / {model}: stopped by {', '.join(t.stopped for t in trajectories)} after "
          f"{', '.join(str(len(t.losses)) for t in trajectories)} evaluations, {result.seconds:.0f} s", flush=True)
    metrics = {"texture": texture, "model": model, "settings": asdict(s), "judges": sorted(judges),
               "at_seconds": at_seconds, "cpu": cpu_kind(), "n_moments": count,
               "model_options": identity.get("model_options"),
               "stopped": [t.stopped for t in trajectories], "iterations": result.iterations / s.n_samples,
               "points": score_points(trajectories, target, judges, references, s.cap)}
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(result.images.cpu(), run_dir / "samples.pt")
    write_json(run_dir / "curves.json", [{"loss": t.losses, "best": t.best_losses, "seconds": t.seconds}
                                         for t in trajectories])
    write_json(path, metrics)
    return metrics


def run_exact(target: torch.Tensor, s: Settings, judges: dict, references: dict, run_dir: Path) -> dict:
    images = phase_randomized(target, s.n_samples, s.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(images.cpu(), run_dir / "samples.pt")
    scores = summarise([score(x[None], target, judges, references) for x in images])
    return {"model": EXACT, "points": {"final": {"scores": scores}, "wall": {"scores": scores}}}


def own_error(result: dict, model: str, point: str = "final") -> float | None:
    """The model's mean relative error under its own statistics at ``point``."""
    value = result["points"][point]["scores"].get(f"cross/{model}")
    return value[0] if value else None


def converged(result: dict, model: str) -> bool:
    error = own_error(result, model)
    return error is not None and error <= CONVERGED


def label(results_of_texture: dict, model: str) -> str:
    """The model's name, marked where it has not reached its own statistics."""
    if model == EXACT:
        return "phase-randomised (exact Gaussian)"
    return LABELS[model] + ("" if converged(results_of_texture[model], model) else " (not converged)")


def figure(texture: str, target: torch.Tensor, runs: Path, models: list[str], out: Path) -> Path:
    """Rows: the samples; columns: the example, the exact Gaussian answer, then each model."""
    columns = [EXACT] + models
    samples = {m: torch.load(runs / m / "samples.pt") for m in columns}
    n = min(len(v) for v in samples.values())
    fig, axes = plt.subplots(n, len(columns) + 1, figsize=(2.4 * (len(columns) + 1), 2.5 * n), squeeze=False)
    for i in range(n):
        panels = [("example", target[0, 0])] + [
            ("phase-randomised" if m == EXACT else LABELS[m], samples[m][i, 0]) for m in columns]
        for ax, (title, image) in zip(axes[i], panels):
            ax.imshow(image.cpu().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{title}" + (f" #{i}" if title != "example" else ""), fontsize=8)
            ax.axis("off")
    fig.suptitle(Path(texture).name, fontsize=10)  # a path's file name, not the whole path
    fig.tight_layout()
    return plots.save_figure(fig, out)


def loss_figure(texture: str, runs: Path, models: list[str], out: Path) -> Path:
    """Each model's best loss relative to its first, against evaluations and against wall seconds."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, m in enumerate(models):
        for k, curve in enumerate(json.loads((runs / m / "curves.json").read_text())):
            relative = np.asarray(curve["best"]) / max(curve["best"][0], 1e-300)
            kwargs = {"color": f"C{i}", "label": LABELS[m] if k == 0 else None, "linewidth": 1.2}
            axes[0].plot(np.arange(1, len(relative) + 1), relative, **kwargs)
            axes[1].plot(curve["seconds"], relative, **kwargs)
    for ax, xlabel in zip(axes, ("loss+gradient evaluations", "wall seconds")):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("best loss / first loss (its own loss)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{Path(texture).name}: each model's own loss", fontsize=10)
    fig.tight_layout()
    return plots.save_figure(fig, out)


def cell(result: dict, key: str, point: str) -> str:
    if point not in result["points"] or key not in result["points"][point].get("scores", {}):
        return "-"
    mean, spread = result["points"][point]["scores"][key]
    return f"{format_value(mean)} ± {format_value(spread)}" if spread else format_value(mean)


def table(results: dict[str, dict], models: list[str], judges: list[str], point: str) -> list[str]:
    """The models side by side at ``point`` (``final``: at convergence; ``wall``: at equal wall time)."""
    columns = models + [EXACT]
    lines = ["| | " + " | ".join(label(results, m) for m in columns) + " |", "|---" * (len(columns) + 1) + "|"]

    def number(m: str, key: str) -> str:
        r = results[m]
        if m == EXACT:
            return "-"
        if key == "n_moments":
            return format_value(r["n_moments"])
        if key == "stopped":
            return ", ".join(sorted(set(r["stopped"])))
        return format_value(r["points"][point][key])

    rows = [("moments (free)", "n_moments", number), ("loss+gradient evaluations per sample", "evaluations", number),
            ("wall seconds per sample", "seconds", number), ("best loss (its own)", "loss", number)]
    if point == "final":
        rows.append(("stopped by", "stopped", number))
    rows += [(f"{LABELS[j]} statistics: mean rel. error", f"cross/{j}", None) for j in judges]
    rows += [("log radial spectrum error (RMS)", "spectrum_error", None)] + [(n, k, None) for n, k in HELD_OUT]
    for name, key, how in rows:
        lines.append(f"| {name} | " + " | ".join(how(m, key) if how else cell(results[m], key, point) for m in columns) + " |")
    return lines


def checkpoint_table(results: dict[str, dict], models: list[str], cap: int) -> list[str]:
    """Per model: its loss and held-out statistics at 50, 200, 1,000 evaluations and at its end."""
    points = [p for p in point_names(cap) if p != "wall"]
    names = [f"{p[4:]} ev." if p.startswith("eval") else "end" for p in points]
    keys = [("best loss (its own)", "loss")] + [(n.replace("held out: ", ""), k) for n, k in HELD_OUT]
    lines = ["| model | " + " | ".join(f"{n} at {' / '.join(names)}" for n, _ in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for m in models:
        r = results[m]["points"]
        values = [" / ".join(format_value(r[p]["loss"] if k == "loss" else r[p]["scores"][k][0]) for p in points)
                  for _, k in keys]
        lines.append(f"| {label(results, m)} | " + " | ".join(values) + " |")
    return lines


def compare(results: dict[str, dict[str, dict]], ours: str, anchor: str, point: str = "final") -> dict[str, list[str]]:
    """Better, equal (within the two spreads, or within ``EQUAL`` relative) or worse on each
    held-out statistic, per texture, at ``point``."""
    tally = {"better": [], "equal": [], "worse": []}
    for texture, r in results.items():
        for name, key in HELD_OUT:
            (a, sa), (b, sb) = r[ours]["points"][point]["scores"][key], r[anchor]["points"][point]["scores"][key]
            verdict = "equal" if abs(a - b) <= max(sa + sb, EQUAL * max(abs(a), abs(b))) else ("better" if a < b else "worse")
            tally[verdict].append(f"{texture} {name.split(': ')[-1]} {format_value(a)} vs {format_value(b)}")
    return tally


def comparison_line(results: dict, ours: str, anchor: str, point: str, when: str) -> str:
    tally = compare(results, ours, anchor, point)
    total = sum(len(v) for v in tally.values())
    unconverged = [f"{LABELS[m]} on {t}" for t, r in results.items() for m in (ours, anchor) if not converged(r[m], m)]
    reached = ""
    if point == "wall":  # why the time matters: how far each descent got in it
        ours_n, anchor_n = (np.mean([r[m]["points"]["wall"]["evaluations"] for r in results.values()]) for m in (ours, anchor))
        reached = (f"; in that time scatgen's {LABELS[ours]} ran {format_value(float(ours_n))} evaluations and "
                   f"{LABELS[anchor]} {format_value(float(anchor_n))} (means over the textures)")
    textures = f"{len(results)} texture" + ("s" if len(results) > 1 else "")
    return (f"- **scatgen {LABELS[ours]} against {LABELS[anchor]}, {when}** ({total} comparisons: {textures} x "
            f"{len(HELD_OUT)} held-out statistics): better on {len(tally['better'])}, equal on {len(tally['equal'])}, "
            f"worse on {len(tally['worse'])}"
            + (f" (worse: {'; '.join(tally['worse'])})" if tally["worse"] else "")
            + (f"; not converged: {', '.join(unconverged)}" if unconverged else "") + reached + ".")


def goals(results: dict, models: list[str]) -> list[str]:
    """The issue's two goals for the phase-harmonic model at convergence, met or missed by how much."""
    lines, ours = [], "phase_harmonic"
    if ours not in models:
        return lines
    first = next(iter(results.values()))
    if "pywph" in models:
        tally = compare(results, ours, "pywph")
        total, good = sum(len(v) for v in tally.values()), len(tally["better"]) + len(tally["equal"])
        need = -(-12 * total // 15)
        scaled = "" if total == 15 else f", the goal's 12 of 15 scaled to {total} comparisons"
        fewer = first[ours]["n_moments"] < first["pywph"]["n_moments"]
        verdict = "met" if good >= need and fewer else f"missed by {max(need - good, 0)}" + ("" if fewer else " (and not with fewer moments)")
        lines.append(f"- Goal, equal to or better than pywph on at least {need} of {total} with fewer moments "
                     f"({first[ours]['n_moments']} against {first['pywph']['n_moments']}{scaled}): **{verdict}** "
                     f"({good} of {total}" + (f"; worse: {'; '.join(tally['worse'])}" if tally["worse"] else "") + ").")
    if "pywph" in models:  # the check the issue asks of any texture, the five built-in ones included
        checks = []
        for t, r in results.items():
            (w, _), (w_anchor, _) = (r[m]["points"]["final"]["scores"]["marginal_w1"] for m in (ours, "pywph"))
            (tv, _), (tv_anchor, _) = (r[m]["points"]["final"]["scores"]["heldout/orientation_tv"] for m in (ours, "pywph"))
            verdict = "met" if w <= w_anchor and tv <= (1 + TV_MARGIN) * tv_anchor else "missed"
            checks.append(f"{t} **{verdict}** (pixel W1 {format_value(w)} vs {format_value(w_anchor)}, orientation TV "
                          f"{format_value(tv)} vs {format_value(tv_anchor)})")
        lines.append(f"- Pixel histogram W1 no worse than pywph's and orientation TV within {TV_MARGIN:.0%} of pywph's "
                     "or better: " + "; ".join(checks) + ".")
    if "portilla_simoncelli" in models:
        tally = compare(results, ours, "portilla_simoncelli")
        total, better = sum(len(v) for v in tally.values()), len(tally["better"])
        need = -(-10 * total // 15)
        scaled = "" if total == 15 else f" (the goal's 10 of 15 scaled to {total} comparisons)"
        verdict = "met" if better >= need else f"missed by {need - better}"
        lines.append(f"- Goal, better than Portilla-Simoncelli at convergence on at least {need} of {total}{scaled}: **{verdict}** "
                     f"({better} of {total}; equal {len(tally['equal'])}, worse {len(tally['worse'])}).")
    return lines


def findings(results: dict[str, dict[str, dict]], models: list[str], reference: str | None = REFERENCE) -> list[str]:
    """What the tables show, in sentences drawn from them."""
    lines = []
    if "gaussian" in models:
        missed = [t for t, r in results.items() if r["gaussian"]["points"]["final"]["scores"]["spectrum_error"][0]
                  > r[EXACT]["points"]["final"]["scores"]["spectrum_error"][0] + 0.05]
        lines.append("- **The Gaussian model** " + (f"does not reach the exact answer on {', '.join(missed)}"
                     if missed else "reaches the exact answer") + ": log radial spectrum error " + ", ".join(
                     f"{t} {format_value(r['gaussian']['points']['final']['scores']['spectrum_error'][0])}"
                     for t, r in results.items()) + ".")
    anchor_models = [m for m in models if m in anchors.ANCHORS]
    wall = f"at {LABELS[reference]}'s wall time" if reference in models else None
    for ours in ("scattering", "phase_harmonic"):
        if ours in models:
            for anchor in anchor_models:
                lines.append(comparison_line(results, ours, anchor, "final", "at convergence"))
                if wall and anchor != reference:
                    lines.append(comparison_line(results, ours, anchor, "wall", wall))
            if wall:
                lines.append(comparison_line(results, ours, reference, "wall", wall))
    lines += goals(results, models)
    wavelet_models = [m for m in ("scattering", "phase_harmonic") if m in models]
    if wavelet_models and anchor_models:
        histogram = [t for t, r in results.items() if min(r[a]["points"]["final"]["scores"]["marginal_w1"][0] for a in anchor_models)
                     < min(r[m]["points"]["final"]["scores"]["marginal_w1"][0] for m in wavelet_models)]
        if histogram:
            lines.append(f"- scatgen loses the pixel histogram on {len(histogram)} of {len(results)} textures "
                         f"({', '.join(histogram)}) with its marginal family ({MARGINAL_WORDS[DEFAULT_MARGINAL]}), "
                         "where Portilla-Simoncelli fits the pixel moments and range and pywph its low-pass moments.")
    for m in models:
        unconverged = [f"{t} ({format_value(own_error(r[m], m))})" for t, r in results.items() if not converged(r[m], m)]
        if unconverged:
            lines.append(f"- {LABELS[m]} has not reached its own statistics (mean relative error above {CONVERGED}) on "
                         f"{', '.join(unconverged)}: its columns there are marked not converged.")
    for m in models:
        r = [res[m] for res in results.values()]
        lines.append(f"- {LABELS[m]}: {r[0]['n_moments']:,} moments; stopped by "
                     + ", ".join(f"{t} {'/'.join(sorted(set(res[m]['stopped'])))} at {format_value(res[m]['points']['final']['evaluations'])} evaluations"
                                 f" ({format_value(res[m]['points']['final']['seconds'])} s)" for t, res in results.items()) + ".")
    return lines


def load_targets(textures: list[str], size: int, device: str) -> dict[str, torch.Tensor]:
    """Every example, loaded before any work: a missing file or a too-small crop fails at once."""
    return {t: load_texture(t, size).to(device) for t in textures}


def synthesis_report(textures: list[str], out_dir: Path, runs_dir: Path, settings: Settings,
                     models: list[str] | None = None, page: str = "synthesis.md", reference: str = REFERENCE,
                     command: str | None = None) -> Path:
    """Runs (or reuses from ``runs_dir``) every model on every texture and writes ``out_dir/page``;
    ``command`` is the line that reproduces a page other than the default one."""
    missing = anchors.available()
    models = [m for m in (models or list(LABELS)) if missing.get(m) is None]
    skipped = {m: why for m, why in missing.items() if why and m in (models or LABELS)}
    run_order = sorted(models, key=lambda m: m != reference)  # the reference first: the others get its time
    targets = load_targets(textures, settings.size, settings.device)
    figures = out_dir / Path(page).stem
    figures.mkdir(parents=True, exist_ok=True)
    results, sections = {}, []
    for texture, target in targets.items():
        shape = tuple(target.shape[-2:])
        judges = judges_for(models, shape, settings)
        with torch.no_grad():
            references = {name: judge(target) for name, judge in judges.items()}
        stem = Path(texture).stem  # a path's file name: the runs' directory and the name in every sentence
        runs = runs_dir / stem
        results[stem], at_seconds = {}, None
        for m in run_order:
            results[stem][m] = run_model(texture, m, target, settings, judges, references, runs / m,
                                            None if m == reference else at_seconds)
            if m == reference:
                at_seconds = results[stem][m]["points"]["final"]["seconds"]
        results[stem][EXACT] = run_exact(target, settings, judges, references, runs / EXACT)
        samples = figure(texture, target, runs, models, figures / f"{stem}.png")
        losses = loss_figure(texture, runs, models, figures / f"{stem}_loss.png")
        title = Path(texture).name
        sections += [f"## {title}", "", f"![{title}]({figures.name}/{samples.name})", "",
                     f"![{title}: loss curves]({figures.name}/{losses.name})", "",
                     "### At convergence", ""] + table(results[stem], models, list(judges), "final") + [""]
        if at_seconds is not None:
            sections += [f"### At equal wall time: {format_value(at_seconds)} s, {LABELS[reference]}'s time to its end",
                         ""] + table(results[stem], models, list(judges), "wall") + [""]
        sections += ["### On the way: 50, 200 and 1,000 evaluations and the end", ""] + \
            checkpoint_table(results[stem], models, settings.cap) + [""]
    stop = ("its own loss plateaus (best loss down by less than 1e-4 relative over the last 50 evaluations, plenoptic's "
            f"rule made relative) or it reaches **{settings.cap:,} loss+gradient evaluations**") if settings.plateau else \
        f"it reaches **{settings.cap:,} loss+gradient evaluations**"
    head = ["# Texture synthesis from one example: scatgen and its anchors at convergence", "",
            f"Settings: {asdict(settings)}; CPU: {cpu_kind()}. Every model starts from the same white noise (seeds "
            f"{settings.seed}..{settings.seed + settings.n_samples - 1}, the example's mean and standard deviation) and runs "
            f"with its own optimiser as its authors use it until {stop} (scatgen: torch L-BFGS, strong Wolfe, history 20; "
            "Portilla-Simoncelli: plenoptic's Metamer with its PS loss and torch L-BFGS, history 100, as plenoptic's "
            "documentation does; pywph: scipy L-BFGS-B, maxcor 20, norm='auto', as pywph's examples do). Each sample is "
            "its descent's best image. It is scored at 50, 200 and 1,000 evaluations, at its end, and at "
            f"{LABELS.get(reference, reference)}'s wall time (the equal-wall-time table): the held-out statistics no model "
            "fits (orientation histogram TV, gradient-magnitude W1) and the pixel-histogram W1, the log radial "
            "spectrum, and cross-evaluation: its relative error ||Phi_f(x) - Phi_f(x1)|| / ||Phi_f(x1)|| under every "
            "model's statistics (the mean over that model's families). A model whose own error is above "
            f"{CONVERGED} has not converged, and its column says so. Cells: mean ± sample standard deviation over "
            f"the samples, 3 significant figures; better/equal/worse: equal within the two spreads or {EQUAL:.0%}. "
            f"scatgen's models and pywph use J={settings.J} scales and {settings.L} orientations; Portilla-Simoncelli "
            "uses plenoptic's default 4 orientations and as many of its 4 scales as the size allows.", "",
            (f"Reproduce: `pip install -e '.[anchors]'` then `{command}`" if command else
             "Reproduce: `pip install -e '.[anchors]'` then `make synthesis-report`") +
            " (an interrupted run resumes model by model).", ""]
    if skipped:
        head += ["Skipped: " + "; ".join(f"{m} ({why})" for m, why in skipped.items()), ""]
    lines = head + ["## What this run shows", ""] + findings(results, models, reference) + [""] + sections
    path = out_dir / page
    path.write_text("\n".join(lines) + "\n")
    return path
