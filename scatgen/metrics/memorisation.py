"""Memorisation: how close generated images come to the training set.

For each query (a sample, or a held-out test image) the distance to its nearest training image,
in pixels (root-mean-square difference of images in [0, 1]) and in the feature space.  Samples
much closer to the training set than test images are (the reference: unseen images of the same
distribution) are copies, not generalisation.
"""

from __future__ import annotations

import torch


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, k: int = 1,
                       chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean ``k`` nearest rows of ``reference`` for every row of ``queries`` (both ``(N, d)``):
    distances ``(N, k)`` ascending and indices ``(N, k)``; computed in chunks of queries.  The
    search uses the fast matrix-product form of ``cdist``; the distances of the neighbours found
    are then recomputed directly (the product form loses ~1e-3 near zero, where copies sit)."""
    dists, index = [], []
    reference = reference.float()
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk].float()
        idx = torch.cdist(q, reference).topk(k, dim=1, largest=False).indices
        exact = (q[:, None] - reference[idx]).norm(dim=-1)
        order = exact.argsort(dim=1)
        dists.append(exact.gather(1, order))
        index.append(idx.gather(1, order))
    return torch.cat(dists), torch.cat(index)


def pixel_rms(images: torch.Tensor) -> torch.Tensor:
    """Images in ``[-1, 1]`` -> flat rows in ``[0, 1]`` scaled by ``1/sqrt(d)``, so that Euclidean
    distances between rows are RMS pixel differences."""
    flat = ((images.float() + 1) / 2).flatten(1)
    return flat / flat.shape[1] ** 0.5


def memorisation(samples_pix, test_pix, train_pix, samples_feat, test_feat, train_feat) -> dict[str, torch.Tensor]:
    """Nearest-training-image distances of samples and test images, in pixels and features."""
    return {
        "samples/pixel": nearest_neighbours(samples_pix, train_pix)[0][:, 0],
        "test/pixel": nearest_neighbours(test_pix, train_pix)[0][:, 0],
        "samples/feature": nearest_neighbours(samples_feat, train_feat)[0][:, 0],
        "test/feature": nearest_neighbours(test_feat, train_feat)[0][:, 0],
    }
