# mtmcp -- PGXS build, plus the project's two commands:
#   make run    set up everything and start the demo (cluster, extension, tenants)
#   make test   set up everything and run every test (unit, fuzz replay, pg_regress)

EXTENSION = mtmcp
MODULE_big = mtmcp
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" mtmcp.control)
PG_CPPFLAGS += -DMTMCP_VERSION=\"$(EXTVERSION)\"
OBJS = \
	src/mtmcp.o \
	src/jwt.o \
	src/jwt_json.o \
	src/jwt_keys.o \
	src/jwt_b64url.o \
	src/jsonutil.o \
	src/jsonschema.o \
	src/jsonschema_validate.o \
	src/jsonschema_check.o \
	src/cache.o \
	src/counters.o \
	src/codec.o \
	src/identity.o \
	src/audit.o \
	src/rowinsert.o \
	src/cost.o \
	src/catalog.o \
	src/cursor.o \
	src/dispatch.o \
	src/sessions.o \
	src/ratelimit.o \
	src/inflight.o \
	src/tools.o \
	src/resources.o \
	src/prompts.o \
	src/completion.o \
	src/notify.o \
	src/sandbox.o \
	src/worker.o \
	src/mrtr.o \
	src/revision.o \
	src/listen.o \
	src/router.o \
	src/progress.o \
	src/detect.o \
	src/detect_norm.o \
	src/inspect.o
# The install script of the current version is assembled from section files
# that mirror the C modules (src/sql/*.sql, in this order); released install
# scripts and the hand-written upgrade scripts (mtmcp--A--B.sql) are frozen.
SQL_SECTIONS = $(addprefix src/sql/,$(addsuffix .sql, \
	mtmcp tenants identity tenant_tables tools catalog resources dispatch \
	audit inspect cost partitions sessions lifecycle scaleout drill admin_api sandbox mrtr listen privileges))
EXTSQL = mtmcp--$(EXTVERSION).sql
DATA = $(sort $(wildcard mtmcp--*.sql) $(EXTSQL))

# One regression file per concern.  Each starts from test/fixtures/base.sql
# (a fresh extension and the shared test data), so any file runs alone --
# make installcheck REGRESS=tools -- and `make installcheck-each` runs every
# file alone on a fresh database.
REGRESS = upgrade setup jsonschema identity guc_attacks roles dispatch tools isolation audit cost catalog resources prompts sessions lifecycle drill audit_evasion admin_api sandbox injection concurrency revision listen maintenance scaleout
REGRESS_OPTS = --load-extension=pgcrypto

PG_CPPFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null || echo -I/usr/include/json-c)
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

all: $(EXTSQL)
# PGXS tracks no header dependencies: a changed struct in a header must
# rebuild every object that may include it, or they disagree on its layout.
$(OBJS): $(wildcard src/*.h)
$(EXTSQL): scripts/assemble-sql.sh $(SQL_SECTIONS) mtmcp.control
	scripts/assemble-sql.sh $(EXTVERSION) $(SQL_SECTIONS) > $@.tmp && mv $@.tmp $@

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

# every regression file alone, each on a fresh database (test/regress_each.sh)
.PHONY: installcheck-each print-regress
installcheck-each:
	test/regress_each.sh

print-regress:
	@echo $(REGRESS)

# pure-C unit tests and the fuzz corpus replay (no server needed)
unit: check-jwt fuzz-replay check-detect fuzz-replay-detect

# the committed install script must be what the section files assemble to
check-sql:
	@scripts/assemble-sql.sh $(EXTVERSION) $(SQL_SECTIONS) | cmp -s - $(EXTSQL) || \
		{ echo "$(EXTSQL) is stale: run make and commit it" >&2; exit 1; }

-include packaging.mk
