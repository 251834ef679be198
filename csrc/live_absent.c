/* Linked only when csrc/live/ (the live backends and their build fragment live/live.mk) is absent:
 * the pcap backend still works and the live ones say how to get them. */
#include <stdio.h>

#include "fg_live.h"

int fg_live_af_xdp(const struct fg_live_opts *o)
{
	(void)o;
	fprintf(stderr, "floodgate-rx: af_xdp backend not built: csrc/live/ is missing from this tree; install "
			"libxdp-dev and libbpf-dev and rebuild with `make -C csrc`\n");
	return 2;
}

int fg_live_netmap(const struct fg_live_opts *o)
{
	(void)o;
	fprintf(stderr, "floodgate-rx: netmap backend not built: csrc/live/ is missing from this tree; build "
			"netmap's libnetmap and rebuild with `make -C csrc NETMAP_SRC=/path/to/netmap`\n");
	return 2;
}
