"""python scripts/interpolate.py ckpt_path=PATH a=IMG_OR_SEED b=IMG_OR_SEED [steps=16] [out=DIR]: a PNG strip
and an animated GIF, with the jump and path ratio (scatgen/toolbox.py)."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="interpolate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.toolbox import interpolate

    interpolate(cfg.ckpt_path, cfg.a, cfg.b, Path(cfg.out), int(cfg.steps), cfg.path, cfg.device)


if __name__ == "__main__":
    check_command_line("interpolate")
    main()
