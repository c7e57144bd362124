"""What the entry points share: bad input ends as one line on stderr and exit status 2."""

from __future__ import annotations

import functools
import sys

from scatgen.config import check_group_choices
from scatgen.errors import UserError


def exit_on_user_error(fn):
    """Run ``fn``; a ``UserError`` prints ``error: <message>`` (no traceback) and exits with 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
    return wrapper


@exit_on_user_error
def check_command_line() -> None:
    """Unknown config choices (``data=celebaa``) fail before Hydra composes."""
    check_group_choices(sys.argv[1:])
