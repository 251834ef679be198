/* A set of IPv4 and IPv6 prefixes answering "is this address inside any of them" in a bounded number of
 * memory reads, whatever the number of prefixes (tens of thousands and more):
 * - IPv4: DIR-16-8-8 — a 65536-entry first level indexed by the top 16 bits, 256-entry second-level chunks
 *   for /16s that are partly covered, and 256-bit bitmaps for /24s that are partly covered: 1-3 reads.
 * - IPv6: the prefixes merged into disjoint sorted intervals, binary search (about 2*log2(n) reads).
 * Built once from a list at compile time; read-only afterwards. */
#ifndef FG_PREFIX_SET_H
#define FG_PREFIX_SET_H

#include <stddef.h>
#include <stdint.h>

struct fg_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint64_t hi, lo; /* IPv4: address in lo (host order); IPv6: two host-order halves */
};

struct fg_prefix_list {
	struct fg_prefix *v;
	size_t n, cap;
};

int fg_prefix_list_add(struct fg_prefix_list *l, const struct fg_prefix *p); /* 0, or -1 out of memory */
void fg_prefix_list_free(struct fg_prefix_list *l);

/* Parse "ADDR" or "ADDR/LEN" (IPv4 or IPv6). 0 on success; else -1 and a reason in err. */
int fg_prefix_parse(const char *s, size_t n, struct fg_prefix *out, char *err, size_t errlen);

struct fg_prefix_set;

struct fg_prefix_set *fg_prefix_set_build(const struct fg_prefix_list *l); /* NULL when out of memory */
void fg_prefix_set_free(struct fg_prefix_set *s);

struct fg_prefix_set {
	uint32_t *l1;   /* 65536 entries: 0 none, 1 all, v >= 2: second-level chunk v - 2 */
	uint32_t *l2;   /* chunks of 256 entries: 0 none, 1 all, v >= 2: bitmap v - 2 */
	uint64_t *l3;   /* bitmaps of 256 bits (4 words) */
	size_t n_l2, n_l3;
	unsigned __int128 *v6_start, *v6_end; /* disjoint, sorted, inclusive */
	size_t n_v6;
};

static inline int fg_prefix_set_has4(const struct fg_prefix_set *s, uint32_t a)
{
	uint32_t v = s->l1[a >> 16];
	if (v < 2)
		return (int)v;
	v = s->l2[(size_t)(v - 2) * 256 + ((a >> 8) & 0xFF)];
	if (v < 2)
		return (int)v;
	return (int)((s->l3[(size_t)(v - 2) * 4 + ((a & 0xFF) >> 6)] >> (a & 63)) & 1);
}

static inline int fg_prefix_set_has6(const struct fg_prefix_set *s, uint64_t hi, uint64_t lo)
{
	unsigned __int128 a = ((unsigned __int128)hi << 64) | lo;
	size_t lo_i = 0, n = s->n_v6;
	/* branch-light lower bound: the last interval whose start <= a */
	while (n > 1) {
		size_t half = n / 2;
		if (s->v6_start[lo_i + half] <= a)
			lo_i += half;
		n -= half;
	}
	return s->n_v6 && s->v6_start[lo_i] <= a && a <= s->v6_end[lo_i];
}

#endif
