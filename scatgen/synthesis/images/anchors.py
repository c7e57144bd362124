"""The published texture models, run beside scatgen's as anchors (the optional extra ``.[anchors]``).

- ``portilla_simoncelli``: plenoptic's Portilla & Simoncelli (2000) statistics (steerable pyramid,
  ``n_scales = min(4, log2(size) - 3)``, 4 orientations, 7x7 autocorrelations; the redundant
  statistics left out, as plenoptic does), synthesised by plenoptic's ``Metamer`` with its PS loss
  factory and L-BFGS, as plenoptic's documentation does.
- ``pywph``: pywph's wavelet phase-harmonic operator (Allys et al. 2020; bump steerable wavelets,
  ``J`` scales, 4 orientations, ``dn=0``, the model ``S11 S00 S01 Cphase C01 C00 L``), synthesised
  as pywph's examples do: the example standardised, ``norm="auto"`` (moments normalised by the
  example's wavelet statistics), scipy's L-BFGS-B (``maxcor=20``) on the squared modulus error.

Both also judge: ``{family: (B, n)}`` moments as scatgen's models return, so every synthesis is
measured under every model's statistics.  Each synthesis starts from the same white noise as
scatgen's (``white_noise_like``), is given a budget of loss+gradient evaluations, and may be
watched by a ``Trajectory`` that stops it at its plateau and keeps its best image.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from scatgen.errors import UserError
from scatgen.synthesis.microcanonical import Synthesis, white_noise_like
from scatgen.synthesis.trajectory import Trajectory, run_until_stopped

ANCHORS = ("portilla_simoncelli", "pywph")
WPH_CLASSES = ["S11", "S00", "S01", "Cphase", "C01", "C00", "L"]
EXTRA = "pip install -e '.[anchors]' (plenoptic and pywph)"


def require(package: str):
    """Import an anchor's package, or one line that says how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise UserError(f"the anchor {package!r} is not installed ({err}); {EXTRA}") from None


def available() -> dict[str, str | None]:
    """``{anchor: None}`` where it imports, else the reason it does not."""
    out = {}
    for anchor, package in zip(ANCHORS, ("plenoptic", "pywph")):
        try:
            require(package)
            out[anchor] = None
        except UserError as err:
            out[anchor] = str(err)
    return out


def ps_scales(size: int) -> int:
    """plenoptic's default 4 scales where the coarsest band still holds the 7x7 autocorrelation."""
    return max(1, min(4, int(math.log2(size)) - 3))


class PortillaSimoncelliStatistics(nn.Module):
    """plenoptic's PS statistics of ``(B, 1, H, W)``, by its families, redundant entries left out."""

    def __init__(self, shape: tuple[int, int]):
        super().__init__()
        po = require("plenoptic")
        self.model = po.models.PortillaSimoncelli(tuple(shape), n_scales=ps_scales(min(shape)))
        self.count = int(self.model(torch.zeros(1, 1, *shape)).shape[-1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        stats = self.model.convert_to_dict(self.model(x))
        out = {}
        for family, v in stats.items():
            v = v.flatten(1)
            out[family] = v[:, ~torch.isnan(v[0])]  # plenoptic marks the redundant statistics NaN
        return out


def _wph_operator(shape: tuple[int, int], J: int, device: str):
    pw = require("pywph")
    device = torch.device(device)
    op = pw.WPHOp(shape[0], shape[1], J, L=4, dn=0, device=device.index or 0 if device.type == "cuda" else "cpu")
    op.load_model(WPH_CLASSES)
    return op


class WaveletPhaseHarmonicStatistics(nn.Module):
    """pywph's coefficients of ``(B, 1, H, W)`` (periodic, not normalised), real and imaginary parts
    side by side.  ``count`` counts real numbers: one per coefficient, one more for each
    coefficient whose imaginary part is not identically zero (measured on white noise)."""

    def __init__(self, shape: tuple[int, int], J: int, device: str = "cpu"):
        super().__init__()
        self.op = _wph_operator(shape, J, device)
        probe = self.op.apply(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), norm=None, pbc=True)
        self.count = int(probe.numel() + (probe.imag.abs() > 1e-6 * probe.abs().max()).sum())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        coeffs = torch.stack([self.op.apply(xi[0], norm=None, pbc=True) for xi in x])
        return {"wph": torch.view_as_real(coeffs.to(torch.complex128)).flatten(1)}


def anchor_statistics(name: str, shape: tuple[int, int], J: int, device: str = "cpu") -> nn.Module:
    if name == "portilla_simoncelli":
        return PortillaSimoncelliStatistics(shape)
    if name == "pywph":
        return WaveletPhaseHarmonicStatistics(shape, J, device)
    raise ValueError(f"anchor={name!r} is unknown; use one of {', '.join(ANCHORS)}")


def synthesize_portilla_simoncelli(target: torch.Tensor, n_samples: int, evaluations: int, seed: int = 0,
                                   watch: Callable[[], Trajectory] | None = None) -> Synthesis:
    """plenoptic's recipe: ``Metamer`` with the PS loss factory, L-BFGS (strong Wolfe, lr 1, history
    100), one optimiser step of at most ``evaluations`` loss evaluations per sample (``watch``: as
    ``microcanonical.synthesize``)."""
    po = require("plenoptic")
    model = PortillaSimoncelliStatistics(target.shape[-2:]).model.to(target.device)
    loss_fn = po.loss.portilla_simoncelli_loss_factory(model, target)
    images, curves, trajectories, n_iter, start = [], [], [], 0, time.perf_counter()
    for s in range(n_samples):
        curve: list[float] = []
        trajectory = watch() if watch else None
        held: dict = {}

        def recorded(a, b, curve=curve, trajectory=trajectory, held=held):
            loss = loss_fn(a, b)
            curve.append(float(loss.detach()))
            if trajectory:
                trajectory.observe(held["met"].metamer, curve[-1])
            return loss

        met = held["met"] = po.Metamer(target, model, loss_function=recorded)
        met.setup(initial_image=white_noise_like(target, seed + s), optimizer=torch.optim.LBFGS,
                  optimizer_kwargs={"max_iter": evaluations, "max_eval": evaluations, "history_size": 100,
                                    "line_search_fn": "strong_wolfe", "lr": 1, "tolerance_grad": 0.0,
                                    "tolerance_change": 0.0})
        run_until_stopped(lambda: met.synthesize(max_iter=1, stop_criterion=0.0))
        n_iter += int(next(iter(met.optimizer.state.values()))["n_iter"])
        images.append(trajectory.finish().image if trajectory else met.metamer.detach())
        curves.append(curve)
        trajectories += [trajectory] if trajectory else []
    return Synthesis(torch.cat(images), curves, time.perf_counter() - start, n_iter, trajectories)


def synthesize_pywph(target: torch.Tensor, n_samples: int, evaluations: int, J: int, seed: int = 0,
                     watch: Callable[[], Trajectory] | None = None) -> Synthesis:
    """pywph's recipe: the standardised example's moments with ``norm="auto"``, then scipy's L-BFGS-B
    (``maxcor=20``, at most ``evaluations`` loss evaluations) on ``sum |c(x) - c(x1)|^2`` (``watch``:
    as ``microcanonical.synthesize``; it sees the standardised image)."""
    from scipy.optimize import minimize

    op = _wph_operator(target.shape[-2:], J, str(target.device))
    x1 = target[0, 0].double()
    mu, sd = x1.mean(), x1.std()
    op.clear_normalization()
    reference = op.apply(((x1 - mu) / sd).float(), norm="auto", pbc=True)
    shape = tuple(x1.shape)
    images, curves, trajectories, n_iter, start = [], [], [], 0, time.perf_counter()

    def to_image(v: torch.Tensor) -> torch.Tensor:  # the standardised variable -> the example's units
        return (v.reshape(shape) * sd + mu)[None, None].to(target.dtype).to(target.device)

    for s in range(n_samples):
        curve: list[float] = []
        trajectory = watch() if watch else None
        if trajectory:
            trajectory.to_image = to_image
        result: dict = {}

        def objective(v, curve=curve, trajectory=trajectory):
            x = torch.from_numpy(v.reshape(shape)).float().to(target.device)
            x, chunks = op.preconfigure(x, requires_grad=True, pbc=True)
            total = 0.0
            for i in range(chunks):
                coeffs, index = op.apply(x, i, norm="auto", ret_indices=True, pbc=True)
                loss = (coeffs - reference[index]).abs().pow(2).sum()
                loss.backward(retain_graph=True)
                total += float(loss.detach())
            curve.append(total)
            if trajectory:
                trajectory.observe(torch.from_numpy(v.copy()), total)
            return total, x.grad.detach().cpu().double().numpy().ravel()

        def callback(intermediate, result=result):  # counts the iterations of a descent that a Stop ends
            result["nit"] = result.get("nit", 0) + 1

        x0 = ((white_noise_like(target, seed + s)[0, 0].double() - mu) / sd).cpu().numpy().ravel()

        def descend(x0=x0, objective=objective, callback=callback, result=result):
            out = minimize(objective, x0, method="L-BFGS-B", jac=True, tol=None, callback=callback,
                           options={"maxiter": evaluations, "maxfun": evaluations, "gtol": 1e-14, "ftol": 1e-14,
                                    "maxcor": 20})
            result.update(x=out.x, nit=int(out.nit))

        run_until_stopped(descend)
        n_iter += result.get("nit", 0)
        images.append(trajectory.finish().image if trajectory else to_image(torch.from_numpy(np.asarray(result["x"]))))
        curves.append(curve)
        trajectories += [trajectory] if trajectory else []
    return Synthesis(torch.cat(images), curves, time.perf_counter() - start, n_iter, trajectories)
