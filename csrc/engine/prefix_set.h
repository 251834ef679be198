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

/* IPv4 levels: per 64 /16s one 24-byte word of two bitmaps ("/16 fully covered", "/16 partly covered") and
 * the index of the first partly covered /16's chunk (1024 words, 24 KiB: cache-resident, and most flood
 * sources end here); per partly covered /16 a 64-byte chunk of two 256-bit maps over its /24s, found by rank;
 * per partly covered /24 a 256-bit map of its addresses, found by rank. At most 3 reads, whatever the size. */
struct fg_v4_word {
	uint64_t full;
	uint64_t part;
	uint32_t base; /* chunk index of the first partly covered /16 in this word */
	uint32_t pad;
};

struct fg_v4_chunk {
	uint64_t full[4];
	uint64_t part[4];
};

struct fg_prefix_set {
	struct fg_v4_word *w; /* 1024 words */
	struct fg_v4_chunk *l2;
	uint32_t *l3_base; /* per chunk: index of its first /24 bitmap in l3 */
	uint64_t *l3;      /* 256-bit maps (4 words) */
	size_t n_l2, n_l3;
	uint32_t *l1; /* build time only: 65536 entries, 1 all covered, v >= 2: chunk v - 2 */
	unsigned __int128 *v6_start, *v6_end; /* disjoint, sorted, inclusive */
	size_t n_v6;
};

static inline uint32_t fg_rank256(const uint64_t *m, uint32_t j)
{
	uint32_t w = j >> 6, r = (uint32_t)__builtin_popcountll(m[w] & ((1ull << (j & 63)) - 1));
	for (uint32_t i = 0; i < w; i++)
		r += (uint32_t)__builtin_popcountll(m[i]);
	return r;
}

static inline __attribute__((always_inline)) int fg_prefix_set_has4(const struct fg_prefix_set *s, uint32_t a)
{
	uint32_t k = a >> 16;
	const struct fg_v4_word *w = &s->w[k >> 6];
	uint64_t bit = 1ull << (k & 63);
	if (w->full & bit)
		return 1;
	if (!(w->part & bit))
		return 0;
	uint32_t ci = w->base + (uint32_t)__builtin_popcountll(w->part & (bit - 1));
	const struct fg_v4_chunk *c = &s->l2[ci];
	uint32_t j = (a >> 8) & 0xFF;
	uint64_t jb = 1ull << (j & 63);
	if (c->full[j >> 6] & jb)
		return 1;
	if (!(c->part[j >> 6] & jb))
		return 0;
	const uint64_t *bm = s->l3 + (size_t)(s->l3_base[ci] + fg_rank256(c->part, j)) * 4;
	return (int)((bm[(a & 0xFF) >> 6] >> (a & 63)) & 1);
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
