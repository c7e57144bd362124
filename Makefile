# make train / make test work as the only command on a fresh machine: both install first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install train test test-slow test-all test-gpu docs bench bench-gpu study study-axes study-gan-long study-gpu synthesis-report clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

# make train: the whole job in TRAIN_MINUTES on any CPU kind, the install included.  train.py gets
# what the install left (time_budget_s); where its 12 epochs do not fit, the fit stops in time with
# the learning rate annealed over it (docs/performance.md says what each CPU kind gets)
# (TRAIN_ARGS: more train.py overrides, e.g. make train TRAIN_ARGS=trainer.precision=32-true)
TRAIN_MINUTES ?= 10
TRAIN_ARGS ?=
MAKE_START := $(shell date +%s)
train: install
	$(PY) train.py time_budget_s=$$(( $(TRAIN_MINUTES) * 60 - ($$(date +%s) - $(MAKE_START)) )) $(TRAIN_ARGS)

# the fast suite on every logical CPU (pytest-xdist); a file's tests stay on one worker, so the
# models its module-scoped fixtures train are trained once (tests/conftest.py shares the cores out)
test: install
	$(PY) -m pytest -q -n logical --dist loadfile

# the documentation site into site/ (mkdocs.yml): strict, so a broken link or a page missing from the
# nav fails; then no page may load a script, style sheet or font from another host (it works offline)
docs: install $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q
	@! grep -rlE '<(script|link)[^>]+(src|href)="(https?:)?//' site || (echo "a page loads something from another host"; exit 1)

$(VENV)/.docs-installed: pyproject.toml
	$(VENV)/bin/pip install --quiet -e '.[docs]'
	touch $@

test-slow: install
	$(PY) -m pytest -q -m slow

test-all: install
	$(PY) -m pytest -q -m ""

# the tests marked cuda (train, evaluate, synthesize on a GPU); skipped where there is none
test-gpu: install
	$(PY) -m pytest -q -m cuda

# every GPU benchmark and the cuda tests in one call (~5-8 min on an H200)
bench-gpu: install
	bash bench/bench_gpu.sh $(PY)

bench: install
	$(PY) bench/bench_scattering.py
	$(PY) bench/bench_training.py

# the study: IS, VAE and the SN-GAN on 32x32 polygons at an equal budget (conf/experiment/study32_*.yaml:
# 12 epochs), 3 seeds each, the classic DCGAN as a reference row on seed 0, every run evaluated,
# docs/study/report.md written (budget 60 min on 2 CPU cores: 57 min measured on the AVX-512 EPYC on 2026-12-06;
# about 3 h projected on the AVX2-only one, not met there, README; jobs=N runs N at a time; an interrupted study resumes)
study: install
	$(PY) scripts/compare.py out_dir=docs/study experiments=study32 'seeds=[0,1,2]' 'reference_models=[dcgan]' \
		study.n_samples=1024 study.classifier_steps=1200

# the study along data complexity (1, 2, 4 polygons per image at 4,096 images) and data size
# (1,024 / 4,096 / 16,384 images at equal steps), seed 0: docs/study_axes/report.md (budget 120 min
# on 2 CPU cores; measured in full: 67.6 min on the AVX-512 EPYC with the study's nearest-neighbour G, partly
# beside other jobs, docs/study.md); resumes with what is not done
study-axes: install
	$(PY) scripts/study_axes.py out_dir=docs/study_axes study.n_samples=1024 study.classifier_steps=4000 \
		'study.parts=[reconstruction,per_mode,resolution,samples,modes,memorisation]'

# the study's SN-GAN at a GAN's budget (conf/gan_long.yaml's recipe, study32_gan_long_data64k_g64: 65,536 polygons,
# G of width 64, 32,512 generator steps, seed 0) and its learning curve on 10,000 N(0, Id) samples per checkpoint: docs/gan_long/ (hours on
# 2 cores; resumes from its newest checkpoint: run it again). The run lives in $(LONG_RUNS).
LONG_RUNS ?= $(HOME)/scatgen-runs
study-gan-long: install
	$(PY) scripts/gan_long.py paths.root_dir=$(LONG_RUNS) out_dir=$(CURDIR)/docs/gan_long \
		reference_metrics=$(CURDIR)/docs/study/metrics.json study_report=$(CURDIR)/docs/study \
		axes_report=$(CURDIR)/docs/study_axes/axes.json page=$(CURDIR)/docs/gan_long.md

# scatgen's texture models beside plenoptic's Portilla-Simoncelli and pywph at convergence (each to its
# own plateau or 1,000 evaluations; 128x128, one sample, the five built-in textures): docs/synthesis.md,
# docs/synthesis/ (hours on 2 cores: pywph is the slow one; resumes model by model). Runs in $(LONG_RUNS).
synthesis-report: install
	$(VENV)/bin/pip install --quiet -e '.[anchors]'
	$(PY) scripts/anchors_synthesis.py --out $(CURDIR)/docs --runs $(LONG_RUNS)/anchors

# both at 64x64 on a GPU (not yet measured: no GPU has been lent since this target was written):
# the study (SN-GAN as polygons_gan, the DCGAN row as polygons_dcgan) and its axes
study-gpu: install
	$(PY) scripts/compare.py out_dir=docs/study_gpu experiments=polygons 'seeds=[0,1,2]' epochs=30 device=cuda \
		'reference_models=[dcgan]' 'train_overrides=["trainer=gpu","data.n_train=16384"]'
	$(PY) scripts/study_axes.py out_dir=docs/study_gpu_axes experiments=polygons device=cuda \
		'train_overrides=["trainer=gpu"]' study.classifier_steps=4000 \
		'study.parts=[reconstruction,per_mode,resolution,samples,modes,memorisation]'


clean:
	rm -rf $(VENV) logs data/cache site
