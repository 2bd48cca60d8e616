#!/usr/bin/env bash
# scripts/detect-same.sh -- does the detector still find exactly what REV's did?
#
#   scripts/detect-same.sh [REV] [MUTATIONS]      (REV: main; MUTATIONS: 20000)
#
# Builds test/detect_dump.c twice, against REV's src/detect*.c and against the
# work tree's, runs both on the corpus, the fuzz seeds and MUTATIONS
# pseudo-random inputs (fixed seed) under six scan contexts, and diffs the
# complete finding lists (ids, offsets, lengths, depth, obfuscated, order,
# truncation) and the normalised text's hash.  For optimisations that must
# not change a single finding.  Exit 0 when identical.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
REV=${1:-main}
MUT=${2:-20000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/old/src" "$TMP/old/test"
for f in src/detect.c src/detect_norm.c src/detect.h src/detect_int.h; do
	git show "$REV:$f" > "$TMP/old/$f"
done
cp test/detect_dump.c test/detect_load.h "$TMP/old/test/"
CC=${CC:-cc}
$CC -O2 -o "$TMP/dump-old" "$TMP/old/src/detect.c" "$TMP/old/src/detect_norm.c" "$TMP/old/test/detect_dump.c"
$CC -O2 -o "$TMP/dump-new" src/detect.c src/detect_norm.c test/detect_dump.c
"$TMP/dump-old" test/detect/patterns.tsv test/detect/corpus.tsv fuzz/corpus-detect "$MUT" > "$TMP/old.out"
"$TMP/dump-new" test/detect/patterns.tsv test/detect/corpus.tsv fuzz/corpus-detect "$MUT" > "$TMP/new.out"
if cmp -s "$TMP/old.out" "$TMP/new.out"; then
	echo "identical: $(grep -c '^==' "$TMP/new.out") inputs x 6 contexts, $(grep -o '\[' "$TMP/new.out" | wc -l) findings (against $REV)"
	exit 0
fi
echo "DIFFERENT from $REV:"
diff "$TMP/old.out" "$TMP/new.out" | head -40
exit 1
