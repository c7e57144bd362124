"""Reconstruction quality of a trained model on a whole split: per-image PSNR and SSIM (torchmetrics)."""

from __future__ import annotations

import contextlib

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from tqdm.auto import tqdm

from scatgen.data.datasets import to_unit


@torch.no_grad()
def reconstruction_scores(model, loader, desc: str = "reconstruct", precision=contextlib.nullcontext) -> dict[str, torch.Tensor]:
    """Per-image ``psnr`` (dB, images in [0, 1]) and ``ssim`` over every batch of ``loader``;
    the generator runs under ``precision()`` (e.g. the trainer's autocast), the metrics in float32."""
    model.eval()
    psnr, ssim = [], []
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
        batch = [t.to(model.device) for t in batch]
        x = to_unit(model.images_of(batch))
        with precision():
            x_hat = model.reconstruct(batch)
        x_hat = to_unit(x_hat.float())
        psnr.append(peak_signal_noise_ratio(x_hat, x, data_range=1.0, reduction="none", dim=(1, 2, 3)).cpu())
        ssim.append(structural_similarity_index_measure(x_hat, x, data_range=1.0, reduction="none").cpu())
    return {"psnr": torch.cat(psnr), "ssim": torch.cat(ssim)}


def summarise(scores: dict[str, dict[str, torch.Tensor]]) -> dict[str, float]:
    """``{split: {psnr, ssim}}`` -> flat metrics ``split/psnr``, ``split/ssim`` (means) and the gap."""
    out = {}
    for split, s in scores.items():
        out[f"{split}/psnr"] = float(s["psnr"].mean())
        out[f"{split}/ssim"] = float(s["ssim"].mean())
    if "train" in scores and "test" in scores:
        out["gap/psnr"] = out["train/psnr"] - out["test/psnr"]
    return out
