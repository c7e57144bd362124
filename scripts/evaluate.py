"""python scripts/evaluate.py ckpt_path=PATH [n_samples=N] [wandb=offline]: the study of one trained
model (any of the three) -> metrics.json, PNG figures and summary.md in logs/evaluate/runs/<time>/."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCATGEN_ROOT", str(ROOT))

from scatgen.cli import exit_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.studies.run_study import evaluate_checkpoint, print_metrics

    out_dir = Path(cfg.paths.output_dir)
    ckpt = cfg.ckpt_path if not OmegaConf.is_missing(cfg, "ckpt_path") else None
    print_metrics(evaluate_checkpoint(ckpt, out_dir, cfg), out_dir)


if __name__ == "__main__":
    main()
