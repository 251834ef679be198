/* Runs every suite; exit status 1 when any check failed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdlib.h>

#include "tests.h"

int t_run, t_failed;

void build_frame(struct frame *f, const struct pkt_spec *s)
{
	memset(f, 0, sizeof(*f));
	uint8_t *p = f->b;
	uint32_t off = 12;
	for (int i = 0; i < s->vlans; i++) {
		p[off] = i == 0 && s->vlans == 2 ? 0x88 : 0x81;
		p[off + 1] = i == 0 && s->vlans == 2 ? 0xA8 : 0x00;
		p[off + 3] = 10;
		off += 4;
	}
	p[off] = s->v6 ? 0x86 : 0x08;
	p[off + 1] = s->v6 ? 0xDD : 0x00;
	off += 2;
	uint8_t *ip = p + off;
	uint32_t iph = s->v6 ? 40 : 20 + (uint32_t)s->ip_opts;
	uint8_t *l4 = ip + iph, *pl;
	uint8_t proto = s->proto ? s->proto : 17;
	uint32_t l4len;
	if (proto == 17) {
		pl = l4 + 8;
	} else if (proto == 6) {
		pl = l4 + 20;
		l4[12] = 5 << 4;
	} else {
		pl = l4;
	}
	uint32_t plen = 0;
	if (s->qname) {
		pl[2] = s->dns_flags_hi;
		uint16_t qd = s->qdcount ? s->qdcount : 1;
		pl[4] = (uint8_t)(qd >> 8);
		pl[5] = (uint8_t)qd;
		uint8_t *q = pl + 12;
		const char *n = s->qname;
		while (*n) {
			const char *dot = strchr(n, '.');
			size_t l = dot ? (size_t)(dot - n) : strlen(n);
			*q++ = (uint8_t)l;
			memcpy(q, n, l);
			q += l;
			n += l + (dot ? 1 : 0);
		}
		*q++ = 0;
		*q++ = (uint8_t)(s->qtype >> 8);
		*q++ = (uint8_t)s->qtype;
		*q++ = 0;
		*q++ = 1;
		plen = (uint32_t)(q - pl);
	}
	if (proto == 17) {
		l4len = 8 + plen;
		l4[0] = (uint8_t)(s->sport >> 8), l4[1] = (uint8_t)s->sport;
		l4[2] = (uint8_t)(s->dport >> 8), l4[3] = (uint8_t)s->dport;
		l4[4] = (uint8_t)(l4len >> 8), l4[5] = (uint8_t)l4len;
	} else if (proto == 6) {
		l4len = 20 + plen;
		l4[0] = (uint8_t)(s->sport >> 8), l4[1] = (uint8_t)s->sport;
		l4[2] = (uint8_t)(s->dport >> 8), l4[3] = (uint8_t)s->dport;
	} else {
		l4len = plen;
	}
	if (s->v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(l4len >> 8), ip[5] = (uint8_t)l4len;
		ip[6] = proto;
		ip[7] = 64;
		inet_pton(AF_INET6, s->src ? s->src : "2001:db8::1", ip + 8);
		inet_pton(AF_INET6, "2001:db8::53", ip + 24);
	} else {
		uint32_t tot = iph + l4len;
		ip[0] = (uint8_t)(0x40 | (iph / 4));
		ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
		ip[6] = (uint8_t)(s->frag >> 8), ip[7] = (uint8_t)s->frag;
		ip[8] = 64;
		ip[9] = proto;
		inet_pton(AF_INET, s->src ? s->src : "192.0.2.1", ip + 12);
		inet_pton(AF_INET, "192.0.2.53", ip + 16);
	}
	f->len = off + iph + l4len;
}

int main(void)
{
	test_parse();
	test_rules();
	test_engine();
	printf("%d checks, %d failed\n", t_run, t_failed);
	return t_failed ? 1 : 0;
}
