#!/usr/bin/env bash
# bench/detect_typical.sh -- instructions (and cold-cache misses) per scan of
# a typical tools/call's result and arguments, under callgrind
#
#   bench/detect_typical.sh [REV]
#
# Builds bench/detect_typical.c with the work tree's src/detect*.c (or REV's,
# e.g. main, for a before/after) and the shipped patterns, runs it under
# callgrind with 1 and with 101 scans of each input, and prints the first
# (cold: fresh scratch) scan's instructions and the steady state's per scan.
# Then, with the caches evicted before every scan (as in a backend, which runs
# other code between scans), the L1/LL misses per scan: the lines it touches.
# The result text is bench/typical_result.json (a real call's result, byte for
# byte as the backend scans it).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
REV=${1:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SRC="src/detect.c src/detect_norm.c"
if [ -n "$REV" ]; then
	mkdir -p "$TMP/src"
	for f in src/detect.c src/detect_norm.c src/detect.h src/detect_int.h; do
		git show "$REV:$f" > "$TMP/$f"
	done
	SRC="$TMP/src/detect.c $TMP/src/detect_norm.c"
fi
# the extension's optimisation level (PGXS builds with -O2)
${CC:-cc} -O2 -g -I "${REV:+$TMP/}src" -o "$TMP/dt" $SRC bench/detect_typical.c
PAT=test/detect/patterns.tsv
IN=bench/typical_result.json
cg() {	# cg N [flush] [callgrind options] -> "result_Ir args_Ir" (+ misses)
	local n=$1 fl=$2; shift 2
	valgrind -q --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$@" \
		--toggle-collect='scan_result*' --toggle-collect='scan_arguments*' \
		"$TMP/dt" "$PAT" "$IN" "$n" $fl > "$TMP/run.txt"
	callgrind_annotate --inclusive=yes --show-percs=no "$TMP/cg.out" 2>/dev/null | tr -d ',' |
		awk '/scan_result/ && !r {r=$0} /scan_arguments/ && !a {a=$0} END {print r; print a}'
}
"$TMP/dt" "$PAT" "$IN" 1
echo
read -r r1 _ < <(cg 1 "" | sed -n 1p); read -r a1 _ < <(cg 1 "" | sed -n 2p)
read -r rN _ < <(cg 101 "" | sed -n 1p); read -r aN _ < <(cg 101 "" | sed -n 2p)
printf '%-10s %12s %12s\n' "Ir" "first scan" "per scan"
printf '%-10s %12d %12d\n' result "$r1" $(( (rN - r1) / 100 ))
printf '%-10s %12d %12d\n' arguments "$a1" $(( (aN - a1) / 100 ))
echo
echo "cold caches (evicted before each scan), 20 scans each, per scan:"
# columns: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw; a fixed 32 kB L1 and 2 MB LL
# (the host's LL would be far larger than the eviction buffer)
cg 21 flush --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=2097152,16,64 |
	awk '{printf "%-10s I1 miss %4d  D1 miss %4d (read %4d, write %4d)  LL miss %4d (code %4d, data %4d)\n", \
	($(NF-1) ~ /result/ ? "result" : "arguments"), $4/21, ($5+$6)/21, $5/21, $6/21, ($7+$8+$9)/21, $7/21, ($8+$9)/21}'
