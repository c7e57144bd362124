"""CelebA, LSUN and image folders, on small fixtures made here in the layouts the data sets ship in."""

import io
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from scatgen.data.real import CelebA, ImageFolder, LMDBReader, LSUNBedroom, lmdb_keys
from scatgen.errors import DataNotFound


def _image(rng, w, h) -> Image.Image:
    base = rng.integers(0, 255, size=(1, 1, 3))
    grad = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 255, size=(1, 1, 3))
    arr = np.clip(base * 0.5 + grad * 0.5 + rng.normal(0, 10, size=(h, w, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _jpeg_bytes(img, fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def celeba_root(tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "raw" / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    lines = []
    for i in range(1, 31):
        name = f"{i:06d}.jpg"
        _image(rng, 178, 218).save(images / name, quality=90)
        lines.append(f"{name} {0 if i <= 20 else 1 if i <= 25 else 2}")
    (images.parent / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "raw"


@pytest.fixture
def lsun_root(tmp_path):
    import lmdb

    rng = np.random.default_rng(1)
    root = tmp_path / "lsun"
    for split, n in (("train", 24), ("val", 5)):
        (root / f"bedroom_{split}_lmdb").mkdir(parents=True)
        env = lmdb.open(str(root / f"bedroom_{split}_lmdb"), map_size=1 << 26)
        with env.begin(write=True) as txn:
            for i in range(n):
                key = f"{split[0]}{i:039x}".encode()  # 40 hex-like characters, as LSUN keys
                txn.put(key, _jpeg_bytes(_image(rng, 256 + 8 * i, 192), fmt="WEBP" if i % 2 else "JPEG"))
        env.close()
    return root


@pytest.fixture
def folder_root(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "folder"
    (root / "a" / "b").mkdir(parents=True)
    for i in range(12):
        _image(rng, 80 + i, 60).save(root / ("a" if i % 2 else "a/b") / f"img{i}.{'png' if i % 3 else 'jpg'}")
    good = _jpeg_bytes(_image(rng, 64, 64))
    (root / "a" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "zero.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root


def test_celeba_prepares_the_official_partition(celeba_root, tmp_path):
    src = CelebA(celeba_root, image_size=32, crop=148, prepared_dir=tmp_path / "prep", num_workers=0)
    src.prepare()
    train, labels = src.split("train")
    test, _ = src.split("test")
    assert train.shape == (20, 32, 32, 3) and test.shape == (5, 32, 32, 3) and train.dtype == np.uint8
    assert labels is None and 0 < train.mean() < 255
    again = CelebA(celeba_root, image_size=32, crop=148, prepared_dir=tmp_path / "prep2", num_workers=2)
    again.prepare()
    assert np.array_equal(again.split("train")[0], train)  # deterministic, workers or not
    valid = CelebA(celeba_root, image_size=32, test_partition="valid", n_train=7, prepared_dir=tmp_path / "prep", num_workers=0)
    valid.prepare()
    assert len(valid.split("train")[0]) == 7 and len(valid.split("test")[0]) == 5
    assert not (celeba_root / "celeba" / "64px").exists()  # nothing written into the user's data


def test_celeba_missing_is_one_line_with_path_layout_and_command(tmp_path):
    with pytest.raises(DataNotFound) as err:
        CelebA(tmp_path / "nowhere", prepared_dir=tmp_path / "p").prepare()
    msg = str(err.value)
    assert "\n" not in msg
    assert str(tmp_path / "nowhere" / "celeba" / "img_align_celeba") in msg
    assert "list_eval_partition.txt" in msg and "python scripts/prepare_data.py data=celeba" in msg


def test_celeba_partition_mismatch_names_the_first_file(celeba_root, tmp_path):
    (celeba_root / "celeba" / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(DataNotFound, match="lists 000003.jpg, which is not in"):
        CelebA(celeba_root, prepared_dir=tmp_path / "p", num_workers=0).prepare()
    _image(np.random.default_rng(0), 178, 218).save(celeba_root / "celeba" / "img_align_celeba" / "000003.jpg")
    _image(np.random.default_rng(0), 178, 218).save(celeba_root / "celeba" / "img_align_celeba" / "999999.jpg")
    with pytest.raises(DataNotFound, match="999999.jpg is not listed in"):
        CelebA(celeba_root, prepared_dir=tmp_path / "p", num_workers=0).prepare()


def test_lsun_reads_lmdb_with_a_seeded_held_out_test(lsun_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = LSUNBedroom(lsun_root, image_size=32, n_test=4, prepared_dir=tmp_path / "prep", num_workers=2)
    src.prepare()
    assert src.split("train")[0].shape == (20, 32, 32, 3) and src.split("test")[0].shape == (4, 32, 32, 3)
    assert list(tmp_path.glob("*cache*")) == [] and list((tmp_path / "prep" / "lsun_bedroom").glob("lmdb-keys-*.txt"))
    val = LSUNBedroom(lsun_root, image_size=32, test_from="val", n_test=None, prepared_dir=tmp_path / "prep", num_workers=0)
    val.prepare()
    assert len(val.split("test")[0]) == 5 and len(val.split("train")[0]) == 24


def test_lmdb_reader_survives_pickling_after_use(lsun_root, tmp_path):
    reader = LMDBReader(lsun_root / "bedroom_train_lmdb")
    key = lmdb_keys(lsun_root / "bedroom_train_lmdb", tmp_path)[0]
    assert reader(key)[:2] in (b"\xff\xd8", b"RI")  # JPEG or WebP (RIFF)
    clone = pickle.loads(pickle.dumps(reader))  # the open environment is not pickled
    assert clone(key) == reader(key)


def test_lsun_missing_is_one_line(tmp_path):
    with pytest.raises(DataNotFound, match=r"bedroom_train_lmdb/data.mdb does not exist.*prepare_data.py data=lsun_bedroom"):
        LSUNBedroom(tmp_path, prepared_dir=tmp_path / "p").prepare()


def test_image_folder_skips_and_reports_corrupt_files(folder_root, tmp_path, caplog):
    src = ImageFolder(folder_root, image_size=16, n_test=3, prepared_dir=tmp_path / "prep", num_workers=0)
    src.prepare()
    out = caplog.text
    n_train, n_test = len(src.split("train")[0]), len(src.split("test")[0])
    assert n_train + n_test == 12  # 15 files, 3 unreadable
    skipped = src.manifest["skipped"]["train"] + src.manifest["skipped"]["test"]
    assert sorted(s.split(":")[0].rsplit("/", 1)[-1] for s in skipped) == ["notes.txt", "truncated.jpg", "zero.jpg"]
    assert "skipped" in out and "unreadable" in out
    same = ImageFolder(folder_root, image_size=16, n_test=3, prepared_dir=tmp_path / "prep2", num_workers=0)
    same.prepare()
    assert np.array_equal(same.split("test")[0], src.split("test")[0])


def test_images_far_smaller_than_the_size_are_skipped_and_reported(folder_root, tmp_path, caplog):
    """Planted bug it catches: no size check in ``crop_resize`` (a 1x1 PNG was upscaled to a flat
    16x16 image without a word)."""
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(folder_root / "dot.png")
    Image.fromarray(np.zeros((7, 9, 3), np.uint8)).save(folder_root / "a" / "small.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8) + 50).save(folder_root / "a" / "half.png")  # exactly half: kept
    src = ImageFolder(folder_root, image_size=16, n_test=3, prepared_dir=tmp_path / "prep", num_workers=0)
    src.prepare()
    assert len(src.split("train")[0]) + len(src.split("test")[0]) == 13
    skipped = src.manifest["skipped"]["train"] + src.manifest["skipped"]["test"]
    assert sorted(s.split(":")[0].rsplit("/", 1)[-1] for s in skipped) == ["dot.png", "notes.txt", "small.png",
                                                                           "truncated.jpg", "zero.jpg"]
    assert any("1x1 is smaller than 0.5 of data.image_size=16" in s for s in skipped)
    assert "unreadable or too small image(s)" in caplog.text


def test_interrupted_preparation_leaves_nothing_complete(folder_root, tmp_path, monkeypatch):
    import scatgen.data.real as real

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(real, "decode_to_npy", boom)
    src = ImageFolder(folder_root, image_size=16, prepared_dir=tmp_path / "prep", num_workers=0)
    with pytest.raises(KeyboardInterrupt):
        src.prepare()
    assert not src.directory.exists() and not list(src.directory.parent.glob("*.tmp-*"))
    monkeypatch.undo()
    ImageFolder(folder_root, image_size=16, prepared_dir=tmp_path / "prep", num_workers=0).prepare()


def test_train_runs_on_the_celeba_fixture(celeba_root, tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "data=celeba", f"data.root={celeba_root}", "trainer.max_steps=2",
           f"paths.root_dir={tmp_path}", "data.image_size=32", "encoder.J=3", "encoder.compile=false", "whitening.n_components=8",
           "model.generator.width=8", "data.batch_size=8", "data.val_size=4", "callbacks.progress_bar.refresh_rate=0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = next((tmp_path / "logs" / "train" / "runs").glob("*/metrics.json"))
    m = json.loads(metrics.read_text())
    assert m["steps"] == 2 and m["n_eval/train"] == 16 and m["n_eval/test"] == 5  # 4 of 20 for validation


def test_prepare_script_reports_missing_data_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/prepare_data.py"), "data=celeba",
                           f"data.root={tmp_path / 'absent'}", f"paths.root_dir={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()
    assert len(last) == 1 and last[0].startswith("error: CelebA not found") and "Traceback" not in proc.stderr


def test_a_test_split_that_takes_every_image_names_data_n_test(folder_root, tmp_path):
    from scatgen.errors import ConfigError

    src = ImageFolder(folder_root, image_size=16, n_test=15, prepared_dir=tmp_path / "prep", num_workers=0)
    with pytest.raises(ConfigError, match=r"data.n_test=15 takes all 15 files of .*leaving none to train on; use data.n_test<=14"):
        src.prepare()


def test_an_lsun_split_that_leaves_no_training_image_names_data_n_test(lsun_root, tmp_path):
    from scatgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.n_test=1024 takes all 24 images of .*use data.n_test<=23"):
        LSUNBedroom(lsun_root, image_size=16, prepared_dir=tmp_path / "p", num_workers=0).prepare()


@pytest.mark.parametrize("cls", [ImageFolder, CelebA])
def test_a_root_that_is_a_file_says_so(tmp_path, cls):
    afile = tmp_path / "images.zip"
    afile.write_bytes(b"PK")
    with pytest.raises(DataNotFound, match=r"data.root=.*images.zip is a file, not a folder"):
        cls(afile, image_size=16, prepared_dir=tmp_path / "p", num_workers=0).prepare()
