"""The anchors (plenoptic's Portilla-Simoncelli, pywph's phase harmonics) beside scatgen's models:
the side-by-side report's sentences follow its numbers, a missing extra is one clear line, and
(slow) the script runs end to end on one 64x64 texture."""

import json
import sys

import numpy as np

import pytest

from PIL import Image

from conftest import one_line, run_script
from scatgen.errors import UserError
from scatgen.synthesis.images import anchors
from scatgen.viz.numbers import format_value


def test_a_missing_anchor_is_one_line_naming_the_extra(monkeypatch):
    """Planted bug it catches: the ImportError's traceback (or a silent skip) instead of one line
    that says how to install the extra."""
    monkeypatch.setitem(sys.modules, "pywph", None)  # import pywph now raises ImportError
    with pytest.raises(UserError, match=r"pip install -e '\.\[anchors\]'") as err:
        anchors.require("pywph")
    assert "\n" not in str(err.value)
    assert "pip install -e '.[anchors]'" in anchors.available()["pywph"]


def test_three_significant_figures():
    assert [format_value(v) for v in (0.005534, 12.345, 1281, 0.1, 2.0, 1281.4, None)] == \
        ["0.00553", "12.3", "1281", "0.1", "2", "1280", "-"]


def test_the_script_names_both_sizes_when_a_texture_is_smaller_than_asked(tmp_path):
    """Any image path is a texture; one smaller than --size is refused in one line naming both
    sizes, before any model runs.  Planted bug it catches: the image upscaled (its fine scales
    invented) or a traceback."""
    small = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((40, 48)) * 255).astype("uint8")).save(small)
    proc = run_script(["scripts/anchors_synthesis.py", "--textures", str(small), "--size", "64",
                       "--out", str(tmp_path / "docs"), "--runs", str(tmp_path / "runs")], timeout=300)
    line = one_line(proc, "texture=")
    assert "48x40" in line and "size=64" in line and "size<=40" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_anchors_script_runs_on_one_small_texture(tmp_path):
    """End to end on one 64x64 texture, 2 samples, a cap of 4 evaluations: the page has a column
    per model (anchors skipped with the install line where the extra is missing), the three tables,
    the loss curves, and a rerun reuses every model's result (resume)."""
    args = ["scripts/anchors_synthesis.py", "--textures", "gravel", "--size", "64", "--J", "3", "--cap", "4",
            "--samples", "2", "--out", str(tmp_path / "docs"), "--runs", str(tmp_path / "runs")]
    proc = run_script(args, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "docs" / "synthesis.md").read_text()
    for figure in ("gravel.png", "gravel_loss.png"):
        assert (tmp_path / "docs" / "synthesis" / figure).stat().st_size > 1000
    missing = [m for m, why in anchors.available().items() if why]
    for text in ("gaussian", "| scattering", "held out: orientation histogram TV", " ± ", "### At convergence",
                 "stopped by"):
        assert text in page, text
    for m in missing:
        assert "pip install -e '.[anchors]'" in page, m
    if not missing:
        assert "### At equal wall time" in page and "phase harmonics (pywph)" in page
    metrics = tmp_path / "runs" / "gravel" / "scattering" / "metrics.json"
    stamp = metrics.stat().st_mtime_ns
    done = json.loads(metrics.read_text())
    assert done["points"]["final"]["evaluations"] == 4 and done["stopped"] == ["cap", "cap"]
    assert run_script(args, timeout=600).returncode == 0
    assert metrics.stat().st_mtime_ns == stamp  # reused, not recomputed


def test_the_pixel_histogram_explanation_appears_only_where_an_anchor_wins_it():
    """Planted bug it catches: the "why scatgen loses the pixel histogram" sentence written
    whatever the numbers (or with the comparison reversed)."""
    from scatgen.synthesis.images.report import findings

    def row(w1, model):
        scores = {k: [0.1, 0.0] for k in ("heldout/orientation_tv", "heldout/gradient_w1")} | \
            {"marginal_w1": [w1, 0.0], f"cross/{model}": [0.01, 0.0]}
        point = {"evaluations": 10.0, "seconds": 1.0, "loss": 0.1, "scores": scores}
        return {"n_moments": 10, "stopped": ["plateau"], "points": {"final": point, "wall": point}}

    def results(ours, anchor):
        return {"brick": {"scattering": row(ours, "scattering"), "pywph": row(anchor, "pywph")}}

    assert any("loses the pixel histogram on 1 of 1 textures (brick)" in line
               for line in findings(results(0.05, 0.01), ["scattering", "pywph"]))
    assert not any("pixel histogram" in line for line in findings(results(0.01, 0.05), ["scattering", "pywph"]))
