"""python scripts/compare.py [runs=[DIR,...]] [seeds=[0,1]] [epochs=12] [out_dir=docs/study]: the study
across models.  Without runs it trains the three models on polygons at an equal budget first."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCATGEN_ROOT", str(ROOT))

from scatgen.cli import exit_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="compare")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.studies.compare import compare

    compare(cfg)


if __name__ == "__main__":
    main()
