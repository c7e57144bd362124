"""Texture synthesis: moments, the exact Gaussian reference, descent, stationarity, counts."""

import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from scatgen.encoders.fast_scattering import FastScattering2D
from scatgen.synthesis.microcanonical import MomentLoss, phase_randomized, synthesize
from scatgen.synthesis.moments import MODELS, moment_model
from scatgen.synthesis.statistics import image_statistics, radial_log_spectrum
from scatgen.synthesis.textures import BUILTIN, load_texture

SIZE, J, L = 32, 3, 4


@pytest.fixture(scope="module")
def example():
    return load_texture("brick", SIZE)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_textures_load_without_download(name):
    x = load_texture(name, 64)
    assert x.shape == (1, 1, 64, 64) and 0 <= float(x.min()) < float(x.max()) <= 1 and float(x.std()) > 0.02


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


def test_descent_on_scattering_moments_reduces_the_error_tenfold(example):
    moments = moment_model("scattering", (SIZE, SIZE), J, L)
    loss = MomentLoss(moments, example)
    start = synthesize(moments, example, iterations=0, restarts=1).images
    result = synthesize(moments, example, iterations=25, restarts=1, seed=0)
    before, after = float(loss(start)), float(loss(result.images))
    assert after < before / 10, (before, after)  # stated factor: 10 within 25 L-BFGS iterations
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


def test_moment_counts_match_the_formulas():
    assert moment_model("gaussian", (128, 128)).count == 1 + 128 * 65
    assert moment_model("scattering", (128, 128), 4, 8).count == 1 + 4 * 8 + 64 * 6 == 417
    pairs = 8 * 9 // 2
    expected = 33 + (4 * pairs + 3 * 64) + 2 * 4 * pairs + 2 * 3 * 64 + 3 * 4 * 32
    model = moment_model("phase_harmonic", (128, 128), 4, 8)
    assert model.count == expected == 1425
    assert sum(v.shape[1] for v in model(torch.rand(1, 1, 128, 128)).values()) == expected


def test_periodic_fast_scattering_gradient_is_exact():
    s = FastScattering2D(2, (16, 16), L=2, periodic=True).double()
    x = torch.randn(2, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(s, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_radial_spectrum_of_white_noise_is_flat():
    g = torch.Generator().manual_seed(0)
    spectrum = radial_log_spectrum(torch.randn(1, 1, 128, 128, generator=g, dtype=torch.float64))
    assert spectrum[4:].std() < 0.2 and abs(float(spectrum[4:].mean())) < 0.2
