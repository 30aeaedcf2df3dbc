# The README's commands. Everything runs inside .venv at the repository root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every dependency at the lower bound pyproject.toml claims, in an environment of its own.
OLDEST_VENV := .venv-oldest
# constraints-oldest.txt is resolved for the oldest Python the course supports.
OLDEST_PYTHON ?= python3.11
OLDEST_BIN := $(OLDEST_VENV)/bin
OLDEST_LOG := $(OLDEST_VENV).log

# JupyterLab refuses to run as root (as in Docker) unless told it may.
LAB_ROOT_OPTION := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: course lint test test-fast test-pinned test-oldest venv venv-oldest venv-oldest-beside lab lab-solutions doctor notebooks site release clean

course: venv  ## execute the whole course headless (class preset) into runs/class, with a report
	$(BIN)/python -m helpers run --preset class --out runs/class

# .venv-oldest downloads about 3 GB: make test builds it beside .venv and the pinned suite, its output
# in .venv-oldest.log, so the download and the suite overlap. The oldest suite runs once both are done.
test:  ## the whole test suite on the tested versions, then on the oldest ones claimed
	@$(MAKE) --no-print-directory -j2 test-pinned venv-oldest-beside
	@$(MAKE) --no-print-directory test-oldest

lint: venv  ## ruff on helpers/ and tests/, mypy on helpers/ (their rules are in pyproject.toml)
	$(BIN)/python -m ruff check helpers tests
	$(BIN)/python -m mypy

test-fast: venv  ## the unit tests alone (no notebook, process or browser), in under a minute, one worker per core
	$(BIN)/python -m pytest tests -m "not slow" --ignore=tests/notebooks --ignore=tests/site -n auto --dist loadfile

# One pytest worker per core (pytest-xdist); a test file goes to one worker, and so does each of
# tests/notebooks and tests/site. Each notebook is executed once (lesson, solutions and student edition
# in one kernel), several at a time, by the worker that takes tests/notebooks; its figures, solutions,
# student edition and the cells marked for nbval are checked on that one run while the other workers
# run the rest.
# The distributed tests launch torchrun. Its worker processes aborted (SIGABRT) in two of two full parallel
# runs on 2 cores, and never alone (the cause is not found yet), so they run alone after the parallel run.
PARALLEL := -n auto --dist loadfile --ignore=tests/test_distributed.py
ALONE := tests/test_distributed.py

test-pinned: venv  ## lint, unit tests, hygiene, and one smoke run of every notebook, on the versions in constraints.txt
	$(BIN)/python -m ruff check helpers tests
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PARALLEL)
	$(BIN)/python -m pytest $(ALONE)

# The same suite. The comparison with committed outputs skips itself: they were made with the pinned
# torch, and the notebooks' stamp says which. The site is left out: it renders the committed notebooks
# with the site tools, whatever the versions of the course's dependencies.
test-oldest:  ## the same suite on the versions in constraints-oldest.txt
	@if command -v $(OLDEST_PYTHON) >/dev/null; then \
		$(MAKE) --no-print-directory venv-oldest && \
		$(OLDEST_BIN)/python -m pytest $(PARALLEL) --ignore=tests/site && \
		$(OLDEST_BIN)/python -m pytest $(ALONE); \
	else \
		echo "test-oldest SKIPPED: no $(OLDEST_PYTHON) here, and constraints-oldest.txt is for Python 3.11."; \
		echo "Install Python 3.11 (or set OLDEST_PYTHON=...) to test the oldest versions; CI runs them."; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev]"
	touch $@

venv-oldest: $(OLDEST_VENV)/.installed

venv-oldest-beside:
	@if command -v $(OLDEST_PYTHON) >/dev/null; then \
		echo "Building $(OLDEST_VENV) beside the pinned suite: its output goes to $(OLDEST_LOG)"; \
		$(MAKE) --no-print-directory venv-oldest > $(OLDEST_LOG) 2>&1 || { cat $(OLDEST_LOG); exit 1; }; \
	fi

$(OLDEST_VENV)/.installed: pyproject.toml constraints-oldest.txt
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_BIN)/python -m pip install --quiet --upgrade pip
	$(OLDEST_BIN)/python -m pip install -c constraints-oldest.txt -e ".[dev]"
	touch $@

# The student edition (student/) has a blank cell under each exercise; it is written only where it is
# missing, so a learner's answers are never overwritten. notebooks/ is the edition with solutions.
lab: venv  ## open the course in JupyterLab: the student edition, exercises blank
	@ls student/*.ipynb >/dev/null 2>&1 || $(BIN)/python -m helpers student-edition --out student
	$(BIN)/jupyter lab $(LAB_ROOT_OPTION) student

lab-solutions: venv  ## open the edition with solutions in JupyterLab
	$(BIN)/jupyter lab $(LAB_ROOT_OPTION) notebooks

doctor: venv  ## check that this machine is ready for the course
	$(BIN)/python -m helpers doctor

notebooks: venv  ## maintainers: re-execute the notebooks in place so their committed outputs are true
	$(BIN)/python -m helpers execute

site: venv  ## build the course website into site/ from the committed notebooks (nothing re-executed)
	$(BIN)/python -m helpers site --out site

release: venv  ## maintainers: make release VERSION=0.2.0 sets the version, re-executes, commits and tags
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z"; exit 1; }
	$(BIN)/python -m helpers release $(VERSION)

clean:
	rm -rf runs site .pytest_cache
