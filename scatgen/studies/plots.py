"""Matplotlib figures of the study (PNG, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def histograms(series: dict[str, np.ndarray], path: str | Path, xlabel: str, title: str = "", bins: int = 40) -> Path:
    """Overlaid normalised histograms, one per named series."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    values = [np.asarray(v, dtype=float) for v in series.values()]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    for (name, v) in zip(series, values):
        ax.hist(v, bins=edges, alpha=0.5, density=True, label=f"{name} (mean {v.mean():.3g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def curves(series: dict[str, np.ndarray], path: str | Path, xlabel: str, ylabel: str, title: str = "",
           log_y: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if log_y:
        ax.set_yscale("log")
    for name, y in series.items():
        y = np.asarray(y, dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, marker="o" if len(y) <= 30 else None, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def mode_bars(histograms_by_name: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Grouped bars of mode frequencies (one group per mode, one bar per series)."""
    names = list(histograms_by_name)
    n_modes = len(next(iter(histograms_by_name.values())))
    fig, ax = plt.subplots(figsize=(12, 3.8))
    width = 0.8 / len(names)
    x = np.arange(n_modes)
    for i, name in enumerate(names):
        h = np.asarray(histograms_by_name[name], dtype=float)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, h / max(h.sum(), 1), width=width, label=name)
    ax.set_xticks(x[::8] + 3.5, [f"{n} vertices" for n in range(3, 3 + n_modes // 8)])
    for boundary in range(8, n_modes, 8):
        ax.axvline(boundary - 0.5, color="0.8", lw=0.8)
    ax.set_ylabel("fraction of images")
    ax.set_title(title or "mode histogram (8 colours per vertex count)")
    ax.legend(fontsize=8, ncol=min(len(names), 4))
    return _save(fig, path)
