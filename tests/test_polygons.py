import math

import numpy as np
import pytest

from scatgen.data.polygons import BACKGROUND, N_MODES, PALETTE, Polygons, mode_index, render_polygons


def test_render_is_deterministic_and_seed_dependent():
    a = render_polygons(20, 32, np.random.default_rng(1))
    b = render_polygons(20, 32, np.random.default_rng(1))
    c = render_polygons(20, 32, np.random.default_rng(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_labels_match_what_was_drawn():
    images, labels, geometry = render_polygons(200, 64, np.random.default_rng(0))
    assert images.dtype == np.uint8 and images.shape == (200, 64, 64, 3)
    assert set(labels[:, 0]) <= set(range(3, 9)) and set(labels[:, 1]) <= set(range(8))
    bg = np.array(BACKGROUND, dtype=float)
    correct_n = 0
    for img, (n, colour), (cx, cy, r, _) in zip(images, labels, geometry):
        # the centre pixel has the labelled palette colour
        centre = img[int(cy), int(cx)].astype(int)
        assert np.abs(centre - PALETTE[colour].astype(int)).max() <= 2
        # coverage (anti-aliased area) matches the regular n-gon area better than any other n
        fg = PALETTE[colour].astype(float)
        t = ((img.astype(float) - bg) @ (fg - bg)) / ((fg - bg) @ (fg - bg))
        area = t.clip(0, 1).sum()
        areas = {m: 0.5 * m * r * r * math.sin(2 * math.pi / m) for m in range(3, 9)}
        correct_n += min(areas, key=lambda m: abs(areas[m] - area)) == n
    assert correct_n >= 195  # 3..8-gons differ by >= 2% in area; anti-aliasing blurs a few


def test_modes_cover_48_and_anti_aliasing():
    images, labels, _ = render_polygons(2000, 32, np.random.default_rng(0))
    assert len(np.unique(mode_index(labels))) == N_MODES
    # anti-aliased: edge pixels take values between background and fill
    n_values = len(np.unique(images[0].reshape(-1, 3), axis=0))
    assert n_values > 4


def test_prepared_once_and_reused(tmp_path):
    p = Polygons(tmp_path, image_size=32, n_train=16, n_test=8)
    d = p.prepare()
    mtime = (d / "train_images.npy").stat().st_mtime_ns
    q = Polygons(tmp_path, image_size=32, n_train=16, n_test=8)
    assert q.prepare() == d and (d / "train_images.npy").stat().st_mtime_ns == mtime
    images, labels = q.split("train")
    assert images.shape == (16, 32, 32, 3) and labels.shape == (16, 2)
    assert Polygons(tmp_path, image_size=32, n_train=16, n_test=8, seed=1).prepare() != d


def test_corrupt_prepared_file_is_rebuilt(tmp_path, caplog):
    p = Polygons(tmp_path, image_size=32, n_train=16, n_test=8)
    d = p.prepare()
    good = np.load(d / "train_images.npy").copy()
    with open(d / "train_images.npy", "r+b") as f:
        f.truncate(1000)
    q = Polygons(tmp_path, image_size=32, n_train=16, n_test=8)
    q.prepare()
    assert "rebuilding" in caplog.text
    assert np.array_equal(q.split("train")[0], good)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="n_train"):
        Polygons("x", n_train=0)


def test_more_polygons_per_image_keep_the_top_polygons_labels_and_the_one_polygon_stream():
    """The complexity axis: k = 1 renders as before (same stream, same keys: the shipped classifier
    still applies); k > 1 adds polygons beneath, never of the top one's colour, whose centre stays
    visible.  Planted bugs it catches: the extra shapes drawn first in the stream (labels change),
    drawn on top (the centre colour changes), or n_polygons in the k = 1 key."""
    from scatgen.metrics.mode_coverage import shipped_path

    one = render_polygons(40, 32, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(one, render_polygons(40, 32, np.random.default_rng(5), n_polygons=1)))
    four = render_polygons(40, 32, np.random.default_rng(5), n_polygons=4)
    assert np.array_equal(one[1], four[1]) and np.array_equal(one[2], four[2])  # the top polygon's labels, geometry
    assert not np.array_equal(one[0], four[0])
    for img, (_, colour), (cx, cy, _, _) in zip(four[0], four[1], four[2]):
        assert np.abs(img[int(cy), int(cx)].astype(int) - PALETTE[colour].astype(int)).max() <= 2
    assert shipped_path(Polygons("x", image_size=32, n_train=1, n_test=1)).is_file()
    assert Polygons("x", image_size=32, n_polygons=2).key != Polygons("x", image_size=32).key
    with pytest.raises(ValueError, match="n_polygons=0"):
        Polygons("x", n_polygons=0)
