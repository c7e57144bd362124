"""Errors a user can fix: reported as one line (``error: ...``) by the entry points, no traceback."""


class UserError(Exception):
    """Bad input: the message names the value and the fix."""


class ConfigError(UserError, ValueError):
    """A config that cannot run."""


class DataNotFound(UserError, FileNotFoundError):
    """A data set that is not where the config says; the message says where and how to prepare it."""


def check_integers(*settings: tuple[str, object, int]) -> None:
    """``(key, value, lowest)`` settings that must be integers of at least ``lowest``: one line for
    the first that is not (``size=abc``, ``J=0``)."""
    for key, value, lowest in settings:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r} is not an integer; give e.g. {key}={max(lowest, 4)}")
        if value < lowest:
            raise ConfigError(f"{key}={value} must be >= {lowest}")
