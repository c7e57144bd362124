# make train / make test work as the only command on a fresh machine: both install first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install train test test-slow test-all test-gpu bench bench-gpu study clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

train: install
	$(PY) train.py

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

test-all: install
	$(PY) -m pytest -q -m ""

# the tests marked cuda (train, evaluate, synthesize on a GPU); skipped where there is none
test-gpu: install
	$(PY) -m pytest -q -m cuda

# every GPU benchmark and the cuda tests in one call (~5-8 min on an H200)
bench-gpu: install
	bash scripts/bench_gpu.sh $(PY)

bench: install
	$(PY) scripts/bench_scattering.py
	$(PY) scripts/bench_training.py

# the study of issue 6: train IS/VAE/GAN at an equal budget, evaluate, write docs/study/report.md
study: install
	$(PY) scripts/compare.py out_dir=docs/study seeds=[0,1] epochs=4

clean:
	rm -rf $(VENV) logs data/cache
