"""One audio synthesis run: example sound -> moment model -> samples, with 16-bit WAV files, a
figure of log spectrograms side by side, the loss curves and ``metrics.json``."""

from __future__ import annotations

from pathlib import Path

import torch

from scatgen.errors import ConfigError, check_integers
from scatgen.storage.artefacts import write_json
from scatgen.synthesis.sounds.statistics import heldout_errors, log_spectrum_error
from scatgen.synthesis.microcanonical import phase_randomized, synthesize
from scatgen.synthesis.sounds.moments import MODELS_1D, moment_model_1d
from scatgen.synthesis.sounds.textures import load_sound, write_wav
from scatgen.synthesis.registry import mean_metrics, moment_errors
from scatgen.viz import plots


MAX_DURATION = 600.0  # seconds: ten minutes of sound at 16 kHz is already 9.6 M samples per evaluation


def check_audio_config(model: str, duration, sample_rate, J, Q, n_samples, iterations, restarts) -> None:
    if model not in MODELS_1D:
        raise ConfigError(f"model={model!r} is unknown; use one of {', '.join(MODELS_1D)}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise ConfigError(f"duration={duration!r} must be a positive number of seconds")
    if duration > MAX_DURATION:
        raise ConfigError(f"duration={duration:g} s is longer than a synthesis here takes (at most {MAX_DURATION:g} s: "
                          "each moment evaluation runs over the whole signal); give e.g. duration=3")
    check_integers(("sample_rate", sample_rate, 1000), ("J", J, 1), ("Q", Q, 1), ("n_samples", n_samples, 1),
                   ("iterations", iterations, 0), ("restarts", restarts, 1))
    if 2**J > duration * sample_rate / 4:
        raise ConfigError(f"J={J} is too large for {duration} s at {sample_rate} Hz: the widest wavelet (2^J={2**J} "
                          f"samples) must fit 4 times in the sound; use J<={int(duration * sample_rate / 4).bit_length() - 1}")


def check_sound_length(texture: str, n: int, sample_rate: int, J: int) -> None:
    """The example itself (a WAV may be shorter than ``duration``) must hold the widest wavelet
    4 times, as ``check_audio_config`` asks of ``duration``."""
    if 2**J > n / 4:
        raise ConfigError(f"texture={texture!r} is {1000 * n / sample_rate:.0f} ms long ({n} samples at {sample_rate} Hz): "
                          f"J={J} needs at least {4 * 2**J} samples ({4 * 2**J / sample_rate:.2f} s); give a longer "
                          f"sound or J<={max(int(n / 4).bit_length() - 1, 0)}")


def evaluate(sample: torch.Tensor, example: torch.Tensor, judges: dict, rate: int) -> dict[str, float]:
    """``sample`` and ``example`` ``(1, 1, T)``: every model's moment errors, the spectrum, held-out statistics."""
    return {**moment_errors(judges, sample, example), "log_spectrum_error": log_spectrum_error(sample, example, rate),
            **heldout_errors(sample, example, rate)}


def run_audio_synthesis(texture: str, model: str, out_dir: str | Path, duration: float = 3.0, sample_rate: int = 16000,
                        J: int = 10, Q: int = 8, n_samples: int = 1, iterations: int = 100, restarts: int = 1,
                        seed: int = 0, device: str = "cpu") -> dict:
    check_audio_config(model, duration, sample_rate, J, Q, n_samples, iterations, restarts)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    example = load_sound(texture, duration, sample_rate, seed).to(device)
    n = example.shape[-1]
    check_sound_length(texture, n, sample_rate, J)
    moments = moment_model_1d(model, n, J, Q).to(device)
    result = synthesize(moments, example, n_samples, iterations, restarts, seed)
    judges = {name: moment_model_1d(name, n, J, Q).to(device) for name in MODELS_1D}
    rows = [evaluate(x[None], example, judges, sample_rate) for x in result.images]
    # the duration used: a WAV shorter than `duration` gives what it holds
    metrics = {"texture": texture, "model": model, "duration": n / sample_rate, "duration_requested": duration,
               "sample_rate": sample_rate, "J": J, "Q": Q,
               "n_moments": moments.count, "n_samples": n_samples, "iterations": iterations, "restarts": restarts,
               "seconds": result.seconds, "seconds_per_sample": result.seconds / n_samples,
               "evaluations": sum(len(c) for c in result.losses),
               "initial_loss": sum(c[0] for c in result.losses if c) / n_samples,
               "final_loss": sum(c[-1] for c in result.losses) / n_samples, **mean_metrics(rows)}
    metrics["connection_correlation_example"] = float(judges["phase_harmonic"].connection_correlations(example).mean())
    metrics["connection_correlation_sample"] = sum(
        float(judges["phase_harmonic"].connection_correlations(x[None]).mean()) for x in result.images) / n_samples
    signals = {"example": example}
    if model == "gaussian":  # the exact answer for the same moments
        reference = phase_randomized(example, n_samples, seed)
        ref_rows = [evaluate(x[None], example, judges, sample_rate) for x in reference]
        metrics.update({f"phase_randomized/{k}": v for k, v in mean_metrics(ref_rows).items()})
        write_wav(out_dir / "phase_randomized.wav", reference[0], sample_rate)
    write_wav(out_dir / "example.wav", example, sample_rate)
    for i, x in enumerate(result.images):
        write_wav(out_dir / f"sample_{i}.wav", x, sample_rate)
        signals[f"{model} sample {i}"] = x
    plots.spectrograms(signals, sample_rate, out_dir / "spectrograms.png", f"{Path(texture).name}: example and {model} synthesis")
    plots.curves({f"sample {i}": c for i, c in enumerate(result.losses)}, out_dir / "loss.png",
                 "loss evaluation (L-BFGS with line search)", "moment loss", f"{model} moments, {Path(texture).name}", log_y=True)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
