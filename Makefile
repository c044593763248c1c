# Frontline. The two commands: `make run` (the demo on http://127.0.0.1:$(PORT)/) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
EVAL_DIR ?= ../shared/eval
VAR_DIR := $(or $(FRONTLINE_VAR_DIR),var)
export PORT

.PHONY: install run test lint eval bench migrate seed clean

install: $(VENV)/.installed

$(PY):
	python3 -m venv $(VENV)

# The stamp makes `install` free until pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -e '.[test]'
	touch $@

run: install
	$(PY) bin/run.py

test: install
	$(VENV)/bin/pytest tests

lint: install
	$(VENV)/bin/ruff check .

migrate: install
	$(PY) manage.py migrate --no-input

seed: migrate
	$(PY) manage.py seed_demo

# One summary line per bundle; the full JSON reports land in $(VAR_DIR)/eval/.
eval: install
	@mkdir -p $(VAR_DIR)/eval; status=0; \
	for bundle in $(EVAL_DIR)/*/; do \
	  name=$$(basename "$$bundle"); \
	  if line=$$($(PY) manage.py evaluate "$$bundle" --json "$(VAR_DIR)/eval/$$name.json" 2>&1 >/dev/null | tail -n 1); then \
	    echo "$$line"; \
	  else \
	    echo "$$name: FAILED: $$line"; status=1; \
	  fi; \
	done; exit $$status

# The benchmark report (JSON) on stdout, progress on stderr: Daphne, qcluster and Chroma on a
# throwaway database and index, each number beside its floor. About 8 minutes on 2 cores.
bench: install
	@$(PY) -m learning.bench

# Removes the local demo database and Chroma index ($(VAR_DIR)) and tool caches; keeps .venv.
clean:
	rm -rf $(VAR_DIR) .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
