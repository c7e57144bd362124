"""Checkpoints written whole and sealed with a digest; read as weights only, never code.

Writing (``write_checkpoint``; Lightning's checkpoints go through it by ``training.SealedCheckpointIO``):
the checkpoint is serialised in memory, *sealed* and written through a temporary file and a
rename, so a full disk or a kill never leaves a partial file under the final name.  The seal is
the sha256 of the whole file, kept in the zip comment of its end-of-central-directory record
(``torch.save`` writes a zip archive; ``torch.load`` and ``zipfile`` ignore the comment), so the
digest travels with the file when it is copied.

Reading (``read_checkpoint``; evaluation, comparison and resuming all go through it): the seal is
checked on the whole file first (``torch.load`` checks no CRC: a flipped byte inside a weight
would load as other numbers), then ``torch.load(weights_only=True)`` with no extra allow-listed
class (our checkpoints hold only tensors, numbers, strings and containers of them: the model
configs pass plain containers, ``_convert_: all``).  Every failure is one line naming the file
and why.  A checkpoint without a seal (older scatgen, or another tool) loads with a warning.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import struct
import zipfile
from pathlib import Path

import torch

from scatgen.errors import UserError
from scatgen.storage.artefacts import atomic_write_bytes

log = logging.getLogger(__name__)

SEAL = b"scatgen-sha256:"
_EOCD = b"PK\x05\x06"  # zip end-of-central-directory signature; its record is 22 bytes + the comment
_SEAL_LEN = len(SEAL) + 64


class BadCheckpoint(UserError):
    """A checkpoint that is missing, unreadable, damaged, or holds more than weights."""


def seal(archive: bytes) -> bytes:
    """``archive`` (a zip with an empty comment, as ``torch.save`` writes) with the sha256 of its
    bytes before the comment-length field written into its comment."""
    if archive[-22:-18] != _EOCD or archive[-2:] != b"\0\0":
        raise ValueError("not a zip archive with an empty comment: cannot seal it")
    digest = hashlib.sha256(archive[:-2]).hexdigest().encode()
    return archive[:-2] + struct.pack("<H", _SEAL_LEN) + SEAL + digest


def seal_status(data: bytes) -> str:
    """``"sealed"`` (the digest matches), ``"damaged"`` (it does not) or ``"unsealed"`` (no seal)."""
    comment = data[-_SEAL_LEN:]
    if len(data) < 22 + _SEAL_LEN or not comment.startswith(SEAL) or \
            data[-_SEAL_LEN - 22:-_SEAL_LEN - 18] != _EOCD or data[-_SEAL_LEN - 2:-_SEAL_LEN] != struct.pack("<H", _SEAL_LEN):
        return "unsealed"
    body = data[:-_SEAL_LEN - 2]
    return "sealed" if hashlib.sha256(body).hexdigest().encode() == comment[len(SEAL):] else "damaged"


def checkpoint_bytes(obj) -> bytes:
    """``torch.save(obj)`` in memory, sealed."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return seal(buffer.getvalue())


def write_checkpoint(obj, path: str | Path) -> Path:
    """Save ``obj`` sealed and atomically (``DiskFull`` in one line when the disk is full)."""
    return atomic_write_bytes(Path(path), checkpoint_bytes(obj))


def load_sealed(path: str | Path, what: str = "ckpt_path", map_location="cpu"):
    """``torch.load(weights_only=True)`` of a sealed file after its digest is checked; one line
    (``BadCheckpoint``) for a missing, damaged, foreign or code-carrying file."""
    path = Path(path)
    hint = "give a checkpoint written by train.py, e.g. logs/train/runs/<time>/checkpoints/last.ckpt"
    if not path.exists():
        raise BadCheckpoint(f"{what}={str(path)!r} does not exist: {hint}")
    if not path.is_file():
        raise BadCheckpoint(f"{what}={str(path)!r} is not a file: {hint}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadCheckpoint(f"{what}={str(path)!r} cannot be read ({err.strerror})") from None
    status = seal_status(data)
    if status == "damaged":
        raise BadCheckpoint(f"{what}={str(path)!r} is damaged: its bytes do not match the sha256 sealed into it when "
                            "it was written (a flipped byte or an edit); use another checkpoint of the run "
                            "(checkpoints/*.ckpt) or train again")
    if status == "unsealed":
        log.warning("%s carries no scatgen seal (written by an older scatgen or another tool): it is not verified", path)
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "Weights only load failed" in str(err) or "Unsupported global" in str(err):
            found = next((line.strip() for line in str(err).splitlines() if "Unsupported global" in line), first)
            raise BadCheckpoint(f"{what}={str(path)!r} was refused: it holds Python objects, not only weights "
                                f"({found[:160]}); scatgen never runs code from a checkpoint") from None
        raise BadCheckpoint(f"{what}={str(path)!r} is not a PyTorch checkpoint ({first[:160]})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise BadCheckpoint(f"{what}={str(path)!r} is not a readable checkpoint (truncated or not one: "
                            f"{type(err).__name__}: {first[:160]})") from None


def read_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """A Lightning checkpoint of ``train.py``, verified (``load_sealed``)."""
    ckpt = load_sealed(path, "ckpt_path", map_location)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise BadCheckpoint(f"ckpt_path={str(path)!r} holds no state_dict: it is not a Lightning checkpoint of train.py")
    return ckpt
