/* Minimal test harness for the engine's C unit tests (run plain and under ASan+UBSan). */
#ifndef FG_TESTS_H
#define FG_TESTS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int t_run, t_failed;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		t_run++;                                                                     \
		if (!(cond)) {                                                               \
			t_failed++;                                                          \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				__func__, #cond);                                            \
		}                                                                            \
	} while (0)

/* Frame builder: Ethernet (optional VLAN tags) / IPv4 or IPv6 / UDP / DNS query. */
struct frame {
	uint8_t b[2048];
	uint32_t len;
};

struct pkt_spec {
	int v6;
	int vlans;           /* 0, 1 or 2 tags */
	const char *src;     /* dotted or IPv6 text */
	uint8_t proto;       /* 17 UDP (default when 0), 6 TCP, other: raw payload */
	uint16_t sport, dport;
	const char *qname;   /* NULL: no DNS payload */
	uint16_t qtype;
	uint8_t dns_flags_hi; /* byte 2 of the DNS header (QR, opcode, AA, TC, RD) */
	uint16_t qdcount;
	uint16_t frag;       /* IPv4 flags+offset field */
	int ip_opts;         /* IPv4 option bytes (multiple of 4) */
};

void build_frame(struct frame *f, const struct pkt_spec *s);

void test_parse(void);
void test_rules(void);
void test_engine(void);

#endif
