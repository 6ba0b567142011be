# gr-semcom developer entry points. Every target works from a fresh clone:
# the ones that need the module run scripts/bootstrap.sh first (GNU Radio from
# apt, the venv, pip packages, cmake install of the module into the venv).
#
#   make install   bootstrap only
#   make test      pytest against the module installed in the venv
#   make demo      send examples/images/kodim23.png over a simulated AWGN link
#   make eval      codec comparison over examples/images into results/
#   make bench     throughput benchmark
#   make results   regenerate docs/results (eval + bench) and the README tables
#   make clean     remove build/ and out/

VENV ?= .venv
PYTHON := $(VENV)/bin/python
ROOT := $(CURDIR)
VENV_ABS := $(abspath $(VENV))

# Environment for running against the installed module: the venv first on
# PATH, its GRC block directory for grcc/GRC, headless Qt.
RUN_ENV := PATH="$(VENV_ABS)/bin:$$PATH" VIRTUAL_ENV="$(VENV_ABS)" \
	GRC_BLOCKS_PATH="$(VENV_ABS)/share/gnuradio/grc/blocks" \
	QT_QPA_PLATFORM=offscreen

.PHONY: all install bootstrap test demo eval bench results clean

all: install

install bootstrap:
	VENV="$(VENV)" bash scripts/bootstrap.sh

test: install
	$(RUN_ENV) $(PYTHON) -m pytest -q tests

demo: install
	@mkdir -p out
	$(RUN_ENV) $(PYTHON) apps/tx_image.py --radio sim --snr 10 --channel awgn \
		--rx-output out/demo_rx.png examples/images/kodim23.png

eval: install
	@mkdir -p results
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images examples/images --out results/

bench: install
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out results

# The README's tables and plot come from here, never typed by hand.
RESULTS := docs/results
results: install
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images examples/images --channels awgn rayleigh --out $(RESULTS)
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out $(RESULTS)
	$(PYTHON) scripts/update_readme.py results=$(RESULTS)/summary.md bench=$(RESULTS)/bench.md

clean:
	rm -rf build out
