"""The study's metrics against known answers."""

import numpy as np
import pytest
import torch

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import N_MODES, Polygons, mode_index, render_polygons
from scatgen.metrics.distribution import density_coverage, fid_kid, precision_recall
from scatgen.metrics.features import ScatteringFeatures
from scatgen.metrics.memorisation import memorisation, pixel_rms
from scatgen.metrics.mode_coverage import ClassifierRefused, load_or_train_classifier, mode_coverage, predict
from scatgen.studies.interpolation import crossfade, smoothness

CLASSIFIER_STEPS = 800  # 32 px: ~25 s, test accuracy ~0.98


def _polygons(n, size=32, seed=0):
    images, labels, _ = render_polygons(n, size, np.random.default_rng(seed))
    return images_to_tensor(images), torch.from_numpy(mode_index(labels))


@pytest.fixture(scope="module")
def features():
    x, _ = _polygons(600)
    return ScatteringFeatures(image_size=32, J=2, n_components=16).fit(x)


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_a_shift(features):
    x, _ = _polygons(400, seed=1)
    f = features.embed(x)
    assert f.shape == (400, 16)
    same = fid_kid(f, f, kid_subset_size=200)
    assert abs(same["fid"]) < 1e-3
    other = fid_kid(f, features.embed(_polygons(400, seed=2)[0]), kid_subset_size=200)
    brighter = fid_kid(f, features.embed((_polygons(400, seed=2)[0] + 0.5).clamp(-1, 1)), kid_subset_size=200)
    # a fresh draw of the same data is near (finite-sample FID ~2.5 here); the same draw shifted is far
    assert brighter["fid"] > 5 * other["fid"] > 0
    assert brighter["kid"] > other["kid"] + 2 * brighter["kid_std"]


def test_precision_recall_density_coverage_known_answers():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1500, 8, generator=g), torch.randn(1500, 8, generator=g)
    same = {**precision_recall(a, a), **density_coverage(a, a)}
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert 1.0 <= same["density"] <= 1.2 + 1e-9  # each ball holds its own point and k others: (k+1)/k
    fresh = {**precision_recall(a, b), **density_coverage(a, b)}
    for key in ("precision", "recall", "coverage"):
        assert fresh[key] > 0.85, (key, fresh)
    assert 0.85 < fresh["density"] < 1.15
    far = {**precision_recall(a, b + 100), **density_coverage(a, b + 100)}
    assert all(v == 0 for v in far.values()), far
    # two modes, one dropped: precision stays ~1, recall and coverage fall to ~1/2
    shift = torch.zeros(8)
    shift[0] = 20
    two_modes = torch.cat([a[:750] + shift, a[750:] - shift])
    dropped = {**precision_recall(two_modes, b[:750] + shift), **density_coverage(two_modes, b[:750] + shift)}
    assert dropped["precision"] > 0.85
    assert 0.4 < dropped["recall"] < 0.6 and 0.4 < dropped["coverage"] < 0.6, dropped


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    source = Polygons(root / "data", image_size=32, n_train=16, n_test=512, seed=3)
    model, acc, origin = load_or_train_classifier(source, root / "cache", steps=CLASSIFIER_STEPS, shipped=False)
    assert origin == "trained"
    return model, acc, source, root


@pytest.mark.slow  # trains the classifier: ~70 s on an AVX2-only CPU
def test_classifier_is_accurate_cached_and_a_one_mode_generator_covers_one_mode(classifier):
    model, acc, source, root = classifier
    assert acc >= 0.95
    again, acc2, _ = load_or_train_classifier(source, root / "cache", steps=CLASSIFIER_STEPS, shipped=False)  # cached
    assert acc2 == acc and all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))

    x, modes = _polygons(4000, seed=7)
    one_mode = x[modes == 13][:200]  # a "generator" that only draws 4-gons of colour 5
    real_probs = predict(model, _polygons(2000, seed=8)[0])
    cov = mode_coverage(predict(model, one_mode), real_probs, min_count=10)
    assert cov["modes_covered"] == 1 and cov["jsd"] > 0.8
    # every sample counted (this quick classifier is not confident on every real image)
    full = mode_coverage(predict(model, x[:2000]), real_probs, min_count=10, confidence=0.0)
    assert full["modes_covered"] == full["modes_predicted"] == N_MODES and full["jsd"] < 0.05


def test_a_weak_classifier_is_refused(tmp_path):
    source = Polygons(tmp_path / "data", image_size=32, n_train=16, n_test=256, seed=3)
    with pytest.raises(ClassifierRefused, match=r"mode classifier test accuracy 0\.\d+ < 0\.95.*refused"):
        load_or_train_classifier(source, tmp_path / "cache", steps=2, shipped=False)


def test_a_corrupt_classifier_cache_is_reported_and_retrained(tmp_path, caplog):
    source = Polygons(tmp_path / "data", image_size=32, n_train=16, n_test=64, seed=3)
    load_or_train_classifier(source, tmp_path / "cache", steps=2, min_accuracy=0.0, shipped=False)
    target = next((tmp_path / "cache" / "mode_classifier").glob("*.pt"))
    target.write_bytes(target.read_bytes()[:100])
    caplog.clear()
    load_or_train_classifier(source, tmp_path / "cache", steps=2, min_accuracy=0.0, shipped=False)
    assert "is unusable" in caplog.text
    assert len(torch.load(target, weights_only=True)) > 0  # rewritten whole


def test_memorised_samples_sit_on_the_training_set(features):
    train, _ = _polygons(300, seed=4)
    test, _ = _polygons(100, seed=5)
    copies = train[:100]
    d = memorisation(pixel_rms(copies), pixel_rms(test), pixel_rms(train),
                     features(copies), features(test), features(train))
    assert d["samples/pixel"].max() < 1e-6 and d["samples/feature"].max() < 1e-3
    assert d["test/pixel"].min() > 0.01 and d["test/feature"].mean() > 0.1


def test_a_moving_shape_is_a_longer_path_than_a_crossfade():
    size, steps = 32, 9
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    discs = torch.stack([((xx - c) ** 2 + (yy - 16) ** 2 < 25).float() * 2 - 1 for c in np.linspace(8, 24, steps)])
    moving = discs[None, :, None].expand(1, steps, 3, size, size)
    fade = crossfade(discs[:1, None].expand(1, 3, size, size), discs[-1:, None].expand(1, 3, size, size), steps)
    assert smoothness(fade)["path_ratio"] == pytest.approx(1.0, abs=1e-5)
    assert smoothness(fade)["jump"] == pytest.approx(1.0, abs=1e-5)
    assert smoothness(moving)["path_ratio"] > 1.5


@pytest.mark.parametrize("size", [32, 64])
def test_the_shipped_classifier_passes_its_bar_with_no_training(tmp_path, size, monkeypatch):
    """The study's renderings need no training on a fresh clone (``research/train_mode_classifier.py``
    wrote them).  Planted bug it catches: a rendering key that does not match the shipped file's
    name (the study then trains for minutes: here ``train_classifier`` would raise)."""
    import scatgen.metrics.mode_coverage as mc

    def no_training(*args, **kwargs):
        raise AssertionError("the shipped classifier was not used")

    monkeypatch.setattr(mc, "train_classifier", no_training)
    source = Polygons(tmp_path / "data", image_size=size, n_train=16, n_test=1024, seed=11)
    _, acc, origin = load_or_train_classifier(source, tmp_path / "cache")
    assert origin == "shipped" and acc >= 0.95


def test_the_shipped_classifier_rejects_blobs_and_keeps_blurred_polygons():
    """The 32-px shipped classifier's confidence names the mode, not the renderer's exact pixels:
    fresh blobs (circles, ellipses, wavy outlines) go to its reject class, while real polygons stay
    confident when blurred (0.7 px) or dimmed (0.9x contrast).  Planted bug it catches: a classifier
    with no reject class trained on exact renderings (version 1: blobs called octagons with >= 0.9,
    blurred polygons 10% confident)."""
    import torchvision.transforms.functional as TF

    from scatgen.data.polygons import render_non_polygons
    from scatgen.metrics.mode_coverage import ModeClassifier, _read_into, shipped_path

    source = Polygons("unused", image_size=32, n_train=1, n_test=1)
    model = _read_into(ModeClassifier(N_MODES), shipped_path(source))
    blobs = images_to_tensor(render_non_polygons(512, 32, np.random.default_rng(21)))
    probs = predict(model, blobs)
    assert (probs.sum(1) < 0.5).double().mean() > 0.95 and (probs.max(1).values >= 0.9).double().mean() < 0.02
    x, modes = _polygons(512, seed=22)
    for degraded in (TF.gaussian_blur(x, 5, 0.7), 0.9 * x):
        p = predict(model, degraded)
        assert (p.max(1).values >= 0.9).double().mean() > 0.9 and (p.argmax(1) == modes).double().mean() > 0.98


def test_a_damaged_shipped_classifier_is_reported_and_replaced(tmp_path, monkeypatch, caplog):
    import shutil

    import scatgen.metrics.mode_coverage as mc

    source = Polygons(tmp_path / "data", image_size=32, n_train=16, n_test=64, seed=3)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    copy = shutil.copy(mc.shipped_path(source), shipped)
    data = bytearray(open(copy, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(copy, "wb").write(bytes(data))
    monkeypatch.setattr(mc, "SHIPPED_DIR", shipped)
    _, _, origin = load_or_train_classifier(source, tmp_path / "cache", steps=2, min_accuracy=0.0)
    assert origin == "trained" and "the shipped mode classifier is not used" in caplog.text and "is damaged" in caplog.text


def _probs(modes, confidence, n_modes=N_MODES):
    """Classifier outputs that give ``modes`` probability ``confidence`` (the rest spread evenly)."""
    probs = torch.full((len(modes), n_modes), (1 - confidence) / (n_modes - 1))
    probs[torch.arange(len(modes)), torch.as_tensor(modes)] = confidence
    return probs


def test_mode_coverage_counts_confident_samples_only_as_the_literature_does():
    real = _probs(torch.arange(N_MODES).repeat(20), 0.99)
    # half the modes drawn confidently (20 each), the other half as unconfident blobs (20 each)
    fake = torch.cat([_probs(torch.arange(0, N_MODES, 2).repeat(20), 0.95), _probs(torch.arange(1, N_MODES, 2).repeat(20), 0.5)])
    cov = mode_coverage(fake, real, min_count=10, confidence=0.9)
    assert cov["modes_covered"] == N_MODES // 2 and cov["modes_predicted"] == N_MODES
    assert cov["good_fraction"] == pytest.approx(0.5)
    assert cov["kl"] == pytest.approx(np.log(2), abs=1e-6)  # KL(uniform on half || uniform) = log 2
    assert cov["n_samples"] == len(fake)
    assert cov["real_good_fraction"] == 1.0  # every real image confident: the reference share
    half_real = torch.cat([real[: len(real) // 2], _probs(torch.arange(N_MODES).repeat(10), 0.5)])
    assert mode_coverage(fake, half_real)["real_good_fraction"] == pytest.approx(0.5)
    assert mode_coverage(fake, real, min_count=21)["modes_covered"] == 0  # k: 20 confident samples are not 21
    none = mode_coverage(_probs(torch.zeros(50, dtype=torch.long), 0.5), real)
    assert none["modes_covered"] == 0 and none["kl"] is None and none["good_fraction"] == 0


def test_the_summary_and_the_report_follow_the_metric_registry():
    """A metric registered once (key, label, direction) is a row of ``summary.md`` and of the
    report's table, with the data source's mode count and the run's mode settings in its labels.  Planted
    bugs it catches: the summary's own list of rows (a new metric missing); "of 48" written into a label
    (12 modes); "0.9" written into the confidence label (the run used 0.8); the sample count left out (a
    table of 1,024 samples and one of 10,000 both said "modes covered")."""
    from pathlib import Path

    from scatgen.studies import metric_registry as registry
    from scatgen.studies.report import metric_table
    from scatgen.studies.study import summary_markdown

    m = {"model": "X", "test/psnr": 21.234, "data/n_modes": 12, "modes/modes_covered": 7, "new/score": 0.01234,
         "modes/min_count": 5, "modes/confidence": 0.8, "modes/good_fraction": 0.25, "modes/n_samples": 2000,
         "figures": []}
    registry.METRICS.append(registry.Metric("new/score", "a new score", "lower"))
    try:
        summary = summary_markdown(m)
        table = "\n".join(metric_table({"X": [(Path("."), m)], "Y": [(Path("."), {**m, "new/score": 0.5})]}))
    finally:
        registry.METRICS.pop()
    assert "| test PSNR (dB) ↑ | 21.2 |" in summary
    assert "| modes of 12 covered (>= 5 confident of 2000 samples) ↑ | 7 |" in summary
    assert "| confident samples (conf >= 0.8) of 2000 ↑ | 0.25 |" in summary
    assert "| a new score ↓ | 0.0123 |" in summary
    assert "| a new score ↓ | 0.0123 | 0.5 | - |" in table


def test_mode_bars_label_the_modes_from_the_data_source(monkeypatch, tmp_path):
    """The mode histogram's groups come from the source's mode factors, not from 8 colours written in.
    Planted bug it catches: a group size of 8 (6 modes of 2 x 3 would get one tick)."""
    import numpy as np

    from scatgen.viz import plots

    seen = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: seen.update(
        ticks=list(fig.axes[0].get_xticks()), labels=[t.get_text() for t in fig.axes[0].get_xticklabels()],
        title=fig.axes[0].get_title()))
    axes = (("sides", [3, 4]), ("shade", ["a", "b", "c"]))
    plots.mode_bars({"real": np.ones(6), "model": np.arange(6.0)}, tmp_path / "h.png", mode_axes=axes)
    assert seen["labels"] == ["3 sides", "4 sides"] and seen["ticks"] == [1.0, 4.0]
    assert seen["title"] == "mode histogram (3 shades per sides value)"


def test_degrade_keeps_every_palette_colour_nearest_to_itself_and_blurs():
    """The classifier's training degradation changes no label: a flat patch of each palette colour,
    degraded at the widest ranges, stays nearer its own colour than any other (planted bug it
    catches: a contrast range down to 0.5 moves yellow next to orange); and its blur removes
    high frequencies (planted: the horizontal kernel alone leaves vertical edges sharp)."""
    from scatgen.data.polygons import PALETTE
    from scatgen.metrics.mode_coverage import Degradation, degrade

    palette = torch.from_numpy(PALETTE).float() / 255 * 2 - 1  # (8, 3) in [-1, 1]
    flat = palette[:, :, None, None].expand(8, 3, 16, 16).repeat(64, 1, 1, 1)  # 512 patches
    widest = Degradation(blur=0.0, noise=0.0)
    d = degrade(flat, torch.Generator().manual_seed(0), widest).mean(dim=(-2, -1))  # (512, 3)
    nearest = torch.cdist(d, palette).argmin(1)
    assert torch.equal(nearest, torch.arange(8).repeat(64))
    assert d.sub(flat[:, :, 0, 0]).abs().max() > 0.02  # it did change the intensities

    x, _ = _polygons(64, seed=9)
    y = degrade(x, torch.Generator().manual_seed(1), Degradation(blur=1.0, noise=0.0, contrast=(1.0, 1.0),
                                                                   brightness=0.0, colour=0.0))
    for dim in (-1, -2):  # both directions' differences lose energy
        assert y.diff(dim=dim).square().mean() < 0.8 * x.diff(dim=dim).square().mean()
    assert degrade(x, torch.Generator(), Degradation(0.0, 0.0, (1.0, 1.0), 0.0, 0.0)).equal(x)


def test_the_feature_map_is_compiled_only_where_the_compilation_pays():
    """Planted bugs it catches: compiling for every training split (make test's tiny runs would pay
    about 30 s of compilation each), never compiling (the first evaluation of make train's run loses
    40 s), or ignoring an explicit ``study.feature_compile``."""
    from scatgen.studies.settings import COMPILE_FEATURES_FROM, StudySettings

    auto = StudySettings()
    assert not auto.compile_features(256) and not auto.compile_features(COMPILE_FEATURES_FROM - 1)
    assert auto.compile_features(COMPILE_FEATURES_FROM) and auto.compile_features(8192)
    assert StudySettings(feature_compile=True).compile_features(16)
    assert not StudySettings(feature_compile=False).compile_features(65536)
