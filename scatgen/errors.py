"""Errors a user can fix: reported as one line (``error: ...``) by the entry points, no traceback."""


class UserError(Exception):
    """Bad input: the message names the value and the fix."""


class ConfigError(UserError, ValueError):
    """A config that cannot run."""


class DataNotFound(UserError, FileNotFoundError):
    """A data set that is not where the config says; the message says where and how to prepare it."""


class DiskFull(UserError, OSError):
    """A write ran out of space (ENOSPC or a quota): the message names the path, the size that was
    being written and what is free there."""


NO_SPACE = (28, 122)  # errno ENOSPC, EDQUOT


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def disk_full(path, needed: int | None = None) -> DiskFull:
    """The one-line error for a write to ``path`` that found no space."""
    import shutil
    from pathlib import Path

    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = f"{_megabytes(shutil.disk_usage(probe).free)} free there"
    except OSError:
        free = "free space unknown"
    need = f" ({_megabytes(needed)} to write, {free})" if needed is not None else f" ({free})"
    return DiskFull(f"no space left on the device writing {path}{need}; free space there, or point paths.root_dir "
                    "(runs) and paths.cache_dir (caches) at a larger disk")


def check_integers(*settings: tuple[str, object, int]) -> None:
    """``(key, value, lowest)`` settings that must be integers of at least ``lowest``: one line for
    the first that is not (``size=abc``, ``J=0``)."""
    for key, value, lowest in settings:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r} is not an integer; give e.g. {key}={max(lowest, 4)}")
        if value < lowest:
            raise ConfigError(f"{key}={value} must be >= {lowest}")
