/* XDP_PASS on the test NIC: veth counts rx_queue_N_xdp_packets only while a native XDP program is attached. */
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
