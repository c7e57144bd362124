import itertools

import pytest
import torch
from kymatio.torch import Scattering2D

from scatgen.encoders.fast_scattering import FastScattering2D
from scatgen.encoders.scattering import Scattering

SIZES = [(16, 16), (32, 24), (24, 40), (48, 64), (64, 64), (96, 80), (128, 128), (128, 112)]


def _cases():
    cases = []
    for i, (J, L, order) in enumerate(itertools.product(range(1, 6), (4, 6, 8), (1, 2))):
        valid = [s for s in SIZES if min(s) >= 2**J]
        cases.append((J, L, order, valid[i % len(valid)]))
    return cases


@pytest.mark.parametrize("J,L,order,shape", _cases())
def test_fast_backend_matches_kymatio(J, L, order, shape):
    torch.manual_seed(J * 100 + L * 10 + order)
    x = torch.randn(2, *shape)
    ref = Scattering2D(J, shape, L=L, max_order=order)(x)
    out = FastScattering2D(J, shape, L=L, max_order=order)(x)
    assert out.shape == ref.shape
    rel = ((out - ref).norm() / ref.norm()).item()
    assert rel <= 1e-5, rel


def test_fast_backend_on_images_with_flat_regions():
    # polygons: flat backgrounds make the spectrum of |x * psi| dominated by its mean
    x = torch.zeros(2, 3, 64, 64)
    x[:, :, 20:40, 10:50] = 0.8
    ref = Scattering2D(4, (64, 64))(x)
    out = FastScattering2D(4, (64, 64))(x)
    assert ((out - ref).norm() / ref.norm()).item() <= 1e-5


@pytest.mark.parametrize("J,L,order", [(1, 8, 2), (2, 8, 2), (4, 8, 2), (3, 4, 1), (5, 6, 2)])
def test_channel_count_formula(J, L, order):
    enc = Scattering(J=J, L=L, max_order=order, image_size=64, backend="kymatio")
    k = 1 + J * L + (L * L * J * (J - 1) // 2 if order == 2 else 0)
    s = enc(torch.randn(2, 3, 64, 64))
    assert s.shape[1] == 3 * k and s.shape[1:] == enc.code_shape


def test_compiled_path_matches_kymatio_and_keeps_gradients():
    x = torch.randn(20, 3, 64, 64)  # 60 channel-images: several chunks, the last one padded
    ref = Scattering2D(4, (64, 64))(x)
    fast = FastScattering2D(4, (64, 64), compile=True)
    with torch.no_grad():
        out = fast(x)
    assert fast._compiled is not None and fast._compiled is not fast._scatter  # it did compile here
    assert ((out - ref).norm() / ref.norm()).item() <= 1e-5
    xg = x[:1].clone().requires_grad_(True)  # with a gradient the eager path runs
    fast(xg).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_gradcheck_float64():
    scat = FastScattering2D(2, (8, 8), L=4).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scat, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("backend", ["fast", "kymatio"])
def test_encoder_is_frozen_moves_with_module_and_stays_out_of_checkpoints(backend):
    enc = Scattering(J=2, image_size=16, backend=backend)
    assert list(enc.parameters()) == []
    assert len(list(enc.buffers())) > 0 and all(b.dtype == torch.float32 for b in enc.buffers())
    assert enc.state_dict() == {}  # fixed filters: both backends load the same checkpoints
    enc = enc.double()
    assert all(b.dtype == torch.float64 for b in enc.buffers())


def test_bad_config_messages():
    with pytest.raises(ValueError, match=r"encoder.J=5 is too large for image size 48x48.*divisible by 2\^J=32"):
        Scattering(J=5, image_size=48)
    with pytest.raises(ValueError, match="backend"):
        Scattering(J=2, image_size=16, backend="cuda-magic")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fast_backend_on_cuda():
    x = torch.randn(4, 3, 64, 64)
    cpu = FastScattering2D(4, (64, 64))(x)
    gpu = FastScattering2D(4, (64, 64)).cuda()(x.cuda()).cpu()
    assert ((gpu - cpu).norm() / cpu.norm()).item() <= 1e-5
