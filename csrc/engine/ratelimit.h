/* Per-source rate limit: GCRA (a token bucket in integer nanoseconds) over a bounded, 4-way set-associative
 * table of 16-byte entries (a 64-byte cache line per set: its four keys, then their four TATs, so that one
 * 256-bit compare finds a key). A new source takes an empty slot of its set, else evicts the entry with the
 * smallest theoretical arrival time — the fullest bucket; an entry whose TAT is in the past is the same as no
 * entry, so most evictions lose nothing. Memory never grows after creation. */
#ifndef FG_RATELIMIT_H
#define FG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define FG_RL_WAYS 4

struct fg_rl_set {
	uint64_t key[FG_RL_WAYS]; /* 0 = empty */
	uint64_t tat[FG_RL_WAYS]; /* theoretical arrival time, ns */
} __attribute__((aligned(64)));

struct fg_rl {
	struct fg_rl_set *t; /* nsets sets, 64-byte aligned */
	uint64_t nsets;
	unsigned shift;    /* 64 - log2(nsets) */
	unsigned shift1;   /* shift - 1: the set is (hash >> 1) >> shift1, no branch for shift 64 (one set) */
	uint64_t interval; /* ns per packet: floor(1e9 / rate) */
	uint64_t tau;      /* (burst - 1) * interval */
	uint64_t evictions;
};

/* entries: rounded up to a power of two >= 4. 0, or -1 when out of memory. fg_rl_params + fg_rl_alloc. */
int fg_rl_init(struct fg_rl *rl, uint64_t entries, uint64_t rate, uint64_t burst);
/* The table's size and the limit's constants, no table (t NULL): 0, or -1 for a table over 2^35 entries. */
int fg_rl_params(struct fg_rl *rl, uint64_t entries, uint64_t rate, uint64_t burst);
/* The empty table for the size fg_rl_params set: 0, or -1 when out of memory. */
int fg_rl_alloc(struct fg_rl *rl);
void fg_rl_free(struct fg_rl *rl);

/* The key of a source: an IPv4 address, or an IPv6 /64 (never 0: 0 marks an empty way). An IPv4 key's upper
 * half is all ones, and the IPv6 /64s that would read the same (ffff:ffff::/32, multicast, never a valid
 * source) are moved to ffff:fffe::/32, also multicast: so no IPv6 source, however spoofed, charges an IPv4
 * source's bucket. ::/64 (no valid source either) shares 0:0:0:1::/64's key. */
static inline __attribute__((always_inline)) uint64_t fg_rl_key4(uint32_t a)
{
	return 0xFFFFFFFF00000000ull | a;
}

static inline uint64_t fg_rl_key6(uint64_t hi)
{
	hi ^= (uint64_t)((hi >> 32) == 0xFFFFFFFFu) << 32;
	return hi ? hi : 1;
}

/* murmur3's 64-bit finalizer (fmix64) as far as a set index needs it: the index is the hash's top
 * log2(nsets) <= 22 bits (tables hold at most 2^24 entries), and fmix64's last step, k ^= k >> 33, changes only
 * bits 30..0, so it is left out: the same sets as the full finalizer (which the Python model computes). Spreads
 * structured keys (sources in a few /16s) over all sets. */
#define FG_RL_C1 0xff51afd7ed558ccdull
#define FG_RL_C2 0xc4ceb9fe1a85ec53ull
static inline __attribute__((always_inline)) uint64_t fg_rl_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= FG_RL_C1;
	k ^= k >> 33;
	k *= FG_RL_C2;
	return k;
}

/* fg_rl_hash(fg_rl_key4(a)) in fewer steps: the key's upper half is all ones, so its first xor-shift is the
 * xor of a constant (0x7FFFFFFF into the lower half) and the key and that step are one xor */
static inline __attribute__((always_inline)) uint64_t fg_rl_hash4(uint32_t a)
{
	uint64_t k = (uint64_t)a ^ 0xFFFFFFFF7FFFFFFFull;
	k *= FG_RL_C1;
	k ^= k >> 33;
	k *= FG_RL_C2;
	return k;
}

static inline __attribute__((always_inline)) struct fg_rl_set *fg_rl_set_of(const struct fg_rl *rl, uint64_t hash)
{
	return rl->t + ((hash >> 1) >> rl->shift1);
}

/* The way of set s that holds key, or -1 (keys are unique within a set: a key is inserted only when absent).
 * The burst loop's AVX2 copy compares the four keys at once instead (engine_cols.h, rl_way). */
static inline __attribute__((always_inline)) int fg_rl_way(const struct fg_rl_set *s, uint64_t key)
{
	for (int i = 0; i < FG_RL_WAYS; i++)
		if (s->key[i] == key)
			return i;
	return -1;
}

/* Charge one packet of key to set s, whose way w holds key (-1: none; a new source takes an empty slot, else
 * evicts the smallest TAT, the first of equals). 1 when the packet conforms (and is charged), 0 when the
 * source is over its rate. */
static inline __attribute__((always_inline)) int fg_rl_charge(struct fg_rl *rl, struct fg_rl_set *s, int w,
							      uint64_t key, uint64_t now)
{
	if (w < 0) {
		w = 0;
		for (int i = 0; i < FG_RL_WAYS; i++) {
			if (s->key[i] == 0) {
				w = i;
				break;
			}
			if (s->tat[i] < s->tat[w])
				w = i;
		}
		if (s->key[w])
			rl->evictions++;
		s->key[w] = key;
		s->tat[w] = now;
	}
	uint64_t tat = s->tat[w] > now ? s->tat[w] : now;
	if (tat - now > rl->tau)
		return 0;
	s->tat[w] = tat + rl->interval;
	return 1;
}

/* 1 when the packet conforms (and is charged), 0 when the source is over its rate. */
static inline __attribute__((always_inline)) int fg_rl_conform(struct fg_rl *rl, uint64_t key, uint64_t hash, uint64_t now)
{
	struct fg_rl_set *s = fg_rl_set_of(rl, hash);
	return fg_rl_charge(rl, s, fg_rl_way(s, key), key, now);
}

#endif
