#!/usr/bin/env bash
# Set up gr-semcom from a fresh clone, and bring it up to date afterwards.
#
#   bash scripts/bootstrap.sh        (make install / make test call it)
#
# Steps, each skipped when already done:
#   1. apt-get install GNU Radio 3.10 (gnuradio, gnuradio-dev), cmake, make,
#      g++ (CMake needs a compiler to load GnuradioConfig), python3-venv, when
#      any is missing (sudo when not root);
#   2. create the venv ($VENV, default .venv) on Debian's /usr/bin/python3
#      with --system-site-packages (GNU Radio's bindings live there);
#   3. pip install -r requirements-train.txt (runtime, training and tests;
#      only requirements.txt, the runtime, with SEMCOM_RUNTIME_ONLY=1) when it
#      changed since the last successful install (sha256 stamp in the venv);
#   4. cmake configure in build/ with CMAKE_INSTALL_PREFIX=$VENV and
#      make install (every time; files a previous install put in the venv are
#      removed first, so deleted modules do not linger).
# Environment: VENV (venv path), BUILD_DIR (default build), SYSTEM_PYTHON
# (default /usr/bin/python3), SEMCOM_RUNTIME_ONLY (1: no torch).
set -euo pipefail

t0=$(date +%s.%N)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

VENV=${VENV:-.venv}
BUILD_DIR=${BUILD_DIR:-build}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

# gir1.2-gtk-3.0: GNU Radio Companion's GTK 3 (only a recommendation of gnuradio, so
# --no-install-recommends would leave it out)
APT_PACKAGES=(gnuradio gnuradio-dev gir1.2-gtk-3.0 cmake make g++ python3-venv)

die() { echo "bootstrap: error: $*" >&2; exit 1; }
note() { echo "bootstrap: $*" >&2; }

# Run a command quietly; on failure show its output and stop with a message.
quiet() {
    local what=$1 log=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "$what failed (full log: $log)"
    fi
}

########################################################################
# 1. System packages: GNU Radio 3.10 and the build tools
########################################################################
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
if ! "$SYSTEM_PYTHON" -c 'from gnuradio import gr' >/dev/null 2>&1; then
    missing+=(gnuradio)
fi
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${APT_PACKAGES[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
else
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v make >/dev/null 2>&1 || missing+=(make)
fi

if ((${#missing[@]})); then
    note "missing: ${missing[*]}; installing ${APT_PACKAGES[*]} with apt-get"
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found: install GNU Radio 3.10 (with its development files), cmake, make, g++ and python3-venv by hand"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            die "not root and sudo not found: run 'apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}' as root"
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update ||
        die "apt-get update failed: check the network and /etc/apt/sources.list"
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" ||
        die "apt-get install failed: could not install ${APT_PACKAGES[*]}"
    "$SYSTEM_PYTHON" -c 'from gnuradio import gr' ||
        die "GNU Radio installed, but '$SYSTEM_PYTHON -c \"from gnuradio import gr\"' still fails"
fi

########################################################################
# 2. The venv, on the system interpreter so that it sees GNU Radio
########################################################################
if [ ! -x "$VENV/bin/python" ]; then
    note "creating venv $VENV"
    "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV" ||
        die "venv creation failed: '$SYSTEM_PYTHON -m venv --system-site-packages $VENV' (is python3-venv installed?)"
fi
PY="$VENV/bin/python"
# `. .venv/bin/activate` also points GRC (grcc, gnuradio-companion) at the module's blocks;
# without it grcc silently drops every [Semcom] block
BLOCKS="$VENV/share/gnuradio/grc/blocks"
MARK="# gr-semcom: GRC block path"
if [ -f "$VENV/bin/activate" ] && ! grep -qF "$MARK" "$VENV/bin/activate"; then
    printf '\n%s\ncase ":${GRC_BLOCKS_PATH:-}:" in *":%s:"*) ;; *) export GRC_BLOCKS_PATH="%s${GRC_BLOCKS_PATH:+:$GRC_BLOCKS_PATH}" ;; esac\n' \
        "$MARK" "$BLOCKS" "$BLOCKS" >>"$VENV/bin/activate"
fi
if [ -f "$VENV/bin/activate.fish" ] && ! grep -qF "$MARK" "$VENV/bin/activate.fish"; then
    printf '\n%s\nset -gx GRC_BLOCKS_PATH "%s" $GRC_BLOCKS_PATH\n' "$MARK" "$BLOCKS" >>"$VENV/bin/activate.fish"
fi
# .venv/bin/grcc: GNU Radio's grcc with the block path set, so that it never drops the [Semcom]
# blocks silently, with or without the venv activated
GRCC=$(command -v grcc || true)
case "$GRCC" in "$VENV"/*) GRCC=/usr/bin/grcc ;; esac
if [ -n "$GRCC" ] && [ -x "$GRCC" ]; then
    printf '#!/bin/sh\n# gr-semcom (scripts/bootstrap.sh): grcc that finds the [Semcom] blocks\nGRC_BLOCKS_PATH="%s${GRC_BLOCKS_PATH:+:$GRC_BLOCKS_PATH}" exec "%s" "$@"\n' \
        "$BLOCKS" "$GRCC" >"$VENV/bin/grcc"
    chmod +x "$VENV/bin/grcc"
fi
grep -qi '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg" 2>/dev/null ||
    die "$VENV was not created with --system-site-packages, so it cannot import GNU Radio; remove it and run this script again"

########################################################################
# 3. Python packages, only when the requirements changed: the runtime
#    (requirements.txt) with SEMCOM_RUNTIME_ONLY=1, else with training and
#    tests (requirements-train.txt, which includes it)
########################################################################
REQ=requirements-train.txt
[ "${SEMCOM_RUNTIME_ONLY:-0}" = 1 ] && REQ=requirements.txt
STAMP="$VENV/.semcom-requirements.sha256"
req_sum=$(cat "$REQ" requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$req_sum" ]; then
    note "pip install -r $REQ"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install -q --retries 1 -r "$REQ" ||
        die "pip install -r $REQ failed (see pip's message above)"
    echo "$req_sum" >"$STAMP"
fi

########################################################################
# 4. Configure, build and install the module into the venv
########################################################################
mkdir -p "$BUILD_DIR"
# Remove what the previous install put in this venv, so that a module
# deleted from the source tree (and its .pyc) does not stay importable.
if [ -f "$BUILD_DIR/install_manifest.txt" ]; then
    while IFS= read -r f; do
        case "$f" in "$VENV"/*) rm -f -- "$f" ;; esac
    done <"$BUILD_DIR/install_manifest.txt"
fi
quiet "cmake configure" "$BUILD_DIR/bootstrap-configure.log" \
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX="$VENV"
quiet "make install" "$BUILD_DIR/bootstrap-install.log" \
    cmake --build "$BUILD_DIR" --target install -- -j"$(nproc 2>/dev/null || echo 2)"

########################################################################
# 5. Summary
########################################################################
info=$("$PY" - <<'EOF' 2>/dev/null || true
import sys
from gnuradio import gr
try:
    import numpy
    np_v = numpy.__version__
except Exception as e:  # noqa: BLE001
    np_v = f"unavailable ({e})"
try:
    from gnuradio import semcom
    sc = f"gr-semcom {getattr(semcom, '__version__', '?')} imports"
except Exception as e:  # noqa: BLE001
    sc = f"WARNING: 'from gnuradio import semcom' fails: {type(e).__name__}: {e}"
print(f"GNU Radio {gr.version()}, Python {sys.version.split()[0]}, numpy {np_v}; {sc}")
EOF
)
[ -n "$info" ] || die "$PY cannot import GNU Radio (from gnuradio import gr)"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "bootstrap: ok in ${secs}s: venv ${VENV#"$ROOT"/}, installed to it from ${BUILD_DIR#"$ROOT"/}/; $info"
