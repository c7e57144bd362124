"""Prepare a data set once: decode, crop and resize into a memory-mapped uint8 array with a manifest.

    python scripts/prepare_data.py data=celeba data.root=/datasets [data.image_size=128]
    python scripts/prepare_data.py data=lsun_bedroom data.root=/datasets/lsun data.n_train=65536
    python scripts/prepare_data.py data=image_folder data.root=/path/to/images

Takes the same config as train.py; training then reads the prepared array (under
``${paths.data_dir}/prepared``) instead of decoding images every epoch.  An interrupted run leaves
no array that looks complete and starts over cleanly.
"""

import logging
import sys

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error

log = logging.getLogger("scatgen.prepare")


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    source = instantiate(cfg.data.source)
    directory = source.prepare()
    counts = {split: len(source.split(split)[0]) for split in ("train", "test")}
    skipped = {k: len(v) for k, v in source.manifest.get("skipped", {}).items()}
    log.info("%s: %d train and %d test images at %dx%d in %s%s", source.name, counts["train"], counts["test"],
             source.image_size, source.image_size, directory, f"; skipped {skipped}" if any(skipped.values()) else "")


if __name__ == "__main__":
    check_command_line("train")
    sys.argv.append("hydra.run.dir=${paths.log_dir}/prepare/${now:%Y-%m-%d_%H-%M-%S}_${run_tag:}")
    main()
