# natt — make a server behind a home NAT reachable from the internet.
# `make` builds everything under build/; `make check` runs every test; `make demo` shows the main job.

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR     ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
BUILD      ?= build

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
# Objects of the engine go both into libnatt.so and into the preload library, so all are PIC and
# hidden by default: only NATT_API functions leave libnatt.so, only the hooks leave the shim.
ALLFLAGS := -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -pthread -D_GNU_SOURCE \
            -DNATT_VERSION='"$(VERSION)"' -Ilib/include -Ilib \
            $(shell pkg-config --cflags miniupnpc 2>/dev/null) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_PROTO := $(shell pkg-config --libs miniupnpc 2>/dev/null || echo -lminiupnpc) \
                $(shell pkg-config --libs natpmp 2>/dev/null || echo -lnatpmp)
# The shim carries its own copies of miniupnpc and libnatpmp so that a wrapped program loads one
# library more, not three, and a program that links miniupnpc itself never shares state with us.
SHIM_PROTO   ?= -Wl,-Bstatic -lminiupnpc -lnatpmp -Wl,-Bdynamic

LIB_SRCS  := $(sort $(wildcard lib/*.c))
SHIM_SRCS := $(sort $(wildcard shim/*.c))
CLI_SRCS  := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
EX_SRCS   := $(sort $(wildcard examples/*.c))
TESTPROG_SRCS := $(sort $(wildcard tests/progs/*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SHIM_OBJS := $(SHIM_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
EX_BINS   := $(EX_SRCS:examples/%.c=$(BUILD)/examples/%)
TESTPROG_BINS := $(TESTPROG_SRCS:tests/progs/%.c=$(BUILD)/tests/progs/%)

SHIM   := $(BUILD)/libnattpreload.so
LIBSO  := $(BUILD)/libnatt.so.$(SOVERSION)
LIBA   := $(BUILD)/libnatt.a
CLI    := $(BUILD)/natt

.PHONY: all check unit bats demo install uninstall clean deps check-asan check-tsan valgrind bench
all: $(SHIM) $(LIBSO) $(BUILD)/libnatt.so $(LIBA) $(CLI) $(BUILD)/natt.pc $(EX_BINS) $(TESTPROG_BINS)

# V=1 shows the full commands.
Q := $(if $(V),,@)
$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h lib/include/*.h lib/include/natt/*.h shim/*.h cli/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALLFLAGS) -c -o $@ $<

$(SHIM): $(SHIM_OBJS) $(LIB_OBJS) shim/exports.map
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -shared -o $@ $(SHIM_OBJS) $(LIB_OBJS) -Wl,--version-script=shim/exports.map \
	    -Wl,-z,defs -Wl,-z,now $(SHIM_PROTO) -ldl $(LDFLAGS)

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
	$(Q)$(CC) $(ALLFLAGS) -o $@ $< $(LIBA) $(LDLIBS_PROTO) $(LDFLAGS)

# Test programs are ordinary programs; those that include natt.h get libnatt.
$(BUILD)/tests/progs/%: tests/progs/%.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -o $@ $< $(if $(shell grep -l '<natt.h>' $<),$(LIBA) $(LDLIBS_PROTO)) $(LDFLAGS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALLFLAGS) -o $@ $< $(LIBA) -lcmocka $(LDLIBS_PROTO) $(LDFLAGS)

# test_cli includes the command's parsing code itself.
$(BUILD)/tests/test_cli: cli/args.c cli/classify.c cli/cli.h

$(BUILD)/natt.pc: natt.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    natt.pc.in > $@

# Installs missing Debian packages when run as root; otherwise prints the exact command.
deps:
	@scripts/install-deps

unit: $(UNIT_BINS)
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@tests/run-all

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/natt-demo

bench: all
	@NATT_BUILD=$(BUILD) bench/run

install: all
	install -d $(DESTDIR)$(LIBDIR)/natt $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR)/natt \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(SHIM) $(DESTDIR)$(LIBDIR)/natt/libnattpreload.so
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libnatt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libnatt.so
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 644 lib/include/natt.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 lib/include/natt/*.h $(DESTDIR)$(INCLUDEDIR)/natt/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    natt.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/natt.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/natt
	sed -e 's|^NATT_INSTALLED_SHIM=.*|NATT_INSTALLED_SHIM=$(LIBDIR)/natt/libnattpreload.so|' \
	    scripts/natt-run > $(DESTDIR)$(BINDIR)/natt-run
	chmod 755 $(DESTDIR)$(BINDIR)/natt-run
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 "$$m" $(DESTDIR)$(MANDIR)/man1/ || true; done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/natt/libnattpreload.so $(DESTDIR)$(LIBDIR)/libnatt.so* \
	    $(DESTDIR)$(LIBDIR)/libnatt.a $(DESTDIR)$(INCLUDEDIR)/natt.h $(DESTDIR)$(LIBDIR)/pkgconfig/natt.pc \
	    $(DESTDIR)$(BINDIR)/natt $(DESTDIR)$(BINDIR)/natt-run $(DESTDIR)$(MANDIR)/man1/natt.1 \
	    $(DESTDIR)$(MANDIR)/man1/natt-run.1
	rm -rf $(DESTDIR)$(INCLUDEDIR)/natt

clean:
	rm -rf $(BUILD)
