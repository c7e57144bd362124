"""The user's toolbox on tiny checkpoints: generate, encode, interpolate, export (scatgen/toolbox.py and
its four scripts).  Each test names the bug it was seen to fail on (planted once)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from conftest import compose_cfg, one_line, run_script
from scatgen import toolbox


def _train(tmp, model: str, extra=()):
    from scatgen.pipeline import train

    cfg = compose_cfg(tmp, [f"model={model}", "trainer.max_epochs=1", "data.n_test=64", *extra])
    train(cfg)
    (tmp / "run" / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp / "run" / ".hydra" / "config.yaml")  # as a Hydra app run would (compose does not)
    return tmp / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def scattering_ckpt(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("is"), "inverse_scattering")


@pytest.fixture(scope="module")
def test_pngs(scattering_ckpt, tmp_path_factory):
    """The run's first 8 test images as PNG files (uint8, as the data set stores them)."""
    folder = tmp_path_factory.mktemp("pngs")
    root = scattering_ckpt.parents[2]
    images = np.load(next(root.glob("data/polygons/*/test_images.npy")))
    for i in range(8):
        Image.fromarray(images[i]).save(folder / f"test{i}.png")
    return folder


def test_generate_is_per_seed_and_byte_identical(scattering_ckpt, tmp_path):
    """Planted bug it catches: z drawn for the whole range from its first seed (seed 2's image then
    depends on the range it is asked in)."""
    toolbox.generate(scattering_ckpt, "0-3", tmp_path / "a")
    toolbox.generate(scattering_ckpt, "0-3", tmp_path / "b")
    toolbox.generate(scattering_ckpt, "2", tmp_path / "c")
    names = sorted(p.name for p in (tmp_path / "a").glob("seed*.png"))
    assert names == [f"seed{i:04d}.png" for i in range(4)] and (tmp_path / "a/grid.png").exists()
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a/seed0002.png").read_bytes() == (tmp_path / "c/seed0002.png").read_bytes()
    half = toolbox.generate(scattering_ckpt, "2", tmp_path / "d", truncation=0.5)
    assert half[0].read_bytes() != (tmp_path / "c/seed0002.png").read_bytes()  # truncation changes z


@pytest.mark.parametrize("text,seeds", [("0-3", [0, 1, 2, 3]), ("1,5,9", [1, 5, 9]), (7, [7]), ([2, 4], [2, 4])])
def test_seed_ranges(text, seeds):
    assert toolbox.parse_seeds(text) == seeds


def test_encode_reconstructs_a_test_image_at_the_runs_psnr_without_optimisation(scattering_ckpt, test_pngs, tmp_path):
    """z = L S_J x from PNG files gives the study's reconstructions of the same test images.  Planted
    bug it catches: z taken as S_J x without the whitening (a wrong code: the PSNR falls by > 3 dB)."""
    from scatgen.evaluate import load_model
    from scatgen.metrics.reconstruction import reconstruction_scores

    rows = toolbox.encode(scattering_ckpt, test_pngs, tmp_path)
    _, dm, model = load_model(scattering_ckpt)
    study = reconstruction_scores(model, dm.split_loader("test", limit=8))["psnr"]
    ours = torch.tensor([r["psnr"] for r in sorted(rows, key=lambda r: r["image"])])
    assert torch.allclose(ours, study, atol=0.5), (ours, study)
    summary = json.loads((tmp_path / "encode.json").read_text())
    assert summary["method"].startswith("z = L S_J x") and summary["seconds_per_image"] > 0
    z = np.load(tmp_path / "test0.npy")
    assert z.shape == (model.latent_dim,)
    assert (tmp_path / "test0_input.png").exists() and (tmp_path / "test0_reconstruction.png").exists()


def test_interpolate_writes_a_strip_and_a_gif_between_the_two_ends(scattering_ckpt, test_pngs, tmp_path):
    """Between two seeds the path is spherical and its ends are those seeds' samples.  Planted bug it
    catches: the ends swapped or the path stopping short (the last frame is not G(z_b))."""
    result = toolbox.interpolate(scattering_ckpt, 3, 4, tmp_path / "seeds", steps=6)
    assert result["path"] == "spherical" and result["interp/jump"] >= 1
    gif = Image.open(tmp_path / "seeds/interpolation.gif")
    assert gif.n_frames == 6
    toolbox.generate(scattering_ckpt, "3-4", tmp_path / "gen")
    gif.seek(5)
    last = np.asarray(gif.convert("RGB"), dtype=float)
    expected = np.asarray(Image.open(tmp_path / "gen/seed0004.png").convert("RGB"), dtype=float)
    assert np.abs(last - expected).mean() < 3  # GIF palette quantisation only
    images = toolbox.interpolate(scattering_ckpt, test_pngs / "test0.png", test_pngs / "test1.png", tmp_path / "img")
    assert images["path"] == "linear" and (tmp_path / "img/strip.png").exists()


def test_the_exported_generator_runs_without_scatgen_and_matches(scattering_ckpt, tmp_path):
    """In a Python where ``import scatgen`` fails, ``torch.jit.load`` runs the file; its samples equal
    the checkpoint's to 1e-5 and ``encode`` gives the checkpoint's codes, at batch sizes other than the
    traced one.  Planted bug it catches: the exported ``forward`` returning G's ``[-1, 1]`` images instead of
    ``[0, 1]``.  (Tracing the scattering's front end instead of its per-chunk function was planted too and
    passes at these sizes: the front end's chunk covers the batch; the per-chunk function is traced so that
    a larger batch, split in chunks, cannot freeze.)"""
    path = toolbox.export(scattering_ckpt, tmp_path / "g.pt")
    _, model = toolbox.load(scattering_ckpt)
    z = torch.randn(5, model.latent_dim, generator=torch.Generator().manual_seed(1))
    x = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    torch.save({"z": z, "x": x}, tmp_path / "inputs.pt")
    code = ("import sys; sys.modules['scatgen'] = None\n"
            "import torch\n"
            f"m = torch.jit.load({str(path)!r})\n"
            f"inputs = torch.load({str(tmp_path / 'inputs.pt')!r})\n"
            f"torch.save({{'images': m(inputs['z']), 'codes': m.encode(inputs['x']), 'z_dim': m.z_dim}}, "
            f"{str(tmp_path / 'outputs.pt')!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = torch.load(tmp_path / "outputs.pt")
    assert out["z_dim"] == model.latent_dim and isinstance(out["z_dim"], int)
    with torch.no_grad():
        images = ((model.generator(z).clamp(-1, 1) + 1) / 2)
        codes = model.encode(x * 2 - 1)
    assert out["images"].shape == images.shape and (out["images"] - images).abs().max() <= 1e-5
    assert out["codes"].shape == codes.shape
    assert (out["codes"] - codes).abs().max() <= 1e-5 * codes.abs().max()


def test_bad_inputs_are_one_line(scattering_ckpt, tmp_path):
    """One bad input per command (the script's one-line path checked once, the rest in process)."""
    from scatgen.errors import UserError

    one_line(run_script(["scripts/generate.py", f"ckpt_path={scattering_ckpt}", "seeds=5-2", f"paths.root_dir={tmp_path}"]),
             "seeds='5-2': the range 5-2 runs backwards; give seeds=2-5")
    with pytest.raises(UserError, match=f"images={tmp_path}/missing.png: no such file or folder"):
        toolbox.encode(scattering_ckpt, tmp_path / "missing.png", tmp_path / "enc")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(UserError, match="notes.txt is not a readable image"):
        toolbox.encode(scattering_ckpt, tmp_path / "notes.txt", tmp_path / "enc")
    with pytest.raises(UserError, match="steps=1 must be >= 2"):
        toolbox.interpolate(scattering_ckpt, 1, 2, tmp_path / "i", steps=1)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(UserError, match=f"ckpt_path={str(foreign)!r} holds no state_dict"):
        toolbox.export(foreign, tmp_path / "g.pt")


@pytest.mark.slow  # trains a GAN and a VAE: make test-slow (make test's budget)
@pytest.mark.parametrize("model,method", [
    ("gan", "latent inversion: Adam on ||G(z) - x||^2, 3 steps, 1 restarts, lr 0.05"),
    ("vae", "z = mu(x) (the encoder's posterior mean)"),
])
def test_any_model_is_encoded_its_own_way_with_the_method_stated(tmp_path, model, method):
    """Any model: the GAN's z comes from latent inversion (the method says its optimiser settings), the
    VAE's is its posterior mean; both generate per seed."""
    gan = ["model.inversion.steps=3", "model.inversion.restarts=1", "study.eval_limit=8", "model.val_inversion_images=4"]
    ckpt = _train(tmp_path, model, gan if model == "gan" else [])
    images = np.load(next(tmp_path.glob("data/polygons/*/test_images.npy")))
    Image.fromarray(images[0]).save(tmp_path / "one.png")
    rows = toolbox.encode(ckpt, tmp_path / "one.png", tmp_path / "enc")
    summary = json.loads((tmp_path / "enc/encode.json").read_text())
    assert summary["method"] == method
    assert np.isfinite(rows[0]["psnr"])
    assert len(toolbox.generate(ckpt, "0-1", tmp_path / "gen")) == 2
