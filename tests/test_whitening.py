import numpy as np
import pytest
import torch

from scatgen.encoding.whitening import PCAWhitening, check_whitening_config


def _codes(n=600, shape=(12, 3, 3), rank=None, seed=0):
    """Correlated codes with a decaying spectrum, a non-zero mean that differs between positions,
    and positions that do not share one covariance."""
    g = torch.Generator().manual_seed(seed)
    d = shape[0] * shape[1] * shape[2]
    rank = rank or d
    basis = torch.linalg.qr(torch.randn(d, rank, generator=g))[0]
    coef = torch.randn(n, rank, generator=g) * torch.logspace(1, -1, rank)
    offset = 3.0 + torch.randn(d, generator=g)
    return (coef @ basis.T + offset + 0.01 * torch.randn(n, d, generator=g)).reshape(n, *shape)


def _batches(s, size=64):
    return lambda: (s[i:i + size] for i in range(0, len(s), size))


@pytest.mark.parametrize("mode,solver", [("full", "exact"), ("full", "randomized"), ("channel", "exact"),
                                         ("channel", "randomized")])
def test_whitened_codes_are_white_per_image(mode, solver):
    """Over images, every coordinate of z has mean 0 and Cov z = Id, in both modes.

    ``eps=0`` tests the maths alone (measured: <= 5e-7 in every case, float32 rounding); the
    default ``eps=1e-6`` biases an eigenvalue ``lambda`` by ``eps lambda_max / lambda`` on purpose.
    Planted bugs it catches: channel mode without the per-image whitening (pooled positions
    only: off the identity by 0.87 here); a wrong ``scale`` (e.g. ``lambda`` instead of its
    square root).  Whiteness holds on any subspace: ``test_randomized_matches_exact_subspace``
    checks that the randomized solver finds the right one."""
    s = _codes()
    w = PCAWhitening(n_components=10, code_shape=s.shape[1:], mode=mode, solver=solver, eps=0.0).fit(_batches(s))
    z = w(s).double()
    assert z.shape == (len(s), w.z_dim)
    assert z.mean(0).abs().max() < 1e-5
    cov = torch.cov(z.T)
    assert (cov - torch.eye(w.z_dim, dtype=torch.float64)).abs().max() < 1e-5


def _numpy_pca(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """An independent PCA: mean and the leading k right singular vectors of the centred rows."""
    mean = rows.mean(0)
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    return mean, vt[:k].T


def test_inverse_recovers_the_projection_of_an_independent_pca():
    """``L^-1 L s`` is the orthogonal projection of ``s`` on the span of the leading principal
    directions found by numpy's SVD (not the module's own ``components``), and is exact with
    every component.  Planted bug it catches: ``inverse`` without ``scale`` or without the mean."""
    s = _codes()
    flat = s.reshape(len(s), -1).double().numpy()
    w = PCAWhitening(n_components=8, code_shape=s.shape[1:], mode="full", solver="exact").fit(_batches(s))
    mean, v = _numpy_pca(flat, 8)
    expected = (flat - mean) @ v @ v.T + mean
    assert np.abs(w.inverse(w(s)).reshape(len(s), -1).double().numpy() - expected).max() < 1e-3
    everything = PCAWhitening(n_components=flat.shape[1], code_shape=s.shape[1:], mode="full", eps=0.0).fit(_batches(s))
    assert torch.allclose(everything.inverse(everything(s)), s, atol=1e-3)


def test_channel_mode_inverse():
    """Channel mode with every channel kept is invertible; with fewer it projects each position's
    channel vector on the span that numpy's PCA of the position-centred rows finds."""
    s = _codes()
    n, c, h, w_ = s.shape
    full = PCAWhitening(n_components=c, code_shape=s.shape[1:], mode="channel").fit(_batches(s))
    assert torch.allclose(full.inverse(full(s)), s, atol=1e-3)
    w = PCAWhitening(n_components=5, code_shape=s.shape[1:], mode="channel", solver="exact").fit(_batches(s))
    rows = s.flatten(2).transpose(1, 2).double().numpy()  # (N, P, C)
    centred = rows - rows.mean(0)
    _, v = _numpy_pca(centred.reshape(-1, c), 5)
    expected = centred @ v @ v.T + rows.mean(0)
    got = w.inverse(w(s)).flatten(2).transpose(1, 2).double().numpy()
    assert np.abs(got - expected).max() < 1e-3


def test_randomized_matches_exact_subspace():
    s = _codes(rank=20)
    ex = PCAWhitening(5, s.shape[1:], solver="exact").fit(_batches(s))
    rnd = PCAWhitening(5, s.shape[1:], solver="randomized").fit(_batches(s))
    overlap = torch.linalg.svdvals(ex.components.T @ rnd.components)
    assert overlap.min() > 0.999
    assert torch.allclose(ex.scale, rnd.scale, rtol=1e-3)


def test_digest_names_the_operator():
    s = _codes()
    a = PCAWhitening(5, s.shape[1:]).fit(_batches(s))
    b = PCAWhitening(5, s.shape[1:]).fit(_batches(s))
    c = PCAWhitening(5, s.shape[1:]).fit(_batches(s[:300]))
    assert a.digest() == b.digest() != c.digest()


def test_unfitted_and_config_errors():
    w = PCAWhitening(4, (2, 2, 2))
    with pytest.raises(RuntimeError, match="not fitted"):
        w(torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"n_components=600 exceeds the 512 code dimensions.*use whitening.n_components<=512"):
        check_whitening_config(600, "full", (32, 4, 4), 10_000)
    with pytest.raises(ValueError, match=r"n_components=512 exceeds what 100 training samples.*data.n_train=100"):
        check_whitening_config(512, "full", (1251, 4, 4), 100)
    with pytest.raises(ValueError, match=r"channel mode gives 512 numbers per image.*n_components<=31"):
        check_whitening_config(32, "channel", (1251, 4, 4), 500)
    with pytest.raises(ValueError, match="mode"):
        check_whitening_config(4, "diagonal", (1, 1, 1), 10)
