# test/jwt.mk -- unit tests and fuzzing for the JWT module (src/jwt*.c)
#
# Included by the top-level PGXS Makefile; also usable on its own:
#     make -f test/jwt.mk check-jwt fuzz-replay
#     make -f test/jwt.mk fuzz FUZZ_SECONDS=300
# All paths are relative to the repository root (run make from there).
#
# Targets:   check-jwt  fuzz  fuzz-replay
# Variables: JWT_TEST_BIN FUZZ_BIN FUZZ_SECONDS JWT_CLEAN_FILES (and JWT_*/FUZZ_* helpers)

# do not let this fragment's first rule become the includer's default goal
JWT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

JWT_BUILD_DIR   = build
JWT_TEST_BIN    = build/jwt_test
FUZZ_BIN        = build/fuzz_jwt
JWT_CLEAN_FILES = build/jwt_test build/fuzz_jwt build/fuzz-corpus

JWT_SRC         = src/jwt.c src/jwt_json.c src/jwt_keys.c src/jwt_b64url.c
JWT_HDR         = src/jwt.h src/jwt_int.h
JWT_TEST_SRC    = test/jwt_test.c test/jwt_test_vectors.c test/jwt_test_verify.c \
                  test/jwt_test_json.c test/jwt_test_keys.c test/jwt_test_misc.c
JWT_TEST_HDR    = test/jwt_test.h
FUZZ_SRC        = fuzz/fuzz_jwt.c
FUZZ_SEED_DIR   = fuzz/corpus
FUZZ_WORK_DIR   = build/fuzz-corpus

JWT_CC          = $(CC)
JWT_CC_FLAGS    = -Wall -Wextra -O1 -g
JWT_JSONC_FLAGS := $(shell pkg-config --cflags --libs json-c 2>/dev/null || echo "-I/usr/include/json-c -ljson-c")
JWT_LIBS        = $(JWT_JSONC_FLAGS) -lcrypto -lm

FUZZ_CC         = clang
FUZZ_CC_FLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS   ?= 120
FUZZ_MAX_LEN   ?= 20000
FUZZ_ENV        = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: check-jwt fuzz fuzz-replay

$(JWT_TEST_BIN): $(JWT_SRC) $(JWT_HDR) $(JWT_TEST_SRC) $(JWT_TEST_HDR)
	@mkdir -p $(JWT_BUILD_DIR)
	$(JWT_CC) $(JWT_CC_FLAGS) -o $@ $(JWT_SRC) $(JWT_TEST_SRC) $(JWT_LIBS)

check-jwt: $(JWT_TEST_BIN)
	./$(JWT_TEST_BIN)

$(FUZZ_BIN): $(JWT_SRC) $(JWT_HDR) $(FUZZ_SRC)
	@mkdir -p $(JWT_BUILD_DIR)
	$(FUZZ_CC) $(FUZZ_CC_FLAGS) -o $@ $(JWT_SRC) $(FUZZ_SRC) $(JWT_LIBS)

# long run on a scratch copy of the seed corpus (the committed one stays clean)
fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_WORK_DIR)
	cp -p $(FUZZ_SEED_DIR)/* $(FUZZ_WORK_DIR)/
	$(FUZZ_ENV) ./$(FUZZ_BIN) -max_len=$(FUZZ_MAX_LEN) -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -artifact_prefix=$(JWT_BUILD_DIR)/ $(FUZZ_WORK_DIR)

# replay the committed seeds once (part of `make test`)
fuzz-replay: $(FUZZ_BIN)
	$(FUZZ_ENV) ./$(FUZZ_BIN) -runs=0 -max_len=$(FUZZ_MAX_LEN) -artifact_prefix=$(JWT_BUILD_DIR)/ $(FUZZ_SEED_DIR)

.DEFAULT_GOAL := $(JWT_SAVED_DEFAULT_GOAL)
