/* Bounds-checked parsing of one frame into the few facts the rules look at (struct fg_pkt).
 * Every read is checked against the frame length; nothing here allocates or writes to the frame. */
#ifndef FG_PKT_PARSE_H
#define FG_PKT_PARSE_H

#include <stdint.h>

enum {
	FG_PKT_MALFORMED = 1u << 0, /* headers failed bounds or validity checks: dropped before any rule */
	FG_PKT_IPV4 = 1u << 1,
	FG_PKT_IPV6 = 1u << 2,
	FG_PKT_L4 = 1u << 3,    /* UDP or TCP header present: ports are valid */
	FG_PKT_FRAG = 1u << 4,  /* an IP fragment (first or not) */
	FG_PKT_DNSQ = 1u << 5,  /* UDP payload has a DNS header, QDCOUNT >= 1 and a well-formed first question */
	FG_PKT_DNSOK = 1u << 6, /* DNSQ and QR=0, opcode QUERY, QDCOUNT=1 */
};

#define FG_QNAME_MAX 255  /* wire length including the root label */
#define FG_LABELS_MAX 128 /* 255 wire bytes hold at most 127 labels */
#define FG_EXT_HDRS_MAX 8 /* IPv6 extension headers walked before we call the chain hostile */

struct fg_pkt {
	uint32_t flags;
	uint8_t proto; /* IP protocol (IPv6: after extension headers) */
	uint8_t qname_len; /* wire length of the qname including the root byte (DNSQ) */
	uint8_t nlabels;   /* labels before the root (DNSQ) */
	uint8_t pad;
	uint16_t sport, dport;
	uint16_t qtype;
	uint16_t pad2;
	uint32_t src4;    /* host byte order */
	uint64_t src6_hi; /* host byte order halves of the IPv6 source */
	uint64_t src6_lo;
	const uint8_t *qname;              /* into the frame (DNSQ) */
	uint8_t label_off[FG_LABELS_MAX]; /* offset of each label's length byte within qname (DNSQ) */
};

/* Parse frame f of len bytes. want_dns: also parse a DNS question in UDP payloads. */
void fg_pkt_parse(const uint8_t *f, uint32_t len, int want_dns, struct fg_pkt *p);

/* Big-endian reads (one load and a byte swap: the compiler merges them). */
static inline uint16_t fg_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t fg_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t fg_rd64(const uint8_t *p)
{
	return ((uint64_t)fg_rd32(p) << 32) | fg_rd32(p + 4);
}

/* DNS: header, then the first question's QNAME label by label (bounded by the payload and 255 bytes).
 * Offsets inside the name equal offsets from d + 12, so one counter walks both. Shared by fg_pkt_parse and
 * the fast path below, so both see a question the same way. */
static inline void fg_parse_dns(const uint8_t *d, uint32_t len, struct fg_pkt *p)
{
	if (len < 12)
		return;
	uint16_t qdcount = fg_rd16(d + 4);
	if (qdcount == 0)
		return;
	const uint8_t *q = d + 12;
	uint32_t room = len - 12, wire = 0, nl = 0;
	/* the name with its root must fit in 255 bytes: a label ending at 255 or beyond leaves no room for the
	 * root, and the next length read stops there, as it does at the payload's end */
	uint32_t lim = room < FG_QNAME_MAX ? room : FG_QNAME_MAX;
	for (;;) {
		if (wire >= lim)
			return;
		uint32_t l = q[wire];
		/* 0: the root; l > 63: a compression pointer (not allowed in a query's question) or a reserved
		 * label type. One unsigned compare sorts out both from the usual 1-63 */
		if (l - 1u > 62u) {
			if (l)
				return;
			break;
		}
		p->label_off[nl++] = (uint8_t)wire; /* wire < 255 and labels >= 2 bytes: nl < 128 */
		wire += l + 1;
	}
	wire += 1; /* the root label */
	if (wire + 4 > room)
		return;
	p->qname = q;
	p->qname_len = (uint8_t)wire;
	p->nlabels = (uint8_t)nl;
	p->qtype = fg_rd16(q + wire);
	uint8_t b2 = d[2];
	int ok = !(b2 & 0x78) & !(b2 & 0x80) & (qdcount == 1);
	p->flags |= FG_PKT_DNSQ | (ok ? FG_PKT_DNSOK : 0);
}

/* The fast path's parser: only an untagged IPv4 frame without options or fragmentation carrying a UDP
 * datagram whose lengths are consistent — the shape of nearly every frame of a DNS flood. For such a frame
 * it fills p exactly as fg_pkt_parse would (flags IPV4 | L4 [| DNSQ | DNSOK], proto 17, src4, ports, the
 * question) and returns 1; for anything else (VLAN, IPv6, options, fragments, TCP, a length that
 * fg_pkt_parse would call malformed) it returns 0 and leaves the frame to fg_pkt_parse. */
static inline int fg_pkt_parse_fast(const uint8_t *f, uint32_t len, int want_dns, struct fg_pkt *p)
{
	if (len < 14 + 20 + 8)
		return 0;
	if ((fg_rd32(f + 12) >> 8) != 0x080045u) /* EtherType IPv4, version 4 with a 20-byte header */
		return 0;
	const uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t tot = fg_rd16(ip + 2);
	if (tot < 28 || tot > len - 14 || (fg_rd16(ip + 6) & 0x3FFF) || ip[9] != 17)
		return 0;
	uint32_t ulen = fg_rd16(udp + 4);
	if (ulen < 8 || ulen > tot - 20)
		return 0;
	p->flags = FG_PKT_IPV4 | FG_PKT_L4;
	p->proto = 17;
	p->src4 = fg_rd32(ip + 12);
	p->sport = fg_rd16(udp);
	p->dport = fg_rd16(udp + 2);
	p->qtype = 0;
	if (want_dns)
		fg_parse_dns(udp + 8, ulen - 8, p);
	return 1;
}

#endif
