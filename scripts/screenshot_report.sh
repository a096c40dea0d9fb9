#!/usr/bin/env bash
# Render the HTML report of `cifar-doctor compare` in a real headless browser and keep a screenshot.
#
#   scripts/screenshot_report.sh                 # trains original and fixed (--limit 2000; a few minutes on a CPU)
#   scripts/screenshot_report.sh --html r.html   # screenshot an existing report instead
#
# Writes examples/compare_report.html and examples/compare_report.png (OUT_DIR=... to change).
# Needs Debian's chromium: `sudo apt-get update && sudo apt-get install -y chromium` (without sudo as root).
# PYTHON=... picks the interpreter (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=${OUT_DIR:-examples}
python=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
case $python in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
#: PNG size above which the screenshot is too heavy for the repository.
max_bytes=$((400 * 1024))

html=""
if [ "${1:-}" = "--html" ]; then
    html=${2:?"--html needs a file"}
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "Error: chromium not found. Install it: sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$html" ]; then
    html="$work/r.html"
    (cd "$work" && TF_CPP_MIN_LOG_LEVEL=3 "$python" -m cifar_doctor compare original fixed --limit 2000 \
        --format html --output r.html)
fi

mkdir -p "$out_dir"
[ "$html" -ef "$out_dir/compare_report.html" ] || cp "$html" "$out_dir/compare_report.html"
# --hide-scrollbars: the page is taller than the window; the screenshot is its top 1200x1800.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$work/r.png" \
    --window-size=1200,1800 "file://$(cd "$(dirname "$html")" && pwd)/$(basename "$html")" 2>/dev/null
cp "$work/r.png" "$out_dir/compare_report.png"
size=$(stat -c %s "$out_dir/compare_report.png")
echo "wrote $out_dir/compare_report.html and $out_dir/compare_report.png ($((size / 1024)) KB)" >&2
if [ "$size" -gt "$max_bytes" ]; then
    echo "Error: the screenshot is over $((max_bytes / 1024)) KB" >&2
    exit 1
fi
