"""Example sounds (mono float32 in about [-1, 1], ``(1, 1, T)``) that need no download, and WAV files.

Procedural textures, each from a fixed seed (``make_sound(name, duration, rate, seed)``):

- ``rain``: Poisson drops (~150/s), each a short burst of band-passed noise with a ~6 ms decay;
- ``applause``: Poisson claps (~60/s, in waves of density), each 10-20 ms of noise through a
  random resonance (varied spectra), under a slow change of density;
- ``wind``: low-pass noise (cut-off drifting near 400 Hz) under a slow amplitude modulation;
- ``fire``: crackling: sparse Poisson pops of varied sizes over a low rumble;
- ``harmonic_am``: a harmonic source (a 220 Hz saw-like stack of 12 partials) times a slow
  envelope ``a(t)`` (4 Hz, varying depth): the case where the partials must stay in phase;
- ``clicks``: a train of sharp clicks (~8/s, jittered): all frequencies aligned in time, the case
  where frequency connections (phase harmonics) matter most.

Any other value is a WAV path: mono or stereo (mixed down), 8/16/24/32-bit integer or float, any
sample rate (resampled to ``rate`` with a polyphase filter).  A file that cannot be read is one
line naming it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from scatgen.errors import UserError

SOUNDS = ("rain", "applause", "wind", "fire", "harmonic_am", "clicks")


def _bandpass(noise: np.ndarray, rate: int, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(noise)
    f = np.fft.rfftfreq(len(noise), 1 / rate)
    return np.fft.irfft(spectrum * ((f >= low) & (f <= high)), len(noise))


def _poisson_times(rng, rate_per_s, duration: float, n: int) -> np.ndarray:
    """Event sample indices of a Poisson process (a scalar rate, or a rate per sample)."""
    if np.isscalar(rate_per_s):
        count = rng.poisson(rate_per_s * duration)
        return np.sort(rng.integers(0, n, count))
    p = np.asarray(rate_per_s) * duration / n
    return np.flatnonzero(rng.random(n) < p)


def _add_events(signal: np.ndarray, times: np.ndarray, events: list[np.ndarray]) -> None:
    for t, e in zip(times, events):
        end = min(len(signal), t + len(e))
        signal[t:end] += e[: end - t]


def rain(n: int, rate: int, rng) -> np.ndarray:
    out = 0.05 * _bandpass(rng.standard_normal(n), rate, 300, 6000)  # the hiss of distant drops
    times = _poisson_times(rng, 150, n / rate, n)
    length = int(0.03 * rate)
    decay = np.exp(-np.arange(length) / (0.006 * rate))
    events = []
    for _ in times:
        low = rng.uniform(800, 3000)
        burst = _bandpass(rng.standard_normal(length), rate, low, min(low * 3, rate / 2 - 1))
        events.append(rng.uniform(0.2, 1.0) * burst * decay)
    _add_events(out, times, events)
    return out


def applause(n: int, rate: int, rng) -> np.ndarray:
    t = np.arange(n) / rate
    density = 60 * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi)))
    times = _poisson_times(rng, density, n / rate, n)
    out = np.zeros(n)
    events = []
    for _ in times:
        length = int(rng.uniform(0.01, 0.02) * rate)
        centre, width = rng.uniform(600, 3500), rng.uniform(300, 1500)
        clap = _bandpass(rng.standard_normal(length * 2), rate, centre - width / 2, centre + width / 2)[:length]
        events.append(rng.uniform(0.3, 1.0) * clap * np.exp(-np.arange(length) / (0.004 * rate)))
    _add_events(out, times, events)
    return out


def wind(n: int, rate: int, rng) -> np.ndarray:
    t = np.arange(n) / rate
    noise = _bandpass(rng.standard_normal(n), rate, 20, 400 + 150 * rng.uniform())
    gust = 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6)) * np.sin(2 * np.pi * 0.07 * t + 1.0)
    return noise * gust


def fire(n: int, rate: int, rng) -> np.ndarray:
    out = 0.3 * _bandpass(rng.standard_normal(n), rate, 20, 250)  # the rumble
    times = _poisson_times(rng, 25, n / rate, n)
    events = []
    for _ in times:
        length = int(rng.uniform(0.002, 0.008) * rate)
        pop = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.0015 * rate))
        events.append(rng.pareto(2.5) * 0.5 * pop)
    _add_events(out, times, events)
    return out


def harmonic_am(n: int, rate: int, rng) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = 220.0
    source = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 13) if k * f0 < rate / 2)
    depth = 0.7 + 0.3 * np.sin(2 * np.pi * 0.5 * t)
    envelope = 1 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * 4.0 * t))
    return source * envelope


def clicks(n: int, rate: int, rng) -> np.ndarray:
    out = 0.002 * rng.standard_normal(n)
    period = rate / 8
    times = (np.arange(0, n, period) + rng.uniform(-0.2, 0.2, int(np.ceil(n / period))) * period).astype(int)
    times = times[(times >= 0) & (times < n)]
    click = np.exp(-np.arange(int(0.002 * rate)) / (0.0003 * rate))
    _add_events(out, times, [rng.uniform(0.6, 1.0) * click for _ in times])
    return out


MAKERS = {"rain": rain, "applause": applause, "wind": wind, "fire": fire, "harmonic_am": harmonic_am, "clicks": clicks}


def _normalise(x: np.ndarray) -> torch.Tensor:
    x = x - x.mean()
    x = 0.5 * x / max(np.abs(x).max(), 1e-12)  # peak at -6 dBFS
    return torch.from_numpy(x.astype(np.float32))[None, None]


def make_sound(name: str, duration: float = 3.0, rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """A built-in texture, ``(1, 1, round(duration * rate))``."""
    return _normalise(MAKERS[name](int(round(duration * rate)), rate, np.random.default_rng(seed)))


MIN_RATE, MAX_RATE = 1000, 384000  # sample rates a real recording has (telephone speech to studio masters)


def read_wav(path: str | Path, rate: int, duration: float | None = None) -> torch.Tensor:
    """Any WAV file as mono float at ``rate`` (first ``duration`` seconds), ``(1, 1, T)``."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    path = Path(path)
    if not path.is_file():
        raise UserError(f"texture={str(path)!r} is neither a built-in sound ({', '.join(SOUNDS)}) nor a file")
    try:
        file_rate, data = wavfile.read(path)
    except Exception as err:  # scipy raises ValueError, EOFError, but also UnboundLocalError (no fmt chunk), ...
        reason = (str(err).splitlines() or [""])[0][:120] or type(err).__name__
        raise UserError(f"texture={str(path)!r} cannot be read as a WAV file ({type(err).__name__}: {reason}); "
                        "give a PCM (8/16/24/32-bit) or float WAV with fmt and data chunks") from None
    if data.dtype.kind in "iu":  # integer PCM: scale by the full range of its width (24-bit arrives as int32)
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float64) - (info.min + info.max + 1) / 2) / ((info.max - info.min + 1) / 2)
    else:
        data = data.astype(np.float64)
    if data.ndim == 2:  # (frames, channels): mix down
        data = data.mean(axis=1)
    if data.size == 0:
        raise UserError(f"texture={str(path)!r} holds no samples")
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise UserError(f"texture={str(path)!r} holds {bad} non-finite sample(s) (NaN or infinity) of {data.size}; "
                        "give a WAV of finite samples")
    if not np.abs(data - data.mean()).max() > 0:
        raise UserError(f"texture={str(path)!r} is silent (every sample equal): there is no texture to synthesise")
    if not MIN_RATE <= file_rate <= MAX_RATE:
        raise UserError(f"texture={str(path)!r} declares a sample rate of {file_rate} Hz, outside {MIN_RATE}-{MAX_RATE} Hz: "
                        f"its header is likely wrong (resampling it to {rate} Hz would stretch it {rate / max(file_rate, 1):.3g}x); "
                        "fix the file's rate")
    if file_rate != rate:
        ratio = Fraction(rate, file_rate).limit_denominator(1000)
        data = resample_poly(data, ratio.numerator, ratio.denominator)
    if duration is not None:
        data = data[: int(round(duration * rate))]
    return _normalise(data)


def load_sound(name_or_path: str, duration: float = 3.0, rate: int = 16000, seed: int = 0) -> torch.Tensor:
    if name_or_path in MAKERS:
        return make_sound(name_or_path, duration, rate, seed)
    return read_wav(name_or_path, rate, duration)


def write_wav(path: str | Path, x: torch.Tensor, rate: int) -> Path:
    """16-bit PCM WAV of a signal (peak-normalised to -1 dBFS if it would clip)."""
    from scipy.io import wavfile

    y = x.detach().cpu().double().flatten().numpy()
    peak = np.abs(y).max()
    if peak > 0.89:
        y = y * (0.89 / peak)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, np.round(y * 32767).astype(np.int16))
    return path
