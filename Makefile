# The course's commands. `make lab` and `make test` are all a newcomer needs; both create the
# environment on first use. Everything runs from the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# 2 cores: two workers with one thread each was measured fastest (FACTS.md).
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export KERAS_BACKEND := torch
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export JUPYTER_PLATFORM_DIRS := 1
WORKERS ?= 2
# Every example in course_lib's docstrings (make test and make doctest).
DOCTESTS = $(BIN)/pytest -n $(WORKERS) --doctest-modules -p no:cacheprovider course_lib

.PHONY: setup lab test unit doctest typecheck smoke book slides claims claims-ci lint format browser-deps bench bench-notebooks clean lock

## setup: create .venv with the pinned dependencies and course_lib (editable); idempotent
setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed, found " + sys.version' 
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	@touch $(STAMP)

## lab: open the course in JupyterLab on 127.0.0.1 (honours JUPYTER_PORT and JUPYTER_TOKEN);
## as root (containers) Jupyter refuses to start without --allow-root, so it is added there
lab: setup
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

## test: setup when needed, then lint, the type check (mypy, [tool.mypy] in pyproject.toml), every doctest
## in course_lib, unit tests, notebook smoke runs, browser tests, then every notebook once in full mode under
## nbval with other CPU kernels and another seed (claims-ci: the claims hold, the checked outputs match)
test: setup browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(DOCTESTS)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup --durations=25 tests
	$(PY) scripts/claims.py --ci -j $(WORKERS)

## claims: every notebook in full mode under native and portable CPU kernels x SEED 0, 1, 2 (table in
## build/claims.md); claims-ci: what make test runs, nbval (--nbval-lax) on copies of the committed
## notebooks with SEED = 1 under portable kernels (scripts/claims.py explains why one run checks both)
claims: setup
	$(PY) scripts/claims.py -j $(WORKERS)

claims-ci: setup
	$(PY) scripts/claims.py --ci -j $(WORKERS)

## unit: only the fast unit tests (no notebooks, no browser)
unit: setup
	$(BIN)/pytest -n $(WORKERS) -m "not notebook and not browser" tests

## doctest: every example in course_lib's docstrings; typecheck: mypy on course_lib (both run by make test)
doctest: setup
	$(DOCTESTS)

typecheck: setup
	$(BIN)/mypy

## smoke: every notebook in smoke mode (SMOKE=True), outputs into build/smoke/, with a timing table
smoke: setup
	$(PY) scripts/run_notebooks.py --smoke -j $(WORKERS)

## book: full run of every notebook (two at a time), outputs written back, static HTML site in build/ (index.html);
## works offline: MathJax, plotly.js (pages with Plotly figures) copied to build/_static/, no CDN
book: setup
	$(PY) scripts/run_notebooks.py --inplace -j $(WORKERS)
	$(PY) scripts/course_map.py
	$(PY) scripts/build_book.py

## slides: reveal.js slides of every notebook into build/slides/, offline (reveal.js 5.2.0 and MathJax from
## pinned packages, copied to build/_static/); optional: REVEAL_DIR=another unpacked reveal.js, or REVEAL_PREFIX
REVEAL_DIR ?=
slides: setup
	$(PY) scripts/build_book.py --slides $(if $(REVEAL_DIR),--local-reveal $(REVEAL_DIR))

## browser-deps: Debian's chromium for the browser tests (installed when missing and we are root)
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (browser tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "WARNING: could not install chromium; browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: optimizer speed against torch.optim (ratios ours/torch), then what a step costs: loop vs
## foreach vs torch.compile against the number of tensors, and the bandwidth reached against a triad
## measured in the same run (several minutes; `benchmarks/bench_step_cost.py --no-compile` skips compiling)
bench: setup
	$(PY) benchmarks/bench_optim.py
	$(PY) benchmarks/bench_step_cost.py

## bench-notebooks: each notebook's wall time in smoke and full mode (the README's table)
bench-notebooks: setup
	$(PY) benchmarks/bench_notebooks.py

## lock: regenerate constraints.txt from the current environment
lock:
	$(BIN)/pip freeze --exclude-editable | sed 's/+cpu//' > constraints.txt

clean:
	rm -rf build .pytest_cache .ruff_cache
