"""``scripts/gan_long.py`` (``make study-gan-long``): one GAN trained at a GAN's budget
(``experiment=study32_gan_long``: 30,000 generator steps) in a fixed run directory, resumed from
its newest checkpoint when interrupted, then its learning curve
(``scatgen.learning_curve``) written beside the study's report."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scatgen.errors import UserError
from scatgen.training import newest_checkpoint
from scatgen.devices import cpu_kind
from scatgen.learning_curve import CURVE_KEYS, curve_page, write_curve
from scatgen.studies.axes import claim1, claim2, load_axes_table
from scatgen.studies.report import QUALITY_BAR, refresh_answer
from scatgen.viz.numbers import format_value

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
def train_long(cfg: DictConfig, run_dir: Path) -> None:
    """Train ``experiment=<cfg.recipe> seed=<cfg.seed>`` into ``run_dir`` (resumed from its newest
    checkpoint); a finished run (``metrics.json``) is kept."""
    if (run_dir / "metrics.json").exists():
        log.info("reusing the finished run %s", run_dir)
        return
    resume = newest_checkpoint(run_dir)
    cmd = [sys.executable, str(ROOT / "train.py"), f"experiment={cfg.recipe}", f"seed={cfg.seed}",
           f"hydra.run.dir={run_dir}", "study.eval_limit=32", *cfg.train_overrides]
    if resume is not None:
        cmd.append(f"ckpt_path={resume}")
        log.info("resuming %s from %s", run_dir, resume.name)
    log.info(" ".join(cmd[1:]))
    if subprocess.run(cmd, cwd=ROOT).returncode:
        raise UserError(f"training {run_dir} stopped; run the same command again to resume it from its newest checkpoint")


def run_config(run_dir: Path) -> DictConfig | None:
    """The run's own composed config (``.hydra/config.yaml``), or ``None`` before it started."""
    path = run_dir / ".hydra" / "config.yaml"
    return OmegaConf.load(path) if path.is_file() else None


def run_labels(run_dir: Path) -> dict:
    """What the run trained on, as curve-record keys (``{}`` before it started): its number of training
    images and its networks' widths and D's depth (a lever may change them against the study's)."""
    config = run_config(run_dir)
    if config is None:
        return {}
    model = config.model
    return {"data/n_train": config.data.n_train, "model/generator_width": model.generator.width,
            "model/discriminator_width": model.discriminator.width,
            "model/discriminator_depth": model.discriminator.get("depth", 1)}


def trained_on(run_dir: Path) -> str:
    """What the run's data, batch and networks were, against the study's (``conf/shared/experiment/study32.yaml``)."""
    config = run_config(run_dir)
    if config is None:
        return "the study's data, batch of 32 and generator"
    data, labels = config.data, run_labels(run_dir)
    study_width = OmegaConf.load(ROOT / "conf" / "shared" / "experiment" / "study32.yaml").model.generator.width
    g_width, d_width, d_depth = (labels[f"model/{k}"] for k in ("generator_width", "discriminator_width",
                                                                 "discriminator_depth"))
    networks = ("the study's generator" if g_width == study_width else
                f"a generator of width {g_width} (the study's: {study_width})")
    if d_width != g_width or d_depth != 1:
        networks += f", a discriminator of width {d_width} and depth {d_depth}"
    return (f"{data.n_train:,} polygons of {data.image_size}x{data.image_size} generated (the study's models had 8,192), "
            f"batch of {data.batch_size}, {networks}")


def reference_values(metrics_file: Path, model: str) -> dict:
    """The mean over seeds of ``model``'s ``CURVE_KEYS`` in a study's ``metrics.json`` (``{}`` if absent)."""
    if not metrics_file.is_file():
        return {}
    runs = json.loads(metrics_file.read_text()).get(model, [])
    return {k: sum(r[k] for r in runs) / len(runs) for k in CURVE_KEYS if runs and all(k in r for r in runs)}


def gan_long(cfg: DictConfig) -> list[dict]:
    run_dir = Path(cfg.run_dir)
    t0 = time.perf_counter()
    train_long(cfg, run_dir)
    log.info("training done in %.1f min (this call)", (time.perf_counter() - t0) / 60)
    reference = reference_values(ROOT / cfg.reference_metrics, cfg.reference_model)
    records = write_curve(run_dir, cfg, Path(cfg.out_dir), reference, f"{cfg.reference_model} ({cfg.reference_label})",
                          tuple(cfg.grid_steps), QUALITY_BAR, labels=run_labels(run_dir))
    if cfg.get("page") and records:
        timing = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
        default = OmegaConf.load(ROOT / "conf" / "gan_long.yaml").recipe  # the recipe make study-gan-long runs
        command = ("make study-gan-long" if (cfg.recipe, cfg.seed) == (default, 0)
                   else f"python scripts/gan_long.py recipe={cfg.recipe} seed={cfg.seed}")
        header = [f"`{command}` trains the study's SN-GAN (`experiment={cfg.recipe}`, seed {cfg.seed}: "
                  f"{trained_on(run_dir)}) and evaluates a checkpoint every 2,500 generator steps, up to "
                  f"{records[-1]['g_step']:,}, on N(0, Id) samples (`scatgen/learning_curve.py`). The training took "
                  f"{format_value(timing.get('time/fit_s', float('nan')) / 60)} min of fit on this run's machine "
                  f"({cpu_kind()}, precision {timing.get('precision', '?')}). The curve's data: "
                  f"[curve.json]({Path(cfg.out_dir).name}/curve.json).", ""]
        Path(cfg.page).write_text(curve_page(records, Path(cfg.out_dir).name, QUALITY_BAR, reference,
                                             f"{cfg.reference_model} ({cfg.reference_label})", header, tuple(cfg.grid_steps),
                                             title="The GAN at a GAN's budget" + ("" if command.startswith("make") else
                                                                                  f": {cfg.recipe}, seed {cfg.seed}")))
    if cfg.get("study_report") and (ROOT / cfg.study_report / "report.md").is_file() and records:
        axes = load_axes_table(ROOT / cfg.axes_report) if cfg.get("axes_report") else None
        # the last record carries what the GAN saw and its networks, said beside the verdict (run_labels)
        path = refresh_answer(ROOT / cfg.study_report, claim2(axes) if axes else None, claim1(axes) if axes else None,
                              records[-1])
        log.info("the study report's answer now judges claim 3's image quality on this run -> %s", path)
    log.info("curve of %d checkpoints -> %s (%.1f min in all, this call)", len(records), cfg.out_dir,
             (time.perf_counter() - t0) / 60)
    return records
