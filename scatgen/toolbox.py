"""A trained model in a user's hands (``scripts/generate.py``, ``encode.py``, ``interpolate.py``,
``export.py``): samples per seed, images encoded and reconstructed, interpolations, and a
TorchScript file that runs without scatgen.

How ``z`` is found for an image depends on the model: inverse scattering computes ``z = L S_J x``
(no optimisation), the VAE takes the posterior mean ``mu(x)``, a GAN inverts ``G`` by Adam
(``model.inversion``: steps, restarts, learning rate).  Everything runs in float32 on the CPU unless
``device=`` says otherwise, so the same seed draws the same ``z`` on every machine (``torch``'s CPU
generator) and, on one CPU kind, the same bytes.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from scatgen.data.datasets import images_to_tensor, to_unit
from scatgen.data.decode import DECODE_ERRORS, TooSmall, crop_resize, open_image
from scatgen.errors import UserError
from scatgen.evaluate import load_model
from torchmetrics.functional.image import peak_signal_noise_ratio
from scatgen.models.components.inversion import invert_latents
from scatgen.models.components.priors import PRIORS, make_prior
from scatgen.storage.artefacts import write_json
from scatgen.studies.interpolation import latent_paths, smoothness
from scatgen.viz.grids import save_png

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


# -- inputs -------------------------------------------------------------------------------------
def parse_seeds(text) -> list[int]:
    """``"0-63"``, ``"1,5,9"``, ``7`` or a list (``seeds=[1,5,9]``) -> the seeds, in order (one line for a bad range)."""
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        return [int(s) for s in text]
    seeds = []
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"seeds={text!r}: {part!r} is not a seed or a range; give e.g. seeds=0-63 or seeds=1,5,9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise UserError(f"seeds={text!r}: the range {lo}-{hi} runs backwards; give seeds={hi}-{lo}")
        seeds += range(lo, hi + 1)
    return seeds


def image_files(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted); one line if there are none."""
    p = Path(str(path)).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"images={path}: the folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
        return files
    if not p.is_file():
        raise UserError(f"images={path}: no such file or folder")
    return [p]


def read_image(path: Path, size: int, channels: int) -> torch.Tensor:
    """One image as the data loaders prepare it (centre square, Lanczos resize, RGB or grey):
    ``(1, C, S, S)`` in ``[-1, 1]``."""
    try:
        img = open_image(path)
        array = crop_resize(img, size)
    except TooSmall as err:
        raise UserError(f"{path}: {err}; give an image of at least {math.ceil(size / 2)} pixels a side") from None
    except DECODE_ERRORS as err:
        raise UserError(f"{path} is not a readable image ({type(err).__name__}: {err})") from None
    x = images_to_tensor(array[None])
    return x.mean(1, keepdim=True) if channels == 1 else x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """One image in ``[-1, 1]`` ``(C, H, W)`` -> uint8 ``(H, W, C)`` (rounded, as ``save_image`` rounds)."""
    return to_unit(x.float()).mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def write_image(x: torch.Tensor, path: Path) -> Path:
    array = to_uint8(x)
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return path


# -- the model ----------------------------------------------------------------------------------
def load(ckpt_path, device: str = "cpu"):
    """``(cfg, model)`` in eval mode, float32, from a run's checkpoint."""
    if ckpt_path in (None, "???"):
        raise UserError("ckpt_path is missing: give ckpt_path=logs/train/runs/<time>/checkpoints/last.ckpt")
    cfg, _, model = load_model(ckpt_path, device, with_data=False)
    if model.uses_codes:  # one image at a time: compiling the scattering for each chunk shape costs more than it saves
        model.encoder.transform.compile = False
    return cfg, model.float().eval()


def encoding_method(model) -> str:
    """How ``model.latents`` finds ``z`` for an image, with the optimiser's settings for latent inversion."""
    if model.uses_codes:
        return "z = L S_J x (the scattering transform, then the whitening; no optimisation)"
    if model.reconstructs_by_inversion:
        defaults = {k: p.default for k, p in inspect.signature(invert_latents).parameters.items()}
        s = {**defaults, **model.inversion}
        return f"latent inversion: Adam on ||G(z) - x||^2, {s['steps']} steps, {s['restarts']} restarts, lr {s['lr']}"
    return "z = mu(x) (the encoder's posterior mean)"


@torch.no_grad()
def encode_images(model, x: torch.Tensor) -> torch.Tensor:
    """Latents of images ``x`` in ``[-1, 1]`` (the model's own way: ``encoding_method``)."""
    if model.uses_codes:
        return model.encode(x)
    if model.reconstructs_by_inversion:
        with torch.enable_grad():  # latent inversion optimises z
            return model.latents([x]).float().detach()
    return model.latents([x]).float()


def prior_for(name: str, model, cfg, seed: int = 0, fit_images: int = 256):
    """The named prior; ``gmm`` and ``empirical`` are fitted on the latents of the first ``fit_images``
    training images (encoded as ``encode_images`` does)."""
    if name not in PRIORS:
        raise UserError(f"prior={name!r} is unknown; use one of {', '.join(PRIORS)}")
    study = cfg.get("study") or {}
    prior = make_prior(name, study.get("gmm_components", 48), study.get("gmm_covariance", "diag"),
                       study.get("empirical_noise", 0.1), seed)
    if name != "gaussian":
        from scatgen.factory import build

        datamodule, _ = build(cfg)
        datamodule.prepare_data()
        datamodule.setup("fit")
        x = model.batch_images(datamodule.fixed_batch("train", fit_images)).to(model.device)
        log.info("fitting the %s prior on the latents of %d training images", name, len(x))
        prior.fit(encode_images(model, x).cpu())
    return prior


# -- the commands -------------------------------------------------------------------------------
@torch.no_grad()
def generate(ckpt_path, seeds, out: Path, prior: str = "gaussian", truncation: float = 1.0, device: str = "cpu") -> list[Path]:
    """``seedNNNN.png`` per seed (``z`` drawn from that seed alone, times ``truncation``) and ``grid.png``."""
    seeds = parse_seeds(seeds)
    if not truncation > 0:
        raise UserError(f"truncation={truncation} must be > 0 (1: the prior itself; below 1: closer to its mode)")
    cfg, model = load(ckpt_path, device)
    sampler = prior_for(prior, model, cfg)
    out.mkdir(parents=True, exist_ok=True)
    images, paths = [], []
    for seed in seeds:
        z = sampler.sample(1, model.latent_dim, seed) * truncation
        x = model.generator(z.to(model.device)).float().clamp(-1, 1).cpu()
        paths.append(write_image(x[0], out / f"seed{seed:04d}.png"))
        images.append(x)
    save_png(torch.cat(images), out / "grid.png")
    log.info("%d samples from %s (truncation %g) -> %s (grid.png)", len(seeds), prior, truncation, out)
    return paths


def encode(ckpt_path, images, out: Path, device: str = "cpu") -> list[dict]:
    """Per image: ``<name>.npy`` (z), ``<name>_input.png`` beside ``<name>_reconstruction.png``, and its
    PSNR; ``encode.json`` with every row, the method and the seconds per image."""
    files = image_files(images)
    cfg, model = load(ckpt_path, device)
    size, channels = int(cfg.data.image_size), model.generator.to_image.out_channels
    out.mkdir(parents=True, exist_ok=True)
    method = encoding_method(model)
    log.info("encoding %d image(s) with %s", len(files), method)
    rows = []
    for path in files:
        x = read_image(path, size, channels).to(model.device)
        t = time.perf_counter()
        z = encode_images(model, x)
        seconds = time.perf_counter() - t
        with torch.no_grad():
            x_hat = model.generator(z).float().clamp(-1, 1)
        psnr = float(peak_signal_noise_ratio(to_unit(x_hat), to_unit(x), data_range=1.0))  # as the study scores it
        np.save(out / f"{path.stem}.npy", z[0].cpu().numpy())
        write_image(x[0], out / f"{path.stem}_input.png")
        write_image(x_hat[0], out / f"{path.stem}_reconstruction.png")
        rows.append({"image": str(path), "psnr": psnr, "seconds": seconds, "z": f"{path.stem}.npy"})
        log.info("%s: %.2f dB, %.3f s", path.name, psnr, seconds)
    summary = {"method": method, "seconds_per_image": sum(r["seconds"] for r in rows) / len(rows),
               "mean_psnr": sum(r["psnr"] for r in rows) / len(rows), "images": rows}
    write_json(out / "encode.json", summary)
    return rows


def slerp(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """The great-circle path between ``z1`` and ``z2`` (norms interpolated linearly): the path that keeps
    Gaussian samples at a typical radius.  ``(steps, D)``."""
    a = torch.linspace(0, 1, steps)[:, None]
    n1, n2 = z1.norm(), z2.norm()
    u1, u2 = z1 / n1, z2 / n2
    omega = torch.arccos((u1 * u2).sum().clamp(-1, 1))
    if omega < 1e-6:
        direction = (1 - a) * u1 + a * u2
    else:
        direction = (torch.sin((1 - a) * omega) * u1 + torch.sin(a * omega) * u2) / torch.sin(omega)
    return direction * ((1 - a) * n1 + a * n2)


@torch.no_grad()
def interpolate(ckpt_path, a, b, out: Path, steps: int = 16, path: str = "auto", device: str = "cpu") -> dict:
    """``strip.png`` and ``interpolation.gif`` from end ``a`` to end ``b`` (an image path or a seed), with
    the study's smoothness measures (jump, path ratio) in ``interpolate.json``.  ``path=auto``: spherical
    between two seeds (Gaussian samples), linear otherwise (the study's path between images)."""
    if steps < 2:
        raise UserError(f"steps={steps} must be >= 2 (the two ends included)")
    if path not in ("auto", "linear", "spherical"):
        raise UserError(f"path={path!r} is unknown; use auto, linear or spherical")
    cfg, model = load(ckpt_path, device)
    size, channels = int(cfg.data.image_size), model.generator.to_image.out_channels

    def end(value):
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return make_prior("gaussian").sample(1, model.latent_dim, int(value))[0], True
        x = read_image(image_files(value)[0], size, channels).to(model.device)
        return encode_images(model, x)[0].cpu(), False

    (z1, seed1), (z2, seed2) = end(a), end(b)
    spherical = path == "spherical" or (path == "auto" and seed1 and seed2)
    if spherical:
        zs = slerp(z1, z2, steps)
        frames = model.generator(zs.to(model.device)).float().clamp(-1, 1).cpu()[None]
    else:
        frames = latent_paths(model.generator, z1[None].to(model.device), z2[None].to(model.device), steps).clamp(-1, 1).cpu()
    out.mkdir(parents=True, exist_ok=True)
    save_png(frames[0], out / "strip.png", nrow=steps)
    gif = [Image.fromarray(to_uint8(f).squeeze(-1) if channels == 1 else to_uint8(f)) for f in frames[0]]
    gif[0].save(out / "interpolation.gif", save_all=True, append_images=gif[1:], duration=120, loop=0)
    result = {"a": str(a), "b": str(b), "steps": steps, "path": "spherical" if spherical else "linear",
              **{f"interp/{k}": v for k, v in smoothness(frames).items()}}
    write_json(out / "interpolate.json", result)
    log.info("%s path, %d steps: jump %.3g, path ratio %.3g -> %s", result["path"], steps, result["interp/jump"],
             result["interp/path_ratio"], out)
    return result


class _Sampler(torch.nn.Module):
    """``forward(z)``: images in ``[0, 1]``, ``(B, C, H, W)``, from latents ``(B, z_dim)`` (an int attribute)."""

    def __init__(self, generator: torch.nn.Module, z_dim: int):
        super().__init__()
        self.generator, self.z_dim = generator, z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ((self.generator(z).float().clamp(-1, 1) + 1) / 2).contiguous()


class _SamplerAndEncoder(_Sampler):
    """Also ``encode(x)``: ``z = L S_J x`` for images ``x`` in ``[0, 1]`` (the scattering, then the whitening)."""

    def __init__(self, generator: torch.nn.Module, encoder: torch.nn.Module, z_dim: int):
        super().__init__(generator, z_dim)
        self.encoder = encoder

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x * 2 - 1)


class _Encoder(torch.nn.Module):
    """``L S_J x`` through the fast backend's per-chunk transform (a pure tensor function: its front
    end's chunking and compilation are Python that tracing would freeze at one batch size)."""

    def __init__(self, model):
        super().__init__()
        if model.encoder.backend != "fast":
            raise UserError(f"export traces the fast scattering backend; the run used encoder.backend="
                            f"{model.encoder.backend!r}, which computes the same codes: retrain with encoder.backend=fast")
        self.scatter, self.whitening = model.encoder.transform._scatter, model.whitening
        self.shape, self.code_shape = tuple(model.encoder.shape), tuple(model.encoder.code_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scatter(x.contiguous().reshape(-1, *self.shape))
        return self.whitening(s.reshape(x.shape[0], *self.code_shape))


@torch.no_grad()
def export(ckpt_path, out: Path, format: str = "torchscript") -> Path:
    """A TorchScript file (``torch.jit.load`` runs it without scatgen): ``forward(z)`` maps latents to
    images in ``[0, 1]``; ``z_dim`` is an int attribute; inverse scattering also has ``encode(x)``.
    The networks are traced on the CPU in float32 (the scattering's loops unrolled for the image size)."""
    if format != "torchscript":
        raise UserError(f"format={format!r} is not supported; use format=torchscript")
    cfg, model = load(ckpt_path, "cpu")
    size, channels = int(cfg.data.image_size), model.generator.to_image.out_channels
    z = torch.randn(2, model.latent_dim, generator=torch.Generator().manual_seed(0))
    generator = torch.jit.trace(model.generator, z, check_trace=False)
    if model.uses_codes:
        x = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        encoder = torch.jit.trace(_Encoder(model), x, check_trace=False)
        module = torch.jit.script(_SamplerAndEncoder(generator, encoder, model.latent_dim))
    else:
        module = torch.jit.script(_Sampler(generator, model.latent_dim))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    module.save(str(out))
    log.info("TorchScript -> %s (z_dim %d%s)", out, model.latent_dim, ", with encode(x)" if model.uses_codes else "")
    return out
