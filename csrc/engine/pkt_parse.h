/* Bounds-checked parsing of one frame into the few facts the rules look at (struct fg_pkt).
 * Every read is checked against the frame length; nothing here allocates or writes to the frame. */
#ifndef FG_PKT_PARSE_H
#define FG_PKT_PARSE_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && !defined(FG_PKT_NO_SIMD)
#include <emmintrin.h>
#endif

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
static inline __attribute__((always_inline)) uint16_t fg_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline __attribute__((always_inline)) uint32_t fg_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t fg_rd64(const uint8_t *p)
{
	return ((uint64_t)fg_rd32(p) << 32) | fg_rd32(p + 4);
}

/* Unaligned native-order loads; compared only against masks and values built from byte arrays by the same
 * loads (fg_ld32/fg_ld64 of a const array fold to a constant), so the tests below are byte-order neutral. */
static inline __attribute__((always_inline)) uint32_t fg_ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline __attribute__((always_inline)) uint64_t fg_ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* DNS: header, then the first question's QNAME label by label (bounded by the payload and 255 bytes).
 * Offsets inside the name equal offsets from d + 12, so one counter walks both. Shared by fg_pkt_parse and
 * the fast path below, so both see a question the same way. Fills the question's fields of p and returns
 * the flags it earns (0, FG_PKT_DNSQ or FG_PKT_DNSQ | FG_PKT_DNSOK) for the caller to add. */
static inline __attribute__((always_inline)) uint32_t fg_parse_dns(const uint8_t *d, uint32_t len, struct fg_pkt *p)
{
	/* the header's flags and QDCOUNT (bytes 2-5) in one load: QDCOUNT != 0 has a question; QR = 0,
	 * opcode QUERY (flags byte & 0xF8 == 0) and QDCOUNT = 1 make a valid query */
	static const uint8_t qd_mask[4] = {0, 0, 0xFF, 0xFF}, ok_mask[4] = {0xF8, 0, 0xFF, 0xFF},
			     ok_want[4] = {0, 0, 0, 1};
	if (len <= 12) /* no room for a name (the walk below reads its first byte unchecked) */
		return 0;
	uint32_t hdr = fg_ld32(d + 2);
	if (!(hdr & fg_ld32(qd_mask)))
		return 0;
	const uint8_t *q = d + 12;
	uint32_t room = len - 12;
	/* the name with its root must fit in 255 bytes: a label ending at 255 or beyond leaves no room for the
	 * root, and the next length read stops there, as it does at the payload's end (size_t: no widening of
	 * the index in the loop) */
	size_t wire = 0, lim = room < FG_QNAME_MAX ? room : FG_QNAME_MAX, l;
	uint8_t *off = p->label_off; /* wire < 255 and labels >= 2 bytes: at most 127 labels */
	do {
		l = q[wire];
		/* 0: the root; l > 63: a compression pointer (not allowed in a query's question) or a reserved
		 * label type. One unsigned compare sorts out both from the usual 1-63 */
		if (l - 1u > 62u)
			goto end;
		*off++ = (uint8_t)wire;
		wire += l + 1;
	} while (wire < lim);
	return 0; /* no root before the payload's end or 255 bytes */
end:
	if (l)
		return 0;
	uint32_t nl = (uint32_t)(off - p->label_off);
	wire += 1; /* the root label */
	if (wire + 4 > room)
		return 0;
	p->qname = q;
	p->qname_len = (uint8_t)wire;
	p->nlabels = (uint8_t)nl;
	p->qtype = fg_rd16(q + wire);
	uint32_t ok = (hdr & fg_ld32(ok_mask)) == fg_ld32(ok_want);
	return FG_PKT_DNSQ | ok * FG_PKT_DNSOK;
}

/* The fast path's frame shape at fixed offsets, one masked compare of the 16 bytes at offset 12 (the caller
 * checked len >= 42): EtherType 0x0800 (bytes 12-13), IPv4 version 4 with a 20-byte header (14), no MF flag
 * and no fragment offset (20-21; DF may be set), protocol UDP (23). SSE2 (baseline on x86-64): one compare
 * of 16 bytes; elsewhere, or built with -DFG_PKT_NO_SIMD (the tests build both), two 64-bit words. */
static const uint8_t fg_shape_mask[16] = {0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0, 0xFF, 0, 0, 0, 0};
static const uint8_t fg_shape_want[16] = {0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0};

static inline int fg_fast_shape_scalar(const uint8_t *f)
{
	uint64_t d0 = (fg_ld64(f + 12) & fg_ld64(fg_shape_mask)) ^ fg_ld64(fg_shape_want);
	uint64_t d1 = (fg_ld64(f + 20) & fg_ld64(fg_shape_mask + 8)) ^ fg_ld64(fg_shape_want + 8);
	return (d0 | d1) == 0;
}

static inline __attribute__((always_inline)) int fg_fast_shape(const uint8_t *f)
{
#if defined(__SSE2__) && !defined(FG_PKT_NO_SIMD)
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(f + 12));
	__m128i m = _mm_loadu_si128((const __m128i *)(const void *)fg_shape_mask);
	__m128i w = _mm_loadu_si128((const __m128i *)(const void *)fg_shape_want);
	return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, m), w)) == 0xFFFF;
#else
	return fg_fast_shape_scalar(f);
#endif
}

/* The fast path's parser: only an untagged IPv4 frame without options or fragmentation carrying a UDP
 * datagram that fills the IP datagram exactly — the shape of nearly every frame of a DNS flood. For such a
 * frame it fills p exactly as fg_pkt_parse would (flags IPV4 | L4 [| DNSQ | DNSOK], proto 17, src4, ports,
 * the question, or qname_len 0 without one) and returns 1; for anything else (VLAN, IPv6, options,
 * fragments, TCP, a UDP length short of the IP length, a length that fg_pkt_parse would call malformed) it
 * returns 0 and leaves the frame to fg_pkt_parse. */
static inline __attribute__((always_inline)) int fg_pkt_parse_fast(const uint8_t *f, uint32_t len, int want_dns, struct fg_pkt *p)
{
	if (len < 14 + 20 + 8 || !fg_fast_shape(f))
		return 0;
	const uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t tot = fg_rd16(ip + 2), ulen = fg_rd16(udp + 4);
	/* 28 <= tot <= len - 14 in one unsigned compare (len >= 42), and the UDP length is the rest of it */
	if (tot - 28u > len - 42u || ulen != tot - 20)
		return 0;
	p->proto = 17;
	p->src4 = fg_rd32(ip + 12);
	uint32_t ports = fg_rd32(udp);
	p->sport = (uint16_t)(ports >> 16);
	p->dport = (uint16_t)ports;
	p->qtype = 0;
	p->qname_len = 0;
	uint32_t flags = FG_PKT_IPV4 | FG_PKT_L4;
	if (want_dns)
		flags |= fg_parse_dns(udp + 8, ulen - 8, p);
	p->flags = flags;
	return 1;
}

#endif
