"""Errors a user can fix: reported as one line (``error: ...``) by the entry points, no traceback."""


class UserError(Exception):
    """Bad input: the message names the value and the fix."""


class ConfigError(UserError, ValueError):
    """A config that cannot run."""


class DataNotFound(UserError, FileNotFoundError):
    """A data set that is not where the config says; the message says where and how to prepare it."""
