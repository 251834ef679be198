/* The wire side of the test NIC: send every packet to RX queue 4 of the peer, as the NIC's ntuple rule
 * would. veth delivers TX queue N to RX queue N; a BPF-written queue_mapping is read as "queue + 1". */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

__attribute__((section("classifier"), used)) int steer(struct __sk_buff *skb)
{
	skb->queue_mapping = 4 + 1;
	return TC_ACT_OK;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
