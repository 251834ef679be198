/* The rule-by-rule path of engine.c and its burst loop, included there once per instruction set: FG_ISA(name)
 * names this copy's functions, FG_ISA_ATTR gives their target attribute. Not a header of its own. */

/* The frames of m that meet the checks selected by the constants S(ource), D(port), X (one suffix) and
 * Q(type); the others are cleared. Every frame of the burst is tested, in or out of m (a loop of fixed
 * length, no bit scan; what a frame out of m reads is valid: the fast parser sets every field, and a
 * frame without a question has qname_len 0, which fails a suffix before its name is read), and all the
 * selected checks are evaluated, with no branch between them. */
#define FG_FILTER(NAME, S, D, X, Q)                                                                        \
	FG_ISA_ATTR static uint64_t FG_ISA(NAME)(const struct fg_frule *f, const struct fg_pkt *pk, uint32_t n,   \
						    uint64_t m)                                                    \
	{                                                                                                  \
		uint8_t ok[FG_BURST_MAX] = {0};                                                            \
		for (uint32_t i = 0; i < n; i++) {                                                         \
			const struct fg_pkt *p = &pk[i];                                                   \
			int o = 1;                                                                         \
			if (S)                                                                             \
				o &= fg_prefix_set_has4(f->src, p->src4);                                  \
			if ((D) == 1)                                                                      \
				o &= fg_bm_test(f->dport_bm, p->dport);                                    \
			if ((D) == 2)                                                                      \
				o &= p->dport == f->dport1;                                                \
			if (Q)                                                                             \
				o &= fg_bm_test(f->qtype_bm, p->qtype);                                    \
			if (X)                                                                             \
				o &= suffix1_fast(f, p, (X) - 1);                                          \
			ok[i] = (uint8_t)o;                                                                \
		}                                                                                          \
		return m & fg_flag_mask(ok, 1);                                                            \
	}
FG_FILTER(filt_0, 0, 0, 0, 0)
FG_FILTER(filt_s, 1, 0, 0, 0)
FG_FILTER(filt_d, 0, 1, 0, 0)
FG_FILTER(filt_sd, 1, 1, 0, 0)
FG_FILTER(filt_x, 0, 0, 1, 0)
FG_FILTER(filt_sx, 1, 0, 1, 0)
FG_FILTER(filt_dx, 0, 1, 1, 0)
FG_FILTER(filt_sdx, 1, 1, 1, 0)
FG_FILTER(filt_q, 0, 0, 0, 1)
FG_FILTER(filt_sq, 1, 0, 0, 1)
FG_FILTER(filt_dq, 0, 1, 0, 1)
FG_FILTER(filt_sdq, 1, 1, 0, 1)
FG_FILTER(filt_xq, 0, 0, 1, 1)
FG_FILTER(filt_sxq, 1, 0, 1, 1)
FG_FILTER(filt_dxq, 0, 1, 1, 1)
FG_FILTER(filt_sdxq, 1, 1, 1, 1)
FG_FILTER(filt_x4, 0, 0, 2, 0)
FG_FILTER(filt_sx4, 1, 0, 2, 0)
FG_FILTER(filt_dx4, 0, 1, 2, 0)
FG_FILTER(filt_sdx4, 1, 1, 2, 0)
FG_FILTER(filt_x4q, 0, 0, 2, 1)
FG_FILTER(filt_sx4q, 1, 0, 2, 1)
FG_FILTER(filt_dx4q, 0, 1, 2, 1)
FG_FILTER(filt_sdx4q, 1, 1, 2, 1)
/* one destination port */
FG_FILTER(filt_d1, 0, 2, 0, 0)
FG_FILTER(filt_sd1, 1, 2, 0, 0)
FG_FILTER(filt_d1x, 0, 2, 1, 0)
FG_FILTER(filt_sd1x, 1, 2, 1, 0)
FG_FILTER(filt_d1q, 0, 2, 0, 1)
FG_FILTER(filt_sd1q, 1, 2, 0, 1)
FG_FILTER(filt_d1xq, 0, 2, 1, 1)
FG_FILTER(filt_sd1xq, 1, 2, 1, 1)
FG_FILTER(filt_d1x4, 0, 2, 2, 0)
FG_FILTER(filt_sd1x4, 1, 2, 2, 0)
FG_FILTER(filt_d1x4q, 0, 2, 2, 1)
FG_FILTER(filt_sd1x4q, 1, 2, 2, 1)
#undef FG_FILTER

/* indexed by filter_index(): S | D << 1 | X << 2 | Q << 3, | 16 for a four-word suffix, | 32 for one
 * destination port (NULL: never) */
static const fg_filter_fn FG_ISA(filters)[64] = {
	FG_ISA(filt_0), FG_ISA(filt_s), FG_ISA(filt_d), FG_ISA(filt_sd),
	FG_ISA(filt_x), FG_ISA(filt_sx), FG_ISA(filt_dx), FG_ISA(filt_sdx),
	FG_ISA(filt_q), FG_ISA(filt_sq), FG_ISA(filt_dq), FG_ISA(filt_sdq),
	FG_ISA(filt_xq), FG_ISA(filt_sxq), FG_ISA(filt_dxq), FG_ISA(filt_sdxq),
	NULL, NULL, NULL, NULL,
	FG_ISA(filt_x4), FG_ISA(filt_sx4), FG_ISA(filt_dx4), FG_ISA(filt_sdx4),
	NULL, NULL, NULL, NULL,
	FG_ISA(filt_x4q), FG_ISA(filt_sx4q), FG_ISA(filt_dx4q), FG_ISA(filt_sdx4q),
	NULL, NULL, FG_ISA(filt_d1), FG_ISA(filt_sd1),
	NULL, NULL, FG_ISA(filt_d1x), FG_ISA(filt_sd1x),
	NULL, NULL, FG_ISA(filt_d1q), FG_ISA(filt_sd1q),
	NULL, NULL, FG_ISA(filt_d1xq), FG_ISA(filt_sd1xq),
	NULL, NULL, NULL, NULL,
	NULL, NULL, FG_ISA(filt_d1x4), FG_ISA(filt_sd1x4),
	NULL, NULL, NULL, NULL,
	NULL, NULL, FG_ISA(filt_d1x4q), FG_ISA(filt_sd1x4q),
};


/* fg_rl_way: in the AVX2 copy, the set's four keys compared at once (one 256-bit compare), so finding the way
 * takes no branch on which way holds the key (a loop's exit at a random way mispredicts most of the time);
 * the baseline copy keeps the loop. */
#if FG_ISA_AVX2
FG_ISA_ATTR static inline __attribute__((always_inline)) int FG_ISA(rl_way)(const struct fg_rl_set *s, uint64_t key)
{
	__m256i eq = _mm256_cmpeq_epi64(_mm256_load_si256((const __m256i *)(const void *)s->key),
					_mm256_set1_epi64x((long long)key));
	unsigned m = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(eq));
	return m ? __builtin_ctz(m) : -1;
}
#else
static inline __attribute__((always_inline)) int FG_ISA(rl_way)(const struct fg_rl_set *s, uint64_t key)
{
	return fg_rl_way(s, key);
}
#endif

/* Charge the frames of m to the rate limit's table in frame order (the mask's bits, lowest first): the frames
 * over their rate stay in the mask. Out of line, so that the table's loop does not take registers from the
 * parse loop of the burst (inlined, it made gcc spill there: +8 instructions per frame). */
FG_ISA_ATTR static __attribute__((noinline)) uint64_t FG_ISA(rl_charge)(struct fg_rl *rl, struct fg_rl_set *const *setp,
								     const uint64_t *key_of, uint64_t m, uint64_t now)
{
	FOR_BITS(i, m)
	{
		struct fg_rl_set *s = setp[i];
		uint64_t key = key_of[i];
		m &= ~((uint64_t)fg_rl_charge(rl, s, FG_ISA(rl_way)(s, key), key, now) << i);
	}
	return m;
}

/* Returns 0, having changed nothing, when a frame does not take the fast path: the caller then classifies
 * the burst frame by frame (classify_burst). */
FG_ISA_ATTR static inline __attribute__((always_inline)) int FG_ISA(classify_burst_cols)(
	struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens, uint32_t n, uint64_t now,
	uint8_t *verdicts, uint16_t *decided)
{
	struct fg_pkt pk[FG_BURST_MAX];
	struct fg_rl_set *setp[FG_BURST_MAX]; /* each frame's rate-limit table set and key */
	uint64_t rlkey[FG_BURST_MAX];
	uint16_t who[FG_BURST_MAX];
	uint8_t verdict[FG_BURST_MAX];
	const int want_dns = e->want_dns;
	uint64_t sel[3]; /* frames meeting a rule's DNS needs: [0] all, [1] DNSQ, [2] DNSOK */
	uint8_t fb[FG_BURST_MAX] = {0}; /* each frame's flags (all fit in a byte) */
	const struct fg_flist *l = &e->flist[3];

	frames_prefetch_start(frames, n);
	for (uint32_t i = 0; i < n; i++) {
		frames_prefetch_step(frames, i, n);
		if (!fg_pkt_parse_fast(frames[i], lens[i], want_dns, &pk[i]))
			return 0;
		fb[i] = (uint8_t)pk[i].flags;
	}
	sel[0] = n == 64 ? ~0ull : (1ull << n) - 1;
	sel[1] = fg_flag_mask(fb, FG_PKT_DNSQ) & sel[0];
	sel[2] = fg_flag_mask(fb, FG_PKT_DNSOK) & sel[0];

	uint64_t alive = sel[0], pass = 0;
	uint64_t pre = 0; /* the pure checks of rule f already tested (during a rate limit's prefetch): pre_ok */
	int pre_ok = 0;
	for (const struct fg_frule *f = l->r; f < l->end && alive; f++) {
		uint32_t c = f->checks;
		uint64_t m = alive & sel[f->need];
		uint32_t fi = filter_index(f);
		if (!m) {
			pre_ok = 0;
			continue;
		}
		if (pre_ok)
			m &= pre;
		else if (fi) /* a rule with no pure check (a bare rate limit) runs no loop */
			m = FG_ISA(filters)[fi](f, pk, n, m);
		pre_ok = 0;
		if (c & FG_F_RARE) {
			if (c & FG_F_SPORT)
				FOR_BITS(i, m)
			m &= ~((uint64_t)!fg_bm_test(f->sport_bm, pk[i].sport) << i);
			if (c & FG_F_SUFFIX)
				FOR_BITS(i, m)
			m &= ~((uint64_t)!suffix_match(f->r, &pk[i]) << i);
		}
		if (c & FG_F_RL) {
			struct fg_rl *rl = &f->r->rl;
			/* the sets of the whole burst fetched before the first is read, so their misses overlap
			 * (fetching them during parsing, for every frame, measured slower: 37.5-37.9 against
			 * 38.3-39.5 Mpps) */
			FOR_BITS(i, m)
			{
				setp[i] = fg_rl_set_of(rl, fg_rl_hash4(pk[i].src4));
				rlkey[i] = fg_rl_key4(pk[i].src4);
				RL_SET_PREFETCH(setp[i]);
			}
			/* while the sets come in: the next rule's pure checks, over the whole burst (they read
			 * only the parsed frames, so they may run before this rule charges its table) */
			if (f + 1 < l->end && filter_index(f + 1)) {
				pre = FG_ISA(filters)[filter_index(f + 1)](f + 1, pk, n, ~0ull);
				pre_ok = 1;
			}
			m = FG_ISA(rl_charge)(rl, setp, rlkey, m, now);
		}
		*f->hits += (uint64_t)__builtin_popcountll(m);
		alive &= ~m;
		pass |= e->verdict_of[f->idx + 1] ? m : 0;
		if (decided) {
			FOR_BITS(i, m)
			who[i] = (uint16_t)f->idx;
		}
	}
	e->default_hits += (uint64_t)__builtin_popcountll(alive);
	pass |= e->verdict_of[0] ? alive : 0;
	if (decided) {
		FOR_BITS(i, alive)
		who[i] = FG_DECIDED_DEFAULT;
		memcpy(decided, who, n * sizeof(*decided));
	}
	for (uint32_t j = 0; j < n; j += 8) {
		uint64_t v = bits_to_bytes(pass >> j);
		memcpy(verdict + j, &v, 8);
	}
	memcpy(verdicts, verdict, n);
	uint64_t passed = (uint64_t)__builtin_popcountll(pass);
	e->c.packets += n;
	e->c.passed += passed;
	e->c.dropped += n - passed;
	return 1;
}

FG_ISA_ATTR static void FG_ISA(classify_all)(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens,
					    uint32_t n, uint64_t now_ns, uint8_t *verdicts, uint16_t *decided)
{
	/* more than a burst is accepted and cut into bursts, so a caller's mistake never overflows pk[] */
	for (uint32_t off = 0; off < n; off += FG_BURST_MAX) {
		uint32_t m = n - off < FG_BURST_MAX ? n - off : FG_BURST_MAX;
		if (!e->fast_off && FG_ISA(classify_burst_cols)(e, frames + off, lens + off, m, now_ns, verdicts + off, decided ? decided + off : NULL))
			continue;
		if (decided && !e->fast_off)
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, decided + off, 1);
		else if (decided)
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, decided + off, 0);
		else if (!e->fast_off)
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, NULL, 1);
		else
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, NULL, 0);
	}
}

