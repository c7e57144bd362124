"""python scripts/study_axes.py [complexity=[1,2,4]] [sizes=[1024,4096,16384]] [out_dir=docs/study_axes]:
the study along data complexity and data size (scatgen/studies/axes.py).  Trains what is not yet
trained, evaluates what is not yet evaluated, and writes the axes report."""

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="study_axes")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.compare import compare_axes

    compare_axes(cfg)


if __name__ == "__main__":
    check_command_line("study_axes")
    main()
