"""python scripts/compare.py [runs=[DIR,...]] [seeds=[0,1,2]] [epochs=12] [out_dir=docs/study]: the study
across models.  Without runs it trains the three models on polygons at an equal budget first."""

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.compare import compare

    compare(cfg)


if __name__ == "__main__":
    check_command_line("compare")
    main()
