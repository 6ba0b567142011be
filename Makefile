# gr-semcom developer entry points. Every target works from a fresh clone:
# the ones that need the module run scripts/bootstrap.sh first (GNU Radio from
# apt, the venv, pip packages, cmake install of the module into the venv).
#
#   make install   bootstrap only
#   make test      pytest against the module installed in the venv (tests/ and research/tests/)
#   make test-fast the same without the tests marked slow
#   make grc       GNU Radio Companion with the [Semcom] blocks on copies of the GUI examples in
#                  ~/.cache/gr-semcom/grc (F6 writes there, not into examples/); flowgraphs run in the venv
#   make screenshots  docs/images/grc_f6.png and rx_gui.png on a virtual screen (xvfb, xdotool, imagemagick)
#   make demo      send examples/images/kodim23.png with BitSemCom over a simulated, impaired radio link
#   make eval      codec comparison over examples/images into results/
#   make bench     throughput benchmark
#   make results   regenerate docs/results (eval + bench) and the tables in docs/
#   make docs      redraw docs/images/grid.jpg and copy the result tables into the pages (no new sweeps)
#   make sscc-profile  --codec auto's conventional rate profile, and the auto series in docs/results/envelope
#   make faults    the fault-injection suite's matrix into docs/results/faults.md
#   make prefix-check  install into a fresh prefix (/tmp/semcom-prefix), run the apps and ctest there on
#                  Debian's python3 without a venv (RECORD=1: the ctest summary into docs/install.md)
#   make clean     remove build/, build-prefix/ and out/
#
# Studies (training ablations, AMP-SC and masked VQ-VAE reproductions, rate and over-the-air sweeps,
# model lineage) live in research/: make -f research/Makefile help

VENV ?= .venv
PYTHON := $(VENV)/bin/python
ROOT := $(CURDIR)
VENV_ABS := $(abspath $(VENV))

# Environment for running against the installed module: the venv first on
# PATH, its GRC block directory for grcc/GRC, headless Qt.
RUN_ENV := PATH="$(VENV_ABS)/bin:$$PATH" VIRTUAL_ENV="$(VENV_ABS)" \
	GRC_BLOCKS_PATH="$(VENV_ABS)/share/gnuradio/grc/blocks" \
	QT_QPA_PLATFORM=offscreen

.PHONY: all install bootstrap test test-fast grc screenshots demo eval bench results sscc-profile faults soak docs prefix-check clean

all: install

install bootstrap:
	VENV="$(VENV)" bash scripts/bootstrap.sh

test: install
	$(RUN_ENV) $(PYTHON) -m pytest -q tests research/tests

test-fast: install
	$(RUN_ENV) $(PYTHON) -m pytest -q -m "not slow" tests research/tests

GRC_FLOWGRAPHS ?= examples/air_loopback_gui.grc examples/air_chain_gui.grc
grc: install
	$(VENV)/bin/semcom-grc $(GRC_FLOWGRAPHS)

screenshots: install
	bash scripts/screenshots.sh grc docs/images/grc_f6.png
	bash scripts/screenshots.sh rx docs/images/rx_gui.png

demo: install
	@mkdir -p out
	$(RUN_ENV) $(PYTHON) apps/tx_image.py --radio sim --snr 10 --channel awgn --impaired \
		--rx-output out/demo_rx.png examples/images/kodim23.png

eval: install
	@mkdir -p results
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --force --images examples/images --out results/

bench: install
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out results

# The README's tables and plots come from here, never typed by hand (about 40 min on 2 cores).
# Kodak-like test set (semcom-data), AWGN: every learned model and the SSCC envelope; kodim23
# over Rayleigh; one model over three modulations; benchmarks; then README and models/README.md.
RESULTS := docs/results
TEST_IMAGES ?= $(HOME)/.cache/gr-semcom/data/test
LEARNED := bitsemcom bitsemcom-qpsk-cpp16 bitsemcom-qpsk-cpp16-hard deepjscc1bit-qpsk-cpp16 hardste-qpsk-cpp16
CONVENTIONAL := avif jpeg2000 webp
# the pages' tables that make results and make faults write (scripts/update_docs.py NAME=FILE), and the
# main table measured with JPEG 2000 and WebP over LDPC 1/3 and 1/2 only
RESULT_TABLES := results=$(RESULTS)/summary.md findings=$(RESULTS)/findings.md \
	results-jpeg2000-webp-rates-1-2=$(RESULTS)/summary_jpeg2000-webp-rates-1-2.md \
	rayleigh=$(RESULTS)/rayleigh/summary.md rayleigh-findings=$(RESULTS)/rayleigh/findings.md \
	modulations=$(RESULTS)/modulations/summary.md bench=$(RESULTS)/bench.md importance=$(RESULTS)/rates/importance.md
FAULT_TABLES := faults=$(RESULTS)/faults.md
# the envelope sweep's tables (make sscc-profile), and its per-link table measured with LDPC 1/3 and 1/2 only
ENVELOPE_TABLES := envelope=$(RESULTS)/envelope/findings.md envelope-summary=$(RESULTS)/envelope/summary.md \
	envelope-rates-1-2=$(RESULTS)/envelope/summary_rates_1-2.md codec-choice=$(RESULTS)/envelope/choice.md
results: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --force --images $(TEST_IMAGES) --codecs $(LEARNED) $(CONVENTIONAL) \
		--channels awgn --snr -6 -3 0 3 6 10 15 20 --out $(RESULTS)
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --force --images examples/images --codecs $(LEARNED) $(CONVENTIONAL) \
		--channels rayleigh --snr -3 0 3 6 10 15 20 --out $(RESULTS)/rayleigh
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --force --images examples/images --codecs bitsemcom-qpsk-cpp16 \
		--learned-links qpsk 16qam 64qam --per-link --no-reference --out $(RESULTS)/modulations
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out $(RESULTS)
	$(PYTHON) scripts/update_docs.py $(RESULT_TABLES)
	$(PYTHON) scripts/model_cards.py --results $(RESULTS)/results.json

# A hostile soak over ZeroMQ with --key (make soak SOAK_MINUTES=2 for a short one).
SOAK_MINUTES ?= 10
soak: install
	$(RUN_ENV) $(PYTHON) scripts/soak.py --minutes $(SOAK_MINUTES) --out $(RESULTS)/soak.json
	$(PYTHON) scripts/update_docs.py zmq_soak=$(RESULTS)/soak.md

# --codec auto's conventional rate profile (models/sscc_profile.json, about 5 min) from the rows of the
# envelope sweep (every BitSemCom model x modulation and the SSCC codecs x links on the test set), then
# that folder's tables again with the auto series (findings.md: auto against the envelopes).
SSCC_PROFILE := models/sscc_profile.json
sscc-profile: install
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --out $(RESULTS)/envelope --sscc-profile $(SSCC_PROFILE)
	$(RUN_ENV) SEMCOM_SSCC_PROFILE=$(SSCC_PROFILE) $(PYTHON) apps/semcom-eval --out $(RESULTS)/envelope \
		--per-link --rebuild
	$(PYTHON) scripts/update_docs.py $(ENVELOPE_TABLES)

# The fault-injection suite's matrix: cases tried and behaving, per class (under a minute).
faults: install
	$(RUN_ENV) $(PYTHON) -m pytest -q tests/faults --fault-report $(RESULTS)/faults.md
	$(PYTHON) scripts/update_docs.py $(FAULT_TABLES)

# The README's picture: kodim23 received by each codec (its best link) at four SNRs over AWGN
# (about 2 min), then the tables of make results and make faults copied into the pages again.
GRID := docs/images/grid.jpg
GRID_CODECS := bitsemcom-qpsk-cpp16 ampsc-b4-16qam-cpp16 mvqvae-p8-16qam avif
docs: install
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --force --images examples/images --codecs $(GRID_CODECS) \
		--learned-links qpsk 16qam --snr -3 0 3 10 --no-reference --grid $(GRID) --out out/grid
	$(PYTHON) scripts/update_docs.py $(RESULT_TABLES) $(FAULT_TABLES) $(ENVELOPE_TABLES)
	$(RUN_ENV) $(PYTHON) scripts/man_pages.py

prefix-check:
	bash scripts/prefix_install_check.sh $(if $(RECORD),--record)

clean:
	rm -rf build build-prefix out
