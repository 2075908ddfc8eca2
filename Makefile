# natt — make a server behind a home NAT reachable from the internet.
# `make` builds everything under build/; `make check` runs every test; `make demo` shows the main job.

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR     ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
COMPLETIONSDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR    ?=
BUILD      ?= build

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
# Objects of the engine go both into libnatt.so and into the preload library, so all are PIC and
# hidden by default: only NATT_API functions leave libnatt.so, only the hooks leave the shim.
ALLFLAGS := -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -pthread -D_GNU_SOURCE \
            -DNATT_VERSION='"$(VERSION)"' -Ilib/include -Ilib \
            $(shell pkg-config --cflags miniupnpc 2>/dev/null) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_PROTO := $(shell pkg-config --libs miniupnpc 2>/dev/null || echo -lminiupnpc) \
                $(shell pkg-config --libs natpmp 2>/dev/null || echo -lnatpmp) -lm
# The shim carries its own copies of miniupnpc and libnatpmp so that a wrapped program loads one
# library more, not three, and a program that links miniupnpc itself never shares state with us.
SHIM_PROTO   ?= -Wl,-Bstatic -lminiupnpc -lnatpmp -Wl,-Bdynamic

LIB_SRCS  := $(sort $(filter-out lib/outside/%,$(wildcard lib/*/*.c)))
SHIM_SRCS := $(sort $(wildcard shim/*.c))
# The preload library's engine half (shim/engine_link.h): loaded by the hooks when first needed.
SHIM_ENGINE_SRCS := $(sort $(wildcard shim/engine/*.c))
CLI_SRCS  := $(sort $(wildcard cli/*.c))
# Watching other processes' sockets (natt watch): the command's, not the shim's nor the library's.
OUTSIDE_SRCS := $(sort $(wildcard lib/outside/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
EX_SRCS   := $(sort $(wildcard examples/*.c))
TESTPROG_SRCS := $(sort $(wildcard tests/progs/*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SHIM_OBJS := $(SHIM_SRCS:%.c=$(BUILD)/obj/%.o)
SHIM_ENGINE_OBJS := $(SHIM_ENGINE_SRCS:%.c=$(BUILD)/obj/%.o)
# The hooks' half needs the address predicates alone of the library (loopback or not, at bind()).
SHIM_LIB_OBJS := $(BUILD)/obj/lib/sys/addr.o
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o) $(OUTSIDE_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
EX_BINS   := $(EX_SRCS:examples/%.c=$(BUILD)/examples/%)
TESTPROG_BINS := $(TESTPROG_SRCS:tests/progs/%.c=$(BUILD)/tests/progs/%)

SHIM   := $(BUILD)/libnattpreload.so
SHIM_ENGINE := $(BUILD)/libnattpreload-engine.so
LIBSO  := $(BUILD)/libnatt.so.$(SOVERSION)
LIBA   := $(BUILD)/libnatt.a
CLI    := $(BUILD)/natt

.PHONY: all check unit bats demo install uninstall clean deps check-asan check-tsan valgrind bench deb fuzz fuzz-build
all: $(SHIM) $(SHIM_ENGINE) $(LIBSO) $(BUILD)/libnatt.so $(LIBA) $(CLI) $(BUILD)/natt.pc $(EX_BINS) $(TESTPROG_BINS)

# Every compile also writes the list of headers it read (-MMD -MP): beside an object as X.d, beside a
# program built straight from its source as .NAME.d (hidden, so that build/tests/test_* stays the list of
# unit test binaries).
DEPFLAGS = -MMD -MP $(if $(filter %.o,$@),,-MF $(@D)/.$(@F).d)

# V=1 shows the full commands.
Q := $(if $(V),,@)
# Each object depends on the headers it includes (the .d files the compiler writes with -MMD -MP).
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALLFLAGS) $(DEPFLAGS) -c -o $@ $<

# Every program of a wrapped tree loads the hooks' half: no -z now (binding every symbol at load would
# cost about 2% of /bin/true's start), and no DT_FINI (the C runtime's _fini does nothing here, and
# calling it at exit would touch the last page of code: a page fault for every process). Naming a
# function that does not exist as -fini leaves the entry out; destructors still run (.fini_array).
#
# shim/layout.ld places the hot data (and the fd table's first slots) in the page the loader writes
# anyway; GNU ld and lld read it, gold does not (the library then links without it).
SHIM_LAYOUT_SCRIPT := -Wl,-T,shim/layout.ld
SHIM_LAYOUT = $(if $(shell $(CC) $(LDFLAGS) -Wl,--version 2>/dev/null | grep -m1 -E 'GNU ld|LLD'),$(SHIM_LAYOUT_SCRIPT))
$(SHIM): $(SHIM_OBJS) $(SHIM_LIB_OBJS) shim/exports.map shim/layout.ld
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -shared -o $@ $(SHIM_OBJS) $(SHIM_LIB_OBJS) -Wl,--version-script=shim/exports.map \
	    $(SHIM_LAYOUT) -Wl,-z,defs -Wl,-fini=natt_no_fini -ldl $(LDFLAGS)

$(SHIM_ENGINE): $(SHIM_ENGINE_OBJS) $(LIB_OBJS) shim/engine/exports.map
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -shared -o $@ $(SHIM_ENGINE_OBJS) $(LIB_OBJS) \
	    -Wl,--version-script=shim/engine/exports.map -Wl,-z,defs $(SHIM_PROTO) -ldl -lm $(LDFLAGS)

$(LIBSO): $(LIB_OBJS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -shared -Wl,-soname,libnatt.so.$(SOVERSION) -Wl,-z,defs -o $@ $(LIB_OBJS) \
	    $(LDLIBS_PROTO) $(LDFLAGS)
$(BUILD)/libnatt.so: $(LIBSO)
	ln -sf libnatt.so.$(SOVERSION) $@
$(LIBA): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $(LIB_OBJS)

$(CLI): $(CLI_OBJS) $(LIBA)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -o $@ $(CLI_OBJS) $(LIBA) $(LDLIBS_PROTO) $(LDFLAGS)

$(BUILD)/examples/%: examples/%.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) $(DEPFLAGS) -o $@ $< $(LIBA) $(LDLIBS_PROTO) $(LDFLAGS)

# Test programs are ordinary programs; those that include natt.h get libnatt.
$(BUILD)/tests/progs/%: tests/progs/%.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) $(DEPFLAGS) -o $@ $< $(if $(shell grep -l '<natt.h>' $<),$(LIBA) $(LDLIBS_PROTO)) $(LDFLAGS)

# asyncsafe's own malloc, setenv and pthread functions must be the ones the preloaded library calls.
$(BUILD)/tests/progs/asyncsafe: LDFLAGS += -rdynamic

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) $(DEPFLAGS) -o $@ $< $(EXTRA_TEST_OBJS) $(LIBA) -lcmocka $(LDLIBS_PROTO) $(LDFLAGS)

# test_shim_fdtable links the preload library's fd table and its close and copy hooks alone: the
# test stands in for libc's close and for the engine.
SHIM_TABLE_OBJS := $(addprefix $(BUILD)/obj/shim/,fdtable.o close.o dup.o)
$(BUILD)/tests/test_shim_fdtable: tests/unit/test_shim_fdtable.c $(SHIM_TABLE_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) $(DEPFLAGS) -Ishim -o $@ $< $(SHIM_TABLE_OBJS) -lcmocka -ldl $(LDFLAGS)

# test_outside tests the watcher's parts, which only the command links.
$(BUILD)/tests/test_outside: $(OUTSIDE_SRCS:%.c=$(BUILD)/obj/%.o)
$(BUILD)/tests/test_outside: EXTRA_TEST_OBJS = $(OUTSIDE_SRCS:%.c=$(BUILD)/obj/%.o)

# test_cli includes the command's parsing code itself.
$(BUILD)/tests/test_cli: cli/args.c cli/classify.c cli/cli.h

# The compiler's lists of the headers each object and program includes (-MMD -MP).
-include $(LIB_OBJS:.o=.d) $(SHIM_OBJS:.o=.d) $(SHIM_ENGINE_OBJS:.o=.d) $(CLI_OBJS:.o=.d) \
         $(foreach b,$(UNIT_BINS) $(EX_BINS) $(TESTPROG_BINS),$(dir $(b)).$(notdir $(b)).d)

$(BUILD)/natt.pc: natt.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    natt.pc.in > $@

# Installs missing Debian packages when run as root; otherwise prints the exact command.
deps:
	@scripts/install-deps

unit: $(UNIT_BINS)
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) fuzz-build
	@tests/run-all

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/natt-demo

bench: all
	@NATT_BUILD=$(BUILD) bench/run

install: all
	install -d $(DESTDIR)$(LIBDIR)/natt $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR)/natt \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONSDIR)
	install -m 755 $(SHIM) $(DESTDIR)$(LIBDIR)/natt/libnattpreload.so
	install -m 755 $(SHIM_ENGINE) $(DESTDIR)$(LIBDIR)/natt/libnattpreload-engine.so
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libnatt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libnatt.so
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 644 lib/include/natt.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 lib/include/natt/*.h $(DESTDIR)$(INCLUDEDIR)/natt/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    natt.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/natt.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/natt
	sed -e 's|^NATT_INSTALLED_SHIM=.*|NATT_INSTALLED_SHIM=$(LIBDIR)/natt/libnattpreload.so|' \
	    -e "s|^NATT_INSTALLED_SHIM_RELATIVE=.*|NATT_INSTALLED_SHIM_RELATIVE=$$(realpath -m --relative-to=$(BINDIR) \
	        $(LIBDIR)/natt/libnattpreload.so)|" scripts/natt-run > $(DESTDIR)$(BINDIR)/natt-run
	chmod 755 $(DESTDIR)$(BINDIR)/natt-run
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 "$$m" $(DESTDIR)$(MANDIR)/man1/ || true; done
	install -m 644 scripts/bash-completion/natt scripts/bash-completion/natt-run $(DESTDIR)$(COMPLETIONSDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/natt/libnattpreload.so $(DESTDIR)$(LIBDIR)/natt/libnattpreload-engine.so \
	    $(DESTDIR)$(LIBDIR)/libnatt.so* \
	    $(DESTDIR)$(LIBDIR)/libnatt.a $(DESTDIR)$(INCLUDEDIR)/natt.h $(DESTDIR)$(LIBDIR)/pkgconfig/natt.pc \
	    $(DESTDIR)$(BINDIR)/natt $(DESTDIR)$(BINDIR)/natt-run $(DESTDIR)$(MANDIR)/man1/natt.1 \
	    $(DESTDIR)$(MANDIR)/man1/natt-run.1 $(DESTDIR)$(COMPLETIONSDIR)/natt $(DESTDIR)$(COMPLETIONSDIR)/natt-run
	rm -rf $(DESTDIR)$(INCLUDEDIR)/natt

clean:
	rm -rf $(BUILD)

# Debian packages natt, libnatt0 and libnatt-dev (debian/), built with dpkg-buildpackage from a copy
# of the tree in $(BUILD)/deb/natt-$(VERSION), so that the .deb files and the other products that
# dpkg-buildpackage writes to the parent directory land in $(BUILD)/deb, not beside the tree. lintian
# then checks them when it is installed: an error fails, warnings are printed. Both steps are done
# again only when a file they are made of changed since (tests/, bench/ and .ci/ are not).
DEB_DIR     := $(BUILD)/deb
DEB_EXCLUDE := ./.git ./build ./$(BUILD) ./tests ./bench ./.ci
DEB_SOURCES := $(shell find . \( $(patsubst %,-path '%' -o,$(DEB_EXCLUDE)) -false \) -prune -o -type f -print)
deb: $(DEB_DIR)/lintian.log
$(DEB_DIR)/built: $(DEB_SOURCES)
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
	    { echo "make deb needs dpkg-dev and debhelper (scripts/install-deps installs them)" >&2; exit 2; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/natt-$(VERSION)
	tar -cf - $(patsubst %,--exclude='%',$(DEB_EXCLUDE)) . | tar -xf - -C $(DEB_DIR)/natt-$(VERSION)
	cd $(DEB_DIR)/natt-$(VERSION) && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
	    { tail -n 40 ../build.log >&2; echo "dpkg-buildpackage failed: $(DEB_DIR)/build.log" >&2; exit 1; }
	@ls $(DEB_DIR)/*.deb
	@touch $@
$(DEB_DIR)/lintian.log: $(DEB_DIR)/built
	@if command -v lintian >/dev/null; then \
	    lintian --fail-on error $(DEB_DIR)/*.changes > $@.all 2>&1; rc=$$?; \
	    grep -v '^running with root privileges' $@.all > $@.new; rm -f $@.all; cat $@.new; \
	    if [ $$rc = 0 ]; then mv $@.new $@; else echo "lintian found errors" >&2; exit 1; fi; \
	else echo "lintian is not installed: the packages were not checked" >&2; fi

# ---------------------------------------------------------------- sanitizers and valgrind
# make check-asan   ASan+UBSan build of everything in $(BUILD)/asan; runs every unit test (leak checks on)
#                   and every bats suite with that shim preloaded into the programs natt-run starts.
# make check-tsan   ThreadSanitizer build in $(BUILD)/tsan; runs the thread and signal suite (64-*).
# make valgrind     memcheck on every unit test binary of $(BUILD); any error or definite/indirect leak fails.
# SAN_PATTERN=GLOB  restricts the suites of check-asan/check-tsan (as tests/run-all PATTERN does).
# Reports of the sanitizers go to $(BUILD)/{asan,tsan}/reports/; any report fails the target (the files
# are printed), as does any failed test.
ASAN_BUILD  := $(BUILD)/asan
TSAN_BUILD  := $(BUILD)/tsan
# (Sanitizers change inlining, and with it what GCC's flow warnings see: they stay warnings there.)
ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-error
TSAN_CFLAGS := -fsanitize=thread -fno-omit-frame-pointer -Wno-error
ASAN_RUNTIME = $(shell $(CC) -print-file-name=libasan.so)
TSAN_RUNTIME = $(shell $(CC) -print-file-name=libtsan.so)
# symbolize=0: a report is written at once, not after minutes of addr2line calls during which a test's
# clean-up may kill the process; the reports are symbolized afterwards (SAN_SYMBOLIZE).
SAN_COMMON_OPTIONS := halt_on_error=1:verify_asan_link_order=0:symbolize=0
VALGRIND_FLAGS := -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
                  --errors-for-leak-kinds=definite,indirect --track-origins=yes

# An instrumented shim preloaded into an uninstrumented program (python, nginx...) needs the sanitizer's
# runtime in LD_PRELOAD too, before libc (else libc's malloc is the one used, and ASan refuses to run).
# natt-run puts $NATT_PRELOAD_LIBRARY first itself, and ld.so splits LD_PRELOAD at ':' as well as at
# spaces: so NATT_PRELOAD_LIBRARY is set to a path "A:B", made to exist as a file for natt-run's check
# (a directory named "A:" holding B, a link), which ld.so reads as two libraries, A then B. ASan wants
# its runtime first (A = DIR/preload/rt, a link to it; B = the shim). TSan must come after the shim:
# its runtime resolves the real functions with dlsym(RTLD_NEXT), and would otherwise call the shim's
# instrumented hooks before it is initialized (A = the shim, B = the runtime).
# $(call san_env,RUNTIME,BUILDDIR,rt|shim): shell commands exporting NATT_BUILD and NATT_PRELOAD_LIBRARY
# (and the variable d, BUILDDIR's absolute path); sanitizer runs take one suite at a time.
define san_env
d=$$(cd $(2) && pwd) && mkdir -p "$$d/preload" && ln -sfn "$(1)" "$$d/preload/rt" && \
if [ "$(3)" = rt ]; then a=$$d/preload/rt b=$$d/libnattpreload.so; else a=$$d/libnattpreload.so b=$$d/preload/rt; fi && \
mkdir -p "$$a:$$(dirname "$$b")" && ln -sfn "$$b" "$$a:$$b" && rm -rf "$$d/reports" && mkdir -p "$$d/reports" && \
export NATT_BUILD=$$d NATT_PRELOAD_LIBRARY="$$a:$$b" NATT_TEST_TIME_LIMIT=600 NATT_TEST_JOBS=$${NATT_TEST_JOBS:-1}
endef
# Adds, under each stack frame "(MODULE+0xOFFSET)" of a report, what addr2line says of it.
SAN_SYMBOLIZE := awk '{ print; if (match($$0, /\([^()+ ]+\+0x[0-9a-f]+\)/)) { \
    s = substr($$0, RSTART + 1, RLENGTH - 2); i = index(s, "+"); \
    cmd = "addr2line -f -i -p -C -e \"" substr(s, 1, i - 1) "\" " substr(s, i + 1) " 2>/dev/null"; \
    while ((cmd | getline r) > 0) print "        " r; close(cmd) } }'
# $(call san_verdict,BUILDDIR): fails (printing them, symbolized) when the sanitizers wrote reports.
define san_verdict
if [ -n "$$(ls -A $(1)/reports)" ]; then \
    for f in $(1)/reports/*; do echo "# ---- sanitizer report $$f"; $(SAN_SYMBOLIZE) "$$f" | sed 's/^/# /'; done; \
    echo "sanitizer reports: $$(ls $(1)/reports | wc -l) (in $(1)/reports)"; exit 1; \
else echo "sanitizer reports: none"; fi
endef

check-asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="-O1 -g" EXTRA_CFLAGS="$(ASAN_CFLAGS)" all unit
	@$(call san_env,$(ASAN_RUNTIME),$(ASAN_BUILD),rt) && \
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$$d/reports/ubsan && \
	ASAN_OPTIONS=$(SAN_COMMON_OPTIONS):detect_leaks=1:log_path=$$d/reports/asan tests/run-all test_; units=$$?; \
	ASAN_OPTIONS=$(SAN_COMMON_OPTIONS):detect_leaks=0:log_path=$$d/reports/asan \
	    tests/run-all $(or $(SAN_PATTERN),.bats); suites=$$?; \
	$(call san_verdict,$(ASAN_BUILD)); [ $$units = 0 ] && [ $$suites = 0 ]

check-tsan:
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) CFLAGS="-O1 -g" EXTRA_CFLAGS="$(TSAN_CFLAGS)" all
	@# (TSan names modules by their base name only in unsymbolized frames: it symbolizes itself.)
	@$(call san_env,$(TSAN_RUNTIME),$(TSAN_BUILD),shim) && \
	export TSAN_OPTIONS=halt_on_error=0:die_after_fork=0:second_deadlock_stack=1:report_signal_unsafe=1:log_path=$$d/reports/tsan && \
	tests/run-all $(or $(SAN_PATTERN),64-); suites=$$?; \
	$(call san_verdict,$(TSAN_BUILD)); [ $$suites = 0 ]

valgrind: $(UNIT_BINS)
	@command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian package valgrind)" >&2; exit 2; }
	@mkdir -p $(BUILD)/valgrind; failed=0; n=0; \
	for t in $(UNIT_BINS); do \
	    n=$$((n + 1)); log=$(BUILD)/valgrind/$${t##*/}.log; \
	    valgrind $(VALGRIND_FLAGS) --log-file=$$log $$t >$$log.out 2>&1; rc=$$?; \
	    if [ $$rc = 0 ]; then echo "ok $$n - valgrind $${t##*/}"; \
	    else failed=$$((failed + 1)); echo "not ok $$n - valgrind $${t##*/} (exit status $$rc)"; \
	        sed 's/^/# /' $$log $$log.out | tail -n 60; fi; \
	done; echo "1..$$n"; echo "$$((n - failed)) passed, $$failed failed"; [ $$failed = 0 ]

# ---------------------------------------------------------------- fuzzing
# make fuzz          libFuzzer targets of tests/fuzz (one per parser natt owns, clang with ASan and UBSan)
#                    built in $(BUILD)/fuzz, each run FUZZ_SECONDS (60) from its seed corpus
#                    tests/fuzz/corpus/NAME; what they find new goes to $(BUILD)/fuzz/corpus/NAME, a crash
#                    to $(BUILD)/fuzz/crash-* (copy a small, interesting input into the tree's corpus).
# make fuzz-build    only builds them; `make check` runs each for a few seconds (tests/fuzz/run --brief).
# FUZZ_TARGETS=json,xml restricts `make fuzz` to those.
FUZZ_CC      ?= clang
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
# (clang's warnings differ from GCC's: warnings, not errors, as in the sanitizer builds)
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -g -O1 -fno-omit-frame-pointer -pthread -D_GNU_SOURCE \
                -DNATT_VERSION='"$(VERSION)"' -Ilib/include -Ilib -Itests/fuzz \
                $(shell pkg-config --cflags miniupnpc 2>/dev/null) \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined
HAVE_FUZZ_CC := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && echo yes)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link -c -o $@ $<
-include $(FUZZ_OBJS:.o=.d)
$(FUZZ_BUILD)/libnatt-fuzz.a: $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $(FUZZ_OBJS)
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libnatt-fuzz.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libnatt-fuzz.a $(LDLIBS_PROTO)

ifeq ($(HAVE_FUZZ_CC),yes)
fuzz-build: $(FUZZ_BINS)
else
fuzz-build:
	@echo "fuzz: $(FUZZ_CC) not found (scripts/install-deps installs clang): fuzz targets not built"
endif

fuzz: fuzz-build
	@NATT_BUILD=$(BUILD) tests/fuzz/run --seconds $(FUZZ_SECONDS) $(subst $(comma), ,$(FUZZ_TARGETS))
comma := ,
