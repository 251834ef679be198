/* See pkt_parse.h. Layout facts: Ethernet 14 bytes, up to two VLAN tags (802.1Q 0x8100 / 802.1ad 0x88a8),
 * IPv4 20-60 bytes, IPv6 40 bytes plus extension headers, UDP 8, TCP 20-60, DNS header 12. */
#include "pkt_parse.h"

#include <string.h>

#define rd16 fg_rd16
#define rd32 fg_rd32
#define rd64 fg_rd64
#define parse_dns fg_parse_dns

/* L4 at l4 with avail bytes (bounded by the IP length). first_frag: a first fragment, whose UDP length
 * covers the whole datagram rather than this frame. */
static inline void parse_l4(const uint8_t *l4, uint32_t avail, int first_frag, int want_dns, struct fg_pkt *p)
{
	if (p->proto == 17) {
		if (avail < 8)
			goto bad;
		uint16_t ulen = rd16(l4 + 4);
		if (ulen < 8 || (!first_frag && ulen > avail))
			goto bad;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->flags |= FG_PKT_L4;
		if (want_dns) {
			uint32_t plen = first_frag ? avail - 8 : (uint32_t)ulen - 8;
			if (plen > avail - 8)
				plen = avail - 8;
			p->flags |= parse_dns(l4 + 8, plen, p);
		}
	} else if (p->proto == 6) {
		if (avail < 20)
			goto bad;
		uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < 20 || doff > avail)
			goto bad;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->flags |= FG_PKT_L4;
	}
	return;
bad:
	p->flags |= FG_PKT_MALFORMED;
}

static void parse_ipv4(const uint8_t *ip, uint32_t avail, int want_dns, struct fg_pkt *p)
{
	if (avail < 20 || (ip[0] >> 4) != 4)
		goto bad;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0F) * 4;
	uint32_t tot = rd16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > avail)
		goto bad;
	p->flags |= FG_PKT_IPV4;
	p->proto = ip[9];
	p->src4 = rd32(ip + 12);
	uint16_t frag = rd16(ip + 6);
	uint16_t offset = frag & 0x1FFF;
	int mf = (frag & 0x2000) != 0;
	if (offset || mf)
		p->flags |= FG_PKT_FRAG;
	if (offset) /* a non-first fragment carries no L4 header */
		return;
	parse_l4(ip + ihl, tot - ihl, mf, want_dns, p);
	return;
bad:
	p->flags |= FG_PKT_MALFORMED;
}

static void parse_ipv6(const uint8_t *ip, uint32_t avail, int want_dns, struct fg_pkt *p)
{
	if (avail < 40 || (ip[0] >> 4) != 6)
		goto bad;
	uint32_t plen = rd16(ip + 4);
	if (plen > avail - 40)
		goto bad;
	p->flags |= FG_PKT_IPV6;
	p->src6_hi = rd64(ip + 8);
	p->src6_lo = rd64(ip + 16);
	uint8_t nh = ip[6];
	const uint8_t *h = ip + 40;
	uint32_t left = plen;
	int first_frag = 0;
	for (int i = 0;; i++) {
		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			break;
		if (i == FG_EXT_HDRS_MAX || left < 8)
			goto bad;
		uint32_t hl;
		if (nh == 44) {
			hl = 8;
			uint16_t fo = rd16(h + 2);
			p->flags |= FG_PKT_FRAG;
			if (fo >> 3) { /* non-first fragment: no L4 header follows */
				p->proto = h[0];
				return;
			}
			first_frag = fo & 1;
		} else if (nh == 51) {
			hl = ((uint32_t)h[1] + 2) * 4;
		} else {
			hl = ((uint32_t)h[1] + 1) * 8;
		}
		if (hl > left)
			goto bad;
		nh = h[0];
		h += hl;
		left -= hl;
	}
	p->proto = nh;
	parse_l4(h, left, first_frag, want_dns, p);
	return;
bad:
	p->flags |= FG_PKT_MALFORMED;
}

void fg_pkt_parse(const uint8_t *f, uint32_t len, int want_dns, struct fg_pkt *p)
{
	/* only flags and proto are always set: every other field is read only under the flag that vouches
	 * for it (FG_PKT_L4 for ports, FG_PKT_DNSQ for the question) */
	p->flags = 0;
	p->proto = 0;
	p->sport = p->dport = 0;
	p->qtype = 0;
	if (len < 14)
		goto bad;
	uint32_t off = 12;
	uint16_t et = rd16(f + off);
	for (int tags = 0; et == 0x8100 || et == 0x88A8; tags++) {
		if (tags == 2 || len < off + 4 + 2) /* more than QinQ, or a truncated tag */
			goto bad;
		off += 4;
		et = rd16(f + off);
	}
	off += 2;
	if (et == 0x0800)
		parse_ipv4(f + off, len - off, want_dns, p);
	else if (et == 0x86DD)
		parse_ipv6(f + off, len - off, want_dns, p);
	return;
bad:
	p->flags |= FG_PKT_MALFORMED;
}
