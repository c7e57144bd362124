"""What the image and sound sides share: one registry of moment models per side (name, label, how to
build it; the reports and the command line loop over it, so a new model is one ``register`` call
beside its class), and the measures every synthesis report takes of its samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MomentModel:
    name: str                         # as typed: model=<name>
    label: str                        # as the reports print it
    build: Callable[..., torch.nn.Module]


class MomentModels:
    """The moment models of one side (``kind``: images or sounds), in registration order."""

    def __init__(self, kind: str):
        self.kind, self._models = kind, {}

    def register(self, name: str, label: str, build: Callable[..., torch.nn.Module]) -> None:
        self._models[name] = MomentModel(name, label, build)

    def names(self) -> tuple[str, ...]:
        return tuple(self._models)

    def labels(self) -> dict[str, str]:
        return {name: m.label for name, m in self._models.items()}

    def __contains__(self, name: str) -> bool:
        return name in self._models

    def build(self, name: str, *args, **kwargs) -> torch.nn.Module:
        if name not in self._models:
            raise ValueError(f"model={name!r} is unknown for {self.kind}; use one of {', '.join(self._models)}")
        return self._models[name].build(*args, **kwargs)


@torch.no_grad()
def moment_errors(models: dict[str, torch.nn.Module], x: torch.Tensor, target: torch.Tensor,
                  references: dict[str, dict[str, torch.Tensor]] | None = None) -> dict[str, float]:
    """Relative error ``||Phi_f(x) - Phi_f(x1)|| / ||Phi_f(x1)||`` of every family of every model
    (``references``: the models' moments of ``target``, when already computed)."""
    out = {}
    for name, model in models.items():
        phi, ref = model(x), (references[name] if references else model(target))
        for family in ref:
            out[f"moments/{name}/{family}"] = float((phi[family] - ref[family]).norm() / ref[family].norm().clamp_min(1e-20))
    return out


def mean_metrics(rows: list[dict]) -> dict[str, float]:
    """The mean of each key over the samples' rows."""
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
