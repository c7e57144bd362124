"""Prepare a data set once: decode, crop and resize into a memory-mapped uint8 array with a manifest.

    python scripts/prepare_data.py data=celeba data.root=/datasets [data.image_size=128]
    python scripts/prepare_data.py data=lsun_bedroom data.root=/datasets/lsun data.n_train=65536
    python scripts/prepare_data.py data=image_folder data.root=/path/to/images

Takes the same config as train.py; training then reads the prepared array (under
``${paths.data_dir}/prepared``) instead of decoding images every epoch.  An interrupted run leaves
no array that looks complete and starts over cleanly.
"""

import os
import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("SCATGEN_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT))

from scatgen.cli import check_command_line, exit_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    source = instantiate(cfg.data.source)
    directory = source.prepare()
    counts = {split: len(source.split(split)[0]) for split in ("train", "test")}
    skipped = {k: len(v) for k, v in source.manifest.get("skipped", {}).items()}
    print(f"[scatgen] {source.name}: {counts['train']} train and {counts['test']} test images at "
          f"{source.image_size}x{source.image_size} in {directory}" + (f"; skipped {skipped}" if any(skipped.values()) else ""))


if __name__ == "__main__":
    check_command_line()
    sys.argv.append("hydra.run.dir=${paths.log_dir}/prepare/${now:%Y-%m-%d_%H-%M-%S}")
    main()
