"""``docs/synthesis.md``: every built-in texture synthesised by the three models, one table per
texture and one figure (example, phase-randomised Gaussian, and a sample of each model)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scatgen.synthesis.moments import MODELS  # noqa: E402
from scatgen.synthesis.run import run_synthesis  # noqa: E402

ROWS = [("moments", "n_moments", "{:d}"), ("final loss", "final_loss", "{:.2g}"),
        ("power spectrum: rel. error", "moments/gaussian/spectrum", "{:.3f}"),
        ("scattering order 1: rel. error", "moments/scattering/order1", "{:.3f}"),
        ("scattering order 2: rel. error", "moments/scattering/order2", "{:.3f}"),
        ("phase-harmonic modulus cov.: rel. error", "moments/phase_harmonic/modulus_cov", "{:.3f}"),
        ("phase-harmonic scale cov.: rel. error", "moments/phase_harmonic/scale_cov", "{:.3f}"),
        ("phase-harmonic spatial cov.: rel. error", "moments/phase_harmonic/spatial_cov", "{:.3f}"),
        ("log radial spectrum error (RMS)", "spectrum_error", "{:.3f}"),
        ("marginal W1", "marginal_w1", "{:.4f}"),
        ("held out: orientation histogram TV", "heldout/orientation_tv", "{:.3f}"),
        ("held out: gradient magnitude W1", "heldout/gradient_w1", "{:.4f}"),
        ("wall time per sample (s)", "seconds_per_sample", "{:.1f}")]


def figure(texture: str, run_dirs: dict[str, Path], out: Path) -> Path:
    panels = [("example", run_dirs["gaussian"] / "example.png"),
              ("phase-randomised (exact Gaussian)", run_dirs["gaussian"] / "phase_randomized.png")]
    panels += [(f"{m} ({k})", run_dirs[m] / "samples.png") for m, k in
               (("gaussian", "power spectrum"), ("scattering", "scattering"), ("phase_harmonic", "phase harmonic"))]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, path) in zip(axes, panels):
        ax.imshow(plt.imread(path), cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def synthesis_report(textures: list[str], out_dir: Path, runs_dir: Path, **settings) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Texture synthesis from one example", "",
             f"Settings: {settings}. One sample per model from white noise (seed 0); L-BFGS with a strong Wolfe "
             "line search. Every result is judged by every model's moments (relative error "
             "||Phi(x) - Phi(x1)|| / ||Phi(x1)||), by the log radial power spectrum, the pixel histogram, and two "
             "statistics that no model fits (held out). The Gaussian model's exact answer, the phase-randomised "
             "example, is in the last column.", "",
             "Reproduce: `python scripts/synthesis_report.py` (writes this page).", ""]
    for texture in textures:
        metrics, run_dirs = {}, {}
        for model in MODELS:
            run_dirs[model] = runs_dir / texture / model
            metrics[model] = run_synthesis(texture, model, run_dirs[model], **settings)
        fig = figure(texture, run_dirs, out_dir / f"synthesis_{texture}.png")
        lines += [f"## {texture}", "", f"![{texture}]({fig.name})", "",
                  "| | gaussian | scattering | phase harmonic | phase-randomised (exact Gaussian) |", "|---|---|---|---|---|"]
        for name, key, form in ROWS:
            cells = [form.format(metrics[m][key]) if key in metrics[m] else "-" for m in MODELS]
            ref = metrics["gaussian"].get(f"phase_randomized/{key}")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {form.format(ref) if ref is not None else '-'} |")
        lines.append("")
    path = out_dir / "synthesis.md"
    path.write_text("\n".join(lines) + "\n")
    return path
