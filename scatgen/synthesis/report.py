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


def findings(results: dict[str, dict[str, dict]], iterations: int) -> list[str]:
    """What the tables show, in sentences drawn from them ("not shown" where they do not)."""
    tv = {t: {m: r[m]["heldout/orientation_tv"] for m in MODELS} for t, r in results.items()}
    w1 = {t: {m: r[m]["heldout/gradient_w1"] for m in MODELS} for t, r in results.items()}
    counts = next(iter(results.values()))
    missed = [t for t, r in results.items()
              if r["gaussian"]["spectrum_error"] > r["gaussian"]["phase_randomized/spectrum_error"] + 0.05]
    reach = (f"does not reach the exact answer on {', '.join(missed)}" if missed else "reaches the exact answer")
    lines = [f"- **The Gaussian model** ({counts['gaussian']['n_moments']:,} free moments) {reach}: "
             "log-spectrum error " + ", ".join(f"{t} {r['gaussian']['spectrum_error']:.3f}" for t, r in results.items())
             + " (the phase-randomised example: " + ", ".join(
                 f"{r['gaussian']['phase_randomized/spectrum_error']:.3f}" for r in results.values()) + "). "
             "It keeps no geometry the spectrum does not hold: held-out orientation TV "
             + ", ".join(f"{t} {tv[t]['gaussian']:.3f}" for t in results) + "."]
    for model, than in (("scattering", "gaussian"), ("phase_harmonic", "scattering")):
        better_tv = [t for t in results if tv[t][model] < tv[t][than]]
        better_w1 = [t for t in results if w1[t][model] < w1[t][than]]
        lines.append(
            f"- **{model.replace('_', '-')} moments ({counts[model]['n_moments']:,}) against {than.replace('_', '-')}:** "
            f"orientation TV lower on {len(better_tv)} of {len(results)} textures"
            + (f" ({', '.join(f'{t} {tv[t][than]:.3f} -> {tv[t][model]:.3f}' for t in better_tv)})" if better_tv else "")
            + f"; gradient-magnitude W1 lower on {len(better_w1)} of {len(results)}"
            + ("." if better_w1 else " (not shown)."))
    lines.append(f"- Limits: one sample per model, {iterations} L-BFGS iterations per round; the final losses in the "
                 "tables say how far each descent got.")
    return lines


def synthesis_report(textures: list[str], out_dir: Path, runs_dir: Path, **settings) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    results, sections = {}, []
    head = ["# Texture synthesis from one example", "",
             f"Settings: {settings}. One sample per model from white noise (seed 0); L-BFGS with a strong Wolfe "
            "line search. Every result is judged by every model's moments (relative error "
            "||Phi(x) - Phi(x1)|| / ||Phi(x1)||), by the log radial power spectrum, the pixel histogram, and two "
            "statistics that no model fits (held out). The Gaussian model's exact answer, the phase-randomised "
            "example, is in the last column. Moments are counted free: none identically zero or repeated (the "
            "power spectrum at one frequency of each pair {k, -k}, zero left out; the same-scale phase-harmonic "
            "covariances are real, as kymatio's wavelets are real in Fourier). The scattering model runs the "
            "periodic fast backend (moments of the image on its own grid); kymatio's backend would reflection-pad "
            "to a larger grid, so its moments differ near the borders.", "",
            "Reproduce: `python scripts/synthesis_report.py --restarts 1` (writes this page).", "",
            "## What this run shows", ""]
    for texture in textures:
        metrics, run_dirs = {}, {}
        for model in MODELS:
            run_dirs[model] = runs_dir / texture / model
            metrics[model] = run_synthesis(texture, model, run_dirs[model], **settings)
        results[texture] = metrics
        fig = figure(texture, run_dirs, out_dir / f"synthesis_{texture}.png")
        sections += [f"## {texture}", "", f"![{texture}]({fig.name})", "",
                     "| | gaussian | scattering | phase harmonic | phase-randomised (exact Gaussian) |", "|---|---|---|---|---|"]
        for name, key, form in ROWS:
            cells = [form.format(metrics[m][key]) if key in metrics[m] else "-" for m in MODELS]
            ref = metrics["gaussian"].get(f"phase_randomized/{key}")
            sections.append(f"| {name} | " + " | ".join(cells) + f" | {form.format(ref) if ref is not None else '-'} |")
        sections.append("")
    path = out_dir / "synthesis.md"
    lines = head + findings(results, settings.get("iterations", 100)) + [""] + sections
    path.write_text("\n".join(lines) + "\n")
    return path
