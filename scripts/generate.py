"""python scripts/generate.py ckpt_path=PATH seeds=0-63 [prior=gaussian|gmm|empirical] [truncation=1] [out=DIR]:
one PNG per seed and a grid (scatgen/toolbox.py)."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.toolbox import generate

    generate(cfg.ckpt_path, cfg.seeds, Path(cfg.out), cfg.prior, float(cfg.truncation), cfg.device)


if __name__ == "__main__":
    check_command_line("generate")
    main()
