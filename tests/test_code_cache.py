import numpy as np
import torch

from scatgen.data.polygons import Polygons
from scatgen.encoders.code_cache import CodeCache
from scatgen.encoders.scattering import Scattering
from scatgen.encoders.whitening import PCAWhitening
from scatgen.data.datasets import images_to_tensor


def _cache(tmp_path, n_components=16, dtype="float32", backend="fast"):
    source = Polygons(tmp_path / "data", image_size=16, n_train=48, n_test=16)
    enc = Scattering(J=2, L=4, image_size=16, backend=backend)
    w = PCAWhitening(n_components, enc.code_shape)
    return CodeCache(tmp_path / "cache", source, enc, w, dtype=dtype, batch_size=16, progress=False)


def test_cache_holds_whitened_codes_of_the_images(tmp_path):
    cache = _cache(tmp_path)
    codes = cache.load_or_build()
    assert codes["train"].shape == (48, 16) and codes["test"].shape == (16, 16)
    images = images_to_tensor(cache.source.split("test")[0])
    expect = cache.whitening(cache.encoder(images))
    assert np.allclose(codes["test"], expect.numpy(), atol=1e-4)
    assert abs(float(np.asarray(codes["train"]).mean())) < 1e-3


def test_second_run_reuses_the_cache(tmp_path):
    first = _cache(tmp_path)
    first.load_or_build()
    stamp = (first.directory / "z_train.npy").stat().st_mtime_ns
    second = _cache(tmp_path)
    second.encoder.forward = None  # any call to the encoder would now fail
    codes = second.load_or_build()
    assert (second.directory / "z_train.npy").stat().st_mtime_ns == stamp
    assert bool(second.whitening.fitted) and codes["train"].shape == (48, 16)


def test_key_changes_with_every_setting(tmp_path):
    keys = {_cache(tmp_path).key, _cache(tmp_path, n_components=8).key, _cache(tmp_path, dtype="float16").key}
    assert len(keys) == 3
    assert _cache(tmp_path).key == _cache(tmp_path, backend="kymatio").key  # same numbers


def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, capsys):
    cache = _cache(tmp_path)
    good = np.array(cache.load_or_build()["train"])
    with open(cache.directory / "z_train.npy", "r+b") as f:
        f.truncate(500)
    again = _cache(tmp_path).load_or_build()
    assert "code cache is unusable" in capsys.readouterr().out
    assert np.allclose(again["train"], good)
    # an overwritten row is caught by the checksum
    z = np.load(cache.directory / "z_train.npy", mmap_mode="r+")
    z[-1] += 1
    z.flush()
    del z
    _cache(tmp_path).load_or_build()
    assert "checksum" in capsys.readouterr().out


def test_float16_storage(tmp_path):
    codes = _cache(tmp_path, dtype="float16").load_or_build()
    assert codes["train"].dtype == np.float16


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    cache = _cache(tmp_path)

    def boom(self, batches):
        raise KeyboardInterrupt

    monkeypatch.setattr(PCAWhitening, "fit", boom)
    try:
        cache.load_or_build()
    except KeyboardInterrupt:
        pass
    assert not cache.directory.exists()
    assert not list((tmp_path / "cache").glob("*.tmp-*"))


def _build_in_child(root, queue):
    import io
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        codes = _cache(root).load_or_build()
    queue.put((float(np.asarray(codes["train"]).sum()), "fitting" in out.getvalue()))


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
