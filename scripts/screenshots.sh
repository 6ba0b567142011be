#!/usr/bin/env bash
# Screenshots of the GUIs on a virtual screen (Xvfb, 1600x1000), for docs/usage.md:
#   grc  GNU Radio Companion started by semcom-grc on a copy of examples/air_loopback_gui.grc, its
#        Run button (F6) pressed with xdotool: GRC and the flowgraph's Qt window (spectrum,
#        constellation, received image) -> docs/images/grc_f6.png
#   rx   rx_image.py --radio zmq --gui receiving from tx_image.py --radio zmq -> docs/images/rx_gui.png
# Needs Debian's xvfb, xdotool and imagemagick (docs/install.md); `make screenshots` runs both.
#
#   bash scripts/screenshots.sh grc|rx [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: screenshots.sh grc|rx [OUT.png]}
case "$MODE" in
    grc) OUT=${2:-docs/images/grc_f6.png} ;;
    rx) OUT=${2:-docs/images/rx_gui.png} ;;
    *) echo "screenshots: unknown mode $MODE (grc or rx)" >&2; exit 2 ;;
esac
for tool in xvfb-run xdotool import convert; do
    command -v "$tool" >/dev/null || { echo "screenshots: $tool not found: apt-get install xvfb xdotool imagemagick" >&2; exit 2; }
done
if [ -z "${SCREENSHOTS_ON_XVFB:-}" ]; then  # again, on a virtual screen of its own
    exec env SCREENSHOTS_ON_XVFB=1 xvfb-run -a -s "-screen 0 1600x1000x24" bash "$0" "$@"
fi
ROOT=$PWD
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH" GRC_BLOCKS_PATH="$VENV/share/gnuradio/grc/blocks"
unset QT_QPA_PLATFORM
work=$(mktemp -d)
started=()
cleanup() {
    for pid in "${started[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

window() {  # the id of the first window whose name matches $1, waiting up to $2 seconds
    for _ in $(seq "$2"); do
        xdotool search --onlyvisible --name "$1" 2>/dev/null | head -1 && return 0
        sleep 1
    done
    return 1
}

wait_for_images() {  # until $1/frame*.png holds $2 images, at most $3 seconds
    for _ in $(seq "$3"); do
        [ "$(ls "$1"/frame*.png 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 1
    done
    echo "screenshots: no image received in $1" >&2
    return 1
}

grc() {
    export SEMCOM_GRC_DIR=$work/grc
    setsid "$VENV/bin/semcom-grc" air_loopback_gui.grc >"$work/grc.log" 2>&1 &
    started+=($!)
    win=$(window "air_loopback_gui.grc - " 90) || { echo "screenshots: GRC opened no window" >&2; cat "$work/grc.log" >&2; exit 1; }
    xdotool windowsize "$win" 1000 1000 windowmove "$win" 0 0
    sleep 3
    xdotool windowfocus --sync "$win" 2>/dev/null || true
    xdotool key --clearmodifiers F6
    sleep 3
    xdotool key Escape 2>/dev/null || true  # a one-time notice (no xterm), if any
    wait_for_images "$SEMCOM_GRC_DIR/rx_images" 1 180 || { cat "$work/grc.log" >&2; exit 1; }
    fg=$(window "over-the-air loopback" 30 || true)
    [ -n "$fg" ] && xdotool windowsize "$fg" 900 820 windowmove "$fg" 690 170
    sleep 5
}

rx() {
    address=tcp://127.0.0.1:$((20000 + RANDOM % 20000))
    setsid "$VENV/bin/python" apps/rx_image.py --radio zmq --address "$address" --gui --output-dir "$work/rx" \
        >"$work/rx.log" 2>&1 &
    started+=($!)
    win=$(window "rx_image.py" 60) || { echo "screenshots: rx_image.py --gui opened no window" >&2; cat "$work/rx.log" >&2; exit 1; }
    xdotool windowsize "$win" 1600 1000 windowmove "$win" 0 0
    "$VENV/bin/python" apps/tx_image.py --radio zmq --address "$address" --add-channel --snr 15 --impaired \
        --repeat 2 examples/images/kodim23.png >"$work/tx.log" 2>&1
    wait_for_images "$work/rx" 2 120 || { cat "$work/rx.log" "$work/tx.log" >&2; exit 1; }
    sleep 3
}

"$MODE"
mkdir -p "$(dirname "$OUT")"
import -window root "$work/shot.png"
case "$OUT" in
    *.jpg) convert "$work/shot.png" -quality 85 "$OUT" ;;
    *) convert "$work/shot.png" -colors 128 -define png:compression-level=9 "$OUT" ;;
esac
echo "screenshots: $OUT ($(du -k "$OUT" | cut -f1) kB)"
