"""What the entry points share: the command line checked before Hydra starts, run directories
unique per process, bad input (and a full disk) ending as one line on stderr with exit status 2,
and a multirun that reports each job (``SweepSummary``).

``check_command_line`` answers ``--help`` with the groups a user picks from, and catches, before any
work:

- an argument Hydra's grammar cannot parse: the argument and the quoting that works;
- an unknown config choice (``data=celebaa``): the choices;
- an unknown key (``trainer.max_epoch=3``): the nearest valid key, instead of Hydra's advice to
  add ``+trainer.max_epoch``, which then fails inside the trainer;
- a value of the wrong type (``trainer.max_epochs=abc``): the schemas (``scatgen/schemas.py``) find
  it as the config composes, and this module says Hydra's and OmegaConf's error in one line;
- values of the right type that cannot run (``check_ranges``: ``trainer.max_epochs=0``, ``seed=-1``)
  and an unwritable ``paths.root_dir``;
- ``ckpt_path=`` of a run: the run resumes *in its own directory* (``hydra.run.dir`` is set to it
  unless given), so its checkpoints, CSV history and ``metrics.json`` stay in one place, after a
  check that the command asks for the run's own networks (``ARCHITECTURE``).
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

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from scatgen.config import CONF_DIR, check_ranges
from scatgen.devices import check_precision_override
from scatgen.errors import NO_SPACE, ConfigError, UserError, disk_full

log = logging.getLogger(__name__)
RUN_TAG = f"{os.getpid()}{secrets.token_hex(2)}"
OmegaConf.register_new_resolver("run_tag", lambda: RUN_TAG, replace=True)


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


# the one-line error of the job that this process ran last (read by ``SweepSummary``)
LAST_ERROR: dict[str, str | None] = {"line": None}


def _one_line_log_errors() -> None:
    """A log file that can no longer be written (a full disk) is said once, in one line, instead
    of ``logging``'s traceback for every record."""
    def report_once(handler, record):
        if not getattr(handler, "_scatgen_reported", False):
            handler._scatgen_reported = True
            err = sys.exc_info()[1]
            print(f"warning: cannot write the log file {getattr(handler, 'baseFilename', handler)} "
                  f"({getattr(err, 'strerror', None) or err}); logging to it stops", file=sys.stderr)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handleError = functools.partial(report_once, handler)


def _output_dir() -> str | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.output_dir if HydraConfig.initialized() else None


def _to_log_files(line: str, exc_info=None) -> None:
    """``line`` (and a traceback) into the run's own log file, e.g. ``<run>/train.log``; the
    terminal gets the one line alone."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, line, None, exc_info)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def exit_on_user_error(fn):
    """Run ``fn``; a ``UserError`` (a full disk too) prints ``error: <message>`` (no traceback)
    and exits with 2.  Inside a sweep the job returns NaN instead, so that one failing job (Optuna
    marks the trial failed) does not end the whole sweep: its error goes to its own log (with the
    traceback, for a failure that is not the user's) and to the sweep's summary."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _one_line_log_errors()
        LAST_ERROR["line"] = None
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if isinstance(err, OSError) and err.errno in NO_SPACE and not isinstance(err, UserError):
                err = disk_full(err.filename or _output_dir() or "the run directory")
            user = isinstance(err, UserError)
            if not user and not _in_multirun():
                raise
            line = f"error: {err}" if user else f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            LAST_ERROR["line"] = line
            _to_log_files(line, None if user else sys.exc_info())
            print(line, file=sys.stderr)
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


def unparsable_override(args: list[str]) -> str | None:
    """One line for the first argument Hydra's override grammar rejects (its lexer's own words,
    ``LexerNoViableAltException`` or ``mismatched input``, name no argument), with how to quote it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for arg in args:
        if "=" not in arg or arg.startswith("-"):
            continue
        try:
            parser.parse_override(arg)
        except HydraException:  # the grammar's errors (OverrideParseException is one)
            key, _, value = arg.partition("=")
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            return (f"cannot parse the argument {arg!r}: Hydra reads ( ) [ ] {{ }} , = ' \" in a value as syntax; "
                    f"quote the value for Hydra and the whole argument for the shell, e.g. \"{key}='{quoted}'\"")
    return None


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


TYPE_WORDS = {"Integer": ("an integer", "12"), "Float": ("a number", "0.001"), "Boolean": ("true or false", "true"),
              "String": ("a string", "name")}


def wrong_type(error) -> str | None:
    """OmegaConf's ``ValidationError`` of a schema in one line: ``trainer.max_epochs='abc' is not
    an integer; give e.g. trainer.max_epochs=12``."""
    text = str(getattr(error, "msg", None) or error)
    found = re.search(r"Value '(.*)' of type '\w+' could not be converted to (\w+)", text) or \
        re.search(r"Value '(.*)' is not a valid (bool)", text)
    key = getattr(error, "full_key", None)
    if not found or not key:
        return None
    value, kind = found.groups()
    word, example = TYPE_WORDS.get("Boolean" if kind == "bool" else kind, (f"of type {kind}", "..."))
    return f"{key}={value!r} is not {word}; give e.g. {key}={example}"


def unknown_choice(error, conf_dir: Path) -> str | None:
    """Hydra's missing group choice (``data=celebaa``) in one line, with the choices."""
    found = re.search(r"Could not find '([^']+)/([^'/]+)'", str(error))
    if not found:
        return None
    group, value = found.groups()
    choices = re.findall(r"^\t(\S+)$", str(error).split("Config search path")[0], re.M)
    noun = "data set" if group == "data" else f"{group} config"
    return f"{group}={value}: unknown {noun}; choose one of {', '.join(choices)} (files in {conf_dir / group})"


def check_overrides(args: list[str], config_name: str, conf_dir: Path = CONF_DIR) -> DictConfig:
    """Compose the config with the command line's overrides, checked by the schemas
    (``scatgen/schemas.py``): an unknown choice or key, or a value of the wrong type, fails here in
    one line, before Hydra starts the run.  Returns the composed config."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException

    unparsable = unparsable_override(args)
    if unparsable:
        raise ConfigError(unparsable)
    overrides = _plain_overrides(args)
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            try:
                cfg = compose(config_name, overrides=overrides)
            except MissingConfigException as err:
                raise ConfigError(unknown_choice(err, conf_dir) or str(err).splitlines()[0]) from None
            except (ConfigCompositionException, OverrideParseException) as err:
                line = wrong_type(err.__cause__)
                if line:
                    raise ConfigError(line) from None
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
    check_ranges(cfg)
    if not any(a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in args):
        check_writable(cfg)
    return cfg


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


# what a resume may not change: the networks and what they are built for (more epochs, another logger are fine)
ARCHITECTURE = ("model", "encoder", "whitening", "data.image_size", "data.source._target_")


def architecture_changes(requested: DictConfig, saved: DictConfig) -> list[str]:
    """``key: saved -> requested`` for every leaf of ``ARCHITECTURE`` whose resolved value differs."""
    def leaves(cfg: DictConfig) -> dict:
        out = {}
        for key in ARCHITECTURE:
            node = OmegaConf.select(cfg, key, default=None)
            if OmegaConf.is_config(node):
                try:
                    flat = OmegaConf.to_container(node, resolve=True)
                except Exception:  # an interpolation only a running Hydra app resolves: compare as written
                    flat = OmegaConf.to_container(node, resolve=False)
                out.update({f"{key}.{k}": v for k, v in _flatten(flat).items()})
            else:
                out[key] = node
        return out

    a, b = leaves(saved), leaves(requested)
    # keys both configs have (a key added to the project since the run keeps its default's behaviour)
    return [f"{k}: {a[k]!r} in the run, {b[k]!r} asked" for k in sorted(set(a) & set(b)) if a[k] != b[k]]


def _flatten(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def resume_in_place(args: list[str], requested: DictConfig | None = None) -> list[str]:
    """``ckpt_path=<run>/checkpoints/X.ckpt`` without ``hydra.run.dir``: resume in ``<run>``, after checking
    that the command asks for the run's own networks (``ARCHITECTURE``): a change is one line, before
    anything of the run is written."""
    ckpt = next((unquote(a.partition("=")[2]) for a in args if a.startswith("ckpt_path=")), None)
    if not ckpt or ckpt == "null" or any(a.startswith("hydra.run.dir=") for a in args) or "-m" in args \
            or "--multirun" in args:
        return args
    from scatgen.storage.checkpoints import read_checkpoint

    read_checkpoint(ckpt)  # missing, foreign or damaged: one line now, before any work
    run_dir = Path(ckpt).resolve().parent.parent
    if Path(ckpt).resolve().parent.name != "checkpoints" or not (run_dir / ".hydra").is_dir():
        return args
    saved = run_dir / ".hydra" / "config.yaml"
    if requested is not None and saved.is_file():
        changes = architecture_changes(requested, OmegaConf.load(saved))
        if changes:
            raise ConfigError(f"ckpt_path={ckpt} was trained with other settings; {'; '.join(changes[:4])}"
                              f"{' (and more)' if len(changes) > 4 else ''}: resume with the run's own settings, "
                              "or start a new run without ckpt_path")
    log.info("resuming in the run's own directory %s", run_dir)
    return [*args, f"hydra.run.dir={hydra_quote(str(run_dir))}"]


def unquote(value: str) -> str:
    """A Hydra override's value as Hydra reads it: ``'a b'`` or ``"a b"`` -> ``a b`` (escaped quotes kept)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace("\\" + value[0], value[0])
    return value


def hydra_quote(value: str) -> str:
    """``value`` quoted for Hydra's override parser when it holds characters the parser splits on."""
    if re.fullmatch(r"[\w./~+@:-]*", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# the config groups a user picks from (conf/<group>/<choice>.yaml); schema/, shared/ and synthesize/ are internal
USER_GROUPS = ("data", "encoder", "whitening", "model", "trainer", "logger", "callbacks", "experiment", "hparams_search",
               "study", "paths")


def print_help(config_name: str, conf_dir: Path = CONF_DIR) -> None:
    """``--help``: the groups a user picks from and their choices (Hydra's own help also lists the internal
    ``schema`` and ``shared`` groups), then the composed config."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = compose(config_name)
    groups = [g for g in USER_GROUPS if g in cfg or g in ("experiment", "hparams_search") and config_name == "train"]
    print(f"python {'train.py' if config_name == 'train' else f'scripts/{config_name}.py'} [group=choice ...] [key=value ...]\n")
    print("== Configuration groups ==")
    for group in groups:
        choices = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
        if choices:
            print(f"{group}: {', '.join(choices)}")
    print("\n== Config (override anything: key=value; Hydra's own options: --hydra-help) ==")
    print(OmegaConf.to_yaml(cfg))


def shadowed_configs(args: list[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """One line per file of a user's ``--config-dir`` (``-cd``) that has the path of one of the project's
    configs: Hydra reads the project's (its primary config directory comes first), so the user's is
    silently ignored unless said."""
    lines = []
    for i, arg in enumerate(args):
        folder = args[i + 1] if arg in ("--config-dir", "-cd") and i + 1 < len(args) else \
            arg.partition("=")[2] if arg.startswith("--config-dir=") else None
        if not folder or not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).rglob("*.yaml")):
            ours = conf_dir / path.relative_to(folder)
            if ours.is_file():
                lines.append(f"warning: {path} has the name of scatgen's {ours}, which is the one used; rename yours "
                             f"(e.g. {path.with_stem(path.stem + '_mine').name}) to choose it")
    return lines


@exit_on_user_error
def check_command_line(config_name: str = "train", conf_dir: Path = CONF_DIR) -> None:
    """Everything that can fail on the command line alone, before Hydra composes and starts."""
    args = sys.argv[1:]
    if "--help" in args or "-h" in args:
        print_help(config_name, conf_dir)
        sys.exit(0)
    for line in shadowed_configs(args, conf_dir):
        print(line, file=sys.stderr)
    check_precision_override()
    cfg = check_overrides(args, config_name, conf_dir)
    if config_name == "train":
        sys.argv[1:] = resume_in_place(args, cfg)


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks.sweep_summary``): every job of a multirun writes
    ``<job>/job_status.json`` (overrides, ok/failed, its one-line error, the value it returned);
    at the end of the sweep they are gathered into ``<sweep>/sweep_summary.md`` and ``.json`` and
    printed.  A sweep with a failed job exits with status 1 after the summary."""

    STATUS = "job_status.json"

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if not _in_multirun():
            return
        import math

        from hydra.core.utils import JobStatus

        from scatgen.storage.artefacts import write_json

        value = job_return._return_value if job_return.status == JobStatus.COMPLETED else None
        error = LAST_ERROR["line"]
        if job_return.status == JobStatus.FAILED:
            err = job_return._return_value
            error = f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        failed = error is not None or (isinstance(value, float) and not math.isfinite(value))
        hc = job_return.hydra_cfg.hydra
        write_json(Path(hc.runtime.output_dir) / self.STATUS, {
            "job": hc.job.num, "overrides": list(job_return.overrides or []), "status": "failed" if failed else "ok",
            "error": error, "value": value if isinstance(value, (int, float)) else None})

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        import json

        from scatgen.storage.artefacts import atomic_write_bytes, write_json

        sweep = Path(config.hydra.sweep.dir)
        jobs = sorted((json.loads(p.read_text()) for p in sweep.glob(f"*/{self.STATUS}")), key=lambda j: j["job"])
        failed = [j for j in jobs if j["status"] != "ok"]
        write_json(sweep / "sweep_summary.json", {"jobs": jobs, "failed": len(failed)})
        shared = set.intersection(*(set(j["overrides"]) for j in jobs)) if jobs else set()
        swept = {j["job"]: " ".join(o for o in j["overrides"] if o not in shared) for j in jobs}  # what differs
        rows = ["| job | overrides (swept) | status | value | error |", "|---|---|---|---|---|"]
        rows += [f"| {j['job']} | {swept[j['job']]} | {j['status']} | "
                 f"{'' if j['value'] is None else format(j['value'], '.4g')} | {j['error'] or ''} |" for j in jobs]
        atomic_write_bytes(sweep / "sweep_summary.md", ("\n".join(rows) + "\n").encode())
        print(f"sweep summary ({len(jobs)} jobs, {len(failed)} failed; {sweep / 'sweep_summary.md'}):", file=sys.stderr)
        for j in jobs:
            print(f"  job {j['job']} [{swept[j['job']]}]: {j['status']}" + (f": {j['error']}" if j["error"] else ""),
                  file=sys.stderr)
        if failed:
            sys.exit(1)
