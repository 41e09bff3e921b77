# make demo / make test set up .venv on first use (Python 3.10-3.11), then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3.10 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export MUJOCO_GL ?= osmesa
export PYOPENGL_PLATFORM ?= osmesa

.PHONY: setup system-deps test demo bench clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	# robomimic (its SequenceDataset reads our robomimic output in the tests) without its own pins, which
	# would build egl_probe from source and pull tensorboard; its data loaders need none of them.
	$(PY) -m pip install -q --no-deps "robomimic==0.3.0"
	@touch $(STAMP)

# MuJoCo renders offscreen on the CPU through OSMesa; lerobot's default video decoder (torchcodec) loads
# FFmpeg's shared libraries (the Debian release's versions: torchcodec ships a build per FFmpeg 4-8).
FFMPEG_LIBS := libavcodec libavformat libavutil libswscale libswresample libavdevice libavfilter

system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6 >/dev/null; \
	  else \
	    echo "missing system library: run 'sudo apt-get install libosmesa6' (MuJoCo offscreen rendering)"; exit 1; \
	  fi; \
	fi
	@missing=""; for lib in $(FFMPEG_LIBS); do ldconfig -p 2>/dev/null | grep -q "$$lib\.so\." || missing="$$missing $$lib"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq; \
	    pkgs=$$(for lib in $(FFMPEG_LIBS); do apt-cache pkgnames $$lib | grep -E "^$${lib}[0-9]+$$" | sort -V | tail -1; done); \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	  else \
	    echo "missing FFmpeg libraries:$$missing; run 'sudo apt-get install ffmpeg' (lerobot's torchcodec video decoder)"; exit 1; \
	  fi; \
	fi

# The DDP test runs in a pytest process of its own: after the rest of the suite in the same process, its
# gloo workers were seen to stall on this 2-core machine (cause not found; alone it takes seconds).
test: setup
	$(PY) -m pytest -q
	$(PY) -m pytest -q -m ddp

demo: setup
	$(VENV)/bin/embodied-rerender demo

bench: setup
	$(PY) benchmarks/read_agibot.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
