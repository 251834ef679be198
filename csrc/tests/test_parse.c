/* Packet parser and prefix sets: every header check, hostile lengths, and LPM against brute force. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "../engine/pkt_parse.h"
#include "../engine/prefix_set.h"
#include "tests.h"

static struct fg_pkt parse(const struct frame *f)
{
	struct fg_pkt p;
	fg_pkt_parse(f->b, f->len, 1, &p);
	return p;
}

static void test_l2_l3(void)
{
	struct frame f;
	struct pkt_spec s = {.sport = 1000, .dport = 53, .qname = "www.example.com", .qtype = 1};
	build_frame(&f, &s);
	struct fg_pkt p = parse(&f);
	CHECK(p.flags == (FG_PKT_IPV4 | FG_PKT_L4 | FG_PKT_DNSQ | FG_PKT_DNSOK));
	CHECK(p.src4 == 0xC0000201 && p.dport == 53 && p.sport == 1000 && p.qtype == 1);
	CHECK(p.qname_len == 17 && p.nlabels == 3 && p.label_off[1] == 4 && p.label_off[2] == 12);

	/* every truncation of a valid frame is malformed or at least never reads past the end (ASan) */
	for (uint32_t n = 0; n < f.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, f.b, n);
		struct fg_pkt q;
		fg_pkt_parse(copy, n, 1, &q);
		CHECK(q.flags & FG_PKT_MALFORMED);
		free(copy);
	}
	/* one and two VLAN tags; three is malformed */
	s.vlans = 1;
	build_frame(&f, &s);
	CHECK(parse(&f).flags & FG_PKT_DNSOK);
	s.vlans = 2;
	build_frame(&f, &s);
	CHECK(parse(&f).flags & FG_PKT_DNSOK);
	memmove(f.b + 16, f.b + 12, f.len - 12);
	f.b[12] = 0x81, f.b[13] = 0x00, f.b[14] = 0, f.b[15] = 1;
	f.len += 4;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	s.vlans = 0;

	/* IPv4 options are skipped */
	s.ip_opts = 8;
	build_frame(&f, &s);
	p = parse(&f);
	CHECK((p.flags & FG_PKT_DNSOK) && p.dport == 53);
	s.ip_opts = 0;
	/* IHL below 5, total length beyond the frame, wrong version */
	build_frame(&f, &s);
	f.b[14] = 0x44;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	build_frame(&f, &s);
	f.b[16] = 0xFF;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	build_frame(&f, &s);
	f.b[14] = 0x65;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	/* Ethernet padding after the IP packet is fine */
	build_frame(&f, &s);
	f.len += 20;
	CHECK(parse(&f).flags & FG_PKT_DNSOK);
	/* non-IP is not malformed */
	build_frame(&f, &s);
	f.b[12] = 0x08, f.b[13] = 0x06;
	CHECK(parse(&f).flags == 0);
}

static void test_fragments(void)
{
	struct frame f;
	struct pkt_spec s = {.sport = 1000, .dport = 53, .qname = "a.example", .qtype = 1};
	s.frag = 0x2000; /* MF, offset 0: first fragment, UDP length may exceed the frame */
	build_frame(&f, &s);
	f.b[14 + 20 + 4] = 0x10; /* UDP length 4096+ */
	struct fg_pkt p = parse(&f);
	CHECK((p.flags & FG_PKT_FRAG) && (p.flags & FG_PKT_L4) && !(p.flags & FG_PKT_MALFORMED));
	s.frag = 0x0010; /* offset 16*8: no L4 header */
	build_frame(&f, &s);
	p = parse(&f);
	CHECK(p.flags == (FG_PKT_IPV4 | FG_PKT_FRAG) && p.proto == 17 && p.dport == 0);
	/* unfragmented UDP whose length exceeds the IP payload is malformed */
	s.frag = 0;
	build_frame(&f, &s);
	f.b[14 + 20 + 4] = 0x10;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	/* UDP length below 8 */
	build_frame(&f, &s);
	f.b[14 + 20 + 4] = 0, f.b[14 + 20 + 5] = 7;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	/* TCP with a data offset below 5 or beyond the packet */
	struct pkt_spec t = {.proto = 6, .sport = 1, .dport = 80};
	build_frame(&f, &t);
	CHECK(parse(&f).flags == (FG_PKT_IPV4 | FG_PKT_L4));
	f.b[14 + 20 + 12] = 4 << 4;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	f.b[14 + 20 + 12] = 15 << 4;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
}

static void test_ipv6(void)
{
	struct frame f;
	struct pkt_spec s = {.v6 = 1, .src = "2001:db8:1:2::7", .sport = 1000, .dport = 53, .qname = "x.org", .qtype = 28};
	build_frame(&f, &s);
	struct fg_pkt p = parse(&f);
	CHECK(p.flags == (FG_PKT_IPV6 | FG_PKT_L4 | FG_PKT_DNSQ | FG_PKT_DNSOK));
	CHECK(p.src6_hi == 0x20010db800010002ull && p.src6_lo == 7 && p.qtype == 28);
	/* insert extension headers: hop-by-hop (8 bytes) then a fragment header (first fragment) */
	uint8_t *ip = f.b + 14;
	uint32_t l4len = (uint32_t)(ip[4] << 8 | ip[5]);
	memmove(ip + 40 + 16, ip + 40, l4len);
	uint8_t *h = ip + 40;
	memset(h, 0, 16);
	h[0] = 44; /* next: fragment */
	h[8] = 17;
	h[8 + 3] = 1; /* M flag, offset 0 */
	ip[6] = 0;
	ip[5] = (uint8_t)(l4len + 16);
	f.len += 16;
	p = parse(&f);
	CHECK((p.flags & FG_PKT_FRAG) && (p.flags & FG_PKT_DNSOK) && p.proto == 17);
	/* non-first fragment: protocol known, no L4 */
	h[8 + 2] = 0x01;
	p = parse(&f);
	CHECK(p.flags == (FG_PKT_IPV6 | FG_PKT_FRAG) && p.proto == 17);
	/* an extension header longer than the payload */
	h[8 + 2] = 0;
	h[1] = 200;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	/* payload length beyond the frame */
	h[1] = 0;
	ip[4] = 0xFF;
	CHECK(parse(&f).flags & FG_PKT_MALFORMED);
	/* nine destination-options headers: the chain bound */
	struct frame g;
	memset(&g, 0, sizeof(g));
	memcpy(g.b, f.b, 14 + 40);
	uint8_t *gi = g.b + 14;
	gi[6] = 60;
	for (int i = 0; i < 9; i++) {
		uint8_t *x = gi + 40 + 8 * i;
		x[0] = i == 8 ? 59 : 60;
	}
	gi[4] = 0, gi[5] = 72;
	g.len = 14 + 40 + 72;
	CHECK(parse(&g).flags & FG_PKT_MALFORMED);
	gi[5] = 64; /* eight are fine: the ninth's next header is "no next header" */
	g.len = 14 + 40 + 64;
	gi[40 + 8 * 7] = 59;
	p = parse(&g);
	CHECK(!(p.flags & FG_PKT_MALFORMED) && p.proto == 59);
}

static void test_dns(void)
{
	struct frame f;
	struct pkt_spec s = {.sport = 1000, .dport = 53, .qname = "a.b", .qtype = 1};
	build_frame(&f, &s);
	uint8_t *dns = f.b + 14 + 20 + 8;
	CHECK(parse(&f).flags & FG_PKT_DNSOK);
	/* QR=1 (a response), opcode 2 (STATUS), QDCOUNT 2: a question but not a valid query */
	dns[2] = 0x80;
	CHECK((parse(&f).flags & (FG_PKT_DNSQ | FG_PKT_DNSOK)) == FG_PKT_DNSQ);
	dns[2] = 0x10;
	CHECK((parse(&f).flags & (FG_PKT_DNSQ | FG_PKT_DNSOK)) == FG_PKT_DNSQ);
	dns[2] = 0, dns[5] = 2;
	CHECK((parse(&f).flags & (FG_PKT_DNSQ | FG_PKT_DNSOK)) == FG_PKT_DNSQ);
	dns[5] = 0; /* QDCOUNT 0: no question */
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ));
	dns[5] = 1;
	/* a compression pointer in the question */
	dns[12] = 0xC0;
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ) && !(parse(&f).flags & FG_PKT_MALFORMED));
	dns[12] = 0x41; /* reserved label type 01 */
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ));
	/* the root name is a valid question */
	struct pkt_spec r = {.sport = 1, .dport = 53, .qname = "", .qtype = 2};
	build_frame(&f, &r);
	struct fg_pkt p = parse(&f);
	CHECK((p.flags & FG_PKT_DNSOK) && p.qname_len == 1 && p.nlabels == 0 && p.qtype == 2);
	/* names: 63-byte labels fine, 255 wire bytes fine, 256 not; QTYPE cut off */
	char name[400];
	memset(name, 'a', 63);
	name[63] = '\0';
	struct pkt_spec l = {.sport = 1, .dport = 53, .qname = name, .qtype = 1};
	build_frame(&f, &l);
	CHECK(parse(&f).flags & FG_PKT_DNSOK);
	/* 4 labels of 63 = 256 wire bytes with the root: too long; 3x63 + 61 = 254 + root = 255 fine */
	char l63[64];
	memcpy(l63, name, 64);
	snprintf(name, sizeof(name), "%.63s.%.63s.%.63s.%.61s", l63, l63, l63, l63);
	build_frame(&f, &l);
	p = parse(&f);
	CHECK((p.flags & FG_PKT_DNSOK) && p.qname_len == 255);
	char longer[420];
	snprintf(longer, sizeof(longer), "%.300s.b", name);
	l.qname = longer;
	build_frame(&f, &l);
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ));
	l.qname = "a.b";
	build_frame(&f, &l);
	f.b[14 + 3] -= 2; /* IP and UDP lengths 2 shorter: QCLASS cut */
	f.b[14 + 20 + 5] -= 2;
	f.len -= 2;
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ)); /* QTYPE and QCLASS must both be there */
	/* a label length running past the payload */
	build_frame(&f, &l);
	f.b[14 + 20 + 8 + 12] = 60;
	CHECK(!(parse(&f).flags & FG_PKT_DNSQ) && !(parse(&f).flags & FG_PKT_MALFORMED));
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_prefix_sets(void)
{
	struct fg_prefix_list l = {0};
	char err[200];
	struct fg_prefix p;
	CHECK(fg_prefix_parse("10.0.0.1/8", 10, &p, err, sizeof(err)) == -1 && strstr(err, "did you mean 10.0.0.0/8"));
	CHECK(fg_prefix_parse("2001:db8::1/32", 14, &p, err, sizeof(err)) == -1 && strstr(err, "2001:db8::/32"));
	CHECK(fg_prefix_parse("10.0.0.0/33", 11, &p, err, sizeof(err)) == -1);
	CHECK(fg_prefix_parse("::/129", 6, &p, err, sizeof(err)) == -1 && strstr(err, "0-128"));
	CHECK(fg_prefix_parse("010.1.1.1", 9, &p, err, sizeof(err)) == -1);
	CHECK(fg_prefix_parse("1.2.3", 5, &p, err, sizeof(err)) == -1);
	CHECK(fg_prefix_parse("1.2.3.4/", 8, &p, err, sizeof(err)) == -1);
	CHECK(fg_prefix_parse("0.0.0.0/0", 9, &p, err, sizeof(err)) == 0 && p.len == 0);
	/* random overlapping prefixes, checked against a linear scan */
	for (int i = 0; i < 3000; i++) {
		struct fg_prefix q = {0};
		q.family = (rnd() % 4) ? 4 : 6;
		if (q.family == 4) {
			q.len = (uint8_t)(20 + rnd() % 13);
			uint32_t a = 0x0A000000u | ((uint32_t)rnd() & 0x000FFFFFu);
			q.lo = q.len == 32 ? a : a & ~(0xFFFFFFFFu >> q.len);
		} else {
			q.len = (uint8_t)(52 + rnd() % 77);
			q.hi = 0x20010db800000000ull | (rnd() & 0xFFFFull);
			q.lo = rnd();
			unsigned __int128 v = ((unsigned __int128)q.hi << 64) | q.lo;
			unsigned __int128 host = q.len == 128 ? 0 : (~(unsigned __int128)0) >> q.len;
			v &= ~host;
			q.hi = (uint64_t)(v >> 64);
			q.lo = (uint64_t)v;
		}
		fg_prefix_list_add(&l, &q);
	}
	struct fg_prefix_set *st = fg_prefix_set_build(&l);
	CHECK(st != NULL);
	int mism = 0, hits = 0, misses = 0;
	for (int i = 0; i < 20000; i++) {
		int v6 = rnd() % 2;
		uint32_t a4 = 0x0A000000u | ((uint32_t)rnd() & 0x001FFFFFu);
		uint64_t hi = 0x20010db800000000ull | (rnd() & 0x1FFFFull), lo = rnd();
		if (rnd() % 2) { /* right at, inside or next to a listed prefix's edges */
			const struct fg_prefix *q = &l.v[rnd() % l.n];
			if (q->family == 4 && !v6)
				a4 = (uint32_t)q->lo + (uint32_t)(rnd() % 3) - 1;
			if (q->family == 6 && v6) {
				hi = q->hi;
				lo = q->lo + rnd() % 3 - 1;
			}
		}
		int want = 0;
		for (size_t k = 0; k < l.n && !want; k++) {
			const struct fg_prefix *q = &l.v[k];
			if (!v6 && q->family == 4) {
				uint32_t m = q->len ? 0xFFFFFFFFu << (32 - q->len) : 0;
				want = (a4 & m) == (uint32_t)q->lo;
			} else if (v6 && q->family == 6) {
				unsigned __int128 a = ((unsigned __int128)hi << 64) | lo;
				unsigned __int128 m = q->len ? (~(unsigned __int128)0) << (128 - q->len) : 0;
				want = (a & m) == (((unsigned __int128)q->hi << 64) | q->lo);
			}
		}
		int got = v6 ? fg_prefix_set_has6(st, hi, lo) : fg_prefix_set_has4(st, a4);
		mism += got != want;
		hits += want;
		misses += !want;
	}
	CHECK(mism == 0);
	CHECK(hits > 1000 && misses > 1000);
	fg_prefix_set_free(st);
	fg_prefix_list_free(&l);
	/* empty set, and /0 */
	struct fg_prefix_set *e = fg_prefix_set_build(&l);
	CHECK(!fg_prefix_set_has4(e, 1) && !fg_prefix_set_has6(e, 1, 1));
	fg_prefix_set_free(e);
	fg_prefix_parse("0.0.0.0/0", 9, &p, err, sizeof(err));
	fg_prefix_list_add(&l, &p);
	fg_prefix_parse("::/0", 4, &p, err, sizeof(err));
	fg_prefix_list_add(&l, &p);
	e = fg_prefix_set_build(&l);
	CHECK(fg_prefix_set_has4(e, 0xFFFFFFFF) && fg_prefix_set_has4(e, 0) && fg_prefix_set_has6(e, ~0ull, ~0ull));
	fg_prefix_set_free(e);
	fg_prefix_list_free(&l);
}

/* fg_pkt_parse_fast: accepts the plain untagged IPv4/UDP frame and nothing that needs the general parser, and
 * for what it accepts gives every field the rules read exactly as fg_pkt_parse does (also after random byte
 * flips and every truncation, so that lengths one off either way are covered). */
static int same_facts(const struct fg_pkt *a, const struct fg_pkt *b)
{
	if (a->flags != b->flags || a->proto != b->proto || a->src4 != b->src4 || a->sport != b->sport ||
	    a->dport != b->dport || a->qtype != b->qtype)
		return 0;
	if (!(a->flags & FG_PKT_DNSQ))
		return 1;
	return a->qname == b->qname && a->qname_len == b->qname_len && a->nlabels == b->nlabels &&
	       memcmp(a->label_off, b->label_off, a->nlabels) == 0;
}

static void test_fast_parse(void)
{
	struct frame f;
	struct fg_pkt a = {0}, b = {0}; /* zeroed: the compiler cannot tell that a rejected frame leaves a unread */
	struct pkt_spec s = {.sport = 1000, .dport = 53, .qname = "www.example.com", .qtype = 28};
	build_frame(&f, &s);
	CHECK(fg_pkt_parse_fast(f.b, f.len, 1, &a) == 1);
	fg_pkt_parse(f.b, f.len, 1, &b);
	CHECK(same_facts(&a, &b) && (a.flags & FG_PKT_DNSOK));
	CHECK(fg_pkt_parse_fast(f.b, f.len, 0, &a) == 1 && !(a.flags & FG_PKT_DNSQ));
	/* what the general parser must see: a VLAN tag, IPv6, options, fragments (first or not), TCP */
	struct pkt_spec others[] = {
		{.vlans = 1, .qname = "a.example"}, {.v6 = 1, .src = "2001:db8::1", .qname = "a.example"},
		{.ip_opts = 4, .qname = "a.example"}, {.frag = 0x2000, .qname = "a.example"},
		{.frag = 0x0010, .qname = "a.example"}, {.proto = 6, .dport = 53},
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		build_frame(&f, &others[i]);
		CHECK(fg_pkt_parse_fast(f.b, f.len, 1, &a) == 0);
	}
	s.frag = 0x4000; /* DF alone is no fragment */
	build_frame(&f, &s);
	CHECK(fg_pkt_parse_fast(f.b, f.len, 1, &a) == 1);
	s.frag = 0;
	/* random flips of the header and question bytes, each at every length */
	uint64_t x = 0x243F6A8885A308D3ull;
	uint32_t accepted = 0, agreed = 0;
	for (int round = 0; round < 3000; round++) {
		build_frame(&f, &s);
		for (int k = 0; k < 2; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			f.b[12 + (x >> 8) % (f.len - 12)] = (uint8_t)x;
		}
		for (uint32_t n = round % 50 ? f.len : 0; n <= f.len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			memcpy(copy, f.b, n);
			if (fg_pkt_parse_fast(copy, n, 1, &a)) {
				accepted++;
				fg_pkt_parse(copy, n, 1, &b);
				agreed += same_facts(&a, &b);
			}
			free(copy);
		}
	}
	CHECK(accepted > 1000 && agreed == accepted);
}

/* The fast path's shape test: the SIMD compare (when built with it) and the scalar fallback agree on every
 * single-byte change of each of the 16 bytes and on random headers biased toward the accepted shape, and
 * both accept exactly the fields they name (EtherType 0x0800, 0x45, no MF/offset with DF free, UDP). */
static void test_fast_shape(void)
{
	uint8_t f[64] = {0};
	f[12] = 0x08, f[14] = 0x45, f[23] = 17;
	CHECK(fg_fast_shape(f) && fg_fast_shape_scalar(f));
	uint32_t disagree = 0, accepted = 0;
	for (int pos = 12; pos < 28; pos++)
		for (int v = 0; v < 256; v++) {
			uint8_t g[64];
			memcpy(g, f, sizeof(g));
			g[pos] = (uint8_t)v;
			int a = fg_fast_shape(g), b = fg_fast_shape_scalar(g);
			disagree += a != b;
			accepted += (uint32_t)a;
			/* which single-byte changes keep the shape: any byte outside the named fields, the flag
			 * bits of byte 20 other than MF (DF, and the reserved bit, which fg_pkt_parse ignores too)
			 * and the value itself */
			int want = (pos == 12) ? v == 0x08
				   : (pos == 13) ? v == 0
				   : (pos == 14) ? v == 0x45
				   : (pos == 20) ? (v & 0x3F) == 0
				   : (pos == 21) ? v == 0
				   : (pos == 23) ? v == 17
						 : 1;
			disagree += a != want;
		}
	CHECK(disagree == 0 && accepted > 2000);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 200000; i++) {
		uint8_t g[64];
		memcpy(g, f, sizeof(g));
		for (int k = 0; k < 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			g[12 + (x >> 8) % 16] ^= (uint8_t)(1u << (x % 8));
		}
		disagree += fg_fast_shape(g) != fg_fast_shape_scalar(g);
	}
	CHECK(disagree == 0);
}

void test_parse(void)
{
	test_fast_shape();
	test_fast_parse();
	test_l2_l3();
	test_fragments();
	test_ipv6();
	test_dns();
	test_prefix_sets();
}
