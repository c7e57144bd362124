"""The study across models: one ``report.md`` with a table of every metric per model (mean and
spread over seeds), side-by-side sample and interpolation grids and the mode histograms."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scatgen.studies import plots  # noqa: E402
from scatgen.studies.evaluation import SUMMARY_ROWS, fmt  # noqa: E402

MODEL_ORDER = ("InverseScattering", "VAE", "GAN")


def load_evaluations(eval_dirs: list[Path]) -> dict[str, list[tuple[Path, dict]]]:
    """``{model: [(eval_dir, metrics), ...]}`` in the study's model order, runs sorted by seed."""
    by_model = defaultdict(list)
    for d in eval_dirs:
        m = json.loads((d / "metrics.json").read_text())
        by_model[m["model"]].append((d, m))
    order = [m for m in MODEL_ORDER if m in by_model] + sorted(set(by_model) - set(MODEL_ORDER))
    return {m: sorted(by_model[m], key=lambda r: r[1].get("seed") or 0) for m in order}


def mean_spread(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(float(np.mean(values)))} ± {fmt(float(np.std(values, ddof=1)))}"


def metric_table(runs: dict[str, list[tuple[Path, dict]]]) -> list[str]:
    models = list(runs)
    first = next(iter(runs.values()))[0][1]
    lines = ["| metric | " + " | ".join(models) + " | real data (train vs test) |",
             "|---|" + "---|" * (len(models) + 1)]
    for name, key in SUMMARY_ROWS:
        if not any(key in m for rs in runs.values() for _, m in rs):
            continue
        cells = [mean_spread([m.get(key) for _, m in runs[model]]) for model in models]
        ref = [m.get(key.replace("sample/", "data/")) for rs in runs.values() for _, m in rs] \
            if key.startswith("sample/") else []
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean_spread(ref[:1]) if ref else '-'} |")
    if "crossfade/jump" in first:
        lines.append("| pixel cross-fade: jump / path ratio | " + " | ".join(
            f"{fmt(rs[0][1]['crossfade/jump'])} / {fmt(rs[0][1]['crossfade/path_ratio'])}" for rs in runs.values()) + " | - |")
    return lines


def image_row(paths: list[Path], titles: list[str], out: Path, width: float = 4.2) -> Path:
    """Several PNGs side by side, each under its title."""
    fig, axes = plt.subplots(1, len(paths), figsize=(width * len(paths), width * 1.05))
    for ax, path, title in zip(np.atleast_1d(axes), paths, titles):
        ax.imshow(plt.imread(path))
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_report(eval_dirs: list[Path], out_dir: Path, header: list[str] | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = load_evaluations(eval_dirs)
    first_of = {model: rs[0][0] for model, rs in runs.items()}
    seeds = {model: [m.get("seed") for _, m in rs] for model, rs in runs.items()}
    lines = ["# Study: inverse scattering vs VAE vs GAN", ""] + (header or [])
    any_run = next(iter(runs.values()))[0][1]
    epochs = {model: sorted({m.get("epochs") for _, m in rs}, key=str) for model, rs in runs.items()}
    lines += ["Runs per model (seeds): " + ", ".join(f"{k} {v}" for k, v in seeds.items()) +
              "; epochs: " + ", ".join(f"{k} {v}" for k, v in epochs.items()) +
              f"; {any_run.get('n_samples')} samples per model against {any_run.get('n_real_test')} real test images. "
              "Cells: mean ± standard deviation over seeds. The last column scores real training images "
              "against the test split the same way (the floor).", ""]
    lines += metric_table(runs) + [""]
    for name, caption in (("samples", "Samples G(z), z ~ N(0, Id)"),
                          ("interpolations", "Interpolations between test images (real images at both ends)"),
                          ("reconstructions_test", "Test reconstructions (odd rows: input; even rows: output)"),
                          ("nearest_neighbours", "Samples (left) and their 5 nearest training images (pixels)")):
        paths = [first_of[m] / f"{name}.png" for m in runs if (first_of[m] / f"{name}.png").exists()]
        if paths:
            image_row(paths, [m for m in runs if (first_of[m] / f"{name}.png").exists()], out_dir / f"{name}.png")
            lines += [f"## {caption}", "", f"![{name}]({name}.png)", ""]
    hists = {}
    for model, rs in runs.items():
        files = [d / "mode_histogram.npy" for d, _ in rs if (d / "mode_histogram.npy").exists()]
        if files:
            stacked = [np.load(f) for f in files]
            hists.setdefault("real test", stacked[0][0])
            hists[model] = np.sum([s[1] for s in stacked], axis=0)
    if hists:
        plots.mode_bars(hists, out_dir / "mode_histogram.png", "mode histogram per model (all seeds pooled)")
        lines += ["## Mode histogram", "", "![mode histogram](mode_histogram.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps({m: [r[1] for r in rs] for m, rs in runs.items()}, indent=2))
    return path
