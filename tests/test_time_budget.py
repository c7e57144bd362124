"""``time_budget_s`` and the learning-rate schedule over a time budget (``BudgetedCosineLR``)."""

import json
import math
import time

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Timer
from omegaconf import OmegaConf

from conftest import compose_cfg

from scatgen.models.components.schedules import BudgetedCosineLR
from scatgen.pipeline import FINAL_STAGE_RESERVE_S, MIN_FIT_S, add_fit_budget, train


SMALLER = ["data.n_train=96", "data.val_size=16", "data.n_test=32"]  # the preparation in a few seconds


def _rates(scheduler_of, steps: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = scheduler_of(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_without_a_budget_it_is_torchs_cosine_annealing():
    """Planted bug it catches: a schedule off by one step, or annealing to the wrong floor."""
    ours = _rates(lambda o: BudgetedCosineLR(o, T_max=50, eta_min=0.01), 60)
    torchs = _rates(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50, eta_min=0.01), 51)
    assert max(abs(a - b) for a, b in zip(ours, torchs)) < 1e-12
    assert ours[50:] == [0.01] * 10  # stays at eta_min past T_max (torch's climbs back)


def test_the_time_budget_drives_the_schedule_where_it_binds():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sched = BudgetedCosineLR(opt, T_max=1000)
    spent = {"share": 0.5}
    sched.clock = lambda: spent["share"]
    opt.step()
    sched.step()  # 1 step of 1000, half the time: the time wins
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)
    spent["share"] = 0.0
    sched.step()  # no time spent: the steps
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 + math.cos(math.pi * 2 / 1000))
    assert "clock" not in sched.state_dict()  # a lambda: not in checkpoints


class RecordRates(L.Callback):
    """Test helper: the learning rate of each step, written as JSON at the end of the fit; each step
    slowed by ``sleep`` seconds, so that a tiny run lasts long enough for a time budget to bind."""

    def __init__(self, path: str, sleep: float = 0.0):
        self.path, self.sleep, self.rates = path, sleep, []

    def on_train_batch_end(self, trainer, *args, **kwargs):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])
        time.sleep(self.sleep)

    def on_train_end(self, trainer, pl_module):
        with open(self.path, "w") as f:
            json.dump({"rates": self.rates, "epochs": trainer.current_epoch}, f)


def test_a_run_over_its_budget_stops_annealed_and_writes_its_results(tmp_path):
    """Lightning's ``trainer.max_time`` (the ``Timer`` that ``time_budget_s`` adds, here with a
    budget that does not depend on how long the preparation took).  Planted bug it catches: the
    clock not given to the schedule (the fit stops with the learning rate near its peak, as
    ``max_time`` alone does)."""
    record = tmp_path / "rates.json"
    cfg = compose_cfg(tmp_path, [*SMALLER, "trainer.max_time=00:00:00:04", "trainer.max_epochs=300",
                                 "+callbacks.record._target_=test_time_budget.RecordRates",
                                 f"+callbacks.record.path={record}", "+callbacks.record.sleep=0.05"])
    train(cfg)
    seen = json.loads(record.read_text())
    lr0 = cfg.model.optimizer.lr
    assert seen["epochs"] < 299, "the budget never stopped the fit"
    assert max(seen["rates"]) <= lr0 and seen["rates"] == sorted(seen["rates"], reverse=True)
    assert seen["rates"][-1] < 0.05 * lr0, f"stopped at lr {seen['rates'][-1]:.2e}, not annealed"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test/psnr"] > 0 and (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_time_budget_s_gives_the_fit_what_the_preparation_left():
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    add_fit_budget(OmegaConf.create({"time_budget_s": 600, "trainer": {"max_epochs": 12}}), trainer, spent_s=150)
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]
    assert len(timers) == 1 and timers[0].time_remaining() == pytest.approx(600 - 150 - FINAL_STAGE_RESERVE_S)
    none = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    add_fit_budget(OmegaConf.create({"time_budget_s": None}), none, spent_s=150)
    assert not [c for c in none.callbacks if isinstance(c, Timer)]


def test_a_budget_the_preparation_used_up_still_trains_its_minimum_and_says_so(caplog):
    """Planted bug it catches: a slow CPU's make train (AVX2 only) stopping with nothing trained, or
    overrunning its budget without a word."""
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with caplog.at_level("WARNING"):
        add_fit_budget(OmegaConf.create({"time_budget_s": 600, "trainer": {"max_epochs": 12}}), trainer, spent_s=590)
    timer, = [c for c in trainer.callbacks if isinstance(c, Timer)]
    assert timer.time_remaining() == pytest.approx(MIN_FIT_S)
    assert "time_budget_s=600: start-up and preparation took 590 s, which leaves the fit 0 s; it gets its minimum of 60 s, " \
           "so the run ends about 80 s over its budget" in caplog.text


@pytest.mark.parametrize("budget", ["0", "-60"])
def test_a_budget_of_no_time_is_one_line_before_any_work(tmp_path, budget):
    from scatgen.config import validate
    from scatgen.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"^time_budget_s={budget}(\.0)? leaves no time; give seconds > 0"):
        validate(compose_cfg(tmp_path, [f"time_budget_s={budget}"]))
    assert not (tmp_path / "data").exists()
