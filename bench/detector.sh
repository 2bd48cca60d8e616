#!/usr/bin/env bash
# bench/detector.sh -- precision and recall of the prompt-injection detector
#
# Builds bench/detector_bench.c with src/detect*.c (no PostgreSQL needed),
# runs it on test/detect/corpus.tsv with the shipped patterns
# (test/detect/patterns.tsv) and prints precision and recall per category,
# micro-averaged and attack-vs-benign, plus throughput on ~8 MB of benign
# text.  Exits non-zero when a target is missed (per category recall >= 0.9
# and precision >= 0.95; cross_tenant recall 1.0).
#
#   bench/detector.sh        summary
#   bench/detector.sh -v     also every miss and false positive
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
make -s -f test/detect.mk build/detector_bench
exec ./build/detector_bench test/detect/patterns.tsv test/detect/corpus.tsv "$@"
