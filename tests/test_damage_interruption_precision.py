"""A full disk, a damaged checkpoint, hostile sounds, Ctrl-C,
data with no variance, the precision measurement, impossible run lengths and seeds, and small data
with the defaults.  Each test names the bug it was seen to fail on (planted once)."""

import hashlib
import json
import re
import signal
import struct
import subprocess
import zipfile

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import CLI_TINY, ROOT, compose_cfg, one_line, run_script
from scatgen import devices
from scatgen.errors import ConfigError, UserError
from scatgen.pipeline import train
from scatgen.storage.checkpoints import BadCheckpoint, read_checkpoint, seal_status
from scatgen.synthesis.sounds.run import run_audio_synthesis




@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    metrics = train(compose_cfg(tmp, ["trainer.max_epochs=1"]))
    return tmp / "run", metrics


# 1. A full disk: one line, no partial checkpoint under a final name ------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root can mount one; skipped where mounting is not allowed)."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_while_building_a_cache_names_the_cache_file(small_disk):
    """Planted bug it catches: the cache writer's ``OSError`` passed up bare, so the one-line error named
    the run directory and its free space, not the cache that filled the disk."""
    from scatgen.errors import DiskFull
    from scatgen.storage.arrays import NpyWriter

    path = small_disk / "codes-abc" / "train.npy"
    path.parent.mkdir()
    with pytest.raises(DiskFull, match=re.escape(f"no space left on the device writing {path} (")):
        with NpyWriter(path, (64, 256, 256), np.float32) as writer:
            for _ in range(64):
                writer.write(np.ones((1, 256, 256), np.float32))


@pytest.mark.slow  # subprocess runs: in make test-slow, for make test's 10-minute budget
def test_a_full_disk_is_one_line_and_leaves_no_partial_checkpoint(tmp_path, small_disk):
    """Planted bug it catches: ``atomic_write_bytes`` without its ``except OSError`` (the
    traceback ending in ``OSError: [Errno 28]`` returns, with a ``.tmp-`` file left) or Lightning's
    own checkpoint I/O (a partial ``epoch000.ckpt`` under its final name)."""
    run = small_disk / "run"
    # the data and caches elsewhere; the run directory on the 3 MB disk, where a 3 MB checkpoint does not fit
    proc = run_script([ROOT / "train.py", *CLI_TINY, "trainer.max_epochs=1", f"paths.root_dir={tmp_path}",
                 f"hydra.run.dir={run}"])
    last = one_line(proc, f"no space left on the device writing {run / 'checkpoints'}/")
    assert ".ckpt (3.0 MB to write, " in last and "free there" in last and "paths.root_dir" in last
    assert "Logging error" not in proc.stderr and "Errno 28" not in proc.stderr  # no 35- or 66-line tracebacks
    leftovers = [p.name for p in (run / "checkpoints").iterdir()] if (run / "checkpoints").exists() else []
    for name in leftovers:  # whatever is there under a final name is whole and verified
        assert ".tmp-" not in name, leftovers
        read_checkpoint(run / "checkpoints" / name)


# 2. A flipped byte inside a weight: refused in one line, nothing runs ----------------------
def _flip_inside_a_weight(src, dst, n=256):
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    # the local header's own extra field may differ from the central directory's: read its length
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.file_size // 2
    for i in range(middle, middle + min(n, info.file_size // 2)):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.slow  # subprocess runs: in make test-slow, for make test's 10-minute budget
def test_a_flipped_byte_checkpoint_is_refused_before_anything_runs(finished_run, tmp_path):
    """Planted bug it catches: ``load_sealed`` without the seal check (the flipped checkpoint then
    loads: its weights differ, and evaluate.py exits 0 with another PSNR)."""
    run, _ = finished_run
    last = run / "checkpoints" / "last.ckpt"
    assert seal_status(last.read_bytes()) == "sealed"
    assert all(seal_status(p.read_bytes()) == "sealed" for p in (run / "checkpoints").glob("*.ckpt"))
    bad = _flip_inside_a_weight(last, run / "checkpoints" / "flipped.ckpt")
    try:
        # without the seal the damage is invisible: torch.load reads other numbers, no error
        damaged = torch.load(bad, weights_only=True)["state_dict"]
        clean = torch.load(last, weights_only=True)["state_dict"]
        assert any(not torch.equal(damaged[k], clean[k]) for k in clean)
        with pytest.raises(BadCheckpoint, match="is damaged: its bytes do not match the sha256"):
            read_checkpoint(bad)
        out = tmp_path / "eval"
        proc = run_script([ROOT / "scripts/evaluate.py", f"ckpt_path={bad}", f"hydra.run.dir={out}"])
        one_line(proc, f"ckpt_path='{bad}' is damaged")
        assert not (out / "metrics.json").exists()
        # resuming from it is refused too, before Hydra starts a run
        proc = run_script([ROOT / "train.py", *CLI_TINY, f"ckpt_path={bad}", f"paths.root_dir={tmp_path}"])
        one_line(proc, f"ckpt_path='{bad}' is damaged")
    finally:
        bad.unlink()


def test_an_unsealed_checkpoint_still_loads(finished_run, tmp_path):
    run, _ = finished_run
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)  # as an older scatgen wrote it
    assert seal_status(old.read_bytes()) == "unsealed"
    assert read_checkpoint(old)["global_step"] == ckpt["global_step"]


# 3. Hostile sounds: refused before any work ------------------------------------------------
def _wav(path, data, rate=16000):
    from scipy.io import wavfile

    wavfile.write(path, rate, data)
    return path


@pytest.mark.parametrize("kind,match", [
    ("nan", r"holds 100 non-finite sample\(s\) \(NaN or infinity\) of 48000; give a WAV of finite samples"),
    ("short", r"is 10 ms long \(160 samples at 16000 Hz\): J=10 needs at least 4096 samples"),
    ("no_fmt", r"cannot be read as a WAV file \(UnboundLocalError.*give a PCM .* WAV with fmt and data chunks"),
    ("silent", r"is silent"),
    ("one_hertz", r"declares a sample rate of 1 Hz, outside 1000-384000 Hz: .* stretch it 1.6e\+04x"),
])
def test_hostile_sounds_are_refused_before_any_work(tmp_path, kind, match):
    """Planted bugs they catch: no finite-sample check (NaN WAV: exit 0, 'loss nan -> nan',
    all-zero WAVs), no length check of the file itself (the 10 ms WAV crashed after synthesis in
    the spectrogram plot), and ``except (ValueError, OSError, EOFError)`` (UnboundLocalError
    escapes as a traceback)."""
    path = tmp_path / f"{kind}.wav"
    rng = np.random.default_rng(0)
    if kind == "nan":
        x = rng.normal(size=48000).astype(np.float32)
        x[::480] = np.nan
        _wav(path, x)
    elif kind == "short":
        _wav(path, (rng.normal(size=160) * 3000).astype(np.int16))
    elif kind == "silent":
        _wav(path, np.zeros(48000, np.int16))
    elif kind == "one_hertz":  # a header whose rate is wrong: resampled 16,000x without the check
        _wav(path, (rng.normal(size=48000) * 3000).astype(np.int16), rate=1)
    else:  # a RIFF/WAVE header and a LIST chunk, but no fmt (and no data) chunk
        payload = b"WAVE" + b"LIST" + struct.pack("<I", 4) + b"INFO"
        path.write_bytes(b"RIFF" + struct.pack("<I", len(payload)) + payload)
    out = tmp_path / "out"
    with pytest.raises(UserError, match=match):
        run_audio_synthesis(str(path), "gaussian", out, iterations=2)
    assert not out.exists() or not any(out.iterdir())


def test_an_absurd_duration_is_refused_and_a_short_wav_records_what_was_used(tmp_path):
    """Planted bugs: ``duration=1e9`` silently capped by the WAV's length while ``metrics.json`` recorded
    1e9; no upper bound on ``duration``."""
    with pytest.raises(UserError, match=r"duration=1e\+09 s is longer than a synthesis here takes"):
        run_audio_synthesis("rain", "gaussian", tmp_path / "huge", duration=1e9, iterations=1)
    path = _wav(tmp_path / "half.wav", (np.random.default_rng(0).normal(size=8000) * 3000).astype(np.int16))
    metrics = run_audio_synthesis(str(path), "gaussian", tmp_path / "out", duration=3.0, J=6, iterations=1)
    assert metrics["duration"] == 0.5 and metrics["duration_requested"] == 3.0


@pytest.mark.parametrize("kind", ["transparent", "one_pixel"])
def test_hostile_textures_are_refused(tmp_path, kind):
    """Planted bugs: a fully transparent RGBA image synthesised as zeros and reported a perfect fit; a
    1-pixel image answered with the advice ``size<=1``."""
    from PIL import Image

    from scatgen.synthesis.images.textures import load_texture

    path = tmp_path / f"{kind}.png"
    if kind == "transparent":
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path)
        match = r"is constant .* there is no texture to synthesise"
    else:
        Image.new("L", (1, 1), 128).save(path)
        match = r"is 1x1, smaller than size=64: .* \(at least 16x16\)"
    with pytest.raises(UserError, match=match):
        load_texture(str(path), 64)


@pytest.mark.slow  # 10-20 s on an AVX2-only CPU (keeps make test under 10 min there)
def test_a_hostile_sound_on_the_command_line_is_one_line(tmp_path):
    path = _wav(tmp_path / "short.wav", np.zeros(160, np.int16) + 5)
    proc = run_script([ROOT / "scripts/synthesize_audio.py", f"texture={path}", f"paths.root_dir={tmp_path}",
                 f"hydra.run.dir={tmp_path / 'run'}"])
    one_line(proc, f"texture='{path}' is")


# 4. Ctrl-C saves the state and says how to resume ------------------------------------------
class InterruptAtStep(L.Callback):
    """Test helper: Ctrl-C (a ``KeyboardInterrupt``, as SIGINT raises it) after ``step`` steps."""

    def __init__(self, step: int = 3):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


class RecordBatches(L.Callback):
    """Test helper: appends ``epoch batch_idx <digest of the batch>`` to ``path`` for every batch."""

    def __init__(self, path: str):
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        digest = hashlib.sha1(batch[0].cpu().numpy().tobytes()).hexdigest()[:12]
        with open(self.path, "a") as f:
            f.write(f"{trainer.current_epoch} {batch_idx} {digest}\n")


def test_ctrl_c_saves_the_state_and_the_run_resumes_exactly(tmp_path, capfd):
    """Interrupted at step 3 of 12 and resumed, the run trains exactly the batches of an
    uninterrupted run, in the same order.  Planted bugs it catches: no ``SaveOnInterrupt`` callback
    (exit 1 after 'attempting graceful shutdown', nothing saved, no hint), and the plain shuffled
    loader (the resumed epoch draws a new order: other images, some twice)."""
    record = ["+callbacks.record._target_=test_damage_interruption_precision.RecordBatches"]
    reference = tmp_path / "reference"
    train(compose_cfg(reference, ["trainer.max_epochs=2", *record, f"+callbacks.record.path={tmp_path / 'reference.txt'}"]))
    handler = signal.getsignal(signal.SIGINT)
    record += [f"+callbacks.record.path={tmp_path / 'resumed.txt'}"]
    cfg = compose_cfg(tmp_path, ["trainer.max_epochs=2", "+callbacks.interrupt._target_=test_damage_interruption_precision.InterruptAtStep",
                                 *record])
    try:
        with pytest.raises(SystemExit):
            train(cfg)
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores SIGINT after the first one
    saved = tmp_path / "run" / "checkpoints" / "interrupted.ckpt"
    err = capfd.readouterr().err
    assert f"resume with: python train.py ckpt_path={saved}" in err
    assert read_checkpoint(saved)["global_step"] == 3
    assert not (tmp_path / "run" / "metrics.json").exists()
    train(compose_cfg(tmp_path, ["trainer.max_epochs=2", f"ckpt_path={saved}", *record]))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 12  # 2 epochs of 6 steps
    assert "not resumable" not in capfd.readouterr().err  # Lightning's warning about mid-epoch resumes
    assert (tmp_path / "resumed.txt").read_text() == (tmp_path / "reference.txt").read_text()


# 5. Data with no variance ------------------------------------------------------------------
def test_identical_images_are_one_line_about_variance(tmp_path):
    """Planted bug it catches: no ``check_variance`` (``eps * lambda_max`` = 0: a traceback
    naming a temporary file whose row 0 holds NaN)."""
    folder = tmp_path / "same"
    folder.mkdir()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    for i in range(40):
        img.save(folder / f"{i:02d}.png")
    cfg = compose_cfg(tmp_path, ["data=image_folder", f"data.root={folder}", "data.n_test=8", "data.val_size=4",
                                 "whitening.n_components=8", "data.num_workers=0"])
    with pytest.raises(ConfigError, match=r"^the training images have no variance: .* support 0 whitening components"):
        train(cfg)


# 6. The training precision: a margin, a refused variable, a warning, metrics.json ----------
def test_a_speedup_near_the_threshold_does_not_flip_the_precision():
    """Planted bug it catches: the bare ``speedup >= MIN_SPEEDUP`` rule (1.25 on a busy
    machine gave 32-true where the idle machine measured bf16)."""
    assert devices.choose_precision(2.1, cpu_has_bf16=False) == "bf16-mixed"
    assert devices.choose_precision(0.6, cpu_has_bf16=True) == "32-true"
    for near in (1.2, 1.25, 1.35, 1.45):  # too close: measured again, then the CPU's flags
        assert devices.choose_precision(near, True, remeasure=lambda: 1.28) == "bf16-mixed"
        assert devices.choose_precision(near, False, remeasure=lambda: 1.28) == "32-true"
    assert devices.choose_precision(1.25, False, remeasure=lambda: 2.0) == "bf16-mixed"


def test_a_wrong_precision_variable_is_one_line(tmp_path):
    """Planted bug it catches: ``forced in PRECISIONS`` alone (the garbage value was ignored)."""
    proc = run_script([ROOT / "train.py", f"paths.root_dir={tmp_path}"], env={"SCATGEN_CPU_PRECISION": "garbage"})
    one_line(proc, "SCATGEN_CPU_PRECISION='garbage' is not a precision; use SCATGEN_CPU_PRECISION=bf16-mixed or 32-true")


def test_an_unwritable_precision_cache_is_said(monkeypatch, caplog):
    monkeypatch.delenv("SCATGEN_CPU_PRECISION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/scatgen-not-writable")
    monkeypatch.setattr(devices, "measure_bf16_speedup", lambda rounds=5: 2.0)
    with caplog.at_level("WARNING"):
        assert devices.cpu_precision.__wrapped__() == "bf16-mixed"
    assert "cannot write the precision cache /proc/scatgen-not-writable/scatgen/cpu_precision.json" in caplog.text


def test_the_precision_cache_tells_cpus_of_one_name_apart_by_their_flags(monkeypatch, tmp_path):
    """One model name ("AMD EPYC") covers AVX512-BF16 parts and AVX2-only ones, where bf16 autocast
    is 20x slower.  Planted bug it catches: the cache keyed by the model name alone (an answer
    measured on the first kind was reused on the second)."""
    monkeypatch.delenv("SCATGEN_CPU_PRECISION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(devices, "_cpu_name", lambda: "AMD EPYC")
    monkeypatch.setattr(devices, "_cpu_flags", lambda: ("avx2", "avx512f", "avx512_bf16"))
    monkeypatch.setattr(devices, "measure_bf16_speedup", lambda rounds=5: 2.1)
    assert devices.cpu_precision.__wrapped__() == "bf16-mixed"
    monkeypatch.setattr(devices, "_cpu_flags", lambda: ("avx2",))
    monkeypatch.setattr(devices, "measure_bf16_speedup", lambda rounds=5: 0.05)
    assert devices.cpu_precision.__wrapped__() == "32-true"
    assert len(json.loads((tmp_path / "scatgen" / "cpu_precision.json").read_text())) == 2


def test_a_float32_only_cpu_trains_in_float32_measures_once_and_every_run_says_why(monkeypatch, tmp_path, caplog):
    """Issue 39's fourth item, on a CPU without bf16 (emulated bf16 measured at 0.12x on the AVX2-only
    EPYC).  Planted bugs it catches: the measurement repeated on every run (the cache not read), a
    run reading the cache without saying which precision it chose and why."""
    monkeypatch.delenv("SCATGEN_CPU_PRECISION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(devices, "_cpu_flags", lambda: ("avx2",))
    calls = []
    monkeypatch.setattr(devices, "measure_bf16_speedup", lambda rounds=5: calls.append(rounds) or 0.12)
    with caplog.at_level("INFO", logger="scatgen.devices"):
        assert devices.cpu_precision.__wrapped__() == "32-true"
        assert "bf16 autocast is 0.12x float32 on this CPU" in caplog.text and "training in 32-true" in caplog.text
        caplog.clear()
        assert devices.cpu_precision.__wrapped__() == "32-true"  # a later run: the cache, no measurement
    assert calls == [5]
    assert "training in 32-true: bf16 autocast was measured at 0.12x float32 on this CPU" in caplog.text


def test_metrics_json_records_the_precision(finished_run):
    run, _ = finished_run
    assert json.loads((run / "metrics.json").read_text())["precision"] in devices.PRECISIONS


# 8. Runs that train nothing, seeds out of range: one line before any work ------------------
@pytest.mark.parametrize("args,start", [
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 trains nothing"),
    pytest.param(["seed=-1"], "seed=-1 is out of range: seeds are integers from 0 to 2**32 - 1", marks=pytest.mark.slow),
])
def test_impossible_lengths_and_seeds_are_one_line_before_the_run_directory(tmp_path, args, start):
    """Planted bug it catches: no ``check_ranges`` (max_epochs=0 wrote metrics.json for an
    untrained G; seed=-1 gave a 14-line traceback after the run directory existed)."""
    proc = run_script([ROOT / "train.py", *args, f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}"])
    one_line(proc, start)
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


# 9. Small data with the defaults (64x64 and the default generator: marked slow for make test's budget)
@pytest.mark.slow
def test_small_data_runs_with_the_defaults(tmp_path, caplog):
    """``data.n_train=256`` with nothing else: the validation rows and the whitening size adapt
    (min(512, n/10) and min(512, n - 1)), and the log says what was chosen.  Planted bug it
    catches: ``val_size: 512`` or ``n_components: 512`` as fixed defaults (each stopped the run)."""
    cfg = compose_cfg(tmp_path, ["data.n_train=256", "data.n_test=64", "trainer.max_epochs=1", "encoder.compile=false",
                                 "callbacks.progress_bar.refresh_rate=0"], tiny=False)
    with caplog.at_level("INFO"):
        train(cfg)
    assert "validating on the last 25 of the 256 training images" in caplog.text
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["steps"] == 7  # (256 - 25) // 32 full batches
    assert np.isfinite(m["test/psnr"])
