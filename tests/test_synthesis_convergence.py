"""Synthesis at convergence: the stopping rule, the best image kept, the snapshots, and the sentences
and goals the convergence report draws from its tables."""

import pytest
import torch

from scatgen.synthesis.images.moments import moment_model
from scatgen.synthesis.images.report import Settings, compare, findings, goals, model_identity, reusable, table
from scatgen.synthesis.images.textures import load_texture
from scatgen.synthesis.microcanonical import MomentLoss, synthesize
from scatgen.synthesis.trajectory import Stop, Trajectory


def feed(trajectory: Trajectory, losses: list[float]) -> int:
    """Observe ``losses`` (point ``i`` is the image filled with ``i``) until the trajectory stops."""
    for i, loss in enumerate(losses):
        try:
            trajectory.observe(torch.full((1, 1, 2, 2), float(i)), loss)
        except Stop:
            return i + 1
    return len(losses)


def test_the_plateau_is_a_relative_change_of_the_best_loss_over_the_window():
    """Falling by 1% an evaluation, then flat: the descent stops exactly ``window`` evaluations into
    the flat part.  Planted bugs it catches: an absolute test (1e-4 of a loss of 1e-3 is never
    reached... or always), the last loss instead of the best (line-search trials above the best
    would keep it running), a window off by one."""
    falling = [0.99 ** i for i in range(100)]
    losses = falling + [falling[-1]] * 200
    t = Trajectory(cap=1000, window=50)
    assert feed(t, losses) == 150 and t.stopped == "plateau"
    # the same curve scaled by 1e-6 stops at the same place: the rule is relative
    t = Trajectory(cap=1000, window=50)
    assert feed(t, [v * 1e-6 for v in losses]) == 150
    # line-search trials far above the best do not delay the plateau: only the best loss counts
    noisy = falling + [falling[-1] * (5.0 if i % 2 else 1.0) for i in range(200)]
    t = Trajectory(cap=1000, window=50)
    assert feed(t, noisy) == 150


def test_the_cap_stops_a_descent_still_falling_and_the_best_image_is_kept():
    losses = [1.0 / (i + 1) for i in range(50)]
    losses[30] = 100.0  # a line-search trial: worse than every point before it
    t = Trajectory(cap=40, window=50, at_evaluations=(10, 40))
    assert feed(t, losses) == 40 and t.stopped == "cap"
    final = t.finish()
    assert final.evaluations == 40 and final.loss == pytest.approx(1 / 40)
    assert float(final.image.flatten()[0]) == 39.0  # the best point, the last one here
    assert float(t.snapshots["eval10"].image.flatten()[0]) == 9.0
    t = Trajectory(cap=35, window=None)
    feed(t, [1.0, 0.5, 2.0, 3.0])
    assert float(t.finish().image.flatten()[0]) == 1.0 and t.stopped == "optimiser"  # it ran out on its own


def test_the_wall_snapshot_is_the_best_image_within_the_reference_time():
    t = Trajectory(cap=100, window=None, at_seconds=0.0)  # no time at all: the first evaluation, the start
    feed(t, [3.0, 2.0, 1.0])
    assert t.snapshots["wall"].evaluations == 1 and float(t.snapshots["wall"].image.flatten()[0]) == 0.0
    t = Trajectory(cap=100, window=None, at_seconds=1e9)  # all the time: the end
    feed(t, [3.0, 2.0, 1.0])
    assert t.snapshots["wall"].evaluations == 3 and t.snapshots["wall"].loss == 1.0


def test_a_watched_descent_returns_its_best_image_and_stops_at_the_cap():
    """torch L-BFGS driven through a Trajectory: it stops at the cap (not at its own 2x budget),
    and the sample is the lowest-loss image it evaluated."""
    example = load_texture("gravel", 32)
    moments = moment_model("scattering", (32, 32), 3, 4)
    seen = []
    result = synthesize(moments, example, 1, 100, 1, 0, evaluations=100,
                        watch=lambda: seen.append(Trajectory(cap=12, window=None)) or seen[-1])
    assert len(result.losses[0]) == 12 and seen[0].stopped == "cap"
    loss = MomentLoss(moments, example)
    assert float(loss(result.images[:1])) == pytest.approx(min(result.losses[0]), rel=1e-4)


def _result(value, spread=0.0, own=0.01, model="phase_harmonic", n_moments=600):
    keys = ("heldout/orientation_tv", "heldout/gradient_w1", "marginal_w1", "spectrum_error")
    scores = {k: [value, spread] for k in keys} | {f"cross/{model}": [own, 0.0]}
    point = {"evaluations": 100.0, "seconds": 10.0, "loss": 1e-3, "scores": scores}
    return {"n_moments": n_moments, "stopped": ["plateau"], "points": {"final": point, "wall": point}}


def test_better_equal_worse_follow_the_numbers_the_spreads_and_the_5_percent_band():
    """Planted reversals it catches: lower held-out error called worse; "equal" ignoring the spread,
    or the 5% band with one sample."""
    results = {"brick": {"phase_harmonic": _result(0.1), "pywph": _result(0.2, model="pywph")},
               "grass": {"phase_harmonic": _result(0.3), "pywph": _result(0.2, model="pywph")},
               "edges": {"phase_harmonic": _result(0.2, 0.05), "pywph": _result(0.22, model="pywph")},
               "gravel": {"phase_harmonic": _result(0.103), "pywph": _result(0.1, model="pywph")}}
    tally = compare(results, "phase_harmonic", "pywph")
    assert (len(tally["better"]), len(tally["equal"]), len(tally["worse"])) == (3, 6, 3)
    assert "grass orientation histogram TV 0.3 vs 0.2" in tally["worse"]


def test_the_goals_say_met_or_by_how_much_they_are_missed():
    """Planted bugs it catches: a goal called met on too few wins, or with more moments than pywph."""
    def results(ours_value, ours_moments=600):
        return {t: {"phase_harmonic": _result(ours_value, n_moments=ours_moments),
                    "pywph": _result(0.2, model="pywph", n_moments=645),
                    "portilla_simoncelli": _result(0.2, model="portilla_simoncelli", n_moments=710)}
                for t in ("brick", "grass", "gravel", "lognormal", "edges")}

    models = ["phase_harmonic", "portilla_simoncelli", "pywph"]
    met = goals(results(0.1), models)
    assert "**met** (15 of 15" in met[0] and "**met** (15 of 15" in met[2]
    missed = goals(results(0.3), models)
    assert "**missed by 12** (0 of 15" in missed[0] and "**missed by 10** (0 of 15" in missed[2]
    more = goals(results(0.1, ours_moments=700), models)
    assert "not with fewer moments" in more[0]


def test_the_any_texture_check_wants_the_pixel_w1_no_worse_and_the_orientation_tv_within_10_percent():
    """The issue's check on a texture outside the five.  Planted bugs it catches: the margin applied
    to the pixel W1 too, or the orientation margin dropped or turned the wrong way."""
    def check(w1, tv):
        scores = _result(0.1)
        scores["points"]["final"]["scores"] |= {"marginal_w1": [w1, 0.0], "heldout/orientation_tv": [tv, 0.0]}
        line = goals({"moon": {"phase_harmonic": scores, "pywph": _result(0.1, model="pywph", n_moments=645)}},
                     ["phase_harmonic", "pywph"])[1]
        assert line.startswith("- Pixel histogram W1 no worse") and "moon" in line
        return "**met**" in line

    assert check(0.1, 0.109)        # TV 9% worse: within the margin
    assert not check(0.1, 0.111)    # 11% worse
    assert not check(0.105, 0.05)   # pixel W1 5% worse: no margin there
    assert check(0.05, 0.05)


def test_a_model_far_from_its_own_statistics_is_marked_not_converged_in_every_table():
    """Planted bug it catches: an anchor stopped far from its own statistics compared as if it had
    converged (the 50-evaluation report's flaw)."""
    results = {"brick": {"phase_harmonic": _result(0.1),
                         "portilla_simoncelli": _result(0.2, own=1.33, model="portilla_simoncelli"),
                         "phase_randomized": _result(0.3)}}
    for point in ("final", "wall"):
        head = table(results["brick"], ["phase_harmonic", "portilla_simoncelli"], [], point)[0]
        assert "Portilla-Simoncelli (plenoptic) (not converged)" in head
        assert "phase harmonic (not converged)" not in head
    lines = findings(results, ["phase_harmonic", "portilla_simoncelli"])
    assert any("not converged: Portilla-Simoncelli (plenoptic) on brick" in line for line in lines)
    assert any("has not reached its own statistics" in line and "brick (1.33)" in line for line in lines)


def test_a_stored_run_of_a_model_built_otherwise_is_not_reused():
    """The report resumes from stored runs; a run made before a model's default changed (scale links,
    marginal family) must be made again.  Planted bug it catches: reuse keyed on the settings alone
    (the report then shows the old model's numbers under the new model's name)."""
    s = Settings(size=64, J=4, L=4, cap=5)
    now = model_identity("phase_harmonic", (64, 64), s)
    other = model_identity("phase_harmonic", (64, 64), s) | {"n_moments": now["n_moments"] + 48}
    stored = {"settings": {**s.__dict__}, "judges": ["a"], "at_seconds": None}
    assert reusable(stored | now, now, s, ["a"], None)
    assert not reusable(stored | other, now, s, ["a"], None)
    assert not reusable(stored | now | {"model_options": {"marginal": "none", "scale_links": "all"}}, now, s, ["a"], None)
    assert not reusable(stored | now, now, s, ["a"], 10.0)   # another reference time
    assert reusable(stored, {}, s, ["a"], None)               # an anchor: nothing of scatgen's to compare
