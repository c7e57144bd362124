"""The anchors (plenoptic's Portilla-Simoncelli, pywph's phase harmonics) beside scatgen's models:
the side-by-side report's sentences follow its numbers, a missing extra is one clear line, and
(slow) the script runs end to end on one 64x64 texture."""

import json
import sys

import pytest

from conftest import run_script
from scatgen.errors import UserError
from scatgen.synthesis.images import anchors
from scatgen.synthesis.images.report import compare
from scatgen.viz.numbers import format_value


def test_a_missing_anchor_is_one_line_naming_the_extra(monkeypatch):
    """Planted bug it catches: the ImportError's traceback (or a silent skip) instead of one line
    that says how to install the extra."""
    monkeypatch.setitem(sys.modules, "pywph", None)  # import pywph now raises ImportError
    with pytest.raises(UserError, match=r"pip install -e '\.\[anchors\]'") as err:
        anchors.require("pywph")
    assert "\n" not in str(err.value)
    assert "pip install -e '.[anchors]'" in anchors.available()["pywph"]


def _result(value, spread=0.001):
    keys = ("heldout/orientation_tv", "heldout/gradient_w1", "marginal_w1")
    return {"scores": {k: [value, spread] for k in keys}}


def test_better_equal_worse_follow_the_numbers_and_the_spreads():
    """Planted reversal it catches: the comparison written the wrong way round (lower held-out
    error called worse), or "equal" ignoring the samples' spread."""
    results = {"brick": {"scattering": _result(0.1), "pywph": _result(0.2)},
               "gravel": {"scattering": _result(0.1), "pywph": _result(0.15)},
               "grass": {"scattering": _result(0.3), "pywph": _result(0.2)},
               "edges": {"scattering": _result(0.2, 0.05), "pywph": _result(0.22, 0.0)}}
    line = compare(results, "scattering", "pywph")
    assert "better on 6, equal within the spread on 3, worse on 3" in line
    assert "grass orientation histogram TV 0.3 vs 0.2" in line  # a worse one is named


def test_three_significant_figures():
    assert [format_value(v) for v in (0.005534, 12.345, 1281, 0.1, 2.0, 1281.4, None)] == \
        ["0.00553", "12.3", "1281", "0.1", "2", "1280", "-"]


@pytest.mark.slow
def test_anchors_script_runs_on_one_small_texture(tmp_path):
    """End to end on one 64x64 texture, 2 samples, 4 evaluations: the page has a column per model
    (anchors skipped with the install line where the extra is missing), every cell a mean ± spread,
    and a rerun reuses every model's result (resume)."""
    args = ["scripts/anchors_synthesis.py", "--textures", "gravel", "--size", "64", "--J", "3", "--evaluations", "4",
            "--out", str(tmp_path / "docs"), "--runs", str(tmp_path / "runs")]
    proc = run_script(args, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "docs" / "synthesis.md").read_text()
    assert (tmp_path / "docs" / "synthesis_gravel.png").stat().st_size > 1000
    missing = [m for m, why in anchors.available().items() if why]
    for label in ("| gaussian | scattering | phase harmonic |", "held out: orientation histogram TV", " ± "):
        assert label in page
    for m in missing:
        assert "pip install -e '.[anchors]'" in page, m
    if not missing:
        assert "Portilla-Simoncelli (plenoptic) | phase harmonics (pywph)" in page
    metrics = tmp_path / "runs" / "gravel" / "scattering" / "metrics.json"
    stamp = metrics.stat().st_mtime_ns
    assert json.loads(metrics.read_text())["evaluations"] <= 5
    assert run_script(args, timeout=600).returncode == 0
    assert metrics.stat().st_mtime_ns == stamp  # reused, not recomputed


def test_the_pixel_histogram_explanation_appears_only_where_an_anchor_wins_it():
    """Planted bug it catches: the "why scatgen loses the pixel histogram" sentence written
    whatever the numbers (or with the comparison reversed)."""
    from scatgen.synthesis.images.report import findings

    def row(w1):
        return {"n_moments": 10, "seconds_per_sample": 1.0,
                "scores": {k: [0.1, 0.0] for k in ("heldout/orientation_tv", "heldout/gradient_w1")}
                | {"marginal_w1": [w1, 0.0]}}

    def results(ours, anchor):
        return {"brick": {"scattering": row(ours), "pywph": row(anchor)}}

    assert any("loses the pixel histogram (1 of 1 textures: brick)" in l
               for l in findings(results(0.05, 0.01), ["scattering", "pywph"], 50))
    assert not any("pixel histogram" in l for l in findings(results(0.01, 0.05), ["scattering", "pywph"], 50))
