"""Procedural polygons: filled regular polygons on a plain background.

Each image draws ``n`` vertices (3..8) and one of 8 palette colours, a random centre, radius and
rotation, rendered anti-aliased (drawn at ``supersample`` times the size, then box-filtered).
Its labels are ``(n_vertices, colour)``: 6 x 8 = 48 modes for the mode-dropping study, plus the
geometry ``(cx, cy, radius, rotation)`` in pixels/radians.  Deterministic from ``seed``.

``n_polygons = k > 1`` is the study's complexity axis: ``k - 1`` more polygons, each with its own
vertex count, colour (never the labelled one's) and geometry, are drawn first, partly hidden
under the labelled polygon, which is drawn last (on top, whole).  The labels stay those of the top
polygon, so the 48 modes and the mode classifier work at every level, while each image holds k
objects' worth of edges, corners and occlusions, a growing share of structure to store.
``k = 1`` renders exactly as before (the same random stream).

``render_non_polygons`` draws the same layouts with a smooth blob (circle, ellipse, wavy outline;
some two-toned) on top instead of a polygon: images of no mode, the mode classifier's reject class
(a circle is what an octagon becomes when its corners are lost, so without it the classifier
calls blobs octagons).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from scatgen.storage.arrays import NpyWriter, save_npy
from scatgen.storage.artefacts import write_manifest
from scatgen.data.source import ImageSource

COLOUR_NAMES = ["red", "green", "yellow", "blue", "orange", "purple", "cyan", "magenta"]
PALETTE = np.array(
    [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
     (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230)], dtype=np.uint8
)
BACKGROUND = (24, 24, 24)
MIN_VERTICES, MAX_VERTICES = 3, 8
N_MODES = (MAX_VERTICES - MIN_VERTICES + 1) * len(PALETTE)


def mode_index(labels: np.ndarray) -> np.ndarray:
    """``(n_vertices, colour)`` labels ``(N, 2)`` -> mode index in ``[0, 48)``."""
    return (labels[:, 0] - MIN_VERTICES) * len(PALETTE) + labels[:, 1]


def polygon_vertices(cx: float, cy: float, radius: float, rotation: float, n: int) -> list[tuple[float, float]]:
    return [(cx + radius * math.cos(rotation + 2 * math.pi * i / n), cy + radius * math.sin(rotation + 2 * math.pi * i / n))
            for i in range(n)]


def _draw_shapes(n: int, s: int, rng: np.random.Generator, radius_range: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """``n`` polygons' vertex counts, colours and geometry (``cx, cy, radius, rotation``, pixels)."""
    n_vertices = rng.integers(MIN_VERTICES, MAX_VERTICES + 1, size=n)
    colours = rng.integers(0, len(PALETTE), size=n)
    radius = rng.uniform(*radius_range, size=n) * s
    rotation = rng.uniform(0, 2 * np.pi, size=n)
    cx = rng.uniform(radius, s - radius)
    cy = rng.uniform(radius, s - radius)
    return n_vertices, colours, radius, rotation, cx, cy


def _layout(n: int, s: int, rng: np.random.Generator, radius_range: tuple[float, float], n_polygons: int,
            small_radius_range: tuple[float, float]) -> tuple[tuple[np.ndarray, ...], list[tuple[np.ndarray, ...]]]:
    """The top shapes and the ``n_polygons - 1`` layers of polygons beneath them.  The layers are
    drawn from the stream after the top shapes, so k = 1 keeps its random stream; their colours
    differ from the top one's (a same-coloured neighbour would merge into its outline)."""
    top = _draw_shapes(n, s, rng, radius_range)
    below = []
    for _ in range(n_polygons - 1):
        nv, _, *geometry = _draw_shapes(n, s, rng, small_radius_range)
        below.append((nv, (top[1] + rng.integers(1, len(PALETTE), size=n)) % len(PALETTE), *geometry))
    return top, below


def blob_outline(cx: float, cy: float, radius: float, rng: np.random.Generator, points: int = 64) -> list[tuple[float, float]]:
    """A smooth closed outline with no corners around ``(cx, cy)``: a circle, an ellipse (axis ratio
    1.15-1.6) or a circle whose radius varies by 2-4 random low harmonics (8-20% each), a third each."""
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    kind = rng.integers(3)
    if kind == 1:
        ratio, tilt = rng.uniform(1.15, 1.6), rng.uniform(0, np.pi)
        u, v = radius * np.cos(t), radius / ratio * np.sin(t)
        xs, ys = cx + u * np.cos(tilt) - v * np.sin(tilt), cy + u * np.sin(tilt) + v * np.cos(tilt)
        return list(zip(xs, ys))
    r = np.full_like(t, radius)
    if kind == 2:
        k = int(rng.integers(2, 5))
        amplitude, phase = rng.uniform(0.08, 0.2, k), rng.uniform(0, 2 * np.pi, k)
        r = r * (1 + sum(amplitude[j] * np.cos((j + 1) * t + phase[j]) for j in range(k)))
    return list(zip(cx + r * np.cos(t), cy + r * np.sin(t)))


def _paint(draw: ImageDraw.ImageDraw, outline: list[tuple[float, float]], colour: int, supersample: int) -> None:
    draw.polygon([(x * supersample, y * supersample) for x, y in outline], fill=tuple(int(c) for c in PALETTE[colour]))


def render_polygons(n: int, image_size: int, rng: np.random.Generator, supersample: int = 4,
                    radius_range: tuple[float, float] = (0.2, 0.4), n_polygons: int = 1,
                    small_radius_range: tuple[float, float] = (0.08, 0.16)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render ``n`` images of ``n_polygons`` polygons each (the labelled one on top). Returns images
    ``(n, S, S, 3)`` uint8, the top polygon's labels ``(n, 2)`` int64 and geometry ``(n, 4)`` float64
    (``cx, cy, radius, rotation`` in output pixels)."""
    s, big = image_size, image_size * supersample
    (n_vertices, colours, radius, rotation, cx, cy), below = _layout(n, s, rng, radius_range, n_polygons,
                                                                     small_radius_range)
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    for i in range(n):
        canvas = Image.new("RGB", (big, big), BACKGROUND)
        draw = ImageDraw.Draw(canvas)
        for nv, col, r, rot, x, y in [*[tuple(a[i] for a in shape) for shape in below],
                                       (n_vertices[i], colours[i], radius[i], rotation[i], cx[i], cy[i])]:
            _paint(draw, polygon_vertices(x, y, r, rot, int(nv)), col, supersample)
        images[i] = np.asarray(canvas.resize((s, s), Image.BOX))
    labels = np.stack([n_vertices, colours], axis=1).astype(np.int64)
    geometry = np.stack([cx, cy, radius, rotation], axis=1)
    return images, labels, geometry


def render_non_polygons(n: int, image_size: int, rng: np.random.Generator, supersample: int = 4,
                        radius_range: tuple[float, float] = (0.2, 0.4), n_polygons: int = 1,
                        small_radius_range: tuple[float, float] = (0.08, 0.16)) -> np.ndarray:
    """``n`` images of no mode, laid out as ``render_polygons``'s (same sizes, colours and polygons
    beneath) but whose top shape is a ``blob_outline`` (what a generator that has not learned corners
    draws), a quarter of them split along a line through the centre into two palette colours.
    The mode classifier learns them as its reject class.  Returns uint8 ``(n, S, S, 3)``."""
    s, big = image_size, image_size * supersample
    (_, colours, radius, _, cx, cy), below = _layout(n, s, rng, radius_range, n_polygons, small_radius_range)
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    for i in range(n):
        canvas = Image.new("RGB", (big, big), BACKGROUND)
        draw = ImageDraw.Draw(canvas)
        for nv, col, r, rot, x, y in [tuple(a[i] for a in shape) for shape in below]:
            _paint(draw, polygon_vertices(x, y, r, rot, int(nv)), col, supersample)
        outline = blob_outline(cx[i], cy[i], radius[i], rng)
        _paint(draw, outline, colours[i], supersample)
        if rng.random() < 0.25:  # two-toned: one side of a line through the centre in another colour
            side = Image.new("L", canvas.size, 0)
            ImageDraw.Draw(side).polygon([(x * supersample, y * supersample) for x, y in outline], fill=255)
            angle = rng.uniform(0, 2 * np.pi)
            yy, xx = np.mgrid[0:big, 0:big] / supersample
            half = (xx - cx[i]) * np.cos(angle) + (yy - cy[i]) * np.sin(angle) > 0
            mask = Image.fromarray((np.asarray(side) * half).astype(np.uint8))
            other = PALETTE[(colours[i] + rng.integers(1, len(PALETTE))) % len(PALETTE)]
            canvas.paste(tuple(int(c) for c in other), mask=mask)
        images[i] = np.asarray(canvas.resize((s, s), Image.BOX))
    return images


class Polygons(ImageSource):
    """The built-in data set: no download, rendered once into ``<root>/polygons/``."""

    name = "polygons"
    n_modes = N_MODES

    def __init__(self, root: str | Path = "data", image_size: int = 64, n_train: int = 8192, n_test: int = 1024,
                 seed: int = 0, supersample: int = 4, n_polygons: int = 1):
        super().__init__(root, image_size, n_train, n_test)
        if image_size < 8:
            raise ValueError(f"data.image_size={image_size} is too small for polygons; use >= 8 (32, 64 or 128)")
        if n_train < 1 or n_test < 1:
            raise ValueError(f"data.n_train={n_train} and data.n_test={n_test} must both be >= 1")
        if n_polygons < 1:
            raise ValueError(f"data.source.n_polygons={n_polygons} must be >= 1 (polygons per image: 1, 2, 4)")
        self.seed, self.supersample, self.n_polygons = seed, supersample, int(n_polygons)

    def modes_of(self, labels: np.ndarray | None) -> np.ndarray | None:
        return None if labels is None else mode_index(np.asarray(labels))

    def mode_axes(self):
        return ("vertices", list(range(MIN_VERTICES, MAX_VERTICES + 1))), ("colour", COLOUR_NAMES)

    def render_labelled(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        images, labels, _ = render_polygons(n, self.image_size, rng, self.supersample, n_polygons=self.n_polygons)
        return images, mode_index(labels)

    def render_off_modes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return render_non_polygons(n, self.image_size, rng, self.supersample, n_polygons=self.n_polygons)

    def _complexity(self) -> dict:
        """``n_polygons`` only where it is not 1: the keys of one-polygon data (its prepared arrays,
        the shipped classifiers) stay what they were before the complexity axis."""
        return {} if self.n_polygons == 1 else {"n_polygons": self.n_polygons}

    def rendering_key(self) -> dict:
        return {"source": self.name, "image_size": self.image_size, "supersample": self.supersample,
                **self._complexity()}

    def config(self) -> dict:
        return {"image_size": self.image_size, "n_train": self.n_train, "n_test": self.n_test,
                "seed": self.seed, "supersample": self.supersample, "format": 1, **self._complexity()}

    def _build(self, directory: Path, chunk: int = 1024) -> None:
        """Render in chunks straight to disk: memory stays one chunk, whatever ``n_train``."""
        names = []
        for split_id, (split, n) in enumerate((("train", self.n_train), ("test", self.n_test))):
            rng = np.random.default_rng([self.seed, split_id])
            labels, geometry = [], []
            s = self.image_size
            with NpyWriter(directory / f"{split}_images.npy", (n, s, s, 3), np.uint8) as writer:
                for start in tqdm(range(0, n, chunk), desc=f"render {split} polygons", unit="chunk", leave=False):
                    images, lab, geo = render_polygons(min(chunk, n - start), s, rng, self.supersample,
                                                          n_polygons=self.n_polygons)
                    writer.write(images)
                    labels.append(lab)
                    geometry.append(geo)
            save_npy(directory, f"{split}_labels", np.concatenate(labels))
            save_npy(directory, f"{split}_geometry", np.concatenate(geometry))
            names += [f"{split}_images", f"{split}_labels", f"{split}_geometry"]
        write_manifest(directory, names, {"key": self.key, "source": self.name, "config": self.config()})
