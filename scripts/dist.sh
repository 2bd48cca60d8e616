#!/usr/bin/env bash
# make dist: the PGXN release archive, OUTDIR/mtmcp-VERSION.zip (default
# build/dist): everything git tracks at HEAD (less what .gitattributes marks
# export-ignore) under one top directory mtmcp-VERSION/, as PGXN expects,
# with META.json at its top.  VERSION is META.json's.
#
# Then checks the archive as PGXN and pgxnclient will see it: one top
# directory, META.json valid there (scripts/check-meta.py, which also needs
# the files it names), and the extension builds from it with PGXS.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$REPO/build/dist}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$REPO"

git rev-parse --verify -q HEAD >/dev/null || { echo "dist: needs a git checkout with a commit" >&2; exit 1; }
VERSION=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open("META.json"))["version"])')
NAME=mtmcp-$VERSION
ZIP=$OUT/$NAME.zip

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "dist: warning: uncommitted changes are not in the archive (it is made from HEAD)" >&2
fi
rm -f "$ZIP"
git archive --format=zip --prefix="$NAME/" -o "$ZIP" HEAD

# The archive as a PGXN user gets it.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unzip -q "$ZIP" -d "$TMP"
tops=$(ls -A "$TMP")
[ "$tops" = "$NAME" ] || { echo "dist: expected one top directory $NAME, found: $tops" >&2; exit 1; }
/usr/bin/python3 "$TMP/$NAME/scripts/check-meta.py" "$TMP/$NAME/META.json"
if ! make -s -C "$TMP/$NAME" >"$TMP/build.log" 2>&1; then
	echo "dist: the extension does not build from the archive:" >&2
	tail -20 "$TMP/build.log" >&2
	exit 1
fi
echo "dist: $ZIP ($(unzip -Z1 "$ZIP" | grep -vc '/$') files; builds with PGXS)"
