"""python scripts/encode.py ckpt_path=PATH images=PATH_OR_DIR [out=DIR]: z (.npy), the reconstruction
beside the input and its PSNR, per image (scatgen/toolbox.py)."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="encode")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.toolbox import encode

    encode(cfg.ckpt_path, cfg.images, Path(cfg.out), cfg.device)


if __name__ == "__main__":
    check_command_line("encode")
    main()
