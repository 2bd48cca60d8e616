# mtmcp -- PGXS build, plus the project's two commands:
#   make run    set up everything and start the demo (cluster, extension, tenants)
#   make test   set up everything and run every test (unit, fuzz replay, pg_regress)

EXTENSION = mtmcp
MODULE_big = mtmcp
OBJS = \
	src/mtmcp.o \
	src/jwt.o \
	src/jsonutil.o \
	src/jsonschema.o \
	src/cache.o \
	src/counters.o \
	src/identity.o \
	src/audit.o \
	src/cost.o \
	src/catalog.o \
	src/cursor.o \
	src/dispatch.o \
	src/tools.o \
	src/resources.o \
	src/prompts.o \
	src/notify.o
DATA = mtmcp--1.0.sql

# One regression file per concern; order matters (setup first).
REGRESS = setup jsonschema identity guc_attacks roles dispatch tools isolation audit cost catalog resources prompts sessions lifecycle drill
REGRESS_OPTS = --load-extension=pgcrypto

PG_CPPFLAGS = $(shell pkg-config --cflags json-c 2>/dev/null || echo -I/usr/include/json-c)
SHLIB_LINK = -lssl -lcrypto $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

EXTRA_CLEAN = build results regression.diffs regression.out

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# Fresh machine: no server headers yet.  `make run` / `make test` install them.
all:
	@echo "PostgreSQL server development files not found; run 'make test' or 'make run' (they install them)" >&2
	@exit 1
endif

-include test/jwt.mk
-include test/detect.mk
-include src/shim/shim.mk

.PHONY: run test deps stop unit
deps:
	scripts/deps.sh

run: deps
	scripts/run.sh

test: deps
	scripts/test.sh

stop:
	-@[ -s .scratch/shim.pid ] && kill -TERM $$(cat .scratch/shim.pid) 2>/dev/null; rm -f .scratch/shim.pid
	scripts/cluster.sh stop

# pure-C unit tests and the fuzz corpus replay (no server needed)
unit: check-jwt fuzz-replay
