"""Numbers as tables print them: 3 significant figures, one rule for every report."""

from __future__ import annotations

import math

import numpy as np


def format_value(value) -> str:
    """3 significant figures (``0.00553``, ``12.3``, ``1230``); an integer as it is; ``None`` as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isfinite(value) and 1e3 <= abs(value) < 1e6:
        return f"{round(value, 2 - math.floor(math.log10(abs(value)))):.0f}"
    return f"{value:.3g}"
