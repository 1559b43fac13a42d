# Two commands on a fresh Linux machine with Python >= 3.11:
#   make demo   installs avgen into .venv and generates examples with the shipped models
#   make test   installs the test tools (and chromium, as root) and runs ruff and the test suite
# (make install VENV=/tmp/venv puts the virtual environment elsewhere.)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install demo test lint browser clean

$(BIN)/avgen: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch's CPU build from the PyTorch CPU wheel index (the default index serves a multi-GB
	# CUDA build on Linux); when that index cannot be reached within seconds, the default index
	# (an offline mirror, or a machine whose index holds the CPU build)
	$(BIN)/pip install -q --timeout 10 --retries 0 --index-url $(TORCH_CPU_INDEX) "$(TORCH)" \
		|| $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps "tinysoundfont>=0.3"
	touch $(BIN)/avgen

install: $(BIN)/avgen

demo: install
	$(BIN)/avgen audio "upbeat jazz saxophone solo with reverb at 120 BPM" -o out/sax.wav --preview --overwrite
	$(BIN)/avgen video "a red ball bouncing on a grass field in slow motion" -o out/ball.mp4 --preview --overwrite
	$(BIN)/avgen demo -o out/demo.mp4 --overwrite

lint: install
	$(BIN)/ruff check avgen tests benchmarks tools
	$(BIN)/ruff format --check avgen tests benchmarks tools

# the page's browser test drives Debian's chromium through Playwright: installed with apt when
# running as root; otherwise the test is skipped with the command that installs it
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; } \
				|| echo "could not install chromium: the browser test is skipped"; \
		else echo "chromium is missing: the browser test is skipped (sudo apt-get install chromium)"; fi; }

test: lint browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
