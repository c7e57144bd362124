"""Train the mode classifier that ships with the package for one polygon rendering, seal it and
write it to ``scatgen/metrics/classifiers/`` (the study then trains nothing on a fresh clone).

    python research/train_mode_classifier.py --image-size 64 [--steps 3000] [--seed 0]

It is kept only above the study's bar (0.95) on 1,024 fresh images rendered with another seed,
and only if it puts at least as many fresh images of no mode (blobs) in its reject class; the
study checks its accuracy again on its own real test split every time it loads it.
"""

import argparse
import logging
import sys
import tempfile
import time

import numpy as np
import torch

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import Polygons
from scatgen.errors import UserError
from scatgen.metrics.mode_coverage import accuracy, check_accuracy, predict, shipped_path, train_classifier
from scatgen.storage.checkpoints import write_checkpoint


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source = Polygons(tempfile.gettempdir(), image_size=args.image_size, n_train=1, n_test=1)  # renders, stores nothing
    start = time.perf_counter()
    classifier = train_classifier(source, steps=args.steps, seed=args.seed)
    seconds = time.perf_counter() - start
    images, modes = source.render_labelled(1024, np.random.default_rng([args.seed, 777]))
    test_accuracy = accuracy(classifier, images_to_tensor(images), torch.from_numpy(modes))
    check_accuracy(test_accuracy)
    blobs = images_to_tensor(source.render_off_modes(1024, np.random.default_rng([args.seed, 778])))
    rejected = float((predict(classifier, blobs).sum(1) < 0.5).double().mean())  # the reject class most probable
    if rejected < 0.95:
        raise UserError(f"the classifier rejects {rejected:.3f} of 1,024 fresh blobs (< 0.95); train longer (--steps)")
    path = write_checkpoint(classifier.state_dict(), shipped_path(source))
    logging.getLogger("scatgen").info("mode classifier for %dpx polygons: %d steps in %.0f s, accuracy %.4f on 1,024 "
                                      "fresh images, %.4f of 1,024 fresh blobs rejected -> %s", args.image_size,
                                      args.steps, seconds, test_accuracy, rejected, path)
    return test_accuracy


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
