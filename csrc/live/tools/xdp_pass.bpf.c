// SPDX-License-Identifier: GPL-2.0
/* TEST TOOL, not product code: an XDP program that passes every frame, attached without libxdp's dispatcher,
 * like the pass-through a host may already carry (it also makes veth count rx_queue_N_xdp_packets). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass_all(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
