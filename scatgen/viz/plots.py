"""Matplotlib figures (PNG, headless).  Series may be numpy arrays or tensors on any device."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from scatgen.storage.artefacts import atomic_write_bytes  # noqa: E402


def as_numpy(values) -> np.ndarray:
    """A float64 numpy array from a tensor (any device, any dtype) or an array-like."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


def save_figure(fig, path: str | Path) -> Path:
    """Render to PNG in memory, then write atomically (a full disk is one line)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    return atomic_write_bytes(Path(path), buffer.getvalue())


def histograms(series: dict[str, np.ndarray], path: str | Path, xlabel: str, title: str = "", bins: int = 40) -> Path:
    """Overlaid normalised histograms, one per named series."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    values = [as_numpy(v) for v in series.values()]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    for (name, v) in zip(series, values):
        ax.hist(v, bins=edges, alpha=0.5, density=True, label=f"{name} (mean {v.mean():.3g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def curves(series: dict[str, np.ndarray], path: str | Path, xlabel: str, ylabel: str, title: str = "",
           log_y: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if log_y:
        ax.set_yscale("log")
    for name, y in series.items():
        y = as_numpy(y)
        ax.plot(np.arange(1, len(y) + 1), y, marker="o" if len(y) <= 30 else None, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def mode_bars(histograms_by_name: dict[str, np.ndarray], path: str | Path, title: str = "",
              mode_axes: tuple[tuple[str, list], tuple[str, list]] | None = None) -> Path:
    """Grouped bars of mode frequencies (one group per mode, one bar per series).  ``mode_axes``
    (the data source's two factors, e.g. ``("vertices", [3, ..., 8]), ("colour", [...])``) labels
    the modes: one tick and separator per value of the first, mode ``i * len(second) + j``."""
    names = list(histograms_by_name)
    n_modes = len(next(iter(histograms_by_name.values())))
    fig, ax = plt.subplots(figsize=(12, 3.8))
    width = 0.8 / len(names)
    x = np.arange(n_modes)
    for i, name in enumerate(names):
        h = as_numpy(histograms_by_name[name])
        ax.bar(x + (i - (len(names) - 1) / 2) * width, h / max(h.sum(), 1), width=width, label=name)
    if mode_axes is not None and len(mode_axes[0][1]) * len(mode_axes[1][1]) == n_modes:
        (row_name, row_values), (col_name, col_values) = mode_axes
        group = len(col_values)
        ax.set_xticks(x[::group] + (group - 1) / 2, [f"{v} {row_name}" for v in row_values])
        for boundary in range(group, n_modes, group):
            ax.axvline(boundary - 0.5, color="0.8", lw=0.8)
        title = title or f"mode histogram ({group} {col_name}s per {row_name} value)"
    else:
        ax.set_xlabel("mode")
    ax.set_ylabel("fraction of images")
    ax.set_title(title or "mode histogram")
    ax.legend(fontsize=8, ncol=min(len(names), 4))
    return save_figure(fig, path)


def heatmap(values, rows: tuple[str, list], cols: tuple[str, list], path: str | Path, title: str = "",
            fmt: str = "{:.1f}", cmap: str = "viridis") -> Path:
    """A labelled heatmap ``(len(rows), len(cols))`` with each cell's value written in it."""
    v = as_numpy(values)
    (row_name, row_labels), (col_name, col_labels) = rows, cols
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(col_labels), 0.9 + 0.5 * len(row_labels)))
    im = ax.imshow(v, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels], rotation=30)
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel(col_name)
    ax.set_ylabel(row_name)
    finite = v[np.isfinite(v)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if np.isfinite(v[i, j]):
                ax.text(j, i, fmt.format(v[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if v[i, j] < middle else "black")
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def image_row(paths: list[Path], titles: list[str], out: str | Path, width: float = 4.2) -> Path:
    """Several PNGs side by side, each under its title."""
    fig, axes = plt.subplots(1, len(paths), figsize=(width * len(paths), width * 1.05))
    for ax, path, title in zip(np.atleast_1d(axes), paths, titles):
        ax.imshow(plt.imread(path))
        ax.set_title(title)
        ax.axis("off")
    return save_figure(fig, out)


def spectrograms(signals: dict, rate: int, path: str | Path, title: str = "", window: int = 512) -> Path:
    """Log-power spectrograms (Hann window, 75% overlap) side by side, one per named signal."""
    fig, axes = plt.subplots(1, len(signals), figsize=(3.3 * len(signals), 3.2), sharey=True)
    hop = window // 4
    for ax, (name, x) in zip(np.atleast_1d(axes), signals.items()):
        y = torch.as_tensor(as_numpy(x).flatten())
        spec = torch.stft(y, window, hop, window=torch.hann_window(window, periodic=False, dtype=y.dtype), center=False,
                          return_complex=True)  # (frequencies, frames)
        db = 10 * np.log10(spec.abs().square().numpy() + 1e-12)
        ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                  extent=(0, len(y) / rate, 0, rate / 2 / 1000))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time (s)")
    np.atleast_1d(axes)[0].set_ylabel("frequency (kHz)")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def panel_curves(panels: dict[str, dict[str, tuple[list, list]]], path: str | Path, xlabel: str,
                 log_x: bool = False, columns: int = 4) -> Path:
    """One panel per title, each with one ``(x, y)`` curve per named series (markers at the points)."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
    for ax, (title, series) in zip(axes.flat, panels.items()):
        for name, (x, y) in series.items():
            if len(x):
                flat = len(x) == 2 and len(set(y)) == 1  # a reference level: a dashed line, no markers
                ax.plot(x, y, linestyle="--" if flat else "-", marker=None if flat else "o", label=name)
        if log_x:
            ax.set_xscale("log", base=2)
        xs = sorted({v for x, _ in series.values() for v in x})
        if xs and len(xs) <= 8:  # a tick per point where they fit; matplotlib's own beyond
            ax.set_xticks(xs, [f"{v:,}" for v in xs])
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return save_figure(fig, path)
