# Two commands on a fresh Linux machine with Python >= 3.11:
#   make demo   installs avgen into .venv and generates examples with the shipped models
#   make test   installs the test tools and runs ruff and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint clean

$(BIN)/avgen: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so the dependency range does not pull a CUDA build
	$(BIN)/pip install -q torch==2.13.0 || $(BIN)/pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps "tinysoundfont>=0.3"
	touch $(BIN)/avgen

install: $(BIN)/avgen

demo: install
	$(BIN)/avgen audio "upbeat jazz saxophone solo with reverb at 120 BPM" -o out/sax.wav --preview
	$(BIN)/avgen video "a red ball bouncing on a grass field in slow motion" -o out/ball.mp4 --preview
	$(BIN)/avgen demo -o out/demo.mp4

test: install
	$(BIN)/ruff check avgen tests benchmarks tools
	$(BIN)/ruff format --check avgen tests benchmarks tools
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
