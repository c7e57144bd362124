"""python scripts/evaluate.py ckpt_path=PATH [n_samples=N] [device=cuda] [wandb=offline]: the study of
one trained model (any of the three) -> metrics.json, PNG figures and summary.md in
logs/evaluate/runs/<time>/."""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.evaluate import evaluate_checkpoint

    ckpt = cfg.ckpt_path if not OmegaConf.is_missing(cfg, "ckpt_path") else None
    evaluate_checkpoint(ckpt, Path(cfg.paths.output_dir), cfg)


if __name__ == "__main__":
    check_command_line("evaluate")
    main()
