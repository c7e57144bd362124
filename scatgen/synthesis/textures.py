"""Example textures (grey, ``(1, 1, S, S)`` float64 in [0, 1]) that need no download.

- ``brick``, ``grass``, ``gravel``: the texture images scikit-image ships inside its package
  (512 x 512 grey); the central 256 x 256 patch, resized to the requested size.
- ``lognormal``: a Gaussian field with a ``1/|k|^2`` spectrum (band-limited) through ``exp``:
  a skewed, non-Gaussian marginal with the same kind of spectrum.
- ``edges``: sparse random straight edges (anti-aliased segments on a flat background).
- any other value: a path to an image file (converted to grey, central square, resized).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from scatgen.errors import UserError

BUNDLED = ("brick", "grass", "gravel")
SYNTHETIC = ("lognormal", "edges")
BUILTIN = BUNDLED + SYNTHETIC


def _square(image: Image.Image, size: int, crop: int | None = None) -> np.ndarray:
    w, h = image.size
    side = min(w, h, crop or min(w, h))
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.float64) / 255.0


def bundled(name: str, size: int) -> np.ndarray:
    import skimage

    path = Path(skimage.__file__).parent / "data" / f"{name}.png"
    if not path.is_file():
        raise UserError(f"texture={name!r}: scikit-image {skimage.__version__} does not ship {path.name} inside "
                        "its package; give an image path instead (texture=/path/to/image.png)")
    return _square(Image.open(path).convert("L"), size, crop=256)


def lognormal(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
    amplitude = np.where(k > 0, 1.0 / np.maximum(k, 1.0 / size), 0.0) * (k < 0.25)
    g = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * amplitude))
    x = np.exp(1.5 * g / g.std())
    return (x - x.min()) / (x.max() - x.min())


def edges(size: int, seed: int = 0, n: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = size * 4
    canvas = Image.new("L", (big, big), 60)
    draw = ImageDraw.Draw(canvas)
    for _ in range(n):
        cx, cy = rng.uniform(0, big, 2)
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.1, 0.4) * big
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=230, width=max(4, big // 64))
    return np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float64) / 255.0


def load_texture(name_or_path: str, size: int = 128, seed: int = 0) -> torch.Tensor:
    if name_or_path in BUNDLED:
        x = bundled(name_or_path, size)
    elif name_or_path == "lognormal":
        x = lognormal(size, seed)
    elif name_or_path == "edges":
        x = edges(size, seed)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"texture={name_or_path!r} is neither a built-in ({', '.join(BUILTIN)}) nor an image file")
        try:
            x = _square(Image.open(path).convert("L"), size)
        except OSError as err:
            raise UserError(f"texture={name_or_path!r} cannot be read as an image ({err}); give a PNG/JPEG file")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
