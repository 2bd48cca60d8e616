# test/detect.mk -- unit tests, fuzzing and the quality bench for src/detect.c
#
# Included by the top-level PGXS Makefile; also usable on its own:
#     make -f test/detect.mk check-detect fuzz-replay-detect
#     make -f test/detect.mk fuzz-detect FUZZ_SECONDS=300
#     make -f test/detect.mk bench-detect          (same as bench/detector.sh)
# All paths are relative to the repository root (run make from there).
#
# Targets:   check-detect  fuzz-detect  fuzz-replay-detect  bench-detect
# Variables: DETECT_TEST_BIN DETECT_TEST_SSE2_BIN DETECT_FUZZ_BIN DETECT_BENCH_BIN (and DETECT_* helpers)

# do not let this fragment's first rule become the includer's default goal
DETECT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

DETECT_BUILD_DIR     = build
DETECT_TEST_BIN      = build/detect_test
DETECT_TEST_SSE2_BIN = build/detect_test_sse2
DETECT_FUZZ_BIN      = build/fuzz_detect
DETECT_BENCH_BIN     = build/detector_bench
DETECT_CLEAN_FILES   = build/detect_test build/detect_test_sse2 build/fuzz_detect build/detector_bench build/fuzz-corpus-detect

DETECT_SRC           = src/detect.c src/detect_norm.c
DETECT_HDR           = src/detect.h src/detect_int.h
DETECT_TEST_SRC      = test/detect_test.c
DETECT_TEST_HDR      = test/detect_load.h
DETECT_FUZZ_SRC      = fuzz/fuzz_detect.c
DETECT_BENCH_SRC     = bench/detector_bench.c
DETECT_FUZZ_SEED_DIR = fuzz/corpus-detect
DETECT_FUZZ_WORK_DIR = build/fuzz-corpus-detect

DETECT_CC            = $(CC)
DETECT_CC_FLAGS      = -Wall -Wextra -O2 -g
DETECT_ASAN_FLAGS    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -DDETECT_CHECK_FAST

DETECT_FUZZ_CC       = clang
DETECT_FUZZ_CC_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DDETECT_CHECK_FAST
DETECT_FUZZ_SECONDS ?= 120
DETECT_FUZZ_MAX_LEN ?= 20000
DETECT_FUZZ_ENV      = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: check-detect fuzz-detect fuzz-replay-detect bench-detect

# the unit tests run under ASan/UBSan; the timing checks allow for that
$(DETECT_TEST_BIN): $(DETECT_SRC) $(DETECT_HDR) $(DETECT_TEST_SRC) $(DETECT_TEST_HDR)
	@mkdir -p $(DETECT_BUILD_DIR)
	$(DETECT_CC) $(DETECT_CC_FLAGS) $(DETECT_ASAN_FLAGS) -o $@ $(DETECT_SRC) $(DETECT_TEST_SRC)

# the same tests on the SSE2 loops the AVX2 ones replace at run time (CPUs without AVX2)
$(DETECT_TEST_SSE2_BIN): $(DETECT_SRC) $(DETECT_HDR) $(DETECT_TEST_SRC) $(DETECT_TEST_HDR)
	@mkdir -p $(DETECT_BUILD_DIR)
	$(DETECT_CC) $(DETECT_CC_FLAGS) $(DETECT_ASAN_FLAGS) -DDETECT_NO_AVX2 -o $@ $(DETECT_SRC) $(DETECT_TEST_SRC)

check-detect: $(DETECT_TEST_BIN) $(DETECT_TEST_SSE2_BIN)
	$(DETECT_FUZZ_ENV) ./$(DETECT_TEST_BIN)
	$(DETECT_FUZZ_ENV) ./$(DETECT_TEST_SSE2_BIN)

$(DETECT_FUZZ_BIN): $(DETECT_SRC) $(DETECT_HDR) $(DETECT_FUZZ_SRC)
	@mkdir -p $(DETECT_BUILD_DIR)
	$(DETECT_FUZZ_CC) $(DETECT_FUZZ_CC_FLAGS) -o $@ $(DETECT_SRC) $(DETECT_FUZZ_SRC)

# long run on a scratch copy of the seed corpus (the committed one stays clean)
fuzz-detect: $(DETECT_FUZZ_BIN)
	@mkdir -p $(DETECT_FUZZ_WORK_DIR)
	cp -p $(DETECT_FUZZ_SEED_DIR)/* $(DETECT_FUZZ_WORK_DIR)/
	$(DETECT_FUZZ_ENV) ./$(DETECT_FUZZ_BIN) -max_len=$(DETECT_FUZZ_MAX_LEN) -max_total_time=$(DETECT_FUZZ_SECONDS) \
		-print_final_stats=1 -artifact_prefix=$(DETECT_BUILD_DIR)/ $(DETECT_FUZZ_WORK_DIR)

# replay the committed seeds once
fuzz-replay-detect: $(DETECT_FUZZ_BIN)
	$(DETECT_FUZZ_ENV) ./$(DETECT_FUZZ_BIN) -runs=0 -max_len=$(DETECT_FUZZ_MAX_LEN) -artifact_prefix=$(DETECT_BUILD_DIR)/ $(DETECT_FUZZ_SEED_DIR)

$(DETECT_BENCH_BIN): $(DETECT_SRC) $(DETECT_HDR) $(DETECT_BENCH_SRC) $(DETECT_TEST_HDR)
	@mkdir -p $(DETECT_BUILD_DIR)
	$(DETECT_CC) -Wall -Wextra -O2 -o $@ $(DETECT_SRC) $(DETECT_BENCH_SRC)

bench-detect: $(DETECT_BENCH_BIN)
	./$(DETECT_BENCH_BIN) test/detect/patterns.tsv test/detect/corpus.tsv

.DEFAULT_GOAL := $(DETECT_SAVED_DEFAULT_GOAL)
