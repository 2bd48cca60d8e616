# src/shim/shim.mk -- build the HTTP shim, mtmcp-http
#
# Included from the repository's Makefile (after PGXS):
#     -include src/shim/shim.mk
# then:
#     make shim          -> build/mtmcp-http
#     make shim-check    -> the HTTP smoke tests (mock contract, then the demo)
#
# A plain libpq client: no PostgreSQL server headers.  Needs libmicrohttpd,
# libpq and json-c (pkg-config names libmicrohttpd, libpq, json-c).
# Everything here is prefixed SHIM_ / shim so it cannot collide with PGXS.

# Including this file must not change make's default goal.
SHIM_SAVED_GOAL := $(.DEFAULT_GOAL)

SHIM_CC ?= gcc
SHIM_CFLAGS ?= -O2 -g -Wall -Wextra
SHIM_DIR := src/shim
SHIM_BIN = build/mtmcp-http
SHIM_SRCS := $(addprefix $(SHIM_DIR)/,main.c http.c pool.c sse.c mrtr.c notify.c metrics.c util.c)
SHIM_HDRS := $(SHIM_DIR)/shim.h

SHIM_PKG_CFLAGS := $(shell pkg-config --cflags libmicrohttpd json-c 2>/dev/null) \
	$(shell pkg-config --cflags libpq 2>/dev/null || echo -I$$(pg_config --includedir))
SHIM_PKG_LIBS := $(shell pkg-config --libs libmicrohttpd json-c 2>/dev/null || echo -lmicrohttpd -ljson-c) \
	$(shell pkg-config --libs libpq 2>/dev/null || echo -L$$(pg_config --libdir) -lpq)

.PHONY: shim shim-check

shim: $(SHIM_BIN)

$(SHIM_BIN): $(SHIM_SRCS) $(SHIM_HDRS) $(SHIM_DIR)/shim.mk
	@mkdir -p $(dir $@)
	$(SHIM_CC) -std=gnu11 $(SHIM_CFLAGS) -pthread $(SHIM_PKG_CFLAGS) -o $@ $(SHIM_SRCS) $(SHIM_PKG_LIBS) -pthread

# The HTTP smoke test, against the mock contract (no extension needed) and
# against the real extension with the demo (needs a running scratch cluster
# with mtmcp preloaded and installed).
shim-check: $(SHIM_BIN)
	SHIM_BIN=$(SHIM_BIN) SHIM_MOCK=1 test/shim/http_smoke.sh
	SHIM_BIN=$(SHIM_BIN) test/shim/smoke_demo.sh

ifeq ($(SHIM_SAVED_GOAL),)
.DEFAULT_GOAL :=
else
.DEFAULT_GOAL := $(SHIM_SAVED_GOAL)
endif
