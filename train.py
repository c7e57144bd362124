"""python train.py [overrides]: train a generative model (see conf/train.yaml and README.md)."""

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float | None:
    from scatgen.pipeline import train

    return train(cfg)


if __name__ == "__main__":
    check_command_line("train")
    main()
