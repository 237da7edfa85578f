# Set-up and main entry points. `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(TORCH_VERSION)
TOOLS_STAMP := $(VENV)/.test-tools

.PHONY: install test-tools test lint demo bench clean

install: $(STAMP)

# a new top-level package needs a re-install of the editable package, hence the __init__.py files
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(wildcard */__init__.py)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build (GPU users: TORCH_VERSION=... make install)
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# Chromium (browser tests of the viewer) and the Khronos glTF Validator (npm): tests that need one skip without it
test-tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): tests/tools/install.sh tests/js/package.json tests/js/package-lock.json | $(STAMP)
	bash tests/tools/install.sh $(TOOLS_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint test-tools
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python demo.py $(if $(MUSIC),--music $(MUSIC)) $(if $(OUT),--out_dir $(OUT)) $(if $(QUICK),--quick)

bench: install
	$(BIN)/python bench/motion_representation.py
	$(BIN)/python bench/plot_3d_global.py
	$(BIN)/python bench/music_features.py
	$(BIN)/python bench/loading.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/train_vq.py
	$(BIN)/python bench/mmr.py
	$(BIN)/python bench/train_m2m.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/checkpoint_save.py
	$(BIN)/python bench/viewer.py
	$(BIN)/python bench/gltf_export.py

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
