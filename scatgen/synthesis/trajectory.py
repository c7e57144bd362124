"""One sample's descent, watched at every loss+gradient evaluation, whatever the optimiser (torch
L-BFGS, plenoptic's Metamer, scipy's L-BFGS-B): its loss and wall seconds, the best image so far
(line searches evaluate trial points worse than the last iterate), snapshots of that best image
at given evaluation counts and at a given wall time, and the stopping rule.

Stopping rule (plenoptic's, made relative): stop at the *plateau*, when the best loss ``b`` has
changed by less than ``tolerance`` relative over the last ``window`` evaluations,
``b[n - window] - b[n] <= tolerance |b[n - window]|``, or at the ``cap`` of evaluations.
The optimiser is stopped by raising ``Stop`` from its loss function; ``run_until_stopped``
catches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


class Stop(Exception):
    """Raised from inside an optimiser's loss evaluation to end the descent."""


@dataclass
class Snapshot:
    image: torch.Tensor    # the best image up to this point, in the example's units
    evaluations: int       # evaluations run when it was taken
    seconds: float         # wall seconds since the descent started
    loss: float            # the best loss up to this point


@dataclass
class Trajectory:
    cap: int = 1000                       # at most this many evaluations
    window: int | None = 50               # plateau window (evaluations); None: run to the cap
    tolerance: float = 1e-4               # relative change of the best loss over the window
    at_evaluations: tuple[int, ...] = (50, 200, 1000)
    at_seconds: float | None = None       # also keep the best image at this wall time
    to_image: Callable[[torch.Tensor], torch.Tensor] = lambda x: x   # the optimiser's variable -> image
    losses: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_losses: list[float] = field(default_factory=list)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    stopped: str = "optimiser"            # why it ended: plateau | cap | optimiser (its own test)

    def __post_init__(self):
        self._start = time.perf_counter()
        self._best: torch.Tensor | None = None

    def observe(self, x: torch.Tensor, loss: float) -> None:
        """Record one evaluation at the point ``x``; raises ``Stop`` at the plateau or the cap."""
        elapsed = time.perf_counter() - self._start
        if not self.best_losses or loss < self.best_losses[-1]:
            self._best = x.detach().clone()
            best = loss
        else:
            best = self.best_losses[-1]
        self.losses.append(loss)
        self.seconds.append(elapsed)
        self.best_losses.append(best)
        n = len(self.losses)
        if self.at_seconds is not None and (elapsed <= self.at_seconds or n == 1):
            self.snapshots["wall"] = self._snapshot()  # the last point within the time (at least the start)
        if n in self.at_evaluations:
            self.snapshots[f"eval{n}"] = self._snapshot()
        if self.window and n > self.window:
            before = self.best_losses[-1 - self.window]
            if before - best <= self.tolerance * abs(before):
                self.stopped = "plateau"
                raise Stop
        if n >= self.cap:
            self.stopped = "cap"
            raise Stop

    def _snapshot(self) -> Snapshot:
        return Snapshot(self.to_image(self._best), len(self.losses), self.seconds[-1], self.best_losses[-1])

    def finish(self) -> Snapshot:
        """The end of the descent: the ``final`` snapshot."""
        if self._best is None:
            raise RuntimeError("the descent evaluated nothing")
        self.snapshots["final"] = self._snapshot()
        return self.snapshots["final"]


def run_until_stopped(descend: Callable[[], object]) -> None:
    """Run an optimiser to its own end or until a ``Trajectory`` stops it."""
    try:
        descend()
    except Stop:
        pass
