import itertools

import pytest
import torch
from kymatio.torch import Scattering2D

from scatgen.scattering.fast import FastScattering2D
from scatgen.scattering.transform import Scattering

SIZES = [(16, 16), (32, 24), (24, 40), (48, 64), (64, 64), (96, 80), (128, 128), (128, 112)]


# the costliest reference cases (14-38 s each on an AVX2-only AMD EPYC: kymatio in float64 at
# J >= 4 with 8 angles, J = 5 with 6) run with `make test-slow`; J = 5 stays fast through L = 4, order 2
SLOW_CASES = {(4, 8, 1), (4, 8, 2), (5, 8, 1), (5, 8, 2), (5, 6, 1), (5, 6, 2), (5, 4, 1)}


def _cases():
    cases = []
    for i, (J, L, order) in enumerate(itertools.product(range(1, 6), (4, 6, 8), (1, 2))):
        valid = [s for s in SIZES if min(s) >= 2**J]
        marks = [pytest.mark.slow] if (J, L, order) in SLOW_CASES else []
        cases.append(pytest.param(J, L, order, valid[i % len(valid)], marks=marks))
    return cases


def _rel(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out.double() - ref).norm() / ref.norm()).item()


@pytest.mark.parametrize("J,L,order,shape", _cases())
def test_fast_backend_matches_a_float64_reference(J, L, order, shape):
    """Both float32 backends within 1e-6 of kymatio run in float64 (its float32 filters cast up).

    Planted bug it catches: the dense float32 low-pass GEMM of the earlier backend (1.5e-5 at
    J=5 on AMD EPYC, where MKL sums the 25,600 terms of a row in another order); a wrong
    periodisation or ordering is off by O(1)."""
    torch.manual_seed(J * 100 + L * 10 + order)
    x = torch.randn(1, *shape)  # ~10^3-10^5 coefficients: one image is enough
    ref = Scattering2D(J, shape, L=L, max_order=order).double()(x.double())
    kymatio32 = Scattering2D(J, shape, L=L, max_order=order)(x)
    assert _rel(kymatio32, ref) <= 1e-6
    for design in ("loop", "gather"):  # the CPU and the GPU design, both run here on the CPU
        out = FastScattering2D(J, shape, L=L, max_order=order, design=design)(x)
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert _rel(out, ref) <= 1e-6, (design, _rel(out, ref))


@pytest.mark.parametrize("J,shape", [(5, (48, 48)), (4, (33, 31)), (4, (17, 40)), (3, (8, 8))])
def test_sizes_that_2_to_the_J_does_not_divide(J, shape):
    """The transform needs only 2^J <= min(M, N): odd, non-square and non-divisible sizes agree
    with kymatio, through the encoder that the config builds."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, *shape)
    ref = Scattering2D(J, shape, L=4).double()(x.double()).flatten(1, 2)
    enc = Scattering(J=J, L=4, image_size=shape, backend="fast")
    out = enc(x)
    assert out.shape[1:] == enc.code_shape == ref.shape[1:]
    assert _rel(out, ref) <= 1e-6


def test_fast_backend_on_images_with_flat_regions():
    # polygons: flat backgrounds make the spectrum of |x * psi| dominated by its mean
    x = torch.zeros(2, 3, 64, 64)
    x[:, :, 20:40, 10:50] = 0.8
    ref = Scattering2D(4, (64, 64)).double()(x.double())
    out = FastScattering2D(4, (64, 64))(x)
    assert _rel(out, ref) <= 1e-6


@pytest.mark.parametrize("J,L,order", [(1, 8, 2), (2, 8, 2), (4, 8, 2), (3, 4, 1), (5, 6, 2)])
def test_channel_count_formula(J, L, order):
    enc = Scattering(J=J, L=L, max_order=order, image_size=64, backend="kymatio")
    k = 1 + J * L + (L * L * J * (J - 1) // 2 if order == 2 else 0)
    s = enc(torch.randn(2, 3, 64, 64))
    assert s.shape[1] == 3 * k and s.shape[1:] == enc.code_shape


@pytest.mark.slow  # torch.compile: ~40 s on an AVX2-only CPU
def test_compiled_path_matches_kymatio_and_keeps_gradients():
    x = torch.randn(20, 3, 64, 64)  # 60 channel-images: several chunks, the last one padded
    ref = Scattering2D(4, (64, 64)).double()(x.double())
    fast = FastScattering2D(4, (64, 64), compile=True)
    with torch.no_grad():
        out = fast(x)
    compiled = list(fast._compiled.values())
    assert len(compiled) == 1 and compiled[0] is not fast._scatter  # it did compile here, once
    assert _rel(out, ref) <= 1e-6
    xg = x[:1].clone().requires_grad_(True)  # with a gradient the eager path runs
    fast(xg).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


@pytest.mark.parametrize("design", ["loop", "gather"])
def test_gradcheck_float64(design):
    """The hand-written adjoint of the block products (loop) and autograd through the gather;
    fast mode checks random projections of the Jacobian (a wrong adjoint fails it: planting
    ``grad * 2`` in ``_PeriodisedProduct.backward`` does)."""
    scat = FastScattering2D(2, (8, 8), L=4, design=design).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scat, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("backend", ["fast", "kymatio"])
def test_encoder_is_frozen_moves_with_module_and_stays_out_of_checkpoints(backend):
    enc = Scattering(J=2, image_size=16, backend=backend)
    assert list(enc.parameters()) == []
    floating = [b for b in enc.buffers() if b.is_floating_point()]
    assert floating and all(b.dtype in (torch.float32, torch.float64) for b in floating)
    assert enc.state_dict() == {}  # fixed filters: both backends load the same checkpoints
    enc = enc.double()
    assert all(b.dtype == torch.float64 for b in enc.buffers() if b.is_floating_point())


def test_bad_config_messages():
    with pytest.raises(ValueError, match=r"encoder.J=6 is too large for size 48x48.*2\^J=64 <= the smaller side.*J<=5"):
        Scattering(J=6, image_size=48)
    with pytest.raises(ValueError, match=r"encoder.J=0 must be >= 1"):
        Scattering(J=0, image_size=48)
    with pytest.raises(ValueError, match="backend"):
        Scattering(J=2, image_size=16, backend="cuda-magic")


@pytest.mark.cuda
def test_fast_backend_on_cuda():
    x = torch.randn(4, 3, 64, 64)
    ref = Scattering2D(4, (64, 64)).double()(x.double())
    torch.set_float32_matmul_precision("high")  # as train.py does: TF32 must not reach the low-pass
    try:
        for compile in (False, True):
            gpu = FastScattering2D(4, (64, 64), compile=compile).cuda()(x.cuda()).cpu()
            assert _rel(gpu, ref) <= 1e-6
    finally:
        torch.set_float32_matmul_precision("highest")
