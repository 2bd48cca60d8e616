#!/usr/bin/env bash
# make deb: build the Debian source package mtmcp and its binary packages
# postgresql-15-mtmcp and mtmcp-http with Debian's own tooling
# (dpkg-buildpackage, debhelper, pg_buildext), then run lintian over them.
#
#   scripts/build-deb.sh [OUTDIR]      (default build/deb; make deb DEB_DIR=...)
#
# The build runs in a copy of the checkout (OUTDIR/src/mtmcp-VERSION: the
# files git knows, plus untracked ones it does not ignore), so the checkout's
# own build products are neither used nor disturbed; the same copy less
# debian/ is the upstream tarball mtmcp_VERSION.orig.tar.gz.  OUTDIR receives
# the .deb files, the source package (.dsc, .orig.tar.gz, .debian.tar.xz),
# the .changes and .buildinfo, build.log and lintian.txt.  Exits non-zero
# when the build fails or lintian reports an error (warnings are printed).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$REPO/build/deb}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

cd "$REPO"
VERSION=$(dpkg-parsechangelog -S Version)
UPSTREAM=${VERSION%-*}
SRC=$OUT/src/mtmcp-$UPSTREAM

rm -rf "$OUT/src"
mkdir -p "$SRC"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new files as they are in the work tree (deleted ones skipped)
	git -C "$REPO" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar -C "$REPO" --null -T - -cf - | tar -C "$SRC" -xf -
else
	tar -C "$REPO" --exclude=./build --exclude=./.scratch --exclude=./results \
		--exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$SRC" -xf -
fi

# the upstream tarball: the same files, without the packaging
tar -C "$OUT/src" --exclude="mtmcp-$UPSTREAM/debian" --sort=name --owner=0 --group=0 --numeric-owner \
	-cf - "mtmcp-$UPSTREAM" | gzip -n >"$OUT/src/mtmcp_$UPSTREAM.orig.tar.gz"

echo "deb: building mtmcp $VERSION in $SRC"
(
	cd "$SRC"
	# source and binary packages, unsigned
	dpkg-buildpackage -us -uc >"$OUT/build.log" 2>&1
) || {
	echo "deb: dpkg-buildpackage failed; the end of $OUT/build.log:" >&2
	tail -40 "$OUT/build.log" >&2
	exit 1
}

rm -f "$OUT"/*.deb "$OUT"/*.ddeb "$OUT"/*.changes "$OUT"/*.buildinfo "$OUT"/*.dsc "$OUT"/*.tar.*
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT"/src/*.dsc \
	"$OUT"/src/*.orig.tar.gz "$OUT"/src/*.debian.tar.xz "$OUT"/
# debug symbol packages (dbgsym), when debhelper made them
mv "$OUT"/src/*.ddeb "$OUT"/ 2>/dev/null || true
CHANGES=$(ls "$OUT"/mtmcp_*.changes)

echo "deb: lintian"
rc=0
lintian --fail-on error --display-info "$CHANGES" >"$OUT/lintian.txt" 2>&1 || rc=$?
sed 's/^/  /' "$OUT/lintian.txt"
if [ $rc -ne 0 ]; then
	echo "deb: lintian reported errors (exit $rc)" >&2
	exit 1
fi
echo "deb: lintian: no errors ($(grep -c '^W: ' "$OUT/lintian.txt" || true) warnings, $(grep -c '^I: ' "$OUT/lintian.txt" || true) info)"
ls -1 "$OUT"/*.deb
