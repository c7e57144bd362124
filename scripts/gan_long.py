"""python scripts/gan_long.py [seed=0] [run_dir=...] [out_dir=docs/gan_long]: the study's SN-GAN at a
GAN's budget (30,000 generator steps), resumable, and its learning curve (make study-gan-long)."""

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="gan_long")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.long_run import gan_long

    gan_long(cfg)


if __name__ == "__main__":
    check_command_line("gan_long")
    main()
