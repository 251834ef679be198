/* Shared layout of the lab NIC model's BPF maps (lab/nicmodel/nicmodel.bpf.c) — MODEL, not hardware.
 * The edge-side front end (lab/nicmodel/ethtool-frontend) packs the same layout with Python's struct
 * module; keep both in step (tests/unit/test_nicmodel_*.py checks the sizes). */
#ifndef FG_NICMODEL_H
#define FG_NICMODEL_H

#define FG_RSS_TABLE_SIZE 128 /* ixgbe 82599: 128-entry redirection table */
#define FG_RSS_KEY_SIZE 40    /* ixgbe 82599: 40-byte Toeplitz key */
#define FG_MAX_RULES 128      /* active ntuple rules the model evaluates per packet */
#define FG_ACTION_DROP 0xffffffffu
#define FG_LUT_BYTES 36 /* longest RSS input: IPv6 addresses + ports */

/* ethtool flow types (linux/ethtool.h) */
#define FG_TCP_V4_FLOW 0x01
#define FG_UDP_V4_FLOW 0x02
#define FG_TCP_V6_FLOW 0x05
#define FG_UDP_V6_FLOW 0x06

/* One ntuple rule. Slots [0, n_rules) of the rule map hold the active rules sorted by location (the front
 * end keeps them so); the first match wins, as the lowest location wins on ixgbe's perfect filters.
 * Masks are "care" masks (bit set = must match), as the kernel's ethtool_rx_flow_spec m_u. */
struct fg_rule {
	__u32 location;
	__u32 flow_type;
	__u32 action; /* queue, or FG_ACTION_DROP */
	__u32 reserved;
	__u8 src[16];
	__u8 src_mask[16];
	__u8 dst[16];
	__u8 dst_mask[16];
	__u16 sport; /* network byte order, as the masks */
	__u16 sport_mask;
	__u16 dport;
	__u16 dport_mask;
}; /* 88 bytes */

struct fg_config {
	__u32 ntuple_on; /* ethtool -K ntuple on|off (modelled) */
	__u32 n_rules;
	__u32 ring_count;
	__u32 reserved;
	__u8 key[FG_RSS_KEY_SIZE];
}; /* 56 bytes */

/* Toeplitz hash of the key, precomputed per input byte position and value (the front end recomputes it
 * whenever the key changes): hash(input) = XOR of t[i][input[i]]. 12 loads per IPv4 frame instead of a
 * 96-step bit loop. */
struct fg_lut {
	__u32 t[FG_LUT_BYTES][256];
};

#endif
