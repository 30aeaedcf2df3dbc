# The README's commands. Everything runs inside .venv at the repository root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: course test venv lab doctor notebooks clean

course: venv  ## execute the whole course headless (class preset) into runs/class, with a report
	$(BIN)/python -m helpers run --preset class --out runs/class

test: venv  ## run the whole test suite (unit, hygiene, nbval and smoke runs of every notebook)
	$(BIN)/python -m pytest

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev]"
	touch $@

lab: venv  ## open the course in JupyterLab
	$(BIN)/jupyter lab notebooks

doctor: venv  ## check that this machine is ready for the course
	$(BIN)/python -m helpers doctor

notebooks: venv  ## maintainers: re-execute the notebooks in place so their committed outputs are true
	$(BIN)/python -m helpers execute

clean:
	rm -rf runs .pytest_cache
