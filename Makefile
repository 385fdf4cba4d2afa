# Two commands do all set-up on a fresh clone:
#   make train   builds .venv, then trains on the bundled digits
#   make test    builds .venv, then runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: train test clean

train: $(STAMP)
	@$(BIN)/scratchnn train $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

# The environment is rebuilt whenever the package's requirements change.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "scratchnn needs Python 3.10 or newer: set PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable '.[cli,test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
