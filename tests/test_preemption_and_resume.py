"""Preemption and resuming: SIGTERM (how SLURM and Kubernetes stop a job) saves like Ctrl-C and exits
non-zero, the printed resume line works for paths with spaces, and a resume that changes the model is
refused before anything is written.  Each test names the bug it was seen to fail on (planted once)."""

import hashlib
import os
import signal
import subprocess

import lightning as L
import pytest

from conftest import CLI_TINY, ROOT, compose_cfg, one_line, run_script
from scatgen.pipeline import PREEMPTED_EXIT, train
from scatgen.storage.checkpoints import read_checkpoint


class TerminateAtStep(L.Callback):
    """Test helper: ``kill -TERM`` of this process after ``step`` optimiser steps (mid-epoch)."""

    def __init__(self, step: int = 3):
        self.step, self.sent = step, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step and not self.sent:  # a GAN counts 2 steps a batch
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)


class CountBatches(L.Callback):
    """Test helper: counts the training batches this process runs (class-wide)."""
    seen = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        CountBatches.seen += 1


@pytest.mark.parametrize("model", ["inverse_scattering", "gan"])
def test_sigterm_saves_the_state_prints_the_resume_line_and_exits_non_zero(tmp_path, capfd, model):
    """Planted bug it catches: ``SaveOnInterrupt`` handling ``KeyboardInterrupt`` only (SIGTERM gave
    exit 0, no ``interrupted.ckpt``, no resume line: a scheduler recorded the job as COMPLETED)."""
    gan = ["model.inversion.steps=2", "model.inversion.restarts=1", "study.eval_limit=8"] if model == "gan" else []
    cfg = compose_cfg(tmp_path, [f"model={model}", "trainer.max_epochs=2", *gan,
                                 "+callbacks.terminate._target_=test_preemption_and_resume.TerminateAtStep"])
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as stopped:
            train(cfg)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert stopped.value.code == PREEMPTED_EXIT
    saved = tmp_path / "run" / "checkpoints" / "interrupted.ckpt"
    assert read_checkpoint(saved)["global_step"] >= 3
    assert f"resume with: python train.py ckpt_path={saved}" in capfd.readouterr().err
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_job_slurm_requeued_resumes_by_itself(tmp_path, monkeypatch):
    """A preempted SLURM job that the scheduler (or submitit) requeues starts the same command in the same
    job directory: it resumes from its newest checkpoint and finishes the run's steps.  Planted bug it
    catches: no requeue check (the job trained again from step 0 over its own run)."""
    cfg = compose_cfg(tmp_path, ["trainer.max_epochs=2", "+callbacks.terminate._target_=test_preemption_and_resume.TerminateAtStep"])
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit):
            train(cfg)
    finally:
        signal.signal(signal.SIGTERM, handler)
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    CountBatches.seen = 0
    train(compose_cfg(tmp_path, ["trainer.max_epochs=2", "+callbacks.count._target_=test_preemption_and_resume.CountBatches"]))
    import json

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 12 and CountBatches.seen == 12 - 3  # 2 epochs of 6 batches; the 3 done before are not redone


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # two subprocess runs
def test_a_run_in_a_folder_with_spaces_resumes_from_the_printed_line_and_refuses_a_changed_model(tmp_path):
    """The resume line, pasted into a shell, resumes the run; a resume that changes the architecture is one
    line naming the key and its two values, and leaves every file of the run as it was.  Planted bugs it
    catches: the line printed with ``ckpt_path=`` unquoted (the shell splits the path), the quoted path read
    with its quotes (refused), no comparison of the settings (an 11-frame ``size mismatch`` traceback, and
    ``.hydra/config.yaml`` overwritten with the wrong settings)."""
    root = tmp_path / "my runs"
    run = root / "run one"
    args = ["train.py", *CLI_TINY, "trainer.max_epochs=1", f"paths.root_dir='{root}'", f"hydra.run.dir='{run}'"]
    first = run_script(args)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _digests(run)
    changed = run_script(["train.py", *CLI_TINY, "model.generator.width=16", f"paths.root_dir='{root}'",
                          f"ckpt_path='{run}/checkpoints/last.ckpt'"])
    one_line(changed, "ckpt_path=")
    assert "model.generator.width" in changed.stderr and "8" in changed.stderr and "16" in changed.stderr
    assert _digests(run) == before
    line = f"python train.py \"ckpt_path='{run}/checkpoints/last.ckpt'\""
    from scatgen.training import resume_command

    assert resume_command(run / "checkpoints" / "last.ckpt") == line
    resumed = subprocess.run(line.replace("python", str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists()
                                          else "python", 1) + " " + " ".join(f"'{a}'" for a in CLI_TINY)
                             + f" trainer.max_epochs=2 \"paths.root_dir='{root}'\"",
                             shell=True, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 1
