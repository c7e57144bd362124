"""python train.py [overrides]: train a generative model (see conf/train.yaml and README.md)."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("SCATGEN_ROOT", str(Path(__file__).resolve().parent))

from scatgen.cli import check_command_line, exit_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float | None:
    from scatgen.pipeline import train

    return train(cfg)


if __name__ == "__main__":
    check_command_line()
    main()
