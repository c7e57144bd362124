"""The learning-rate schedule of the single-optimiser models: cosine annealing over the fit's
progress, counted in steps or, where the fit has a wall-clock budget, in time.

``p = min(1, max(t / T_max, s))`` with ``t`` the optimiser steps taken and ``s`` the share of the
budget spent (Lightning's ``Timer``: ``trainer.max_time``, or the one ``time_budget_s`` adds), and

    lr(p) = eta_min + (lr_0 - eta_min) (1 + cos(pi p)) / 2.

Without a budget this is ``torch.optim.lr_scheduler.CosineAnnealingLR`` in closed form.  With one,
a CPU too slow for the configured epochs still anneals to ``eta_min`` by the time the budget stops
the fit, rather than stopping at a high learning rate.
"""

from __future__ import annotations

import math
from typing import Callable

from lightning.pytorch.callbacks import Timer
from torch.optim.lr_scheduler import LRScheduler


class BudgetedCosineLR(LRScheduler):
    """Cosine annealing from each group's initial rate to ``eta_min`` over ``max(steps, time)``
    (module docstring); ``clock()`` is the share of the time budget spent (0: none)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise ValueError(f"T_max={T_max} must be at least 1 step")
        self.T_max, self.eta_min = T_max, eta_min
        self.clock: Callable[[], float] = lambda: 0.0
        super().__init__(optimizer, last_epoch)

    def progress(self) -> float:
        return min(1.0, max(self.last_epoch / self.T_max, self.clock()))

    def get_lr(self) -> list[float]:
        factor = (1 + math.cos(math.pi * self.progress())) / 2
        return [self.eta_min + (lr0 - self.eta_min) * factor for lr0 in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop("clock", None)  # set by the trainer of each run, not saved
        return state


def fit_budget_clock(trainer) -> Callable[[], float] | None:
    """The share of the fit's wall-clock budget spent so far, read from the trainer's ``Timer``
    (resumed time included), or ``None`` when the fit has no budget."""
    for callback in trainer.callbacks:
        if isinstance(callback, Timer) and callback.time_remaining() is not None:
            duration = callback.time_elapsed() + callback.time_remaining()
            return lambda: callback.time_elapsed() / duration
    return None
