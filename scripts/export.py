"""python scripts/export.py ckpt_path=PATH [format=torchscript] [out=FILE]: a generator that torch.jit.load
runs without scatgen (scatgen/toolbox.py)."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.toolbox import export

    export(cfg.ckpt_path, Path(cfg.out), cfg.format)


if __name__ == "__main__":
    check_command_line("export")
    main()
