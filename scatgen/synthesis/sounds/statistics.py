"""How typical a synthesised sound is, judged by statistics of the sound (``(1, 1, T)``) that no
moment model fits (held out), after McDermott & Simoncelli (2011):

- a cochlear-like filter bank: ``n_bands`` band-pass filters with raised-cosine responses on the
  ERB scale between 50 Hz and 0.45 x the sample rate (applied in Fourier); each band's envelope is
  the magnitude of its analytic signal, compressed by ``^0.3``;
- per band: envelope mean, variance (over mean^2), skewness and kurtosis;
- cross-band envelope correlations (every pair of bands);
- the modulation spectrum: each band envelope's power in octave bands from 0.5 to 64 Hz (over the
  envelope's variance);
- the onset rate (per second): rises of the broadband envelope (smoothed over 5 ms, in dB) by more
  than 9 dB within 10 ms, 30 ms apart at least.

- phase coupling across frequencies: the mean bicoherence
  ``|E_t X_t(f1) X_t(f2) conj X_t(f1 + f2)| / sqrt(E_t |X_t(f1) X_t(f2)|^2 E_t |X_t(f1 + f2)|^2)``
  of the short-time spectrum ``X_t`` (Hann, 1024 samples, hop 256) over the pairs ``f1 < f2`` of the
  example's 16 strongest bins (local maxima).  No model fits it: the phase-harmonic connections
  couple two bands ``[W_l]^q`` and ``[W_l']^p``, bicoherence three frequencies ``f1, f2, f1 + f2``
  (the diagonal ``f1 = f2``, what a 2:1 connection sees, is left out).  Near 1 for a harmonic sound
  (its partials' phases add up at every frame) or aligned clicks, near 0 for Gaussian noise.

``heldout_errors`` compares a sample with the example: the relative L2 difference of each
statistic family, and the onset rates' relative difference.  ``log_spectrum_error``: RMS
difference of log power spectra averaged in 1/6-octave bands.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ERB = lambda f: 21.4 * np.log10(1 + 0.00437 * f)  # noqa: E731 (ERB number of a frequency)
ERB_INV = lambda e: (10 ** (e / 21.4) - 1) / 0.00437  # noqa: E731


def cochlear_filters(n: int, rate: int, n_bands: int = 30) -> np.ndarray:
    """``(n_bands, n // 2 + 1)`` raised-cosine responses on the ERB scale (rfft grid)."""
    f = np.fft.rfftfreq(n, 1 / rate)
    edges = np.linspace(ERB(50.0), ERB(0.45 * rate), n_bands + 2)
    e = ERB(f)
    bank = np.zeros((n_bands, len(f)))
    for i in range(n_bands):
        lo, hi = edges[i], edges[i + 2]
        inside = (e > lo) & (e < hi)
        bank[i, inside] = np.cos((e[inside] - (lo + hi) / 2) / (hi - lo) * np.pi)
    return bank


def envelopes(x: np.ndarray, rate: int, n_bands: int = 30) -> np.ndarray:
    """Compressed subband envelopes ``(n_bands, T)`` of a signal ``(T,)``."""
    n = len(x)
    spectrum = np.fft.rfft(x)
    bank = cochlear_filters(n, rate, n_bands)
    full = np.zeros((n_bands, n), dtype=complex)  # analytic signals: positive frequencies, doubled
    full[:, : n // 2 + 1] = bank * spectrum
    full[:, 1: (n + 1) // 2] *= 2
    return np.abs(np.fft.ifft(full, axis=1)) ** 0.3


def moments_of(env: np.ndarray) -> dict[str, np.ndarray]:
    mean = env.mean(1)
    c = env - mean[:, None]
    var = (c ** 2).mean(1)
    std = np.sqrt(var) + 1e-12
    return {"envelope_mean": mean, "envelope_variance": var / (mean ** 2 + 1e-12),
            "envelope_skew": (c ** 3).mean(1) / std ** 3, "envelope_kurtosis": (c ** 4).mean(1) / std ** 4}


def cross_band_correlation(env: np.ndarray) -> np.ndarray:
    c = env - env.mean(1, keepdims=True)
    c /= np.sqrt((c ** 2).sum(1, keepdims=True)) + 1e-12
    corr = c @ c.T
    return corr[np.triu_indices(len(corr), 1)]


def modulation_spectrum(env: np.ndarray, rate: int, low: float = 0.5, octaves: int = 8) -> np.ndarray:
    """``(n_bands, octaves)``: envelope power in octave bands ``[low 2^k, low 2^(k+1))`` Hz over its variance."""
    c = env - env.mean(1, keepdims=True)
    power = np.abs(np.fft.rfft(c, axis=1)) ** 2
    f = np.fft.rfftfreq(env.shape[1], 1 / rate)
    total = power[:, 1:].sum(1, keepdims=True) + 1e-30
    bands = [power[:, (f >= low * 2 ** k) & (f < low * 2 ** (k + 1))].sum(1) for k in range(octaves)]
    return np.stack(bands, 1) / total


def onset_rate(x: np.ndarray, rate: int, rise_db: float = 9.0) -> float:
    """Onsets per second: times where the broadband envelope (``|x|`` smoothed over 5 ms, in dB
    above a floor at -60 dB of its peak) rises by more than ``rise_db`` within 10 ms, 30 ms apart
    at least."""
    width = max(1, int(0.005 * rate))
    env = np.convolve(np.abs(x), np.ones(width) / width, mode="same")
    db = 20 * np.log10(env + 1e-3 * env.max() + 1e-30)
    lag = max(1, int(0.01 * rate))
    rise = db[lag:] - db[:-lag]
    gap, count, last = int(0.03 * rate), 0, -10**9
    for t in np.flatnonzero(rise > rise_db):
        if t - last >= gap:
            count += 1
        last = t if t - last >= gap else last
    return count / (len(x) / rate)


def short_time_spectrum(y: np.ndarray, window: int = 1024, hop: int = 256) -> np.ndarray:
    """``(frames, window // 2 + 1)`` complex STFT of ``y`` (Hann window)."""
    spec = torch.stft(torch.from_numpy(y), window, hop, window=torch.hann_window(window, dtype=torch.float64),
                      center=False, return_complex=True)
    return spec.T.numpy()


def bicoherence_pairs(y: np.ndarray, strongest: int = 16, window: int = 1024) -> np.ndarray:
    """``(n_pairs, 2)`` bins ``f1 < f2`` among the strongest local maxima of ``y``'s mean
    short-time power, with ``f1 + f2`` below Nyquist."""
    from scipy.signal import find_peaks

    power = (np.abs(short_time_spectrum(y, window)) ** 2).mean(0)
    peaks, _ = find_peaks(power)
    top = np.sort(peaks[np.argsort(power[peaks])[::-1][:strongest]])
    pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1:] if a + b < len(power)]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def bicoherence(y: np.ndarray, pairs: np.ndarray, window: int = 1024) -> float:
    """Mean bicoherence of ``y`` over ``pairs`` of bins (0 where there are none)."""
    if len(pairs) == 0:
        return 0.0
    x = short_time_spectrum(y, window)
    a, b = x[:, pairs[:, 0]], x[:, pairs[:, 1]]
    c = x[:, pairs[:, 0] + pairs[:, 1]]
    triple = np.abs((a * b * np.conj(c)).mean(0))
    norm = np.sqrt((np.abs(a * b) ** 2).mean(0) * (np.abs(c) ** 2).mean(0)) + 1e-300
    return float((triple / norm).mean())


def statistics(x: torch.Tensor, rate: int, n_bands: int = 30) -> dict:
    y = x.detach().cpu().double().flatten().numpy()
    env = envelopes(y, rate, n_bands)
    return {**moments_of(env), "cross_band_correlation": cross_band_correlation(env),
            "modulation_spectrum": modulation_spectrum(env, rate).flatten(), "onset_rate": onset_rate(y, rate)}


def heldout_errors(sample: torch.Tensor, example: torch.Tensor, rate: int) -> dict[str, float]:
    s, e = statistics(sample, rate), statistics(example, rate)
    out = {}
    for key in ("envelope_mean", "envelope_variance", "envelope_skew", "envelope_kurtosis", "cross_band_correlation",
                "modulation_spectrum"):
        out[f"heldout/{key}"] = float(np.linalg.norm(s[key] - e[key]) / (np.linalg.norm(e[key]) + 1e-12))
    out["heldout/onset_rate"] = abs(s["onset_rate"] - e["onset_rate"]) / max(e["onset_rate"], 1.0)
    out["onset_rate_sample"], out["onset_rate_example"] = s["onset_rate"], e["onset_rate"]
    y, y1 = (v.detach().cpu().double().flatten().numpy() for v in (sample, example))
    pairs = bicoherence_pairs(y1)
    out["bicoherence_sample"], out["bicoherence_example"] = bicoherence(y, pairs), bicoherence(y1, pairs)
    out["heldout/bicoherence"] = abs(out["bicoherence_sample"] - out["bicoherence_example"]) / max(
        out["bicoherence_example"], 1e-12)
    return out


def log_spectrum_error(sample: torch.Tensor, example: torch.Tensor, rate: int, per_octave: int = 6,
                       floor: float = 1e-12) -> float:
    """RMS difference (natural log) of the power spectra averaged in 1/6-octave bands from 30 Hz,
    each band floored at ``floor`` times the example's loudest band: 120 dB below the peak is
    float32's rounding noise (about 1e-14 of the peak power), where no float32 sound, the exact
    phase-randomised answer included, can match a band (harmonic_am: 1.2 there without the floor)."""
    def banded(x):
        y = x.detach().cpu().double().flatten().numpy()
        p = np.abs(np.fft.rfft(y - y.mean())) ** 2
        f = np.fft.rfftfreq(len(y), 1 / rate)
        edges = 30.0 * 2 ** (np.arange(0, per_octave * math.log2(rate / 2 / 30) + 1) / per_octave)
        return np.array([p[(f >= a) & (f < b)].mean() if ((f >= a) & (f < b)).any() else 0.0
                         for a, b in zip(edges[:-1], edges[1:])])
    reference = banded(example)
    level = floor * reference.max() + 1e-300
    return float(np.sqrt(np.mean((np.log(banded(sample) + level) - np.log(reference + level)) ** 2)))
