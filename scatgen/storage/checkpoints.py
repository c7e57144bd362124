"""Reading checkpoints that other people send: weights only, never code.

``torch.load(..., weights_only=False)`` unpickles arbitrary Python objects, so a checkpoint can
run code when it is opened.  Every checkpoint scatgen reads (evaluation, comparison, resuming)
goes through ``read_checkpoint``: ``weights_only=True`` with no extra allow-listed class (our
checkpoints hold only tensors, numbers, strings and containers of them: the model configs pass
plain containers, ``_convert_: all``), and every failure is one line naming the file and why.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from scatgen.errors import UserError


class BadCheckpoint(UserError):
    """A checkpoint that is missing, unreadable, or holds more than weights."""


def read_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    hint = "give a checkpoint written by train.py, e.g. logs/train/runs/<time>/checkpoints/last.ckpt"
    if not path.exists():
        raise BadCheckpoint(f"ckpt_path={str(path)!r} does not exist: {hint}")
    if not path.is_file():
        raise BadCheckpoint(f"ckpt_path={str(path)!r} is not a file: {hint}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "Weights only load failed" in str(err) or "Unsupported global" in str(err):
            found = next((line.strip() for line in str(err).splitlines() if "Unsupported global" in line), first)
            raise BadCheckpoint(f"ckpt_path={str(path)!r} was refused: it holds Python objects, not only weights "
                                f"({found[:160]}); scatgen never runs code from a checkpoint") from None
        raise BadCheckpoint(f"ckpt_path={str(path)!r} is not a PyTorch checkpoint ({first[:160]})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise BadCheckpoint(f"ckpt_path={str(path)!r} is not a readable checkpoint (truncated or not one: "
                            f"{type(err).__name__}: {first[:160]})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise BadCheckpoint(f"ckpt_path={str(path)!r} holds no state_dict: it is not a Lightning checkpoint of train.py")
    return ckpt
