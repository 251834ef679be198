# Live backends, included by csrc/Makefile (`-include live/live.mk`); paths are relative to csrc/.
# Detects what the build host has and compiles each backend in only when its library is there:
#   af_xdp: libxdp + libbpf (pkg-config)            -> -DFG_HAVE_AF_XDP
#   netmap: NETMAP_SRC=/path/to/netmap (sources with libnetmap built), or netmap installed under
#           /usr/include or /usr/local/include (net/netmap_user.h + libnetmap.h)  -> -DFG_HAVE_NETMAP
# A backend that is not compiled in still links: it tells the operator how to get it (fg_live.h).
# Outputs: LIVE_SRCS, LIVE_CFLAGS, LIVE_LDLIBS (also appended to SRCS, CFLAGS, LDLIBS).
PKG_CONFIG ?= pkg-config
# This fragment must not become the including Makefile's default goal.
LIVE_SAVED_GOAL := $(.DEFAULT_GOAL)

LIVE_SRCS := live/fg_runtime.c live/fg_stats.c live/fg_inject.c live/fg_af_xdp.c live/fg_netmap.c
LIVE_CFLAGS :=
# the runtime compiles a SIGHUP's rules and writes its stats in threads of their own (fg_runtime.c, fg_stats.c)
LIVE_LDLIBS := -pthread
LIVE_BACKENDS :=

ifeq ($(shell $(PKG_CONFIG) --exists libxdp libbpf 2>/dev/null && echo yes),yes)
LIVE_CFLAGS += -DFG_HAVE_AF_XDP $(shell $(PKG_CONFIG) --cflags libxdp libbpf)
LIVE_LDLIBS += $(shell $(PKG_CONFIG) --libs libxdp libbpf)
LIVE_BACKENDS += af_xdp
endif

ifneq ($(NETMAP_SRC),)
ifeq ($(wildcard $(NETMAP_SRC)/sys/net/netmap_user.h),)
$(error NETMAP_SRC=$(NETMAP_SRC) has no sys/net/netmap_user.h: point it at a netmap source tree (docs/netmap.md))
endif
ifeq ($(wildcard $(NETMAP_SRC)/libnetmap/libnetmap.a),)
$(error $(NETMAP_SRC)/libnetmap/libnetmap.a is missing: build it first with `make -C $(NETMAP_SRC)/libnetmap`)
endif
LIVE_CFLAGS += -DFG_HAVE_NETMAP -I$(NETMAP_SRC)/sys -I$(NETMAP_SRC)/libnetmap
LIVE_LDLIBS += $(NETMAP_SRC)/libnetmap/libnetmap.a -lpthread
LIVE_BACKENDS += netmap
else
LIVE_NETMAP_INC := $(firstword $(foreach d,/usr/include /usr/local/include,\
	$(if $(and $(wildcard $(d)/net/netmap_user.h),$(wildcard $(d)/libnetmap.h)),$(d))))
ifneq ($(LIVE_NETMAP_INC),)
LIVE_CFLAGS += -DFG_HAVE_NETMAP -I$(LIVE_NETMAP_INC)
LIVE_LDLIBS += -L$(patsubst %/include,%/lib,$(LIVE_NETMAP_INC)) -lnetmap -lpthread
LIVE_BACKENDS += netmap
endif
endif

SRCS += $(LIVE_SRCS)
CFLAGS += $(LIVE_CFLAGS)
LDLIBS += $(LIVE_LDLIBS)

# What a stats write costs the packet loop, in the loop against handed to the writer thread (make bench-stats).
$(B)/bench_stats_write: live/tools/bench_stats_write.c $(B)/obj/live/fg_runtime.o $(B)/obj/live/fg_stats.o \
		$(B)/libfgengine.a
	$(CC) $(CFLAGS) -o $@ $^ -pthread

.PHONY: live-backends
live-backends:
	@echo "live backends compiled in: $(or $(strip $(LIVE_BACKENDS)),none)"

.DEFAULT_GOAL := $(LIVE_SAVED_GOAL)
