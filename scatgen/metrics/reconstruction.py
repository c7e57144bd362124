"""Reconstruction quality on a whole split: per-image PSNR and SSIM (torchmetrics, images in
``[0, 1]``), PSNR restricted to edge and to flat pixels, and the high-frequency energy kept.

- Edge pixels: where the original's gradient magnitude (central differences, max over colour
  channels, images in [0, 1]) exceeds ``edge_threshold``, dilated by one pixel; flat pixels are
  the rest.  ``psnr_edges`` and ``psnr_flat`` are the PSNR of the squared error pooled over each
  set (per image, then averaged): "loses corners" becomes a number.
- Radially averaged power spectrum ``P(r)`` (``|F x|^2`` of each colour channel, mean removed,
  averaged over rings of radius ``r`` in cycles/pixel), and the high-frequency ratio
  ``sum_{r > 1/4} P_rec(r) / sum_{r > 1/4} P_orig(r)``: above half the Nyquist frequency (1/2),
  1 when the reconstruction keeps the fine detail, near 0 when it is blurred.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from tqdm.auto import tqdm

from scatgen.data.datasets import to_unit

HIGH_FREQUENCY = 0.25  # cycles/pixel: half the Nyquist frequency


def edge_mask(x: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """``(B, 1, H, W)`` boolean: pixels at or next to an edge of ``x`` (images in [0, 1])."""
    gy = torch.zeros_like(x)
    gx = torch.zeros_like(x)
    gy[..., 1:-1, :] = (x[..., 2:, :] - x[..., :-2, :]) / 2
    gx[..., :, 1:-1] = (x[..., :, 2:] - x[..., :, :-2]) / 2
    edges = (gx.square() + gy.square()).sqrt().amax(dim=1, keepdim=True) > threshold
    return F.max_pool2d(edges.float(), 3, stride=1, padding=1) > 0


def masked_psnr(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB, data range 1) of the squared error over the pixels of ``mask``
    (``nan`` for an image with no such pixel)."""
    err = (x_hat - x).square().mean(dim=1, keepdim=True)
    count = mask.flatten(1).sum(1)
    mse = (err * mask).flatten(1).sum(1) / count.clamp_min(1)
    psnr = -10 * torch.log10(mse.clamp_min(1e-12))
    return torch.where(count > 0, psnr, torch.full_like(psnr, float("nan")))


def radial_power_spectrum(x: torch.Tensor, bins: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(radii, P)``: the power spectrum of images ``(B, C, H, W)`` averaged over images, channels
    and rings; ``radii`` in cycles/pixel (ring centres), the DC term left out."""
    h, w = x.shape[-2:]
    power = torch.fft.fft2(x.double() - x.double().mean(dim=(-2, -1), keepdim=True)).abs().square().mean(dim=(0, 1))
    fy, fx = torch.meshgrid(torch.fft.fftfreq(h, dtype=torch.float64), torch.fft.fftfreq(w, dtype=torch.float64),
                            indexing="ij")
    radius = (fy.square() + fx.square()).sqrt().to(power.device)
    bins = bins or min(h, w) // 2
    index = (radius / 0.5 * bins).long().clamp(max=bins)  # corners fold into the last ring
    sums = torch.zeros(bins + 1, dtype=power.dtype, device=power.device).index_add_(0, index.flatten(), power.flatten())
    counts = torch.zeros_like(sums).index_add_(0, index.flatten(), torch.ones_like(power.flatten()))
    radii = (torch.arange(1, bins + 1, dtype=torch.float64) + 0.5) * 0.5 / bins
    return radii, (sums[1:] / counts[1:].clamp_min(1)).cpu()


def high_frequency_ratio(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    """High-frequency energy of the reconstructions over that of the originals (``r > 1/4``)."""
    radii, p_hat = radial_power_spectrum(x_hat)
    _, p = radial_power_spectrum(x)
    high = radii > HIGH_FREQUENCY
    return float(p_hat[high].sum() / p[high].sum().clamp_min(1e-30))


@torch.no_grad()
def reconstruction_scores(model, loader, desc: str = "reconstruct", precision=contextlib.nullcontext,
                          keep_images: bool = False, edge_threshold: float = 0.1) -> dict[str, torch.Tensor]:
    """Per-image ``psnr``, ``ssim``, ``psnr_edges``, ``psnr_flat`` and the ``latents`` used, over
    every batch of ``loader`` (all on the CPU); with ``keep_images`` also ``images`` and
    ``reconstructions`` in [0, 1].  The generator runs under ``precision()`` (e.g. the trainer's
    autocast), the metrics in float32."""
    model.eval()
    out: dict[str, list] = {k: [] for k in ("psnr", "ssim", "psnr_edges", "psnr_flat", "latents", "images",
                                            "reconstructions")}
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
        batch = [t.to(model.device) for t in batch]
        x = to_unit(model.batch_images(batch).float())
        with precision():
            z = model.latents(batch)
            x_hat = model.generator(z)
        x_hat = to_unit(x_hat.float())
        edges = edge_mask(x, edge_threshold)
        out["psnr"].append(peak_signal_noise_ratio(x_hat, x, data_range=1.0, reduction="none", dim=(1, 2, 3)).cpu())
        out["ssim"].append(structural_similarity_index_measure(x_hat, x, data_range=1.0, reduction="none").cpu())
        out["psnr_edges"].append(masked_psnr(x_hat, x, edges).cpu())
        out["psnr_flat"].append(masked_psnr(x_hat, x, ~edges).cpu())
        out["latents"].append(z.float().cpu())
        if keep_images:
            out["images"].append(x.cpu())
            out["reconstructions"].append(x_hat.cpu())
    return {k: torch.cat(v) for k, v in out.items() if v}


def summarise(scores: dict[str, dict[str, torch.Tensor]]) -> dict[str, float]:
    """``{split: scores}`` -> flat metrics ``split/psnr``, ``split/ssim`` (means) and the gap."""
    out = {}
    for split, s in scores.items():
        out[f"{split}/psnr"] = float(s["psnr"].mean())
        out[f"{split}/ssim"] = float(s["ssim"].mean())
    if "train" in scores and "test" in scores:
        out["gap/psnr"] = out["train/psnr"] - out["test/psnr"]
    return out
