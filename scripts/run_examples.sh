#!/usr/bin/env bash
# Run every program in examples/ once, with small inputs, so that none of them can rot (used by
# .ci/run). An example not listed below runs without arguments. Examples that need the real
# all-MiniLM-L6-v2 weights fetch them on first use (`cargo run --release -- fetch`).
set -euo pipefail
cd "$(dirname "$0")/.."

args_for() {
  case "$1" in
    fill_mask) echo "tests/fixtures/tiny-bert" ;;           # the tiny random model: random answers
    print_model) echo "tests/fixtures/tiny-bert" ;;
    time_embeddings) echo "examples/data/sentences.txt 2" ;; # 40 sentences, 2 threads
    pictures) echo "--out target/pictures-ci" ;;             # not into docs/img/
    *) echo "" ;;
  esac
}

for f in examples/*.rs; do
  ex=$(basename "$f" .rs)
  [ "$ex" = "scratch" ] && continue # a learner's own scratch file (see docs/setup.md)
  # shellcheck disable=SC2046
  if cargo run --release -q --example "$ex" -- $(args_for "$ex") > "target/example-$ex.out" 2>&1; then
    echo "ok   example $ex ($(wc -l < "target/example-$ex.out") lines of output)"
  else
    echo "FAIL example $ex:"
    tail -n 30 "target/example-$ex.out"
    exit 1
  fi
done
