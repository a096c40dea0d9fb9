#!/usr/bin/env bash
# Read cifar-doctor's JSON report in a shell pipeline, and gate a CI step on its exit code.
#
# Usage: examples/pipe_json.sh [cifar-doctor check options]   (default: --recipe original)
#   e.g. examples/pipe_json.sh --data my_data.npz --loss categorical_crossentropy
#
# `cifar-doctor check --json` writes one JSON document on stdout (notices go to stderr) and
# exits 0 (nothing at or above --fail-on, default error), 1 (findings at or above it) or
# 2 (it could not run: bad option, unreadable file). jq reads the verdict; without jq,
# Python does.
#
# Expected output (--recipe original --data cifar_doctor/data/cifar10_sample.npz; exit code 1):
#   verdict: eval-input-scale-mismatch
#   errors: PRE001 ...                 (the error codes, one line)
#   CI gate: FAILED (cifar-doctor exit code 1: findings at or above --fail-on error)
# See examples/pipe_json.txt.
set -u

if [ "$#" -eq 0 ]; then set -- --recipe original; fi
JQ=${JQ:-jq}
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
if command -v cifar-doctor >/dev/null 2>&1; then
  doctor=(cifar-doctor)
else
  doctor=("$PYTHON" -m cifar_doctor)
fi

json=$("${doctor[@]}" check "$@" --json)
rc=$?
if [ "$rc" -eq 2 ]; then
  echo "CI gate: cifar-doctor could not run (exit code 2; its error is above)" >&2
  exit 2
fi

field() {  # field JQ_FILTER PYTHON_EXPRESSION (on `d`, the parsed report)
  if command -v "$JQ" >/dev/null 2>&1; then
    printf '%s' "$json" | "$JQ" -r "$1"
  else
    printf '%s' "$json" | "$PYTHON" -c "import json, sys; d = json.load(sys.stdin); print($2)"
  fi
}

echo "verdict: $(field .verdict.cause 'd["verdict"]["cause"]')"
echo "errors: $(field '[.findings[] | select(.severity == "error") | .code] | unique | join(" ")' \
  '" ".join(sorted({f["code"] for f in d["findings"] if f["severity"] == "error"}))')"

# The gate: in CI, `cifar-doctor check ... --fail-on error` alone is enough (`set -e` stops on 1).
if [ "$rc" -eq 1 ]; then
  echo "CI gate: FAILED (cifar-doctor exit code 1: findings at or above --fail-on error)"
  exit 1
fi
echo "CI gate: passed"
