"""What the entry points share: the command line checked before Hydra starts, run directories
unique per process, and bad input ending as one line on stderr with exit status 2.

``check_command_line`` catches, before any work:

- an unknown config choice (``data=celebaa``): the choices;
- an unknown key (``trainer.max_epoch=3``): the nearest valid key, instead of Hydra's advice to
  add ``+trainer.max_epoch``, which then fails inside the trainer;
- a value of the wrong type (``trainer.max_epochs=abc``);
- ``ckpt_path=`` of a run: the run resumes *in its own directory* (``hydra.run.dir`` is set to it
  unless given), so its checkpoints, CSV history and ``metrics.json`` stay in one place.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scatgen.config import CONF_DIR, check_group_choices, check_types
from scatgen.errors import ConfigError, UserError

log = logging.getLogger(__name__)
RUN_TAG = f"{os.getpid()}{secrets.token_hex(2)}"
OmegaConf.register_new_resolver("run_tag", lambda: RUN_TAG, replace=True)


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


def _keys(tree: dict, prefix: str = "") -> list[str]:
    """Every key of a nested dict, dotted (``trainer``, ``trainer.max_epochs``, ...)."""
    keys = []
    for key, value in tree.items():
        keys.append(f"{prefix}{key}")
        if isinstance(value, dict):
            keys += _keys(value, f"{prefix}{key}.")
    return keys


def nearest_key(cfg: DictConfig, key: str) -> str:
    """One line for an unknown key: the closest existing key, and the keys beside it."""
    keys = _keys(OmegaConf.to_container(cfg, resolve=False))
    parent = key.rpartition(".")[0]
    siblings = [k for k in keys if k.rpartition(".")[0] == parent]
    guess = difflib.get_close_matches(key, siblings or keys, n=1, cutoff=0.5) or \
        difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
    hint = f"did you mean {guess[0]}?" if guess else "there is no close match"
    near = f" (keys of {parent}: {', '.join(sorted(k.rpartition('.')[2] for k in siblings))})" if siblings and parent else ""
    return f"{key} is not a setting; {hint}{near}"


def _plain_overrides(args: list[str]) -> list[str]:
    """The ``key=value`` overrides that compose on their own (no sweeps, no Hydra settings)."""
    out = []
    for a in args:
        key, sep, value = a.partition("=")
        if not sep or a.startswith("-") or key.lstrip("+~").startswith("hydra"):
            continue
        if re.search(r"^(choice|range|interval|tag|glob)\(", value) or ("," in value and not value.startswith("[")):
            continue
        out.append(a)
    return out


def check_overrides(args: list[str], config_name: str, conf_dir: Path = CONF_DIR) -> None:
    """Compose the config with the command line's overrides: unknown keys and wrong types fail
    here in one line, before Hydra starts the run."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, OverrideParseException

    overrides = _plain_overrides(args)
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            try:
                cfg = compose(config_name, overrides=overrides)
            except (ConfigCompositionException, OverrideParseException) as err:
                text = str(err) + " " + str(err.__cause__ or "")
                missing = re.search(r"Could not (?:override|append to config\.) '([^']+)'", text) or \
                    re.search(r"Key '([^']+)' is not in struct", text)
                if not missing:
                    raise ConfigError(text.strip().splitlines()[0]) from None
                key = missing.group(1)
                base = compose(config_name, overrides=[o for o in overrides if not o.lstrip("+~").startswith(key + "=")])
                raise ConfigError(nearest_key(base, key)) from None
    except ValueError as err:  # hydra's own checks of the config directory
        raise ConfigError(str(err).splitlines()[0]) from None
    check_types(cfg)
    if not any(a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in args):
        check_writable(cfg)


def check_writable(cfg: DictConfig) -> None:
    """Run directories go under ``paths.log_dir``: an unwritable root is one line, not Hydra's
    chained tracebacks."""
    log_dir = OmegaConf.select(cfg, "paths.log_dir", default=None)
    if log_dir is None:
        return
    try:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=log_dir):
            pass
    except OSError as err:
        root = OmegaConf.select(cfg, "paths.root_dir", default=log_dir)
        raise ConfigError(f"paths.root_dir={root} is not writable (runs go under {log_dir}: {err.strerror}); "
                          "give paths.root_dir=<a writable directory>") from None


def resume_in_place(args: list[str]) -> list[str]:
    """``ckpt_path=<run>/checkpoints/X.ckpt`` without ``hydra.run.dir``: resume in ``<run>``."""
    ckpt = next((a.partition("=")[2] for a in args if a.startswith("ckpt_path=")), None)
    if not ckpt or ckpt == "null" or any(a.startswith("hydra.run.dir=") for a in args) or "-m" in args \
            or "--multirun" in args:
        return args
    from scatgen.storage.checkpoints import read_checkpoint

    read_checkpoint(ckpt)  # missing, foreign or damaged: one line now, before any work
    run_dir = Path(ckpt).resolve().parent.parent
    if Path(ckpt).resolve().parent.name != "checkpoints" or not (run_dir / ".hydra").is_dir():
        return args
    log.info("resuming in the run's own directory %s", run_dir)
    return [*args, f"hydra.run.dir={run_dir}"]


@exit_on_user_error
def check_command_line(config_name: str = "train", conf_dir: Path = CONF_DIR) -> None:
    """Everything that can fail on the command line alone, before Hydra composes and starts."""
    args = sys.argv[1:]
    if config_name == "train":
        check_group_choices(args)
    check_overrides(args, config_name, conf_dir)
    if config_name == "train":
        sys.argv[1:] = resume_in_place(args)
