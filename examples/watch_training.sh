#!/usr/bin/env bash
# Run the question's training script under `cifar-doctor watch`, which reads its Keras log
# as it is written and diagnoses it epoch by epoch, with no change to the script (run here
# without DoctorCallback, as the question wrote it).
#
# Usage: examples/watch_training.sh [seed_original.py options]
#   e.g. examples/watch_training.sh --limit 2000 --epochs 2
# Everything after `--` is the training command; watch passes its output through and
# adds its diagnosis on stderr.
# Expected output: examples/watch_training.txt (a run with --limit 2000 --epochs 3); the
# verdict names eval-input-scale-mismatch after epoch 1.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
if command -v cifar-doctor >/dev/null 2>&1; then
  doctor=(cifar-doctor)
else
  doctor=("$PYTHON" -m cifar_doctor)
fi
# --no-callback: the question's script as it was; watch needs nothing inside it
exec "${doctor[@]}" watch -- "$PYTHON" examples/seed_original.py --no-callback "$@"
