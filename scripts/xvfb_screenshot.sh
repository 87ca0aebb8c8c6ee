#!/usr/bin/env bash
# Screenshot what a person sees: run scripts/enjoy.py in a real X window on a virtual screen (Xvfb)
# and grab the screen mid-episode. Needs Debian's xvfb and imagemagick (apt-get install xvfb imagemagick).
#   bash scripts/xvfb_screenshot.sh RUN_DIR OUT.png [SECONDS_BEFORE_GRAB]
set -euo pipefail
run_dir=$1; out=$2; wait_s=${3:-4}
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1024x768x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb $enjoy 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display SDL_VIDEODRIVER=x11 python "$(dirname "$0")/enjoy.py" "$run_dir" --episodes 3 &
enjoy=$!
sleep "$wait_s"
DISPLAY=$display import -window root -crop 1024x768+0+0 "$out"
echo "screenshot: $out"
