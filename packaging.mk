# packaging.mk -- shipping mtmcp the way PostgreSQL extensions ship
# (included from the Makefile: -include packaging.mk)
#
#   make deb            the Debian source package mtmcp and its binary packages
#                       postgresql-15-mtmcp and mtmcp-http in $(DEB_DIR) (default
#                       build/deb), built by dpkg-buildpackage (debhelper,
#                       pg_buildext) and checked by lintian (errors fail it)
#   make test-packages  make deb, then install both with apt-get on this
#                       machine, serve one authenticated MCP call from the
#                       packaged library and binary, and remove them
#                       (test/packages/run.sh; root on Debian 12)
#   make dist           the PGXN archive $(DIST_DIR)/mtmcp-VERSION.zip from
#                       git HEAD, after META.json is validated
#   make check-meta     META.json against the PGXN Meta Spec 1.0, and the
#                       versions in META.json, mtmcp.control and debian/changelog
#
# Packaging tools come from scripts/deps-packaging.sh, not scripts/deps.sh.

# Including this file must not change make's default goal.
PKG_SAVED_GOAL := $(.DEFAULT_GOAL)

DEB_DIR ?= build/deb
DIST_DIR ?= build/dist

.PHONY: deb test-packages dist check-meta deps-packaging

deps-packaging:
	scripts/deps-packaging.sh

deb: deps-packaging
	scripts/build-deb.sh $(DEB_DIR)

test-packages: deb check-meta
	scripts/deps-packaging.sh --test
	test/packages/run.sh $(DEB_DIR)

check-meta:
	/usr/bin/python3 scripts/check-meta.py META.json

dist: check-meta
	scripts/dist.sh $(DIST_DIR)

ifeq ($(PKG_SAVED_GOAL),)
.DEFAULT_GOAL :=
else
.DEFAULT_GOAL := $(PKG_SAVED_GOAL)
endif
