/* See prefix_set.h. */
#define _GNU_SOURCE
#include "prefix_set.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

int fg_prefix_list_add(struct fg_prefix_list *l, const struct fg_prefix *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fg_prefix *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *p;
	return 0;
}

void fg_prefix_list_free(struct fg_prefix_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int fg_prefix_parse(const char *s, size_t n, struct fg_prefix *out, char *err, size_t errlen)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "bad prefix '%.*s': expected ADDR or ADDR/LEN", (int)(n < 64 ? n : 64), s);
		return -1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *slash = strchr(buf, '/');
	long len = -1;
	if (slash) {
		*slash = '\0';
		const char *d = slash + 1;
		if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d)) {
			snprintf(err, errlen, "bad prefix '%.*s': prefix length must be a number", (int)n, s);
			return -1;
		}
		len = strtol(d, NULL, 10);
	}
	uint8_t a[16];
	memset(out, 0, sizeof(*out));
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, a) != 1) {
			snprintf(err, errlen, "bad prefix '%.*s': not an IPv6 address", (int)n, s);
			return -1;
		}
		if (len > 128) {
			snprintf(err, errlen, "bad prefix '%.*s': prefix length must be 0-128", (int)n, s);
			return -1;
		}
		out->family = 6;
		out->len = (uint8_t)(len < 0 ? 128 : len);
		for (int i = 0; i < 8; i++) {
			out->hi = (out->hi << 8) | a[i];
			out->lo = (out->lo << 8) | a[8 + i];
		}
		u128 v = ((u128)out->hi << 64) | out->lo;
		u128 host = out->len == 128 ? 0 : (~(u128)0) >> out->len;
		if (v & host) {
			v &= ~host;
			char nb[INET6_ADDRSTRLEN];
			uint8_t m[16];
			for (int i = 0; i < 16; i++)
				m[i] = (uint8_t)(v >> (8 * (15 - i)));
			inet_ntop(AF_INET6, m, nb, sizeof(nb));
			snprintf(err, errlen, "bad prefix '%.*s': host bits set (did you mean %s/%u?)", (int)n, s, nb,
				 out->len);
			return -1;
		}
	} else {
		/* inet_pton(AF_INET) takes only dotted quads: no octal or short forms that would surprise */
		if (inet_pton(AF_INET, buf, a) != 1) {
			snprintf(err, errlen, "bad prefix '%.*s': not an IPv4 address", (int)n, s);
			return -1;
		}
		if (len > 32) {
			snprintf(err, errlen, "bad prefix '%.*s': prefix length must be 0-32", (int)n, s);
			return -1;
		}
		out->family = 4;
		out->len = (uint8_t)(len < 0 ? 32 : len);
		uint32_t v = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
		uint32_t host = out->len == 32 ? 0 : 0xFFFFFFFFu >> out->len;
		if (v & host) {
			v &= ~host;
			snprintf(err, errlen, "bad prefix '%.*s': host bits set (did you mean %u.%u.%u.%u/%u?)", (int)n,
				 s, v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, out->len);
			return -1;
		}
		out->lo = v;
	}
	return 0;
}

struct ival {
	u128 s, e;
};

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* Sort and merge overlapping or adjacent intervals in place; returns the new count. */
static size_t merge(struct ival *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_ival);
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		if (v[i].s <= v[o].e || (v[o].e != ~(u128)0 && v[i].s == v[o].e + 1)) {
			if (v[i].e > v[o].e)
				v[o].e = v[i].e;
		} else {
			v[++o] = v[i];
		}
	}
	return o + 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* Paint [s, e] (inclusive, within one /16) into /16 block k's chunk and its /24 maps. Intervals arrive
 * sorted, so a chunk's /24 maps are appended in /24 order, which is the order the rank lookup expects. */
static int paint16(struct fg_prefix_set *st, size_t *cap2, size_t *cap3, uint64_t s, uint64_t e)
{
	uint32_t k = (uint32_t)(s >> 16);
	if (st->l1[k] == 0) {
		if (grow((void **)&st->l2, cap2, st->n_l2 + 1, sizeof(struct fg_v4_chunk)))
			return -1;
		size_t cap_b = *cap2;
		uint32_t *nb = realloc(st->l3_base, cap_b * sizeof(uint32_t));
		if (!nb)
			return -1;
		st->l3_base = nb;
		memset(&st->l2[st->n_l2], 0, sizeof(struct fg_v4_chunk));
		st->l3_base[st->n_l2] = (uint32_t)st->n_l3;
		st->l1[k] = (uint32_t)(st->n_l2++ + 2);
	}
	struct fg_v4_chunk *c = &st->l2[st->l1[k] - 2];
	while (s <= e) {
		uint32_t j = (uint32_t)((s >> 8) & 0xFF);
		uint64_t blk_end = s | 0xFF;
		if ((s & 0xFF) == 0 && e >= blk_end) {
			c->full[j >> 6] |= 1ull << (j & 63);
			s = blk_end + 1;
			continue;
		}
		if (!((c->part[j >> 6] >> (j & 63)) & 1)) {
			if (grow((void **)&st->l3, cap3, (st->n_l3 + 1) * 4, sizeof(uint64_t)))
				return -1;
			memset(st->l3 + st->n_l3 * 4, 0, 4 * sizeof(uint64_t));
			c->part[j >> 6] |= 1ull << (j & 63);
			st->n_l3++;
		}
		/* this /24's map is the last one appended (sorted input) */
		uint64_t *bm = st->l3 + (st->n_l3 - 1) * 4;
		uint64_t stop = e < blk_end ? e : blk_end;
		for (uint64_t a = s; a <= stop; a++)
			bm[(a & 0xFF) >> 6] |= 1ull << (a & 63);
		s = stop + 1;
	}
	return 0;
}

struct fg_prefix_set *fg_prefix_set_build(const struct fg_prefix_list *l)
{
	struct fg_prefix_set *st = calloc(1, sizeof(*st));
	struct ival *v4 = malloc((l->n + 1) * sizeof(*v4));
	struct ival *v6 = malloc((l->n + 1) * sizeof(*v6));
	if (!st || !v4 || !v6)
		goto fail;
	st->l1 = calloc(65536, sizeof(uint32_t));
	st->w = calloc(1024, sizeof(*st->w));
	if (!st->l1 || !st->w)
		goto fail;
	size_t n4 = 0, n6 = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct fg_prefix *p = &l->v[i];
		if (p->family == 4) {
			uint64_t span = 1ull << (32 - p->len);
			v4[n4].s = p->lo;
			v4[n4].e = p->lo + span - 1;
			n4++;
		} else {
			u128 a = ((u128)p->hi << 64) | p->lo;
			u128 host = p->len == 0 ? ~(u128)0 : (p->len == 128 ? 0 : (~(u128)0) >> p->len);
			v6[n6].s = a;
			v6[n6].e = a | host;
			n6++;
		}
	}
	n4 = merge(v4, n4);
	n6 = merge(v6, n6);
	size_t cap2 = 0, cap3 = 0;
	for (size_t i = 0; i < n4; i++) {
		uint64_t s = (uint64_t)v4[i].s, e = (uint64_t)v4[i].e;
		while (s <= e) {
			uint64_t blk_end = s | 0xFFFF;
			if ((s & 0xFFFF) == 0 && e >= blk_end) {
				st->l1[s >> 16] = 1;
				s = blk_end + 1;
				continue;
			}
			uint64_t stop = e < blk_end ? e : blk_end;
			if (paint16(st, &cap2, &cap3, s, stop))
				goto fail;
			s = stop + 1;
		}
	}
	/* chunks were created in address order (sorted intervals), so a /16's chunk is its rank among the
	 * partly covered /16s */
	uint32_t chunks = 0;
	for (uint32_t k = 0; k < 65536; k++) {
		struct fg_v4_word *w = &st->w[k >> 6];
		if ((k & 63) == 0)
			w->base = chunks;
		if (st->l1[k] == 1)
			w->full |= 1ull << (k & 63);
		else if (st->l1[k] >= 2) {
			w->part |= 1ull << (k & 63);
			if (st->l1[k] - 2 != chunks++)
				goto fail; /* cannot happen with sorted input; refuse rather than answer wrong */
		}
	}
	free(st->l1);
	st->l1 = NULL;
	st->n_v6 = n6;
	st->v6_start = malloc((n6 + 1) * sizeof(u128));
	st->v6_end = malloc((n6 + 1) * sizeof(u128));
	if (!st->v6_start || !st->v6_end)
		goto fail;
	for (size_t i = 0; i < n6; i++) {
		st->v6_start[i] = v6[i].s;
		st->v6_end[i] = v6[i].e;
	}
	free(v4);
	free(v6);
	return st;
fail:
	free(v4);
	free(v6);
	fg_prefix_set_free(st);
	return NULL;
}

void fg_prefix_set_free(struct fg_prefix_set *s)
{
	if (!s)
		return;
	free(s->w);
	free(s->l1);
	free(s->l2);
	free(s->l3_base);
	free(s->l3);
	free(s->v6_start);
	free(s->v6_end);
	free(s);
}
