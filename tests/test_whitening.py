import pytest
import torch

from scatgen.encoders.whitening import PCAWhitening, check_whitening_config


def _codes(n=600, shape=(12, 3, 3), rank=30, seed=0):
    """Correlated codes with a decaying spectrum and a non-zero mean."""
    g = torch.Generator().manual_seed(seed)
    d = shape[0] * shape[1] * shape[2]
    basis = torch.linalg.qr(torch.randn(d, rank, generator=g))[0]
    coef = torch.randn(n, rank, generator=g) * torch.logspace(1, -1, rank)
    return (coef @ basis.T + 3.0 + 0.01 * torch.randn(n, d, generator=g)).reshape(n, *shape)


def _batches(s, size=64):
    return lambda: (s[i:i + size] for i in range(0, len(s), size))


@pytest.mark.parametrize("mode,solver", [("full", "exact"), ("full", "randomized"), ("channel", "exact")])
def test_whitened_codes_are_white(mode, solver):
    s = _codes()
    w = PCAWhitening(n_components=10, code_shape=s.shape[1:], mode=mode, solver=solver).fit(_batches(s))
    z = w(s)
    assert z.shape == (len(s), w.z_dim)
    rows = z if mode == "full" else z.reshape(len(s), 10, -1).transpose(1, 2).reshape(-1, 10)
    assert rows.mean(0).abs().max() < 1e-3
    cov = torch.cov(rows.T)
    assert (cov - torch.eye(10)).abs().max() < (0.05 if solver == "randomized" else 1e-3)


@pytest.mark.parametrize("mode", ["full", "channel"])
def test_inverse_recovers_projection(mode):
    s = _codes()
    w = PCAWhitening(n_components=8, code_shape=s.shape[1:], mode=mode, solver="exact").fit(_batches(s))
    rec = w.inverse(w(s))
    # the projection of s on the kept components, computed independently
    if mode == "full":
        flat = s.reshape(len(s), -1)
        v = w.components
        proj = ((flat - w.mean) @ v @ v.T + w.mean).reshape(s.shape)
    else:
        rows = s.permute(0, 2, 3, 1).reshape(-1, s.shape[1])
        v = w.components
        proj = ((rows - w.mean) @ v @ v.T + w.mean).reshape(len(s), 3, 3, -1).permute(0, 3, 1, 2)
    assert torch.allclose(rec, proj, atol=1e-4)
    # and with all the components the inverse is exact
    full = PCAWhitening(n_components=12, code_shape=s.shape[1:], mode="channel").fit(_batches(s)) if mode == "channel" else None
    if full is not None:
        assert torch.allclose(full.inverse(full(s)), s, atol=1e-3)


def test_randomized_matches_exact_subspace():
    s = _codes(rank=20)
    ex = PCAWhitening(5, s.shape[1:], solver="exact").fit(_batches(s))
    rnd = PCAWhitening(5, s.shape[1:], solver="randomized").fit(_batches(s))
    overlap = torch.linalg.svdvals(ex.components.T @ rnd.components)
    assert overlap.min() > 0.999
    assert torch.allclose(ex.scale, rnd.scale, rtol=1e-3)


def test_unfitted_and_config_errors():
    w = PCAWhitening(4, (2, 2, 2))
    with pytest.raises(RuntimeError, match="not fitted"):
        w(torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"n_components=600 exceeds the 512 code dimensions.*use whitening.n_components<=512"):
        check_whitening_config(600, "full", (32, 4, 4), 10_000)
    with pytest.raises(ValueError, match=r"n_components=512 exceeds what 100 training samples.*data.n_train=100"):
        check_whitening_config(512, "full", (1251, 4, 4), 100)
    with pytest.raises(ValueError, match="mode"):
        check_whitening_config(4, "diagonal", (1, 1, 1), 10)
