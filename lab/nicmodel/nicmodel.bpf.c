// SPDX-License-Identifier: GPL-2.0
/* The lab NIC model — a MODEL of an ixgbe 82599 receive side, not hardware.
 *
 * Attached as a cls_bpf direct-action program on the clsact egress of the wire end of an edge's veth pair.
 * For every frame sent towards the edge it picks the receive queue the way the NIC would:
 *   1. ntuple rules (flow type, addresses, ports under masks → queue or drop), first match in location order,
 *      only while ntuple is on;
 *   2. otherwise RSS: Toeplitz hash (the ixgbe/Microsoft RSS hash; key in the config map, applied through a
 *      per-byte lookup table the front end derives from it) over the
 *      IPv4/IPv6 source+destination address and, for TCP/UDP non-fragments, source+destination port; the low
 *      7 bits index the 128-entry indirection table, which names the queue. Non-IP frames (ARP) go to queue 0.
 * veth delivers a frame sent on tx queue N to rx queue N of its peer; a value written to skb->queue_mapping
 * from BPF is read as "queue + 1" (shared/notes/machine-facts.md), hence the +1 below. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nicmodel.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_RSS_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} rss_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fg_rule);
} ntuple_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fg_config);
} nic_config SEC(".maps");

/* Per-queue frames the model steered (and index FG_MAX_QUEUES: dropped by a rule): a cross-check of the
 * edge's real rx_queue_N counters. */
#define FG_MAX_QUEUES 64
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FG_MAX_QUEUES + 1);
	__type(key, __u32);
	__type(value, __u64);
} model_stats SEC(".maps");

/* The hash input, laid out as the RSS spec orders it: source address, destination address, source port,
 * destination port (all in network byte order). */
struct flow {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u32 v6;
	__u32 l4proto;
	__u32 has_ports;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fg_lut);
} rss_lut SEC(".maps");

static __always_inline __u32 toeplitz(const struct fg_lut *lut, const __u8 *in, __u32 len)
{
	__u32 hash = 0;

	for (__u32 i = 0; i < FG_LUT_BYTES; i++) {
		if (i >= len)
			break;
		hash ^= lut->t[i][in[i]];
	}
	return hash;
}

static __always_inline int masked_eq(const __u8 *a, const __u8 *b, const __u8 *mask, int n)
{
	__u8 diff = 0;
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			break;
		diff |= (a[i] ^ b[i]) & mask[i];
	}
	return diff == 0;
}

struct match_ctx {
	const struct flow *f;
	__u32 n_rules;
	__u32 action;
	__u32 matched;
};

static long match_rule(__u32 idx, void *data)
{
	struct match_ctx *m = data;
	const struct flow *f = m->f;
	__u32 key = idx;
	struct fg_rule *r;

	if (idx >= m->n_rules)
		return 1;
	r = bpf_map_lookup_elem(&ntuple_rules, &key);
	if (!r)
		return 1;
	__u32 want_v6 = r->flow_type == FG_TCP_V6_FLOW || r->flow_type == FG_UDP_V6_FLOW;
	__u32 want_proto =
		(r->flow_type == FG_TCP_V4_FLOW || r->flow_type == FG_TCP_V6_FLOW) ? IPPROTO_TCP : IPPROTO_UDP;
	if (want_v6 != f->v6 || want_proto != f->l4proto || !f->has_ports)
		return 0;
	if (((f->sport ^ r->sport) & r->sport_mask) || ((f->dport ^ r->dport) & r->dport_mask))
		return 0;
	int n = f->v6 ? 16 : 4;
	if (!masked_eq(f->src, r->src, r->src_mask, n) || !masked_eq(f->dst, r->dst, r->dst_mask, n))
		return 0;
	m->action = r->action;
	m->matched = 1;
	return 1;
}

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&model_stats, &slot);
	if (c)
		*c += 1;
}

/* Parses the frame into f; returns 0 for a non-IP frame. */
static __always_inline int parse(struct __sk_buff *skb, struct flow *f)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	void *l4;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return 0;
		__builtin_memcpy(f->src, &ip->saddr, 4);
		__builtin_memcpy(f->dst, &ip->daddr, 4);
		f->l4proto = ip->protocol;
		if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset: no ports */
			return 1;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return 0;
		__builtin_memcpy(f->src, &ip6->saddr, 16);
		__builtin_memcpy(f->dst, &ip6->daddr, 16);
		f->v6 = 1;
		f->l4proto = ip6->nexthdr; /* extension headers are not walked: such frames hash on addresses */
		l4 = ip6 + 1;
	} else {
		return 0;
	}
	if (f->l4proto == IPPROTO_TCP || f->l4proto == IPPROTO_UDP) {
		__u16 *ports = l4;
		if ((void *)(ports + 2) <= end) {
			f->sport = ports[0];
			f->dport = ports[1];
			f->has_ports = 1;
		}
	}
	return 1;
}

SEC("tc")
int nicmodel(struct __sk_buff *skb)
{
	__u32 zero = 0, queue = 0;
	struct fg_config *cfg = bpf_map_lookup_elem(&nic_config, &zero);
	struct flow f = {};

	if (!cfg)
		return TC_ACT_OK;
	/* Frames from AF_PACKET TX rings are non-linear: make the headers readable. */
	bpf_skb_pull_data(skb, skb->len < 64 ? skb->len : 64);

	if (parse(skb, &f)) {
		if (cfg->ntuple_on && cfg->n_rules) {
			struct match_ctx m = {.f = &f, .n_rules = cfg->n_rules};
			bpf_loop(FG_MAX_RULES, match_rule, &m, 0);
			if (m.matched) {
				if (m.action == FG_ACTION_DROP) {
					count(FG_MAX_QUEUES);
					return TC_ACT_SHOT;
				}
				queue = m.action;
				goto steer;
			}
		}
		/* RSS input: addresses, then ports when the frame has them. */
		__u8 in[36];
		__u32 alen = f.v6 ? 16 : 4, len = 2 * alen;
		__builtin_memset(in, 0, sizeof(in));
		if (f.v6) {
			__builtin_memcpy(in, f.src, 16);
			__builtin_memcpy(in + 16, f.dst, 16);
			__builtin_memcpy(in + 32, &f.sport, 2);
			__builtin_memcpy(in + 34, &f.dport, 2);
		} else {
			__builtin_memcpy(in, f.src, 4);
			__builtin_memcpy(in + 4, f.dst, 4);
			__builtin_memcpy(in + 8, &f.sport, 2);
			__builtin_memcpy(in + 10, &f.dport, 2);
		}
		if (f.has_ports)
			len += 4;
		struct fg_lut *lut = bpf_map_lookup_elem(&rss_lut, &zero);
		if (!lut)
			goto steer;
		__u32 idx = toeplitz(lut, in, len) & (FG_RSS_TABLE_SIZE - 1);
		__u32 *q = bpf_map_lookup_elem(&rss_table, &idx);
		if (q)
			queue = *q;
	}
steer:
	if (queue >= cfg->ring_count)
		queue = 0;
	count(queue < FG_MAX_QUEUES ? queue : 0);
	skb->queue_mapping = queue + 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
