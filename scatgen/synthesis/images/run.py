"""One synthesis run: example -> moment model -> samples, with images, loss curves and metrics."""

from __future__ import annotations

from pathlib import Path

import torch

from scatgen.scattering.shapes import size_error
from scatgen.errors import ConfigError, check_integers
from scatgen.storage.artefacts import write_json
from scatgen.viz import plots
from scatgen.synthesis.microcanonical import phase_randomized, synthesize
from scatgen.synthesis.images.moments import MODEL_OPTIONS, MODELS, moment_model
from scatgen.synthesis.images.statistics import image_statistics
from scatgen.synthesis.registry import mean_metrics, moment_errors
from scatgen.synthesis.images.textures import load_texture
from torchvision.utils import save_image


def check_synthesis_config(model: str, size, J, L=8, n_samples=1, iterations=100, restarts=1) -> None:
    """One line for a setting that cannot run, before any work."""
    if model not in MODELS:
        raise ConfigError(f"model={model!r} is unknown; use one of {', '.join(MODELS)}")
    check_integers(("size", size, 16), ("J", J, 1), ("L", L, 1), ("n_samples", n_samples, 1),
                   ("iterations", iterations, 0), ("restarts", restarts, 1))
    problem = size_error(J, (size, size), periodic=True)
    if problem:
        raise ConfigError(f"size={size} does not fit J={J}: {problem}")


def evaluate(sample: torch.Tensor, target: torch.Tensor, judges: dict) -> dict[str, float]:
    """``sample`` and ``target`` ``(1, 1, H, W)``."""
    return {**image_statistics(sample, target), **moment_errors(judges, sample, target)}


def model_options(model: str, marginal: str | None = None, scale_links: str | None = None) -> dict[str, str]:
    """The options ``model`` takes, those given (``None``: the model's default); one line for an
    option the model does not take."""
    given = {k: v for k, v in (("marginal", marginal), ("scale_links", scale_links)) if v is not None}
    for key, value in given.items():
        if key not in MODEL_OPTIONS[model]:
            raise ConfigError(f"{key}={value} does not apply to model={model}; "
                              f"it takes {', '.join(MODEL_OPTIONS[model]) or 'no options'} (leave {key} unset)")
    return given


def run_synthesis(texture: str, model: str, out_dir: str | Path, size: int = 128, J: int = 4, L: int = 8,
                  backend: str = "fast", n_samples: int = 2, iterations: int = 100, restarts: int = 2, seed: int = 0,
                  device: str = "cpu", marginal: str | None = None, scale_links: str | None = None) -> dict:
    check_synthesis_config(model, size, J, L, n_samples, iterations, restarts)
    options = model_options(model, marginal, scale_links)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = load_texture(texture, size).to(device)
    try:
        moments = moment_model(model, (size, size), J, L, backend, **options).to(device)
    except ValueError as err:  # an unknown marginal or scale_links value
        raise ConfigError(str(err)) from None
    result = synthesize(moments, target, n_samples, iterations, restarts, seed)
    # every result is judged by every model's moments (the cross errors show what each one misses)
    judges = {name: moment_model(name, (size, size), J, L).to(device) for name in MODELS}
    per_sample = [evaluate(x[None], target, judges) for x in result.images]
    metrics = {"texture": texture, "model": model, "size": size, "J": J, "L": L, "backend": backend,
               **{k: getattr(moments, k) for k in MODEL_OPTIONS[model]}, "n_moments": moments.count, "n_samples": n_samples, "iterations": iterations, "restarts": restarts,
               "seconds": result.seconds, "seconds_per_sample": result.seconds / n_samples,
               "lbfgs_iterations": result.iterations, "evaluations": sum(len(c) for c in result.losses),
               "initial_loss": sum(c[0] for c in result.losses if c) / n_samples,
               "final_loss": sum(c[-1] for c in result.losses) / n_samples, **mean_metrics(per_sample)}
    if model == "gaussian":  # the exact answer for the same moments
        reference = phase_randomized(target, n_samples, seed)
        ref_rows = [evaluate(x[None], target, judges) for x in reference]
        metrics.update({f"phase_randomized/{k}": v for k, v in mean_metrics(ref_rows).items()})
        save_image(reference.clamp(0, 1), out_dir / "phase_randomized.png", nrow=n_samples, padding=2, pad_value=1)
    save_image(target.clamp(0, 1), out_dir / "example.png")
    save_image(result.images.clamp(0, 1), out_dir / "samples.png", nrow=n_samples, padding=2, pad_value=1)
    torch.save(result.images.cpu(), out_dir / "samples.pt")
    plots.curves({f"sample {i}": c for i, c in enumerate(result.losses)}, out_dir / "loss.png",
                 "loss evaluation (L-BFGS with line search)", "moment loss", f"{model} moments, {Path(texture).name} {size}px", log_y=True)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
