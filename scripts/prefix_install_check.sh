#!/usr/bin/env bash
# Install gr-semcom as a system-wide GNU Radio module would be, into a fresh prefix, and check it
# there on Debian's python3, without a venv.
#
#   bash scripts/prefix_install_check.sh [--record]     (make prefix-check [RECORD=1])
#
# Steps:
#   1. the runtime's pip packages (requirements.txt) and pytest for $SYSTEM_PYTHON, installed
#      with `pip install --user --break-system-packages` (PEP 668) into their own user base
#      ($PYTHONUSERBASE, default /tmp/semcom-prefix-pip), so that nothing else changes;
#   2. a fresh build folder ($BUILD_DIR, default build-prefix) configured with
#      CMAKE_INSTALL_PREFIX=$PREFIX (default /tmp/semcom-prefix, emptied first), built, installed;
#   3. the installed apps on $SYSTEM_PYTHON with PYTHONPATH at the prefix's package folder: each
#      one's --help, an image over the simulated radio, and a missing package named in one line;
#   4. ctest in the build folder: the kernels' qa programs and the pytest suite, one test per
#      area of tests/, against the installed tree.
# The summary goes to $BUILD_DIR/prefix-check.md; --record also copies it into docs/install.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PREFIX=${PREFIX:-/tmp/semcom-prefix}
BUILD_DIR=${BUILD_DIR:-build-prefix}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
export PYTHONUSERBASE=${PYTHONUSERBASE:-/tmp/semcom-prefix-pip}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
RECORD=0
[ "${1:-}" = --record ] && RECORD=1

die() { echo "prefix-check: error: $*" >&2; exit 1; }
note() { echo "prefix-check: $*" >&2; }

MARK=.semcom-prefix-check  # a prefix this script made, and so may empty
if [ -e "$PREFIX" ] && [ ! -e "$PREFIX/$MARK" ] && [ -n "$(ls -A "$PREFIX")" ]; then
    die "$PREFIX holds files this script did not install; give an empty or new PREFIX"
fi
rm -rf "$PREFIX" "$BUILD_DIR"
mkdir -p "$PREFIX" "$BUILD_DIR"
touch "$PREFIX/$MARK"
LOG=$BUILD_DIR/prefix-check.log

########################################################################
# 1. pip packages for the system interpreter, in their own user base
########################################################################
PYTEST_PIN=$(grep -E '^pytest==' requirements-train.txt | cut -d' ' -f1)
note "pip install --user --break-system-packages -r requirements.txt $PYTEST_PIN (PYTHONUSERBASE=$PYTHONUSERBASE)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$SYSTEM_PYTHON" -m pip install -q --user --break-system-packages --no-warn-script-location \
    -r requirements.txt "$PYTEST_PIN" >"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "pip install failed (log: $LOG)"; }

########################################################################
# 2. configure, build and install into the fresh prefix
########################################################################
note "cmake: $BUILD_DIR -> $PREFIX"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX="$PREFIX" >>"$LOG" 2>&1 || die "cmake configure failed (log: $LOG)"
cmake --build "$BUILD_DIR" -j"$(nproc 2>/dev/null || echo 2)" >>"$LOG" 2>&1 || die "build failed (log: $LOG)"
cmake --install "$BUILD_DIR" >>"$LOG" 2>&1 || die "cmake --install failed (log: $LOG)"
PACKAGE=$(find "$PREFIX" -type d -path '*/gnuradio/semcom' -print -quit)
[ -n "$PACKAGE" ] || die "no gnuradio/semcom under $PREFIX"
SITE=$(dirname "$(dirname "$PACKAGE")")
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$PREFIX/bin:$PATH" QT_QPA_PLATFORM=offscreen
export GRC_BLOCKS_PATH="$PREFIX/share/gnuradio/grc/blocks"

########################################################################
# 3. the installed apps on the system interpreter
########################################################################
for app in "$PREFIX"/bin/*; do
    head -n 1 "$app" | grep -qx "#!$SYSTEM_PYTHON" || die "$app does not start with #!$SYSTEM_PYTHON"
    "$app" --help >/dev/null 2>>"$LOG" || die "$(basename "$app") --help failed (log: $LOG)"
done
note "apps: $(ls "$PREFIX/bin" | wc -l) answer --help"
WORK=$BUILD_DIR/apps-check
mkdir -p "$WORK"
tx_image.py --radio sim --snr 10 --rx-output "$WORK/rx.png" \
    examples/images/kodim23.png >"$WORK/tx.log" 2>&1 || { cat "$WORK/tx.log" >&2; die "tx_image.py over the sim radio failed"; }
ROUND_TRIP=$(grep -m1 -o 'PSNR [0-9.]* dB' "$WORK/tx.log" || true)
[ -n "$ROUND_TRIP" ] || { cat "$WORK/tx.log" >&2; die "tx_image.py printed no PSNR"; }
note "tx_image.py --radio sim --snr 10: $ROUND_TRIP"
# without the user base the system interpreter lacks the runtime's packages: one line naming them
missing=$(PYTHONUSERBASE="$WORK/empty" tx_image.py --help 2>&1 >/dev/null || true)
if [ -n "$missing" ]; then
    [ "$(printf '%s\n' "$missing" | wc -l)" = 1 ] && printf '%s' "$missing" | grep -q 'needs the Python package' ||
        die "a missing package gave more than one line, or did not name it: $missing"
    note "without them: $missing"
fi

########################################################################
# 4. ctest against the installed tree
########################################################################
note "ctest (the pytest suite in parts; minutes)"
CTEST_OUT=$WORK/ctest.txt
# a HOME of its own: GRC's block cache (~/.cache/grc_gnuradio) trusts entries newer than a file's
# mtime, and cmake install keeps the source's mtime, so an earlier install at this prefix could shadow this one
CTEST_HOME=$(mktemp -d)
if (cd "$BUILD_DIR" && HOME=$CTEST_HOME ctest --output-on-failure) >"$CTEST_OUT" 2>&1; then status=0; else status=$?; fi
rm -rf "$CTEST_HOME"
{
    echo "Installed to a fresh prefix and tested with \`make prefix-check\` (\`scripts/prefix_install_check.sh\`):"
    echo "GNU Radio $("$SYSTEM_PYTHON" -c 'from gnuradio import gr; print(gr.version())'), $("$SYSTEM_PYTHON" -V) ($SYSTEM_PYTHON,"
    echo "no venv), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. \`tx_image.py --radio sim --snr 10\`"
    echo "from the prefix: $ROUND_TRIP."
    echo
    echo '```'
    grep -E '^ *[0-9]+/[0-9]+ Test +#|tests passed|Total Test time' "$CTEST_OUT" | sed -E 's/ +/ /g; s/^ //'
    echo '```'
} >"$BUILD_DIR/prefix-check.md"
cat "$BUILD_DIR/prefix-check.md"
[ "$status" = 0 ] || { tail -n 60 "$CTEST_OUT" >&2; die "ctest failed (output: $CTEST_OUT)"; }
if [ "$RECORD" = 1 ]; then
    "$SYSTEM_PYTHON" scripts/update_docs.py prefix-check="$BUILD_DIR/prefix-check.md"
    note "recorded in docs/install.md"
fi
