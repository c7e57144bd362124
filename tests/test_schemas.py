"""The settings are checked by their schemas (``scatgen/schemas.py``) as the config composes, and
Hydra's and OmegaConf's errors come out in one line.

Planted bugs they catch: the schema line taken out of ``conf/model/inverse_scattering.yaml``'s
defaults (``model.optimizer.lr=abc`` composed); hydra-zen's untyped ``int | None`` left as is
(``whitening.n_components=abc`` composed); ``precision: ${cpu_precision:}`` back in
``conf/trainer/cpu.yaml`` (resolving the config measured)."""

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import CONF, compose_cfg
from scatgen import devices
from scatgen.cli import check_overrides
from scatgen.errors import ConfigError
from scatgen.studies.settings import StudySettings


@pytest.mark.parametrize("overrides,line", [
    (["trainer.max_epochs=abc"], "trainer.max_epochs='abc' is not an integer; give e.g. trainer.max_epochs=12"),
    (["seed=abc"], "seed='abc' is not an integer"),
    (["data.n_train=1.5"], "data.n_train='1.5' is not an integer"),
    (["whitening.n_components=abc"], "whitening.n_components='abc' is not an integer"),
    (["model.optimizer.lr=abc"], "model.optimizer.lr='abc' is not a number; give e.g. model.optimizer.lr=0.001"),
    (["model=dcgan", "model.ema_decay=x"], "model.ema_decay='x' is not a number"),
    (["model=vae", "model.encoder.width=wide"], "model.encoder.width='wide' is not an integer"),
    (["study.shipped_classifier=maybe"], "study.shipped_classifier='maybe' is not true or false"),
])
def test_a_wrongly_typed_setting_of_any_group_is_one_line(overrides, line):
    with pytest.raises(ConfigError) as err:
        check_overrides(overrides, "train")
    assert str(err.value).startswith(line) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("overrides,line", [
    (["model.generator.widht=3"], "model.generator.widht is not a setting; did you mean model.generator.width?"),
    (["study.n_sample=3"], "study.n_sample is not a setting; did you mean study.n_samples?"),
    (["trainer=gpuu"], "trainer=gpuu: unknown trainer config; choose one of cpu, ddp, gpu"),
])
def test_an_unknown_key_or_choice_is_one_line(overrides, line):
    with pytest.raises(ConfigError) as err:
        check_overrides(overrides, "train")
    assert str(err.value).startswith(line) and "\n" not in str(err.value), str(err.value)


def test_composing_the_config_measures_nothing(tmp_path, monkeypatch):
    """The precision is measured where the trainer is built (``trainer_precision``), not while the
    config resolves."""
    def measured():
        raise AssertionError("the bf16 benchmark ran while the config resolved")

    OmegaConf.register_new_resolver("cpu_precision", measured, replace=True)
    try:
        cfg = compose_cfg(tmp_path)
        OmegaConf.to_container(cfg.trainer, resolve=True)
    finally:
        OmegaConf.register_new_resolver("cpu_precision", devices.cpu_precision, replace=True)
    assert cfg.trainer.precision == "auto"
    monkeypatch.setattr(devices, "cpu_precision", lambda: "32-true")
    assert devices.trainer_precision("auto", "cpu") == "32-true"
    assert devices.trainer_precision("bf16-mixed", "cpu") == "bf16-mixed"


def test_the_study_settings_have_one_source(tmp_path):
    """``conf/study/default.yaml`` repeats no default of ``StudySettings``: the composed node is the
    dataclass's defaults, but for the config tree's cache folder."""
    cfg = compose_cfg(tmp_path, tiny=False)
    composed = StudySettings.from_config(cfg.study)
    defaults = StudySettings(cache_dir=composed.cache_dir, train_eval_limit=2048)  # train.yaml's own setting
    assert composed == StudySettings.from_config(OmegaConf.structured(defaults))
    assert composed.cache_dir == cfg.paths.cache_dir


def test_the_synthesis_scripts_settings_are_typed_too():
    from scatgen.config import CONF_DIR

    with pytest.raises(ConfigError, match=r"^Q='x' is not an integer; give e.g. Q=12$"):
        check_overrides(["Q=x"], "synthesize_audio", CONF_DIR / "synthesize")
    with pytest.raises(ConfigError, match=r"^duration='long' is not a number"):
        check_overrides(["duration=long"], "synthesize_audio", CONF_DIR / "synthesize")


@pytest.mark.slow  # a fresh interpreter (12 s): make test-slow (make test's budget)
def test_import_scatgen_is_enough_to_compose_the_configs_from_python():
    """A notebook's recipe in a fresh interpreter: ``import scatgen``, then Hydra's compose API on
    ``conf/`` and ``instantiate`` of the encoder.  Planted bug it catches: the schemas registered
    only when ``scatgen.config`` is imported (``MissingConfigException: ... schema/study``)."""
    code = ("import scatgen\n"
            "from hydra import compose, initialize_config_dir\n"
            "from hydra.utils import instantiate\n"
            f"with initialize_config_dir(config_dir={str(CONF)!r}, version_base='1.3'):\n"
            "    cfg = compose('train', overrides=['data.image_size=32', 'encoder.J=3'])\n"
            "print(type(instantiate(cfg.encoder)).__name__, cfg.study.n_samples)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["Scattering", "2048"]


@pytest.mark.parametrize("arg", ["data.root=/x/'y", "data.root=a=b(", "model.optimizer.lr=1e-3)"])
def test_an_argument_hydra_cannot_parse_is_one_line_with_its_quoting(tmp_path, arg):
    """Planted bug it catches: Hydra's lexer text passed on (``LexerNoViableAltException: ...``,
    ``mismatched input '=' expecting <EOF>``), which names no argument and no fix."""
    with pytest.raises(ConfigError) as err:
        check_overrides([f"paths.root_dir={tmp_path}", arg], "train")
    line = str(err.value)
    assert line.startswith(f"cannot parse the argument {arg!r}") and "quote the value" in line
    suggested = line.rsplit("e.g. ", 1)[1][1:-1]  # as the shell passes the quoted argument
    if not arg.startswith("model."):  # a path may be any string: the suggested quoting then composes
        check_overrides([f"paths.root_dir={tmp_path}", suggested], "train")


@pytest.mark.slow  # a subprocess: make test-slow (make test's budget)
def test_help_lists_the_users_groups_not_the_internal_ones():
    """Planted bug it catches: Hydra's own help, which lists ``schema: adam, conv_encoder, ...`` and
    ``shared`` among the choices a user picks from."""
    from conftest import run_script

    proc = run_script(["train.py", "--help"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "model: dcgan, gan, inverse_scattering, sngan, sngan_diffaugment, vae" in lines
    assert not any(line.startswith(("schema:", "shared", "synthesize:")) for line in lines)


def test_a_user_config_dir_file_with_the_projects_name_is_said_to_be_shadowed(tmp_path):
    """Planted bug it catches: a ``--config-dir`` whose ``model/vae.yaml`` Hydra silently ignored (the
    project's own is read first), with nothing said."""
    from scatgen.cli import CONF_DIR, shadowed_configs

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "vae.yaml").write_text("beta: 9\n")
    (tmp_path / "model" / "my_vae.yaml").write_text("beta: 9\n")
    lines = shadowed_configs(["--config-dir", str(tmp_path), "model=vae"])
    assert lines == [f"warning: {tmp_path / 'model' / 'vae.yaml'} has the name of scatgen's {CONF_DIR / 'model' / 'vae.yaml'}, "
                     "which is the one used; rename yours (e.g. vae_mine.yaml) to choose it"]
    assert shadowed_configs([f"--config-dir={tmp_path}"]) == lines
