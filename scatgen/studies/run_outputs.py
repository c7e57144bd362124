"""The end of every training run: evaluate the final model, write ``metrics.json`` and the PNGs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch

from scatgen.studies.figures import interpolate, save_png
from scatgen.studies.reconstruction import reconstruction_scores, summarise


@torch.no_grad()
def evaluate_run(model, datamodule, out_dir: str | Path, n_samples: int = 64, n_pairs: int = 8, steps: int = 10,
                 eval_limit: int | None = None, seed: int = 0, extra: dict | None = None,
                 precision=contextlib.nullcontext) -> dict:
    """Train/test PSNR and SSIM of the final model on the full splits (or the first ``eval_limit``
    images), ``samples.png`` (G(z), z ~ N(0, Id)), ``interpolations.png`` (strips between pairs
    of test images) and ``metrics.json``."""
    out_dir = Path(out_dir)
    model.eval()
    scores = {split: reconstruction_scores(model, datamodule.split_loader(split, eval_limit), f"evaluate {split}", precision)
              for split in ("train", "test")}
    metrics = summarise(scores)
    metrics.update({"n_eval/train": len(scores["train"]["psnr"]), "n_eval/test": len(scores["test"]["psnr"])})
    metrics.update(extra or {})
    torch.save({k: v for k, v in scores.items()}, out_dir / "per_image_scores.pt")

    save_png(model.sample(n_samples, seed=seed), out_dir / "samples.png", nrow=8)
    batch = [t.to(model.device) for t in datamodule.fixed_batch("test", 2 * n_pairs)]
    n_pairs = len(batch[0]) // 2
    batch = [t[: 2 * n_pairs] for t in batch]
    z = model.latents(batch)
    x = model.images_of(batch)
    strips = interpolate(model.generator, z[0::2], z[1::2], steps).view(n_pairs, steps, *x.shape[1:])
    framed = torch.cat([x[0::2, None], strips, x[1::2, None]], dim=1)  # real image at each end
    save_png(framed.flatten(0, 1), out_dir / "interpolations.png", nrow=steps + 2)

    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
