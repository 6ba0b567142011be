# gr-semcom developer entry points. Every target works from a fresh clone:
# the ones that need the module run scripts/bootstrap.sh first (GNU Radio from
# apt, the venv, pip packages, cmake install of the module into the venv).
#
#   make install   bootstrap only
#   make test      pytest against the module installed in the venv (also: ctest in build/)
#   make test-fast the same without the tests marked slow
#   make grc       GNU Radio Companion with the [Semcom] blocks, flowgraphs run in the venv
#   make demo      send examples/images/kodim23.png with BitSemCom over a simulated, impaired radio link
#   make eval      codec comparison over examples/images into results/
#   make bench     throughput benchmark
#   make results   regenerate docs/results (eval + bench) and the README tables
#   make ota       over-the-air acceptance figures and receiver benchmarks into docs/results/ota
#   make ampsc     AMP-SC against its baselines, BitSemCom and the SSCC envelope into docs/results/ampsc
#   make ampsc-uep AMP-SC with unequal error protection against the paper's bit mapping (docs/results/ampsc/uep.md)
#   make mvqvae    the masked VQ-VAE over AWGN, Rayleigh and 8x4 MIMO, Table I and latency into docs/results/mvqvae
#   make envelope  the learned envelope (BitSemCom models x QPSK/16-QAM/64-QAM) against the SSCC envelope, the
#                  cards' measured curves and bitsemcom@auto into docs/results/envelope
#   make ship RUN=runs/more MODEL=bitsemcom-qpsk-cpp16
#                  a training run replaces models/MODEL only if it scores better (int8 decoder and rate profile
#                  re-made, lineage kept in docs/results/training); then make curves and the tables above
#   make ablation  BitSemCom, DeepJSCC-1bit and Hard+STE from scratch, same recipe and CPU time (36 min, 1 core)
#   make ablation-long  the same three at 15000 steps each on the widened stages, side by side (about 80 min)
#   make curves    validation PSNR against cumulative training hours of each BitSemCom model's lineage
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

.PHONY: all install bootstrap test test-fast grc demo eval bench results rates faults ota ampsc ampsc-uep mvqvae envelope ship curves ablation ablation-long clean

all: install

install bootstrap:
	VENV="$(VENV)" bash scripts/bootstrap.sh

test: install
	$(RUN_ENV) $(PYTHON) -m pytest -q tests

test-fast: install
	$(RUN_ENV) $(PYTHON) -m pytest -q -m "not slow" tests

grc: install
	$(RUN_ENV) $(VENV)/bin/semcom-grc

demo: install
	@mkdir -p out
	$(RUN_ENV) $(PYTHON) apps/tx_image.py --radio sim --snr 10 --channel awgn --impaired \
		--rx-output out/demo_rx.png examples/images/kodim23.png

eval: install
	@mkdir -p results
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images examples/images --out results/

bench: install
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out results

# The README's tables and plots come from here, never typed by hand (about 40 min on 2 cores).
# Kodak-like test set (semcom-data), AWGN: every learned model and the SSCC envelope; kodim23
# over Rayleigh; one model over three modulations; benchmarks; then README and models/README.md.
RESULTS := docs/results
TEST_IMAGES ?= $(HOME)/.cache/gr-semcom/data/test
LEARNED := bitsemcom bitsemcom-qpsk-cpp16 bitsemcom-qpsk-cpp16-hard deepjscc1bit-qpsk-cpp16 hardste-qpsk-cpp16
CONVENTIONAL := avif jpeg2000 webp
results: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs $(LEARNED) $(CONVENTIONAL) \
		--channels awgn --snr -6 -3 0 3 6 10 15 20 --out $(RESULTS)
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images examples/images --codecs $(LEARNED) $(CONVENTIONAL) \
		--channels rayleigh --snr -3 0 3 6 10 15 20 --out $(RESULTS)/rayleigh
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images examples/images --codecs bitsemcom-qpsk-cpp16 \
		--learned-links qpsk 16qam 64qam --per-link --no-reference --out $(RESULTS)/modulations
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --out $(RESULTS)
	$(PYTHON) scripts/update_readme.py results=$(RESULTS)/summary.md findings=$(RESULTS)/findings.md \
		rayleigh=$(RESULTS)/rayleigh/summary.md rayleigh-findings=$(RESULTS)/rayleigh/findings.md \
		modulations=$(RESULTS)/modulations/summary.md bench=$(RESULTS)/bench.md
	$(PYTHON) scripts/model_cards.py --results $(RESULTS)/results.json
	$(PYTHON) scripts/update_readme.py importance=$(RESULTS)/rates/importance.md

# The fault-injection suite's matrix (issue 13): cases tried and behaving, per class (under a minute).
faults: install
	$(RUN_ENV) $(PYTHON) -m pytest -q tests/faults --fault-report $(RESULTS)/faults.md
	$(PYTHON) scripts/update_readme.py faults=$(RESULTS)/faults.md

# Rate matching (issue 12): every model at cpp 1/64..1/8 beside the SSCC envelope (about 50 min;
# RATES_ONLY=learned reuses the conventional rows, which do not change with the models).
rates: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) scripts/rate_sweep.py --images $(TEST_IMAGES) --out $(RESULTS)/rates \
		$(if $(RATES_ONLY),--only $(RATES_ONLY))
	$(PYTHON) scripts/update_readme.py rates=$(RESULTS)/rates/rates.md

# Over the air (issue 4): every codec on the ideal channel and through channel_model with the
# acceptance impairments (sc and ofdm) at 10 dB, a low-SNR sweep over the impaired single carrier,
# then the receiver benchmarks (about 35 min).
OTA := $(RESULTS)/ota
ota: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs $(LEARNED) $(CONVENTIONAL) \
		--links qpsk/ldpc-1/2 --snr 10 --no-reference --out $(OTA)
	for w in sc ofdm; do $(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) \
		--codecs $(LEARNED) $(CONVENTIONAL) --links qpsk/ldpc-1/2 --snr 10 --no-reference \
		--waveform $$w --impaired --append --out $(OTA) || exit 1; done
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs bitsemcom-qpsk-cpp16 $(CONVENTIONAL) \
		--links qpsk/ldpc-1/2 --snr -3 0 3 6 --no-reference --out $(OTA)/sweep
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs bitsemcom-qpsk-cpp16 $(CONVENTIONAL) \
		--links qpsk/ldpc-1/2 --snr -3 0 3 6 --no-reference --waveform sc --impaired --append --out $(OTA)/sweep
	$(RUN_ENV) $(PYTHON) apps/semcom-ota-bench --images $(TEST_IMAGES) --out $(OTA)
	$(PYTHON) scripts/update_readme.py ota=$(OTA)/waveforms.md ota-sweep=$(OTA)/sweep/waveforms.md \
		ota-bench=$(OTA)/ota_bench.md

# AMP-SC (issue 14) on the Kodak-like set, 16-QAM uncoded, AWGN: the shipped models, the baselines
# (trained and exported first by scripts/ampsc_study.py train / export, about 1.5 h on 2 cores; they
# land in .cache/ampsc-models), BitSemCom 16-QAM and the SSCC envelope (make results' rows); then the
# paper's claims, Table IV, the impaired burst waveform at 10 dB, and latency (about 15 min).
AMPSC := $(RESULTS)/ampsc
AMPSC_MODELS := ampsc-b4-16qam-cpp16-hard ampsc-b4-16qam-cpp16 ampsc-b2-16qam-cpp16-hard bitsemcom-16qam-cpp16-hard
ampsc: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py eval --images $(TEST_IMAGES) --out $(AMPSC)
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py claims --out $(AMPSC)
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py table-iv --out $(AMPSC)
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs $(AMPSC_MODELS) --learned-links 16qam \
		--snr 10 15 --no-reference --out $(AMPSC)/ota
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs $(AMPSC_MODELS) --learned-links 16qam \
		--snr 10 15 --no-reference --waveform sc --impaired --append --out $(AMPSC)/ota
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --latency bitsemcom-16qam-cpp16 ampsc-b4-16qam-cpp16 ampsc-b2-16qam-cpp16 \
		--out $(AMPSC)
	$(PYTHON) scripts/update_readme.py ampsc=$(AMPSC)/summary.md ampsc-claims=$(AMPSC)/claims.md \
		ampsc-table-iv=$(AMPSC)/table_iv.md ampsc-ota=$(AMPSC)/ota/waveforms.md ampsc-latency=$(AMPSC)/latency.md
	$(PYTHON) scripts/model_cards.py --results $(RESULTS)/results.json

# AMP-SC with unequal error protection (issue 14): the shipped models with the UEP symbol layout at run
# time, and the b = 4 model's decoder fine-tuned with it and, as the baseline, without it (four 400-step
# fine-tunes, 4-15 min each on one shared core), against the paper's mapping at Es/N0 0..18 dB (about 40 min)
AMPSC_UEP := $(AMPSC)/uep
ampsc-uep: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py uep-models
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py uep-train --bits 4
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py uep-eval --images $(TEST_IMAGES) --out $(AMPSC_UEP)
	$(RUN_ENV) $(PYTHON) scripts/ampsc_study.py uep --out $(AMPSC_UEP)
	$(PYTHON) scripts/update_readme.py ampsc-uep=$(AMPSC)/uep.md

# The masked VQ-VAE (issue 15) on the Kodak-like set, 16-QAM + LDPC 1/2: AWGN next to BitSemCom 16-QAM,
# AMP-SC and the SSCC envelope (make ampsc's rows), Rayleigh and the paper's 8x4 MIMO channel with
# LMMSE detection, Table I, latency (about 40 min). The robustness table needs the training runs
# (scripts/mvqvae_study.py train / noise-map / export / robustness).
MVQVAE := $(RESULTS)/mvqvae
mvqvae: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	$(RUN_ENV) $(PYTHON) scripts/mvqvae_study.py eval --images $(TEST_IMAGES)
	$(RUN_ENV) $(PYTHON) scripts/mvqvae_study.py table-i
	$(RUN_ENV) $(PYTHON) scripts/mvqvae_study.py tiling
	$(RUN_ENV) $(PYTHON) scripts/mvqvae_study.py similarity --max-images 6
	$(RUN_ENV) $(PYTHON) apps/semcom-bench --latency bitsemcom-16qam-cpp16 $$($(PYTHON) scripts/mvqvae_study.py shipped) \
		ampsc-b4-16qam-cpp16 --out $(MVQVAE)
	$(PYTHON) scripts/update_readme.py mvqvae=$(MVQVAE)/awgn/summary.md mvqvae-rayleigh=$(MVQVAE)/rayleigh/summary.md \
		mvqvae-mimo=$(MVQVAE)/mimo8x4/summary.md mvqvae-table-i=$(MVQVAE)/table_i.md mvqvae-latency=$(MVQVAE)/latency.md \
		mvqvae-robustness=$(MVQVAE)/robustness.md mvqvae-task=$(MVQVAE)/task.md mvqvae-ota=$(MVQVAE)/ota/waveforms.md \
		mvqvae-tiling=$(MVQVAE)/tiling.md mvqvae-similarity=$(MVQVAE)/similarity.md
	$(PYTHON) scripts/model_cards.py --results $(RESULTS)/results.json

# The learned envelope (issue 11): both BitSemCom models over QPSK, 16-QAM and 64-QAM beside the
# conventional codecs on the Kodak-like set (AWGN, equal cpp 1/16), each model's measured curves
# written into its card and installed, then the tables again with bitsemcom@auto (the pick those
# curves make at each SNR; measured on the same images, so it is the best model@modulation by mean).
ENVELOPE_OUT := $(RESULTS)/envelope
envelope: install
	$(RUN_ENV) $(PYTHON) apps/semcom-data fetch --only test
	@mkdir -p $(ENVELOPE_OUT)
	# the conventional rows (SSCC envelope) and the reference come from make results: same photos and SNRs
	$(PYTHON) -c "import csv, sys; r = csv.DictReader(open('$(RESULTS)/results.csv')); w = csv.DictWriter(sys.stdout, r.fieldnames); \
		w.writeheader(); w.writerows(x for x in r if x['family'] in ('conventional', 'reference'))" > $(ENVELOPE_OUT)/results.csv
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --images $(TEST_IMAGES) --codecs bitsemcom-qpsk-cpp16 bitsemcom-16qam-cpp16 \
		--learned-links qpsk 16qam 64qam --per-link --no-reference --append --channels awgn --snr -6 -3 0 3 6 10 15 20 \
		--out $(ENVELOPE_OUT)
	$(PYTHON) scripts/model_cards.py --results $(RESULTS)/results.json --measured $(ENVELOPE_OUT)/results.json
	VENV="$(VENV)" bash scripts/bootstrap.sh
	$(RUN_ENV) $(PYTHON) apps/semcom-eval --rebuild --per-link --out $(ENVELOPE_OUT)
	$(PYTHON) scripts/update_readme.py envelope=$(ENVELOPE_OUT)/findings.md

ship: install
	@test -n "$(RUN)" -a -n "$(MODEL)" || { echo "usage: make ship RUN=runs/<run> MODEL=<folder of models/>"; exit 2; }
	$(RUN_ENV) $(PYTHON) scripts/ship_model.py $(RUN) $(MODEL)

CURVES := bitsemcom-qpsk-cpp16 bitsemcom-16qam-cpp16
curves:
	for m in $(CURVES); do $(PYTHON) scripts/training_curve.py --lineage $$m --out $(RESULTS)/training/$${m}_curve \
		> /dev/null || exit 1; done

# The ablation ordering (issue 11): the three bit decisions from scratch on the shipped models' backbone
# and today's recipe (bf16 where faster, channels_last, cosine LR; a third error-free, then mixed
# AWGN/Rayleigh at -3..8 dB), each for ABLATION_S seconds of one core; then the Kodak-like test set.
ABLATION := runs/ablation
ABLATION_S ?= 720
RECIPE := "precision": "auto", "channels_last": true, "lr_schedule": {"kind": "cosine"}
ABLATION_VARIANTS := --variants bitsemcom deepjscc-1bit hard-ste --define bitsemcom '{$(RECIPE)}' \
	--define deepjscc-1bit '{$(RECIPE), "model": {"variant": "deepjscc-1bit"}}' \
	--define hard-ste '{$(RECIPE), "model": {"variant": "hard-ste"}}'
ablation: install
	$(RUN_ENV) $(PYTHON) scripts/study_run.py study --out $(ABLATION) --budget $(ABLATION_S) $(ABLATION_VARIANTS)
	for v in bitsemcom deepjscc-1bit hard-ste; do $(RUN_ENV) $(PYTHON) apps/semcom-export \
		$$(ls $(ABLATION)/$$v/ckpt_*.pt | tail -1) --out $(ABLATION)/$$v/onnx --model-id ablation-$$v > /dev/null || exit 1; done
	$(RUN_ENV) $(PYTHON) scripts/study_run.py study --out $(ABLATION) $(ABLATION_VARIANTS) \
		--report $(RESULTS)/training/ablation_val.md --plot $(RESULTS)/training/ablation.png
	$(RUN_ENV) $(PYTHON) scripts/compare_models.py $(ABLATION)/bitsemcom/onnx $(ABLATION)/deepjscc-1bit/onnx \
		$(ABLATION)/hard-ste/onnx --snr -6 -3 0 3 --markdown $(RESULTS)/training/ablation_test.md > /dev/null
	$(PYTHON) scripts/update_readme.py ablation-val=$(RESULTS)/training/ablation_val.md \
		ablation-test=$(RESULTS)/training/ablation_test.md

# The ablation ordering at a longer budget, equal steps: the same three from scratch on the QPSK model's
# widened stages, 15000 steps each of one recipe (a quarter error-free, then mixed AWGN/Rayleigh at
# -3..8 dB; configs/{bitsemcom_qpsk_cpp16_scratch,deepjscc1bit_qpsk_cpp16_wide,hardste_qpsk_cpp16_wide}.json),
# side by side (about 80 min on 2 cores; a finished run is kept); then the Kodak-like test set. The
# DeepJSCC-1bit and Hard+STE runs are the shipped ablations' candidates:
#   make ship RUN=$(ABLATION_LONG)/deepjscc-1bit/run MODEL=deepjscc1bit-qpsk-cpp16
ABLATION_LONG := runs/ablation-long
ABLATION_LONG_RUNS := bitsemcom:bitsemcom_qpsk_cpp16_scratch deepjscc-1bit:deepjscc1bit_qpsk_cpp16_wide \
	hard-ste:hardste_qpsk_cpp16_wide
ABLATION_LONG_NAMES := $(foreach r,$(ABLATION_LONG_RUNS),$(firstword $(subst :, ,$(r))))
ablation-long: install
	for r in $(ABLATION_LONG_RUNS); do test -f $(ABLATION_LONG)/$${r%%:*}/model/card.json || \
		$(RUN_ENV) $(PYTHON) scripts/study_run.py run train configs/$${r#*:}.json --minutes 150 \
		--out $(ABLATION_LONG)/$${r%%:*} --model-id ablation-long-$${r%%:*} > /dev/null & done; wait
	$(RUN_ENV) $(PYTHON) scripts/study_run.py study --runs $(foreach v,$(ABLATION_LONG_NAMES),$(v)=$(ABLATION_LONG)/$(v)/run) \
		--report $(RESULTS)/training/ablation_long_val.md --plot $(RESULTS)/training/ablation_long.png
	$(RUN_ENV) $(PYTHON) scripts/compare_models.py $(foreach v,$(ABLATION_LONG_NAMES),$(ABLATION_LONG)/$(v)/model) \
		--snr -6 -3 0 3 --markdown $(RESULTS)/training/ablation_long_test.md > /dev/null
	$(PYTHON) scripts/update_readme.py ablation-long-val=$(RESULTS)/training/ablation_long_val.md \
		ablation-long-test=$(RESULTS)/training/ablation_long_test.md

clean:
	rm -rf build out
