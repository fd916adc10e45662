# One entry point for humans and CI. `make test` is exactly what .ci/run runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sysdeps setup wheelhouse test lint typecheck contracts pytest demo bench bench-pr clean

# Byte-compiled at install: without cached bytecode every start compiles the imports first
# (2.3 s for `--help` instead of 0.1 s). uv compiles the dependencies; the package itself is
# installed editable, so compileall keeps its bytecode fresh on every `make setup`.
setup: $(STAMP)
	@$(BIN)/python -m compileall -q image_automation

$(STAMP): pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || { echo "pip is missing for $(PY)"; exit 1; }
	@if $(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install -q uv; then \
	  $(PY) -m uv venv -q --allow-existing --python $(PY) $(VENV) && \
	  $(PY) -m uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test,postgres,aws,gcp,azure]'; \
	else \
	  $(PY) -m venv $(VENV) && $(BIN)/pip install -q -e '.[test,postgres,aws,gcp,azure]'; \
	fi
	@touch $(STAMP)

# The wheels the image test installs into deploy/Dockerfile's build offline (tests/deploy):
# downloaded from the package index with Debian's python3, the Python of the image's base.
WHEELS := $(VENV)/wheelhouse
$(WHEELS)/.stamp: pyproject.toml | $(STAMP)
	@rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	@/usr/bin/python3 -m pip download --disable-pip-version-check -d $(WHEELS) . 'setuptools>=68' \
	  >$(WHEELS)/download.log 2>&1 || { cat $(WHEELS)/download.log; exit 1; }
	@touch $@

wheelhouse: sysdeps $(WHEELS)/.stamp

lint: setup
	$(BIN)/ruff format --check image_automation tests bench demo
	$(BIN)/ruff check image_automation tests bench demo

typecheck: setup
	$(BIN)/mypy image_automation

contracts: setup
	$(BIN)/lint-imports

sysdeps:
	@bash .ci/system-deps

pytest: setup sysdeps wheelhouse
	$(BIN)/python -m pytest -q

test: lint typecheck contracts pytest

demo: setup sysdeps
	$(BIN)/python demo/run.py

bench: setup
	$(BIN)/python bench/policy_select.py

# Pull requests on the six fake forges: steady-state forge requests, webhook -> PR updated.
bench-pr: setup sysdeps
	$(BIN)/python bench/pull_requests.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
