import os
import stat

import numpy as np
import pytest

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import Polygons
from scatgen.encoding.code_cache import CodeCache
from scatgen.scattering.transform import Scattering
from scatgen.encoding.whitening import PCAWhitening
from scatgen.storage.artefacts import ReadOnlyArtefact


def _cache(tmp_path, n_components=16, dtype="float32", backend="fast"):
    source = Polygons(tmp_path / "data", image_size=16, n_train=48, n_test=16)
    enc = Scattering(J=2, L=4, image_size=16, backend=backend)
    w = PCAWhitening(n_components, enc.code_shape)
    return CodeCache(tmp_path / "cache", source, enc, w.config(), dtype=dtype, batch_size=16, progress=False), w


def test_cache_holds_whitened_codes_of_the_images(tmp_path):
    cache, w = _cache(tmp_path)
    codes = cache.load_or_build(w)
    assert codes["train"].shape == (48, 16) and codes["test"].shape == (16, 16)
    images = images_to_tensor(cache.source.split("test")[0])
    expect = w(cache.encoder(images))
    assert np.allclose(codes["test"], expect.numpy(), atol=1e-4)
    assert abs(float(np.asarray(codes["train"]).mean())) < 1e-3


def test_second_run_reuses_the_cache_and_its_whitening(tmp_path):
    first, w1 = _cache(tmp_path)
    first.load_or_build(w1)
    stamp = (first.directory / "z_train.npy").stat().st_mtime_ns
    second, w2 = _cache(tmp_path)
    second.encoder.forward = None  # any call to the encoder would now fail
    codes = second.load_or_build(w2)
    assert (second.directory / "z_train.npy").stat().st_mtime_ns == stamp
    assert bool(w2.fitted) and w2.digest() == w1.digest() and codes["train"].shape == (48, 16)


def test_load_matching_refuses_another_whitening(tmp_path, caplog):
    cache, w = _cache(tmp_path)
    cache.load_or_build(w)
    assert cache.load_matching(w) is not None
    other = PCAWhitening(16, cache.encoder.code_shape)
    other.load_state_dict(w.state_dict())
    other.scale.mul_(2)  # a checkpoint whose L differs from the cache's
    assert cache.load_matching(other) is None and "another whitening" in caplog.text


def test_key_changes_with_every_setting(tmp_path):
    keys = {_cache(tmp_path)[0].key, _cache(tmp_path, n_components=8)[0].key, _cache(tmp_path, dtype="float16")[0].key}
    assert len(keys) == 3
    assert _cache(tmp_path)[0].key == _cache(tmp_path, backend="kymatio")[0].key  # same numbers


def test_damage_anywhere_in_a_cached_file_is_detected_and_rebuilt(tmp_path, caplog):
    """Planted bug it catches: a manifest that checksums only the first and last rows (the
    earlier design) lets NaN written into middle rows through; training then ran on them."""
    cache, w = _cache(tmp_path)
    good = np.array(cache.load_or_build(w)["train"])
    with open(cache.directory / "z_train.npy", "r+b") as f:
        f.truncate(500)
    again = _cache(tmp_path)
    assert np.allclose(again[0].load_or_build(again[1])["train"], good)
    assert "code cache" in caplog.text and "rebuilding" in caplog.text
    caplog.clear()
    z = np.load(cache.directory / "z_train.npy", mmap_mode="r+")
    z[20:30] = np.nan  # middle rows, neither first nor last
    z.flush()
    del z
    again = _cache(tmp_path)
    assert np.isfinite(again[0].load_or_build(again[1])["train"]).all()
    assert "checksum" in caplog.text


def test_non_finite_codes_are_refused(tmp_path, monkeypatch):
    cache, w = _cache(tmp_path)
    real_forward = Scattering.forward

    def nan_forward(self, x):
        s = real_forward(self, x)
        s[0, 0, 0, 0] = float("nan")
        return s

    monkeypatch.setattr(Scattering, "forward", nan_forward)
    with pytest.raises(ValueError, match="NaN or infinity"):
        cache.load_or_build(w)
    assert not cache.directory.exists()


def test_float16_storage_is_float32_rounded(tmp_path):
    """The float16 cache holds the float32 codes to float16 rounding (relative 2^-11), not only
    the dtype.  Planted bug it catches: codes written before whitening, or scaled."""
    codes16 = _cache(tmp_path / "a", dtype="float16")
    codes32 = _cache(tmp_path / "b", dtype="float32")
    z16 = np.asarray(codes16[0].load_or_build(codes16[1])["train"])
    z32 = np.asarray(codes32[0].load_or_build(codes32[1])["train"])
    assert z16.dtype == np.float16 and z32.dtype == np.float32
    assert np.all(np.abs(z16.astype(np.float32) - z32) <= np.abs(z32) * 2.0**-11 + 2.0**-24)


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    cache, w = _cache(tmp_path)

    def boom(self, batches):
        raise KeyboardInterrupt

    monkeypatch.setattr(PCAWhitening, "fit", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.load_or_build(w)
    assert not cache.directory.exists()
    assert not list((tmp_path / "cache").glob("*.tmp-*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_complete_cache_on_read_only_storage_is_used(tmp_path):
    _read_only_case(tmp_path)


def _read_only_case(tmp_path):
    cache, w = _cache(tmp_path)
    expect = np.array(cache.load_or_build(w)["train"])
    for d in (tmp_path / "cache", tmp_path / "data", tmp_path / "data" / "polygons"):
        d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        again, w2 = _cache(tmp_path)
        assert np.array_equal(again.load_or_build(w2)["train"], expect)
        missing, w3 = _cache(tmp_path, n_components=8)
        with pytest.raises(ReadOnlyArtefact, match="not writable"):
            missing.load_or_build(w3)
    finally:
        for d in (tmp_path / "cache", tmp_path / "data", tmp_path / "data" / "polygons"):
            d.chmod(stat.S_IRWXU)


def test_read_only_storage_as_root(tmp_path, monkeypatch):
    """The same as an ordinary user would see it: ``os.access`` says the directories are not
    writable (root ignores permissions, so the test makes the answer explicit)."""
    cache, w = _cache(tmp_path)
    expect = np.array(cache.load_or_build(w)["train"])
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    import filelock

    def no_lock(*a, **k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(filelock.FileLock, "acquire", no_lock)
    again, w2 = _cache(tmp_path)
    assert np.array_equal(again.load_or_build(w2)["train"], expect)
    missing, w3 = _cache(tmp_path, n_components=8)
    with pytest.raises(ReadOnlyArtefact, match="is missing .* not writable"):
        missing.load_or_build(w3)


def _build_in_child(root, queue):
    import logging

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logging.getLogger("scatgen").addHandler(Keep())
    logging.getLogger("scatgen").setLevel(logging.INFO)
    cache, w = _cache(root)
    codes = cache.load_or_build(w)
    queue.put((float(np.asarray(codes["train"]).sum()), any("fitting" in r for r in records)))


def test_concurrent_runs_share_one_build(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_in_child, args=(tmp_path, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0][0] == results[1][0]
    assert sum(built for _, built in results) == 1  # the second waited on the lock and loaded
    assert len(list((tmp_path / "cache").glob("codes-*[!k]"))) == 1
