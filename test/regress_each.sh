#!/usr/bin/env bash
# Run every pg_regress file of the Makefile's REGRESS list alone, each on a
# freshly created database (pg_regress drops and recreates contrib_regression
# for each run), and report the files that fail alone.  Proves that no file
# depends on what an earlier one left behind: each starts from
# test/fixtures/base.sql (and the app.sql stages it names).
#
#   test/regress_each.sh [file ...]      default: every file in REGRESS
#
# Needs the extension installed and a running server (PG* in the environment,
# e.g. eval "$(scripts/cluster.sh env)").  Diffs of failing files are kept in
# results/each/<file>.diffs.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

if [ $# -gt 0 ]; then
	files=("$@")
else
	read -r -a files <<<"$(make -s --no-print-directory print-regress)"
fi
[ ${#files[@]} -gt 0 ] || { echo "regress_each: no regression files" >&2; exit 2; }

rm -rf results/each
mkdir -p results/each
failed=()
for f in "${files[@]}"; do
	rm -f regression.diffs
	if make -s installcheck REGRESS="$f" >results/each/"$f".log 2>&1; then
		echo "alone: $f ok"
	else
		echo "alone: $f FAILED"
		failed+=("$f")
		[ -f regression.diffs ] && cp regression.diffs results/each/"$f".diffs
	fi
done
rm -f regression.diffs
echo
if [ ${#failed[@]} -gt 0 ]; then
	for f in "${failed[@]}"; do
		echo "=== $f (alone)"
		if [ -f results/each/"$f".diffs ]; then cat results/each/"$f".diffs; else cat results/each/"$f".log; fi
	done
	echo "files failing alone: ${failed[*]}"
	exit 1
fi
echo "all ${#files[@]} regression files pass alone"
