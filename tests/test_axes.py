"""The axes report: verdicts follow the numbers along each axis (planted reversals flip them)."""
import json

from scatgen.studies.axes import Point, axis_points, axis_table, claim1, claim2, write_axes_report


def _table(tmp_path, edges, forgotten, gaps):
    evaluations = {}
    for axis, values in (("complexity", (1, 2, 4)), ("size", (1024, 4096, 16384))):
        for i, v in enumerate(values):
            dirs = []
            for model, shift in (("inverse_scattering", 0.0), ("sngan", -5.0)):
                d = tmp_path / f"{axis}{v}{model}"
                d.mkdir(parents=True)
                m = {"model_name": model, "model": "GAN" if model == "sngan" else "InverseScattering",
                     "study_role": "gan" if model == "sngan" else None, "data/n_modes": 48, "resolution/psnr_edges": edges[i] + shift,
                     "resolution/high_frequency_ratio": 0.5, "per_mode/forgotten": forgotten[i],
                     "modes/modes_covered": 20, "gap/psnr": gaps[i], "test/psnr": 25.0, "epochs": 12}
                (d / "metrics.json").write_text(json.dumps(m))
                dirs.append(d)
            evaluations[Point(axis, v, 1, 4096, 12)] = dirs
    return axis_table(evaluations)


def test_axis_points_keep_the_steps_at_every_size():
    points = axis_points([1, 2, 4], [1024, 4096, 16384], 4096, 12)
    assert [(p.axis, p.value, p.epochs) for p in points][3:] == [("size", 1024, 48), ("size", 4096, 12), ("size", 16384, 3)]
    assert points[0].overrides() == points[4].overrides()  # the shared point trains once


def test_axes_verdicts_follow_the_numbers(tmp_path):
    saturates = _table(tmp_path / "a", edges=(24, 22, 19), forgotten=(1, 2, 5), gaps=(2.0, 0.8, 0.1))
    assert claim2(saturates)[0] == "shown" and claim1(saturates)[0] == "shown"
    flat = _table(tmp_path / "b", edges=(24, 24, 24.2), forgotten=(1, 1, 1), gaps=(0.2, 0.2, 0.1))
    assert claim2(flat)[0] == "not shown" and claim1(flat)[0] == "not shown"
    sharper = _table(tmp_path / "c", edges=(20, 22, 24), forgotten=(2, 1, 1), gaps=(0.1, 0.5, 2.0))
    assert claim2(sharper)[0] == "contradicted" and claim1(sharper)[0] == "not shown"
    one_level = {"complexity": {1: saturates["complexity"][1]}}  # one point: no verdict can be drawn
    assert claim2(one_level)[0] == "not shown" and claim1(one_level)[0] == "not shown"
    report = write_axes_report(saturates, tmp_path / "out").read_text()
    assert "[the study report](../study/report.md)" in report and "memory storage: shown" not in report
    assert (tmp_path / "out" / "axis_complexity.png").stat().st_size > 0 and (tmp_path / "out" / "axis_size.png").exists()


def test_a_recipe_edit_finds_no_stale_study_runs(tmp_path):
    """The study's sweep directory hashes the training configs: editing a model's YAML changes it,
    editing the driver's own settings does not.  Planted bugs it catches: the hash of the
    driver's settings alone (an edited recipe reused runs trained under the old one)."""
    from scatgen.compare import training_config_digest

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "sngan.yaml").write_text("loss: hinge\n")
    (tmp_path / "compare.yaml").write_text("seeds: [0]\n")
    before = training_config_digest(tmp_path)
    (tmp_path / "compare.yaml").write_text("seeds: [0, 1]\n")
    assert training_config_digest(tmp_path) == before
    (tmp_path / "model" / "sngan.yaml").write_text("loss: non_saturating\n")
    assert training_config_digest(tmp_path) != before


def test_the_study_report_takes_claim_2_from_the_axes(tmp_path):
    """The study's claim-2 verdict is the axes' saturation verdict, read back from ``axes.json``.
    Planted bugs it catches: the verdict left at "not shown" whatever the axes say; the levels read
    back as strings (the axis then sorts 16384 before 4096)."""
    from test_study import _fake_runs

    from scatgen.studies.axes import load_axes_table
    from scatgen.studies.report import findings

    runs = _fake_runs(gan={}, scattering={})
    head = "**2. Memory saturates on complex data (loss of resolution or of structures): "
    for name, edges, verdict in (("a", (24, 22, 19), "shown"), ("b", (24, 24, 24.2), "not shown")):
        write_axes_report(_table(tmp_path / name, edges=edges, forgotten=(1, 1, 1), gaps=(2.0, 0.8, 0.1)),
                          tmp_path / name / "out")
        table = load_axes_table(tmp_path / name / "out" / "axes.json")
        assert sorted(table["size"]) == [1024, 4096, 16384]
        assert head + verdict + ".**" in findings(runs, claim2(table))
    assert head + "not shown.**" in findings(runs) and load_axes_table(tmp_path / "none.json") is None
