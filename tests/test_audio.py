"""Audio textures: the 1-D moments against kymatio, their counts, invariances and known answers,
the procedural sounds and WAV files, and the synthesis script end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from conftest import ROOT
from scatgen.synthesis.microcanonical import phase_randomized, synthesize
from scatgen.synthesis.sounds.moments import MODELS_1D, Scattering1DMoments, moment_model_1d
from scatgen.synthesis.sounds.textures import SOUNDS, make_sound, read_wav

RATE, SECONDS, J, Q = 8000, 0.5, 6, 4
N = int(RATE * SECONDS)


@pytest.fixture(scope="module")
def clicks():
    return make_sound("clicks", SECONDS, RATE).double()


@pytest.mark.parametrize("order_size", [(1, 4096), (2, 4096), (2, 3000)])
def test_full_rate_scattering_matches_kymatio_on_its_padded_signal(order_size):
    """Our periodic full-rate |x * psi1| and ||x * psi1| * psi2| equal kymatio's Scattering1D
    (T=0, no subsampling) on kymatio's own reflection-padded signal, within 1e-6 of a float64
    reference, in float32.  Planted bug it catches: a filter bank on another grid, the wrong
    order-2 rule (j2 >= j1), or a missing modulus: errors of 1e-2 and more."""
    from kymatio.torch import Scattering1D

    order, size = order_size
    torch.manual_seed(0)
    x = torch.randn(1, size)
    ref = Scattering1D(J, size, Q=Q, T=0, oversampling=J, out_type="list", max_order=order).double()
    padded_len, left = ref._N_padded, ref.pad_left
    coefs = ref(x.double())  # float64 reference
    ours = Scattering1DMoments(padded_len, J, Q).double()
    padded = ref.backend.pad(x.double(), ref.pad_left, ref.pad_right)
    padded = padded.reshape(1, 1, -1)
    u1, u2 = ours.modulus(padded)
    for c in coefs:
        if len(c["n"]) == 1:
            mine = u1[0, c["n"][0], left:left + size]
        elif len(c["n"]) == 2:
            pair = [i for i, (a, b) in enumerate(zip(ours.pair1.tolist(), ours.pair2.tolist())) if (a, b) == c["n"]]
            assert len(pair) == 1, c["n"]
            mine = u2[0, pair[0], left:left + size]
        else:
            continue
        rel = float((mine - c["coef"][0]).norm() / c["coef"][0].norm())
        assert rel < 1e-9, (c["n"], rel)
    if order == 2:
        assert len(ours.pair1) == sum(1 for c in coefs if len(c["n"]) == 2)
    # and in float32, within 1e-6 of that float64 reference
    u1_32, _ = Scattering1DMoments(padded_len, J, Q).modulus(padded.float())
    assert float((u1_32.double() - u1).norm() / u1.norm()) < 1e-6


def test_moment_counts_match_independent_enumerations():
    from kymatio.scattering1d.filter_bank import scattering_filter_factory

    _, psi1, psi2 = scattering_filter_factory(N, J, (Q, 1), 2**J, max_subsampling=0)
    pairs = sum(1 for a in psi1 for b in psi2 if b["j"] > a["j"])
    xi = [p["xi"] for p in psi1]
    links = sum(1 for l, f in enumerate(xi) for k, g in enumerate(xi)
                if k != l and abs(g - f / 2) == min(abs(h - f / 2) for h in xi) and abs(g - f / 2) <= 0.2 * f / 2)
    expected = {"gaussian": 1 + N // 2, "scattering": 1 + len(psi1) + pairs,
                "phase_harmonic": (1 + len(psi1)) + (2 * len(psi1) - 1) + 2 * links}
    x = torch.randn(1, 1, N)
    for name in MODELS_1D:
        model = moment_model_1d(name, N, J, Q)
        assert model.count == expected[name] == sum(v.shape[1] for v in model(x).values()), name
        phi = torch.cat(list(model(x).values()), dim=1)
        assert (phi.abs() > 1e-12).all(), name  # none identically zero


@pytest.mark.parametrize("name", MODELS_1D)
def test_moments_are_invariant_to_circular_time_shifts(clicks, name):
    model = moment_model_1d(name, N, J, Q).double()
    phi, shifted = model(clicks), model(clicks.roll(777, dims=-1))
    for family in phi:
        assert torch.allclose(phi[family], shifted[family], rtol=1e-9, atol=1e-12), family


def test_phase_randomised_sound_has_exactly_the_power_spectrum(clicks):
    spectrum = moment_model_1d("gaussian", N)
    target = spectrum(clicks)["spectrum"]
    for sample in phase_randomized(clicks, n_samples=2, seed=1):
        assert float((spectrum(sample[None])["spectrum"] - target).norm() / target.norm()) < 1e-10
        assert not torch.allclose(sample, clicks[0], atol=1e-3)


@pytest.mark.parametrize("name", ["gaussian", "scattering"])
def test_descent_divides_every_family_error_by_ten(name):
    """Every moment family, not just the total loss, moves 10x closer to the example.  Planted bug
    it catches (it shipped once): the sound's near-zero mean (~1e-11) scaled by itself, so the
    mean's error weighed 1e14 times the rest; L-BFGS fixed the mean, stalled after 5 evaluations,
    and the loss still fell 10x while the spectrum and the scattering moments never moved."""
    x = make_sound("rain", SECONDS, RATE)
    moments = moment_model_1d(name, N, J, Q)
    start = synthesize(moments, x, iterations=0, restarts=1).images
    # 60 iterations: measured 78x (order 1), 91x (order 2), 5,000x (spectrum) on AMD EPYC, so the
    # 10x bound holds on any CPU's rounding; at 30 iterations order 2 reached only 10.9x
    result = synthesize(moments, x, iterations=60, restarts=1).images
    target, before, after = moments(x), moments(start), moments(result)
    for family in target:
        if family == "mean":
            continue
        err = lambda phi: float((phi[family] - target[family]).norm() / target[family].norm())  # noqa: E731
        assert err(after) < err(before) / 10, (family, err(before), err(after))


def test_frequency_connections_see_clicks_not_noise(clicks):
    """On a click train every band's phase turns together: the phase-doubled connections are
    clearly non-zero; on Gaussian noise with the same spectrum they are near zero.  Planted bug
    it catches: connecting a band with the coarser band without doubling its phase (~0 on both)."""
    model = moment_model_1d("phase_harmonic", N, J, Q).double()
    noise = phase_randomized(clicks, 1, seed=0)  # Gaussian, with the clicks' power spectrum
    on_clicks = float(model.connection_correlations(clicks).mean())
    on_noise = float(model.connection_correlations(noise).mean())
    # measured: 0.86 on clicks, 0.12 on 0.5 s of noise (0.03 on 3 s: finite-sample fluctuation)
    assert on_clicks > 0.5 and on_noise < 0.2 and on_clicks > 5 * on_noise, (on_clicks, on_noise)


@pytest.mark.parametrize("name", SOUNDS)
def test_gaussian_descent_reaches_the_exact_spectrum_on_every_sound(name):
    """Issue 21's bar: the Gaussian descent's log-spectrum error at most 0.05 on every built-in
    sound at the report's settings (3 s at 16 kHz, 100 iterations).  Measured < 0.001 on each (AMD
    EPYC).  Planted bug it catches: the spectrum compared relatively (no ``amplitude_families``),
    as before: wind 2.47, harmonic_am 13.1."""
    from scatgen.synthesis.sounds.statistics import log_spectrum_error

    x = make_sound(name, 3.0, 16000)
    result = synthesize(moment_model_1d("gaussian", x.shape[-1]), x, iterations=100, restarts=1)
    assert log_spectrum_error(result.images, x, 16000) <= 0.05


def test_log_spectrum_error_of_the_exact_answer_is_zero_below_float32_noise():
    """The phase-randomised example (float32) has the example's spectrum down to rounding.
    Planted bug it catches: bands 14 decades below the peak compared without the -120 dB floor
    (harmonic_am: 0.26 for the exact answer itself)."""
    from scatgen.synthesis.sounds.statistics import log_spectrum_error

    x = make_sound("harmonic_am", 3.0, 16000)
    assert log_spectrum_error(phase_randomized(x, 1, seed=0), x, 16000) < 0.01


def test_bicoherence_sees_aligned_clicks_not_noise():
    """Held out: bicoherence near 1 on a click train (every frame's phases add up), low on
    Gaussian noise with its spectrum.  Measured (3 s, 16 kHz): 0.95 and 0.08.  Planted bug it
    catches: the triple product without the conjugate (near 0 on both)."""
    from scatgen.synthesis.sounds.statistics import bicoherence, bicoherence_pairs

    x = make_sound("clicks", 3.0, 16000).double().flatten().numpy()
    noise = phase_randomized(torch.from_numpy(x)[None, None], 1, seed=0).flatten().numpy()
    pairs = bicoherence_pairs(x)
    assert len(pairs) >= 50 and (pairs[:, 0] < pairs[:, 1]).all()
    assert bicoherence(x, pairs) > 0.7 and bicoherence(noise, pairs) < 0.2


def test_harmonic_connections_link_the_stated_ratios_once():
    """``ratios`` p:q link band l to the band nearest xi_l q / p, each pair once, moments counted by
    the formula and none zero; ``[z]^k`` keeps |z| and multiplies the phase.  Planted bugs it
    catches: the ratio inverted (p / q: a band above, found for none), a pair linked twice
    (4:3 and 5:4 meet at Q=8), a phase harmonic that raises the modulus to the power k."""
    from scatgen.synthesis.sounds.moments import PhaseHarmonic1DMoments, phase_harmonic

    z = torch.polar(torch.tensor([2.0, 0.5], dtype=torch.float64), torch.tensor([0.3, -1.1], dtype=torch.float64))
    w = phase_harmonic(z, 3)
    assert torch.allclose(w.abs(), z.abs()) and torch.allclose(w / w.abs(), torch.exp(3j * torch.angle(z)))
    n = 16000
    model = PhaseHarmonic1DMoments(n, 10, 8, ratios=((2, 1), (3, 2), (4, 3), (5, 4)))
    pairs = [(a, b) for a, b, *_ in model.links]
    assert len(pairs) == len(set(pairs)) and {link[2:] for link in model.links} >= {(2, 1), (3, 2), (4, 3)}
    for fine, coarse, p, q in model.links:
        assert abs(model.xi1[coarse] / model.xi1[fine] - q / p) <= 0.2 * q / p
    x = make_sound("harmonic_am", 1.0, n)
    phi = model(x)
    assert model.count == sum(v.shape[1] for v in phi.values())
    assert (torch.cat(list(phi.values()), 1).abs() > 0).all()


@pytest.mark.parametrize("name", SOUNDS)
def test_builtin_sounds_are_made_without_download(name):
    x = make_sound(name, SECONDS, RATE)
    assert x.shape == (1, 1, N) and float(x.abs().max()) == pytest.approx(0.5, abs=1e-4) and float(x.std()) > 1e-3
    assert torch.equal(x, make_sound(name, SECONDS, RATE))  # seeded


@pytest.mark.parametrize("kind", ["int16_mono", "int32_stereo", "float32_stereo", "uint8_mono", "int24"])
def test_wav_files_of_every_width_are_read_and_resampled(tmp_path, kind):
    t = np.arange(22050) / 22050
    tone = 0.4 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / f"{kind}.wav"
    if kind == "int16_mono":
        wavfile.write(path, 22050, (tone * 32767).astype(np.int16))
    elif kind == "int32_stereo":
        wavfile.write(path, 22050, (np.stack([tone, tone], 1) * 2**31).astype(np.int32))
    elif kind == "float32_stereo":
        wavfile.write(path, 22050, np.stack([tone, -tone * 0], 1).astype(np.float32))
    elif kind == "uint8_mono":
        wavfile.write(path, 22050, (tone * 127 + 128).astype(np.uint8))
    else:  # 24-bit PCM, written by hand (scipy reads it as int32)
        pcm = (tone * (2**23 - 1)).astype(np.int32)
        data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in pcm)
        header = (b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") +
                  (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (22050).to_bytes(4, "little") +
                  (22050 * 3).to_bytes(4, "little") + (3).to_bytes(2, "little") + (24).to_bytes(2, "little") +
                  b"data" + len(data).to_bytes(4, "little"))
        path.write_bytes(header + data)
    x = read_wav(path, RATE, duration=0.5)
    assert x.shape == (1, 1, RATE // 2)
    spectrum = np.abs(np.fft.rfft(x.flatten().numpy()))
    assert abs(np.argmax(spectrum) * RATE / (RATE // 2) - 440) < 3  # the tone survives resampling


@pytest.mark.slow  # 10-20 s on an AVX2-only CPU (keeps make test under 10 min there)
def test_a_bad_wav_is_one_line(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEnope")
    r = subprocess.run([sys.executable, str(ROOT / "scripts/synthesize_audio.py"), f"texture={bad}",
                        f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: texture='{bad}' cannot be read as a WAV file")


def test_synthesize_audio_script_end_to_end(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(ROOT / "scripts/synthesize_audio.py"), "texture=clicks", "model=scattering",
                        "duration=0.5", f"sample_rate={RATE}", f"J={J}", f"Q={Q}", "iterations=10", "n_samples=1",
                        f"paths.root_dir={tmp_path}", f"hydra.run.dir={out}"],
                       capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("moments/gaussian/spectrum", "moments/scattering/order2", "moments/phase_harmonic/connections",
                "log_spectrum_error", "heldout/envelope_kurtosis", "heldout/cross_band_correlation",
                "heldout/modulation_spectrum", "heldout/onset_rate"):
        assert key in m and np.isfinite(m[key]), key
    assert m["final_loss"] < m["initial_loss"]
    rate, data = wavfile.read(out / "sample_0.wav")
    assert rate == RATE and data.dtype == np.int16 and len(data) == RATE // 2
    assert (out / "example.wav").exists() and (out / "spectrograms.png").stat().st_size > 1000
