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

#endif
