// SPDX-License-Identifier: GPL-2.0
/* TEST TOOL, not product code: tc-BPF (cls_bpf direct-action, clsact egress of the sending veth end) that
 * steers IPv4/IPv6 UDP/53 frames to the peer's RX queue (UDP source port & 7) and everything else to queue 0, so
 * tests and benchmarks choose which frames land on the receiver's queue. veth delivers tx queue N to the
 * peer's rx queue N; a value BPF writes to skb->queue_mapping is read as queue + 1
 * (shared/notes/machine-facts.md). The lab's NIC model (lab/nicmodel/) is the full RSS/ntuple model. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int steer(struct __sk_buff *skb)
{
	__u32 q = 0;
	bpf_skb_pull_data(skb, 62);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		goto out;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) <= end && ip->ihl == 5 && ip->protocol == IPPROTO_UDP && udp->dest == bpf_htons(53))
			q = bpf_ntohs(udp->source) & 7;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct udphdr *udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) <= end && ip6->nexthdr == IPPROTO_UDP && udp->dest == bpf_htons(53))
			q = bpf_ntohs(udp->source) & 7;
	}
out:
	skb->queue_mapping = q + 1;
	return TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
