# Builds the benchmark programs (bench/*.c) into build/bench/. Used by bench/run:
#   make -f bench/bench.mk [BUILD=build]
# Same compiler flags as the project's Makefile. The programs link no part of natt: they measure
# natt from the outside (through LD_PRELOAD, the status file and the router's table).

BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
ALLFLAGS := -std=gnu11 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE \
            $(shell pkg-config --cflags miniupnpc 2>/dev/null) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_PROTO := $(shell pkg-config --libs miniupnpc 2>/dev/null || echo -lminiupnpc) \
                $(shell pkg-config --libs natpmp 2>/dev/null || echo -lnatpmp)

PROGS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out bench/preload_%.c,$(wildcard bench/*.c)))
LIBS  := $(BUILD)/bench/libpreload_empty.so

.PHONY: all
all: $(PROGS) $(LIBS)

$(BUILD)/bench/lib%.so: bench/%.c bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS)

$(BUILD)/bench/floor: LDLIBS := $(LDLIBS_PROTO)

$(BUILD)/bench/%: bench/%.c bench/bench.h bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -o $@ $< $(LDLIBS) $(LDFLAGS)
