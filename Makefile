# The two set-up commands from the README: `make demo` and `make test`.
# Each creates .venv if absent and installs the package from this repository's own files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hsi-tumor demo --out out

lint: $(STAMP)
	$(PY) -m ruff check hsi_tumor tests bench examples docs/make_api.py
	$(PY) -m ruff format --check hsi_tumor tests bench examples docs/make_api.py
	$(VENV)/bin/lint-imports  # the layers of pyproject.toml's [tool.importlinter]

# Two runs: the napari plugin's tests (real viewer, Qt, Xvfb) in their own process; the rest
# without the pytest plugins of napari, npe2, pytest-qt and pytest-xvfb (napari's imports Qt into
# every test), so that no Qt or X state is shared with the Dask and multiprocessing tests.
NO_QT := -p no:napari -p no:npe2 -p no:napari-plugin-engine -p no:pytest-qt -p no:xvfb
# --durations=15: the slowest tests, to keep make test under about ten minutes on 2 cores
test: lint
	$(PY) -m pytest -q --durations=15 $(NO_QT) --ignore=tests/napari
	$(PY) -m pytest -q tests/napari

format: $(STAMP)
	$(PY) -m ruff format hsi_tumor tests bench examples docs/make_api.py
	$(PY) -m ruff check --fix hsi_tumor tests bench examples docs/make_api.py

docs: $(STAMP)
	$(PY) docs/make_api.py

bench: $(STAMP)
	$(PY) bench/bench_io.py
	$(PY) bench/bench_preprocess.py
	$(PY) bench/bench_classify.py
	$(PY) bench/bench_spatial.py
	$(PY) bench/bench_gpu.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
