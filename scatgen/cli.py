"""What the entry points share: bad input ends as one line on stderr and exit status 2."""

from __future__ import annotations

import functools
import sys

from scatgen.config import check_group_choices
from scatgen.errors import UserError


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def exit_on_user_error(fn):
    """Run ``fn``; a ``UserError`` prints ``error: <message>`` (no traceback) and exits with 2.
    Inside a sweep the job returns NaN instead, so that one impossible trial (Optuna marks it
    failed) does not end the whole sweep."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            if _in_multirun():
                return float("nan")
            sys.exit(2)
    return wrapper


@exit_on_user_error
def check_command_line() -> None:
    """Unknown config choices (``data=celebaa``) fail before Hydra composes."""
    check_group_choices(sys.argv[1:])
