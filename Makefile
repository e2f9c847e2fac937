# SPDX-License-Identifier: GPL-2.0-or-later
# The README's two commands: `make demo` and `make check`.  Both install
# the Debian packages they need first (scripts/deps.sh).
BUILD  ?= build
ASAN   ?= build-asan
FUZZ   ?= build-fuzz
FUZZ_SECONDS ?= 600
# A loaded or shared machine runs the tests slower than their timeouts expect.
MESON_TEST_ARGS ?= --timeout-multiplier 4

.PHONY: all deps check check-plain check-valgrind check-asan check-faults cppcheck demo fuzz bench clean

all: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD)
	ninja -C $(BUILD)

deps:
	@scripts/deps.sh

check: all
	$(MAKE) --no-print-directory check-plain check-valgrind check-asan cppcheck

check-plain:
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS)

check-valgrind:
	meson test -C $(BUILD) --suite unit --setup=valgrind --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS)

check-asan:
	@test -f $(ASAN)/build.ninja || meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --suite unit --suite unit-root --print-errorlogs --num-processes 2 $(MESON_TEST_ARGS)

# The full fault-injection sweeps (docs/testing.md): prepare (tree and
# image entries) and the pack step; `make check` runs a sample of the first.
check-faults: all
	ZEOLITE_FAULTS=full PACK_FAULTS=1 meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 0 faults pack

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -I src -I $(BUILD) src/

demo: all
	scripts/demo.sh $(BUILD)/zeolite

fuzz: deps
	@test -f $(FUZZ)/build.ninja || CC=clang meson setup $(FUZZ) -Dfuzz=true -Dtests=false
	ninja -C $(FUZZ)
	scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

bench: all
	@scripts/deps.sh bench
	bench/run-all.sh $(BUILD)/zeolite

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
