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
	rm -rf $(VENV) .venv-bench .pytest_cache .hypothesis

# make bench   builds .venv-bench (the package, PyTorch's CPU build and
#              scikit-learn), then runs the benchmark of bench/README.md;
#              e.g. make bench ARGS="--quick" or ARGS="--threads 1".
# torch stays out of .venv, so `make test` never needs it; .venv-bench
# holds a .gitignore of its own, so git never sees it.
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run.py $(ARGS)

$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "scratchnn needs Python 3.10 or newer: set PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(BENCH_VENV)
	@echo '*' > $(BENCH_VENV)/.gitignore
	$(BENCH_VENV)/bin/python -m pip install --quiet --editable '.[test]' \
		-r bench/requirements.txt
	touch $(BENCH_STAMP)
