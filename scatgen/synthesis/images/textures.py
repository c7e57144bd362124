"""Example textures (grey, ``(1, 1, S, S)`` float32 in [0, 1]) that need no download.

- ``brick``, ``grass``, ``gravel``: the texture images scikit-image ships inside its package
  (512 x 512 grey); the central 256 x 256 patch, resized to the requested size.
- ``lognormal``: a Gaussian field with a ``1/|k|^2`` spectrum (band-limited) through ``exp``:
  a skewed, non-Gaussian marginal with the same kind of spectrum.
- ``edges``: sparse random straight edges (anti-aliased segments on a flat background).
- any other value: a path to an image file: converted to grey at its own bit depth (8- and
  16-bit, palette, alpha, float images; a 16-bit PNG is divided by 65535, not clipped at 255),
  central square, resized down in float.  An example smaller than the requested size is refused:
  upscaling would invent its fine scales.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from scatgen.data.decode import center_square
from scatgen.errors import UserError

BUNDLED = ("brick", "grass", "gravel")
SYNTHETIC = ("lognormal", "edges")
BUILTIN = BUNDLED + SYNTHETIC


def grey_float(image: Image.Image) -> Image.Image:
    """A grey ``F`` (float32) image in [0, 1] from any PIL mode, at the file's own bit depth."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":  # 16-bit PNG/TIFF (Pillow opens them as I;16 or I)
        values = np.asarray(image, dtype=np.float64) / 65535.0
    elif mode == "F":
        values = np.asarray(image, dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        if lo < 0 or hi > 1:  # a float image in its own units: its range becomes [0, 1]
            values = (values - lo) / max(hi - lo, 1e-12)
    else:  # 1, L, P (palette), LA, RGB, RGBA, CMYK, YCbCr...: Pillow's luminance, 8 bits
        values = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    return Image.fromarray(values.astype(np.float32), mode="F")


MIN_SIZE = 16  # the smallest example worth synthesising from (J = 2 scales with room for their filters)


def _square(image: Image.Image, size: int, crop: int | None = None, name: str = "") -> np.ndarray:
    side = min(image.size[0], image.size[1], crop or min(image.size))
    if side < size:
        smaller = f"or size<={side}" if side >= MIN_SIZE else f"(at least {MIN_SIZE}x{MIN_SIZE})"
        raise UserError(f"texture={name or 'image'!r} is {image.size[0]}x{image.size[1]}, smaller than size={size}: "
                        f"upscaling would invent its fine scales; use a larger example {smaller}")
    x = np.asarray(center_square(grey_float(image), size, crop), dtype=np.float64).clip(0, 1)
    if not x.max() - x.min() > 1e-6:
        raise UserError(f"texture={name or 'image'!r} is constant (every pixel {x.flat[0]:.3g} after conversion to grey; "
                        "a fully transparent image reads so): there is no texture to synthesise; give a textured image")
    return x


def bundled(name: str, size: int) -> np.ndarray:
    import skimage

    path = Path(skimage.__file__).parent / "data" / f"{name}.png"
    if not path.is_file():
        raise UserError(f"texture={name!r}: scikit-image {skimage.__version__} does not ship {path.name} inside "
                        "its package; give an image path instead (texture=/path/to/image.png)")
    return _square(Image.open(path), size, crop=256, name=name)


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
            x = _square(Image.open(path), size, name=name_or_path)
        except OSError as err:
            raise UserError(f"texture={name_or_path!r} cannot be read as an image ({err}); give a PNG/JPEG file")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
