#!/usr/bin/env bash
# GNU Radio Companion started from the installed launcher (semcom-grc) on a virtual screen,
# its Run button (F6) pressed with xdotool, and a screenshot of what shows: the proof that a
# flowgraph run from GRC finds the module. Needs Debian's xvfb, xdotool and imagemagick.
#
#   bash scripts/grc_screenshot.sh [FLOWGRAPH] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
GRC=${1:-examples/air_chain_gui.grc}
OUT=${2:-docs/results/grc_run.png}
for tool in Xvfb xdotool import; do
    command -v "$tool" >/dev/null || { echo "grc_screenshot: $tool not found: apt-get install xvfb xdotool imagemagick" >&2; exit 2; }
done
work=$(mktemp -d)
cp -r examples/images "$GRC" "$work/"
export DISPLAY=:87
Xvfb "$DISPLAY" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
trap 'pkill -f "$work" 2>/dev/null || true; kill $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 2
ROOT=$PWD
(cd "$work" && "$ROOT/.venv/bin/semcom-grc" "$work/$(basename "$GRC")" >"$work/grc.log" 2>&1 &)
for _ in $(seq 60); do
    win=$(xdotool search --name "GNU Radio Companion" 2>/dev/null | head -1 || true)
    [ -n "$win" ] && break
    sleep 1
done
[ -n "${win:-}" ] || { echo "grc_screenshot: GRC did not open a window" >&2; cat "$work/grc.log" >&2; exit 1; }
sleep 3
xdotool windowfocus "$win" 2>/dev/null || true
xdotool key --window "$win" F6 || xdotool key F6
sleep 5
xdotool key Escape 2>/dev/null || true  # closes the one-time "xterm missing" notice
for _ in $(seq "${WAIT:-120}"); do  # the received image, written by the flowgraph GRC started
    ls "$work"/rx_images/frame*.png >/dev/null 2>&1 && break
    sleep 1
done
ls "$work"/rx_images/frame*.png >/dev/null 2>&1 || { echo "grc_screenshot: no image received" >&2; cat "$work/grc.log" >&2; exit 1; }
fg=$(xdotool search --name "Semcom" 2>/dev/null | tail -1 || true)
[ -n "$fg" ] && xdotool windowsize "$fg" 1300 900 windowmove "$fg" 250 60 2>/dev/null || true
sleep 4
cp "$work/grc.log" "${OUT%.png}.log"
mkdir -p "$(dirname "$OUT")"
import -window root "$OUT"
echo "grc_screenshot: $OUT"
grep -iE "error|traceback|cannot import" "$work/grc.log" && exit 1 || true
