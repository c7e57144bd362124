"""Texture synthesis: moments, the exact Gaussian reference, descent, stationarity, counts."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from scatgen.scattering.fast import FastScattering2D
from scatgen.synthesis.microcanonical import MomentLoss, phase_randomized, synthesize
from scatgen.synthesis.images.moments import DEFAULT_MARGINAL, MARGINALS, MODELS, marginal_moments, moment_model
from scatgen.synthesis.images.statistics import image_statistics, radial_log_spectrum
from scatgen.synthesis.images.textures import BUILTIN, load_texture

SIZE, J, L = 32, 3, 4


@pytest.fixture(scope="module")
def example():
    return load_texture("brick", SIZE)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_textures_load_without_download(name):
    x = load_texture(name, 64)
    assert x.shape == (1, 1, 64, 64) and 0 <= float(x.min()) < float(x.max()) <= 1 and float(x.std()) > 0.02


@pytest.mark.slow  # 10-20 s on an AVX2-only CPU (keeps make test under 10 min there)
def test_a_missing_texture_is_one_clear_error(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts/synthesize.py"), f"texture={tmp_path}/nope.png",
                        f"paths.root_dir={tmp_path}"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: texture=") and "image file" in r.stderr


def test_phase_randomised_sample_has_the_example_power_spectrum(example):
    x = phase_randomized(example.double(), n_samples=2, seed=1)
    spectrum = moment_model("gaussian", (SIZE, SIZE))
    target = spectrum(example.double())["spectrum"]
    for sample in x:
        rel = (spectrum(sample[None])["spectrum"] - target).norm() / target.norm()
        assert rel < 1e-10  # exact up to rounding (float64)
    assert not torch.allclose(x[0], example.double()[0], atol=1e-2)  # a new image, not the example
    assert abs(float(x.mean()) - float(example.double().mean())) < 1e-9


def test_gradient_descent_on_power_spectrum_agrees_with_phase_randomisation():
    example = load_texture("brick", 64)
    start = synthesize(moment_model("gaussian", (64, 64)), example, iterations=0, restarts=1).images
    descended = synthesize(moment_model("gaussian", (64, 64)), example, iterations=60, restarts=1).images
    exact = phase_randomized(example, 1, seed=3)
    errors = {name: image_statistics(x, example) for name, x in
              (("noise", start), ("descended", descended), ("exact", exact))}
    # log radial spectrum, RMS (natural log): white noise ~1.4, descent < 0.25, exact 0
    assert errors["exact"]["spectrum_error"] < 1e-3
    assert errors["descended"]["spectrum_error"] < 0.25 < 1.0 < errors["noise"]["spectrum_error"], errors
    # both are Gaussian fields with the example's spectrum: their marginals agree with each other
    assert abs(errors["descended"]["marginal_w1"] - errors["exact"]["marginal_w1"]) < 0.03


@pytest.mark.parametrize("name,iterations,factor", [("scattering", 25, 10), ("phase_harmonic", 30, 5)])
def test_descent_reduces_the_moment_error_by_a_stated_factor(example, name, iterations, factor):
    """From white noise, L-BFGS divides the moment loss by ``factor`` within ``iterations``.
    Planted bug it catches: a gradient of the wrong sign or scale (a wrong adjoint of the
    periodised products) stalls the descent."""
    moments = moment_model(name, (SIZE, SIZE), J, L)
    loss = MomentLoss(moments, example)
    start = synthesize(moments, example, iterations=0, restarts=1).images
    result = synthesize(moments, example, iterations=iterations, restarts=1, seed=0)
    before, after = float(loss(start)), float(loss(result.images))
    assert after < before / factor, (before, after)
    assert result.losses[0][-1] < result.losses[0][0]


@pytest.mark.parametrize("name", MODELS)
def test_moments_are_stationary_and_counted_by_their_formula(example, name):
    model = moment_model(name, (SIZE, SIZE), J, L)
    phi = model(example)
    assert sum(v.shape[1] for v in phi.values()) == model.count
    step = 2**J if name == "scattering" else 3  # the scattering's grid: multiples of 2^J
    shifted = model(example.roll((step, 2 * step), dims=(-2, -1)))
    for family in phi:
        assert torch.allclose(phi[family], shifted[family], rtol=1e-4, atol=1e-6), family


def _free_spectrum_count(h: int, w: int) -> int:
    """Frequencies of an h x w grid up to the symmetry k ~ -k, zero excluded: by enumeration."""
    classes = {min((a, b), ((-a) % h, (-b) % w)) for a in range(h) for b in range(w)}
    return len(classes - {(0, 0)})


def _phase_harmonic_count(J: int, L: int, shifts: int = 4, links: str = "neighbours", marginal: int = 0) -> int:
    """By enumerating the pairs each family compares, not by the module's formula."""
    scales = range(J)
    orientations = range(L)
    means = 1 + sum(1 for _ in scales for _ in orientations)
    modulus = sum(1 for j in scales for t in orientations for u in orientations if t <= u) + \
        sum(1 for j in scales for k in scales if k == j + 1 for _ in orientations for _ in orientations)
    same_scale = sum(1 for _ in scales for t in orientations for u in orientations if t <= u)  # real: psi^ is real
    connections = 2 * sum(1 for j in scales for k in scales if k == j + 1 for _ in orientations for _ in orientations)
    if links == "all":  # every farther pair of scales, same orientation, complex
        connections += 2 * sum(1 for j in scales for k in scales if k >= j + 2 for _ in orientations)
    spatial = 3 * shifts * J * L  # |W| (real) and W (complex) at 4 shifts
    return means + modulus + same_scale + connections + spatial + marginal


def test_moment_counts_match_independent_enumerations():
    """Planted bugs it catches: keeping the whole rfft2 half plane (8,321 entries at 128x128, with
    the zero frequency and Hermitian copies), or the imaginary parts of the same-scale
    covariances (zero, as kymatio's wavelets are real in Fourier); both give counts the
    enumeration does not, and ``test_no_moment_is_identically_zero_or_repeated`` finds them."""
    for h, w in ((128, 128), (32, 48)):
        model = moment_model("gaussian", (h, w))
        assert model.count == 1 + _free_spectrum_count(h, w)
        assert sum(v.shape[1] for v in model(torch.rand(1, 1, h, w)).values()) == model.count
    assert moment_model("gaussian", (128, 128)).count == 2 + 128 * 128 // 2 == 8194
    assert moment_model("scattering", (128, 128), 4, 8, marginal="none").count == 1 + 4 * 8 + 64 * 6 == 417
    assert moment_model("scattering", (128, 128), 4, 8).count == 417 + MARGINALS[DEFAULT_MARGINAL]  # the family counted
    model = moment_model("phase_harmonic", (128, 128), 4, 8, marginal="none", scale_links="neighbours")
    assert model.count == _phase_harmonic_count(4, 8) == 1281
    assert sum(v.shape[1] for v in model(torch.rand(1, 1, 128, 128)).values()) == model.count
    # every scale pair and the marginal family, at pywph's J=5, L=4: within pywph's 645 moments
    for marginal, size in MARGINALS.items():
        model = moment_model("phase_harmonic", (128, 128), 5, 4, marginal=marginal, scale_links="all")
        assert model.count == _phase_harmonic_count(5, 4, links="all", marginal=size) <= 645
        assert sum(v.shape[1] for v in model(torch.rand(1, 1, 128, 128)).values()) == model.count
    assert moment_model("scattering", (64, 64), 3, 4, marginal="bin_means").count == 1 + 12 + 48 + 8


def test_no_moment_is_identically_zero_or_repeated():
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    options = {"gaussian": {}, "scattering": {"marginal": "bin_means"},
               "phase_harmonic": {"marginal": "bin_means", "scale_links": "all"}}
    for name in MODELS:
        phi = torch.cat(list(moment_model(name, (32, 32), J, L, **options[name])(x).values()), dim=1)
        assert (phi.abs().max(0).values > 1e-9).all(), name  # none identically zero
        assert len(torch.unique(phi[0])) == phi.shape[1], name  # no copies


def test_the_marginal_bin_means_are_the_sorted_pixels_averaged_by_bin():
    """Against a hand computation on 16 pixels (8 bins of 2), invariant to any permutation of the
    pixels, and blind to the mean (it is in ``means``).  Planted bugs it catches: bins of the
    unsorted pixels (not permutation-invariant), the mean left in."""
    values = torch.arange(16, dtype=torch.float64) ** 2
    x = values[torch.randperm(16, generator=torch.Generator().manual_seed(0))].reshape(1, 1, 4, 4)
    got = marginal_moments(x, "bin_means")["marginal"][0]
    centred = values - values.mean()
    assert torch.allclose(got, centred.reshape(8, 2).mean(dim=1))
    assert torch.allclose(marginal_moments(x + 3.0, "bin_means")["marginal"], got[None])
    moments = marginal_moments(x, "moments")
    assert torch.allclose(moments["marginal"][0, 0], centred.pow(2).mean().sqrt())


def test_far_scale_links_are_pywphs_phase_harmonics_of_the_frequency_ratio():
    """``Cov(W_(j,t), [W_(j+d,t)]^(2^d))`` for every pair of scales two or more octaves apart, against
    a direct numpy computation of one of them (j=0, d=2, t=1; ``[z]^k = |z| e^(i k arg z)``), and
    clearly non-zero on edges against Gaussian noise (measured at 128 px, J=5: 0.24 vs 0.07 of the
    normalised correlation at d=2).  Planted bugs it catches: the harmonic 2 (or ``2 d``) instead
    of ``2^d``, a link at another orientation."""
    J4, L4 = 4, 4
    model = moment_model("phase_harmonic", (64, 64), J4, L4, marginal="none", scale_links="all").double()
    x = load_texture("edges", 64).double()
    links = model(x)["scale_cov"][0].numpy()
    psi = model.psi_hat.double().numpy().reshape(J4, L4, 64, 64)
    x_hat = np.fft.fft2(x[0, 0].numpy())
    fine, coarse = np.fft.ifft2(x_hat * psi[0, 1]), np.fft.ifft2(x_hat * psi[2, 1])
    harmonic = np.abs(coarse) * np.exp(1j * 4 * np.angle(coarse))
    expected = np.mean((fine - fine.mean()) * np.conj(harmonic - harmonic.mean()))
    neighbours, far = (J4 - 1) * L4 * L4, (J4 - 1) * (J4 - 2) // 2 * L4
    index = neighbours + 1  # the d=2 block of j=0 comes right after the neighbours; t=1
    assert links[index] == pytest.approx(expected.real, rel=1e-6, abs=1e-12)
    assert links[neighbours + far + index] == pytest.approx(expected.imag, rel=1e-6, abs=1e-12)


def test_periodic_fast_scattering_gradient_is_exact():
    s = FastScattering2D(2, (16, 16), L=2, periodic=True).double()
    x = torch.randn(2, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(s, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_radial_spectrum_of_white_noise_is_flat():
    g = torch.Generator().manual_seed(0)
    spectrum = radial_log_spectrum(torch.randn(1, 1, 128, 128, generator=g, dtype=torch.float64))
    assert spectrum[4:].std() < 0.2 and abs(float(spectrum[4:].mean())) < 0.2


def test_report_findings_follow_the_numbers():
    """The synthesis report's sentences are drawn from its tables.  Planted bug it catches (it
    shipped once): "the Gaussian model reaches the exact answer" written whatever its spectrum
    error, e.g. after 2 iterations."""
    from scatgen.synthesis.images.report import findings

    def row(spectrum, tv=0.1):
        point = {"evaluations": 10.0, "seconds": 1.0, "loss": 0.1,
                 "scores": {"spectrum_error": [spectrum, 0.0], "heldout/orientation_tv": [tv, 0.0], "cross/gaussian": [0.0, 0.0]}}
        return {"n_moments": 10, "stopped": ["plateau"], "points": {"final": point, "wall": point}}

    def results(gaussian_error):
        return {"brick": {"gaussian": row(gaussian_error), "phase_randomized": row(0.0)}}

    assert "reaches the exact answer" in findings(results(0.001), ["gaussian"])[0]
    assert "does not reach the exact answer on brick" in findings(results(1.2), ["gaussian"])[0]
