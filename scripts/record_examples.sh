#!/usr/bin/env bash
# Re-record the sibling .txt output of each example in examples/ (run from the repository root).
# Uses ../shared/data/cifar10/cifar10.npz when present, the bundled sample otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 NO_COLOR=1 COLUMNS=80 PYTHONUNBUFFERED=1
PY=python  # the interpreter on PATH (activate the environment first)
DATA=../shared/data/cifar10/cifar10.npz
[ -f "$DATA" ] || DATA=cifar_doctor/data/cifar10_sample.npz
SHOWN=${DATA/#..\/shared/\/work\/shared}

record() {  # record NAME COMMAND...
    local name=$1; shift
    local out="examples/$name.txt"
    {
        echo "\$ $*" | sed "s#$DATA#$SHOWN#g"
        echo "# stdout and stderr together, as on a terminal (TensorFlow's own start-up log lines removed)"
    } > "$out"
    eval "$@" 2>&1 | grep -av -E '^(WARNING: All log messages|I0000|W0000|E0000)' >> "$out"
    echo "# exit code: ${PIPESTATUS[0]}" >> "$out"
    echo "recorded $out" >&2
}

record seed_original "$PY examples/seed_original.py --data $DATA --limit 10000 --epochs 3 --verbose 2"
record seed_fixed "$PY examples/seed_fixed.py --data $DATA --limit 5000 --epochs 3 --verbose 2"
record diagnose_my_arrays "$PY examples/diagnose_my_arrays.py; $PY examples/diagnose_my_arrays.py --seed-bug --loss categorical_crossentropy"
record pipe_json "examples/pipe_json.sh --recipe original --data cifar_doctor/data/cifar10_sample.npz"
record watch_training "examples/watch_training.sh --data $DATA --limit 2000 --epochs 3 --verbose 2"
