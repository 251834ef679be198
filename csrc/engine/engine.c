/* The classifier: compile (rules_parse.c), then classify bursts in two passes:
 * 1. parse every frame into struct fg_pkt (prefetching the frame a few ahead) and evaluate the rules before
 *    the first rate limit; undecided frames prefetch their rate-limit table set, so that by pass 2 the cache
 *    misses of the whole burst have overlapped;
 * 2. the first rate limit and the rules after it for the undecided frames (first match wins; ratelimit
 *    decides only over-rate frames).
 * Frames of the usual flood shape take the fast path (fg_pkt_parse_fast, eval_fast), all others the general
 * parser and evaluator, frame by frame in the same burst.
 * No allocation, no syscalls, no locks: one engine per packet loop. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "pkt_parse.h"

static fg_classify_fn isa_pick(void);

#define PREFETCH_AHEAD 8 /* frames ahead; spread one per packet (a burst's worth at once gains nothing) */
/* A frame's lines fetched into every cache level (prefetcht0), not as non-temporal (prefetchnta, locality 0,
 * used until the ninth round): on the Intel Xeon of that round the engine ran 1.19-1.23x faster with T0
 * (docs/receiver.md, ninth round); the frame is parsed soon after and its question read again by the rules */
#define FRAME_PREFETCH(p) __builtin_prefetch((p), 0, 3)
/* And a frame's first line further ahead into L2 only (prefetcht2), so that the near prefetch above finds it
 * there: on the AMD EPYC (Zen 4) of session 18 the engine ran ~5-7% faster with it (docs/receiver.md). Only the
 * first line: the second one fetched far ahead too, or the far one into every level, gained nothing */
#define PREFETCH_FAR 24
#define FRAME_PREFETCH_FAR(p) __builtin_prefetch((p), 0, 1)
/* A rate-limit table set, fetched for a write a little before the charge reads it: into L2 only (prefetcht2).
 * Into every level (prefetcht0, as until session 18) a burst's ~30 of them, issued back to back, waited for
 * the L1's few miss buffers that the frames' prefetches also hold; on the AMD EPYC (Zen 4) of session 18 the
 * engine ran ~12% faster with T2, the charge then reading the set from L2 (docs/receiver.md) */
#define RL_SET_PREFETCH(p) __builtin_prefetch((p), 1, 1)

/* A burst's frame prefetches: at its start the first PREFETCH_AHEAD frames, and the first lines of those up to
 * PREFETCH_FAR into L2; then, while frame i is parsed, frame i + PREFETCH_AHEAD and frame i + PREFETCH_FAR's
 * first line. */
static inline __attribute__((always_inline)) void frames_prefetch_start(const uint8_t *const *frames, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
		FRAME_PREFETCH(frames[i]);
	for (uint32_t i = PREFETCH_AHEAD; i < n && i < PREFETCH_FAR; i++)
		FRAME_PREFETCH_FAR(frames[i]);
}

static inline __attribute__((always_inline)) void frames_prefetch_step(const uint8_t *const *frames, uint32_t i,
								       uint32_t n)
{
	if (i + PREFETCH_AHEAD < n) {
		const uint8_t *nx = frames[i + PREFETCH_AHEAD];
		FRAME_PREFETCH(nx);
		FRAME_PREFETCH(nx + 64);
		if (i + PREFETCH_FAR < n)
			FRAME_PREFETCH_FAR(frames[i + PREFETCH_FAR]);
	}
}

/* The fast path's rule lists: every rule as it applies to an untagged, unfragmented IPv4/UDP frame (see
 * struct fg_frule), one list per state of the frame's DNS flags (no question, a question, a valid query), so
 * that a rule whose DNS terms the frame fails is not even visited. Built once at compile time; the packet
 * path only reads them. 0, or -1 out of memory. */
static int fast_plan_build(struct fg_engine *e)
{
	_Static_assert(FG_PKT_DNSOK == FG_PKT_DNSQ << 1, "fast list index: (flags / FG_PKT_DNSQ) & 3");
	_Static_assert(sizeof(struct fg_flist) == FG_PKT_DNSQ, "fast list offset: flags & (DNSQ | DNSOK)");
	for (uint32_t st = 0; st < 4; st++) {
		struct fg_flist *l = &e->flist[st];
		uint32_t have = ((st & 1) ? FG_PKT_DNSQ : 0) | ((st & 2) ? FG_PKT_DNSOK : 0);
		l->r = calloc(e->nrules ? e->nrules : 1, sizeof(*l->r));
		if (!l->r)
			return -1;
		uint32_t n = 0, rl_first = UINT32_MAX;
		l->rl0 = NULL;
		for (uint32_t i = 0; i < e->nrules; i++) {
			struct fg_rule *r = &e->rules[i];
			uint32_t t = r->terms;
			uint32_t need = ((t & FG_T_DNS_ANY) ? FG_PKT_DNSQ : 0) | ((t & FG_T_DNSVALID) ? FG_PKT_DNSOK : 0);
			if ((t & (FG_T_IPV6 | FG_T_FRAG)) || ((t & FG_T_PROTO) && r->proto != 17) || (need & ~have))
				continue; /* never true of such a frame */
			struct fg_frule *f = &l->r[n];
			f->checks = ((t & FG_T_DPORT) ? FG_F_DPORT : 0) | ((t & FG_T_SPORT) ? FG_F_SPORT : 0) |
				    ((t & FG_T_QTYPE) ? FG_F_QTYPE : 0) | ((t & FG_T_SRC) ? FG_F_SRC : 0) |
				    ((t & FG_T_SUFFIX) ? FG_F_SUFFIX : 0) |
				    (r->action == FG_ACT_RATELIMIT ? FG_F_RL : 0);
			f->checks |= (t & (FG_T_SPORT | FG_T_SUFFIX)) ? FG_F_RARE : 0;
			f->idx = i;
			f->need = (uint8_t)((need & FG_PKT_DNSOK) ? 2 : (need & FG_PKT_DNSQ) ? 1 : 0);
			f->hits = &r->hits;
			f->dport_bm = r->dport_bm;
			if (t & FG_T_DPORT) { /* one port (the usual `dport 53`): compared, not looked up */
				uint32_t nb = 0, last = 0;
				for (uint32_t w = 0; w < 1024; w++)
					if (r->dport_bm[w]) {
						nb += (uint32_t)__builtin_popcountll(r->dport_bm[w]);
						last = w * 64 + (uint32_t)__builtin_ctzll(r->dport_bm[w]);
					}
				f->dport_one = nb == 1;
				f->dport1 = (uint16_t)last;
			}
			f->sport_bm = r->sport_bm;
			f->qtype_bm = r->qtype_bm;
			f->src = r->src;
			f->r = r;
			if ((t & FG_T_SUFFIX) && r->nsuffixes == 1 && r->suffixes[0].nw) {
				const struct fg_suffix *sx = &r->suffixes[0];
				f->checks = (f->checks & ~FG_F_SUFFIX) | FG_F_SUFFIX1;
				if (!(t & FG_T_SPORT))
					f->checks &= ~FG_F_RARE;
				f->s_len = sx->len;
				f->s_nlabels = sx->nlabels;
				f->s_nw = sx->nw;
				for (uint32_t j = 0; j < sx->nw; j++) {
					f->s_want[sx->nw - 1 - j] = sx->want[j];
					f->s_fold[sx->nw - 1 - j] = sx->fold[j];
					f->s_mask[sx->nw - 1 - j] = sx->mask[j];
				}
			}
			if (r->action == FG_ACT_RATELIMIT && rl_first == UINT32_MAX) {
				rl_first = n;
				l->rl0 = &r->rl;
			}
			n++;
		}
		l->rl = l->r + (rl_first == UINT32_MAX ? n : rl_first);
		l->end = l->r + n;
	}
	return 0;
}

int fg_engine_set_fast_path(struct fg_engine *e, int on)
{
	e->fast_off = !on;
	return !e->fast_off;
}

struct fg_engine *fg_engine_compile_ex(const char *text, size_t len, const struct fg_compile_opts *o, char *err,
				       size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	struct fg_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!text && len) {
		snprintf(err, errlen, "no rules text");
		free(e);
		return NULL;
	}
	static _Atomic uint64_t compiles;
	e->id = atomic_fetch_add_explicit(&compiles, 1, memory_order_relaxed) + 1;
	e->classify = isa_pick();
	if (fg_rules_parse(e, text ? text : "", len, o, err, errlen) || fast_plan_build(e)) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		fg_engine_free(e);
		return NULL;
	}
	if (o && o->tables_from)
		e->twins_of = o->tables_from->id; /* its rules' twin indexes (rules_parse.c) are into that engine */
	return e;
}

struct fg_engine *fg_engine_compile(const char *text, size_t len, char *err, size_t errlen)
{
	return fg_engine_compile_ex(text, len, NULL, err, errlen);
}

void fg_engine_free(struct fg_engine *e)
{
	if (!e)
		return;
	if (e->rules)
		for (uint32_t i = 0; i < e->nrules; i++)
			fg_rule_free(&e->rules[i]);
	free(e->rules);
	for (int st = 0; st < 4; st++)
		free(e->flist[st].r);
	free(e);
}

/* ASCII lower case of 8 bytes at once (bytes >= 0x80 and non-letters unchanged), exact, no branches. */
static inline uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t h = x & ~high;
	uint64_t ge_a = h + ones * (0x80 - 'A');
	uint64_t gt_z = h + ones * (0x80 - 'Z' - 1);
	uint64_t upper = ge_a & ~gt_z & ~x & high;
	return x | (upper >> 2);
}

static inline uint64_t load8(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* One suffix against the qname, without data-dependent branches (a flood mixes matching and non-matching
 * names at random; a mispredicted branch costs more than the whole compare). Every read stays inside the
 * qname: the compared window is its last s->len bytes, and it must start at the right label boundary. */
static inline __attribute__((always_inline)) int suffix_match1(const struct fg_suffix *s, const struct fg_pkt *p)
{
	uint32_t n = s->len, qlen = p->qname_len;
	if (qlen < n) /* rare, and decided by the name's length alone */
		return 0;
	int enough = p->nlabels >= s->nlabels;
	uint32_t li = enough ? (uint32_t)(p->nlabels - s->nlabels) : 0;
	const uint8_t *q = p->qname + (qlen - n);
	uint64_t diff = 0;
	if (s->nw) { /* the usual case: a few words ending at the name's end, no byte loop */
		const uint8_t *end = p->qname + qlen - 8u * s->nw;
		for (uint32_t j = 0; j < s->nw; j++)
			diff |= ((load8(end + 8 * j) | s->fold[j]) ^ s->want[j]) & s->mask[j];
	} else if (n >= 8) {
		for (uint32_t k = 0; k + 8 <= n; k += 8)
			diff |= lower8(load8(q + k)) ^ load8(s->wire + k);
		diff |= lower8(load8(q + n - 8)) ^ load8(s->wire + n - 8);
	} else {
		for (uint32_t k = 0; k < n; k++)
			diff |= (uint64_t)((q[k] >= 'A' && q[k] <= 'Z' ? q[k] + 32 : q[k]) ^ s->wire[k]);
	}
	return enough & (p->label_off[li] == qlen - n) & (diff == 0);
}

static inline __attribute__((always_inline)) int suffix_match(const struct fg_rule *r, const struct fg_pkt *p)
{
	int m = 0;
	for (uint32_t i = 0; i < r->nsuffixes; i++)
		m |= suffix_match1(&r->suffixes[i], p);
	return m;
}

/* All of the rule's terms hold for p. The cheap terms are combined without branches (a flood mixes packet
 * kinds at random, and every mispredicted branch costs more than the tests); the table lookups run only
 * when the cheap terms already hold. */
static inline __attribute__((always_inline)) int rule_matches(const struct fg_rule *r, const struct fg_pkt *p)
{
	uint32_t t = r->terms, f = p->flags;
	if ((f & r->need_flags) != r->need_flags)
		return 0;
	if (r->any_flags && !(f & r->any_flags))
		return 0;
	if ((p->proto & r->proto_mask) != r->proto)
		return 0;
	if ((t & FG_T_DPORT) && !fg_bm_test(r->dport_bm, p->dport))
		return 0;
	if ((t & FG_T_SPORT) && !fg_bm_test(r->sport_bm, p->sport))
		return 0;
	if ((t & FG_T_QTYPE) && !fg_bm_test(r->qtype_bm, p->qtype))
		return 0;
	if (t & FG_T_SRC) {
		int in = (f & FG_PKT_IPV4) ? fg_prefix_set_has4(r->src, p->src4)
					   : fg_prefix_set_has6(r->src, p->src6_hi, p->src6_lo);
		if (!in)
			return 0;
	}
	if ((t & FG_T_SUFFIX) && !suffix_match(r, p))
		return 0;
	return 1;
}

static inline uint64_t rl_key(const struct fg_pkt *p)
{
	return (p->flags & FG_PKT_IPV4) ? fg_rl_key4(p->src4) : fg_rl_key6(p->src6_hi);
}

/* Rules [from, to) for one frame: the deciding rule's index, or -1 when none decided. */
static inline __attribute__((always_inline)) int eval_rules(struct fg_engine *e, const struct fg_pkt *p, uint32_t from, uint32_t to, uint64_t now,
			     uint64_t hash0)
{
	for (uint32_t k = from; k < to; k++) {
		struct fg_rule *r = &e->rules[k];
		if (!rule_matches(r, p))
			continue;
		if (r->action == FG_ACT_RATELIMIT) {
			if (!(p->flags & (FG_PKT_IPV4 | FG_PKT_IPV6)))
				continue; /* no source to key on: a ratelimit rule never matches non-IP */
			uint64_t key = rl_key(p);
			uint64_t h = k == e->rl_first ? hash0 : fg_rl_hash(key);
			if (fg_rl_conform(&r->rl, key, h, now))
				continue; /* within its rate: the following rules decide */
		}
		r->hits++;
		return (int)k;
	}
	return -1;
}


/* suffix_match1 for the fast path's one-suffix rules (FG_F_SUFFIX1): the same test, unrolled. words4: a constant,
 * 0 for a suffix of at most 16 bytes (s_nw <= 2), 1 for a longer one, -1 to test s_nw here. */
static inline __attribute__((always_inline)) int suffix1_fast(const struct fg_frule *f, const struct fg_pkt *p,
							      const int words4)
{
	uint32_t n = f->s_len, qlen = p->qname_len, nl = p->nlabels, sl = f->s_nlabels;
	if (qlen < n || nl < sl)
		return 0;
	const uint8_t *qe = p->qname + qlen;
	uint64_t diff = (uint64_t)(p->label_off[nl - sl] ^ (qlen - n)); /* a label starts where the suffix does */
#define W(w) (((load8(qe - 8 * ((w) + 1)) | f->s_fold[w]) ^ f->s_want[w]) & f->s_mask[w])
	/* words past s_nw have mask 0 (and read at most 32 bytes before the name's end, inside the frame): two
	 * words always, two more only for suffixes over 16 bytes */
	diff |= W(0) | W(1);
	if (words4 > 0 || (words4 < 0 && f->s_nw > 2))
		diff |= W(2) | W(3);
#undef W
	return diff == 0;
}

/* Rules [f, end) of a fast list for a frame fg_pkt_parse_fast accepted (struct fg_frule): the deciding rule's
 * index in rules[], or -1 when none decided. hash: fg_rl_hash of the source's key, which is all a ratelimit
 * rule's table needs (the same key, so the same hash, for every ratelimit rule). */
static inline __attribute__((always_inline)) int eval_fast(const struct fg_frule *f, const struct fg_frule *end,
							   const struct fg_pkt *p, uint64_t now, uint64_t hash)
{
	for (; f < end; f++) {
		/* tests per possible check, not a jump on the rule's shape: a switch over the common shapes ran
		 * 13 instructions per frame fewer and 2-4% slower (its indirect jump mispredicts). The pure tests
		 * in any order: the source first (in a flood most frames fail an allowlist, while nearly all of
		 * them carry the port the NIC steered to this queue), the rare ones behind one bit; the rate limit
		 * last, as it charges the bucket */
		uint32_t c = f->checks;
		if ((c & FG_F_SRC) && !fg_prefix_set_has4(f->src, p->src4))
			continue;
		if ((c & FG_F_DPORT) && !fg_bm_test(f->dport_bm, p->dport))
			continue;
		if ((c & FG_F_SUFFIX1) && !suffix1_fast(f, p, -1))
			continue;
		if ((c & FG_F_QTYPE) && !fg_bm_test(f->qtype_bm, p->qtype))
			continue;
		if (c & FG_F_RARE) {
			if ((c & FG_F_SPORT) && !fg_bm_test(f->sport_bm, p->sport))
				continue;
			if ((c & FG_F_SUFFIX) && !suffix_match(f->r, p))
				continue;
		}
		if ((c & FG_F_RL) && fg_rl_conform(&f->r->rl, fg_rl_key4(p->src4), hash, now))
			continue; /* within its rate: the following rules decide */
		(*f->hits)++;
		return (int)f->idx;
	}
	return -1;
}

/* Pass 1 of a frame the fast path does not take (VLAN, IPv6, options, fragments, TCP, odd lengths): the general
 * parser and the rules before the first rate limit. Out of line, so that the fast path's loop keeps its
 * registers. k: the deciding rule, -1 none, -2 malformed (counted here); hash: the source's rate-limit hash
 * when k is -1. */
struct gen_res {
	int64_t k;
	uint64_t hash;
};

static __attribute__((noinline)) struct gen_res general_pass1(struct fg_engine *e, const uint8_t *f, uint32_t len,
							      uint64_t now, struct fg_pkt *p)
{
	struct gen_res g = {-2, 0};
	fg_pkt_parse(f, len, e->want_dns, p);
	if (p->flags & FG_PKT_MALFORMED) {
		e->c.malformed++;
		return g;
	}
	g.k = eval_rules(e, p, 0, e->rl_first, now, 0);
	if (g.k < 0 && (p->flags & (FG_PKT_IPV4 | FG_PKT_IPV6)))
		g.hash = fg_rl_hash(rl_key(p));
	return g;
}

/* One burst. fast: try the fast path first (a constant: the compiler makes a copy with and one without);
 * decided: NULL, or where the deciding rules go (likewise). Verdicts are gathered in a local array and copied
 * out at the end: a byte store through the caller's pointer could alias the engine, and every one would make
 * the compiler reload what it holds of it. */
static inline __attribute__((always_inline)) void classify_burst(struct fg_engine *e, const uint8_t *const *frames,
								  const uint32_t *lens, uint32_t n, uint64_t now,
								  uint8_t *verdicts, uint16_t *decided, const int fast)
{
	struct fg_pkt pk[FG_BURST_MAX];
	uint64_t hash[FG_BURST_MAX];
	uint8_t pending[FG_BURST_MAX];
	uint8_t verdict[FG_BURST_MAX];
	const struct fg_flist *fl[FG_BURST_MAX]; /* the fast list frame i took, NULL: the general path */
	uint16_t who[FG_BURST_MAX];
	uint32_t npending = 0;
	const int want_dns = e->want_dns;
	const uint32_t rl_first = e->rl_first;
	struct fg_rl *rl0 = rl_first < e->nrules ? &e->rules[rl_first].rl : NULL;

	/* pass 1: parse each frame (prefetching the frame 8 ahead, its first line 24 ahead; the burst's first few up
	 * front) and evaluate the rules before the first rate limit; frames they leave undecided fetch their bucket
	 * now, so that the table's cache misses of the whole burst overlap before pass 2 needs them */
	frames_prefetch_start(frames, n);
	uint64_t passed = 0;
	for (uint32_t i = 0; i < n; i++) {
		frames_prefetch_step(frames, i, n);
		struct fg_pkt *p = &pk[i];
		int k;
		if (fast && fg_pkt_parse_fast(frames[i], lens[i], want_dns, p)) {
			const struct fg_flist *l =
				(const struct fg_flist *)((const char *)e->flist + (p->flags & (FG_PKT_DNSQ | FG_PKT_DNSOK)));
			fl[i] = l;
			k = eval_fast(l->r, l->rl, p, now, 0);
			/* undecided frames go on to the rate limit. This branch follows the outcome of the last
			 * rule tested, so it is predicted as well as that one was */
			if (k < 0) {
				if (l->rl0) {
					uint64_t h = fg_rl_hash4(p->src4);
					hash[i] = h;
					RL_SET_PREFETCH(fg_rl_set_of(l->rl0, h));
					pending[npending++] = (uint8_t)i;
					continue; /* pass 2 writes its verdict */
				}
				e->default_hits++;
			}
		} else {
			struct gen_res g = general_pass1(e, frames[i], lens[i], now, p);
			fl[i] = NULL;
			k = (int)g.k;
			if (k == -2) {
				verdict[i] = FG_DROP;
				if (decided)
					who[i] = FG_DECIDED_MALFORMED;
				continue;
			}
			if (k < 0) {
				if (rl0) {
					hash[i] = g.hash;
					RL_SET_PREFETCH(fg_rl_set_of(rl0, g.hash));
					pending[npending++] = (uint8_t)i;
					continue;
				}
				e->default_hits++;
			}
		}
		uint8_t v = e->verdict_of[k + 1];
		verdict[i] = v;
		passed += v;
		if (decided)
			who[i] = k < 0 ? FG_DECIDED_DEFAULT : (uint16_t)k;
	}

	/* pass 2: the first rate limit and everything after it */
	for (uint32_t j = 0; j < npending; j++) {
		uint32_t i = pending[j];
		const struct fg_flist *l = fl[i];
		int k = l ? eval_fast(l->rl, l->end, &pk[i], now, hash[i])
			  : eval_rules(e, &pk[i], rl_first, e->nrules, now, hash[i]);
		uint8_t v = e->verdict_of[k + 1];
		verdict[i] = v;
		passed += v;
		if (decided)
			who[i] = k < 0 ? FG_DECIDED_DEFAULT : (uint16_t)k;
		if (k < 0)
			e->default_hits++;
	}

	memcpy(verdicts, verdict, n);
	if (decided)
		memcpy(decided, who, n * sizeof(*decided));
	e->c.packets += n;
	e->c.passed += passed;
	e->c.dropped += n - passed;
}

/* A burst whose frames all take the fast path, evaluated rule by rule instead of frame by frame: pass 1
 * parses every frame; then each rule of the fast list flist[3] (which holds every rule some fast frame can
 * meet) is tested on the burst's still undecided frames, as a 64-bit mask over the burst that the rule's
 * checks narrow. What is chosen once per rule and burst instead of once per frame and rule: the filter for
 * the rule's combination of source/port/qtype/suffix checks (one loop specialised for it, its tables and
 * suffix words held in registers), and whether to go on to the rare checks or the rate limit. A frame
 * leaves the mask at its first match without a branch on the outcome. First match per frame holds because
 * every frame meets the rules in order; a rate limit charges its table in frame order (the mask's bits,
 * lowest first), as frame-by-frame evaluation does, so its state ends the same. */
#define FOR_BITS(i, mask)                                                                                  \
	for (uint64_t t_ = (mask), i; t_ && ((i = (uint64_t)__builtin_ctzll(t_)), 1); t_ &= t_ - 1)

/* Bit i set when byte i of the 64 bytes at fb has the bit flag set. */
static inline __attribute__((always_inline)) uint64_t fg_flag_mask(const uint8_t *fb, uint8_t flag)
{
	_Static_assert(FG_PKT_DNSQ < 256 && FG_PKT_DNSOK < 256, "frame flags kept in a byte");
	uint64_t m = 0;
#if defined(__SSE2__) && !defined(FG_PKT_NO_SIMD)
	__m128i want = _mm_set1_epi8((char)flag);
	for (uint32_t j = 0; j < FG_BURST_MAX; j += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(fb + j));
		m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, want), want)) << j;
	}
#else
	for (uint32_t j = 0; j < FG_BURST_MAX; j++)
		m |= (uint64_t)((fb[j] & flag) != 0) << j;
#endif
	return m;
}

/* The filter loop for rule f's checks: S | D << 1 | X << 2 | Q << 3, 16 for a one-suffix compare of four
 * words (a suffix over 16 bytes) rather than two, and 32 for a destination port check of one port */
static inline uint32_t filter_index(const struct fg_frule *f)
{
	uint32_t c = f->checks;
	return ((c & FG_F_SRC) ? 1u : 0) | ((c & FG_F_DPORT) ? (f->dport_one ? 34u : 2u) : 0) |
	       ((c & FG_F_SUFFIX1) ? (f->s_nw > 2 ? 20u : 4u) : 0) | ((c & FG_F_QTYPE) ? 8u : 0);
}

/* 8 verdict bits (bit j: frame j) as 8 bytes of 0 or 1 (byte j), in memory order */
static inline uint64_t bits_to_bytes(uint64_t b)
{
	uint64_t x = ((b & 0xFF) * 0x0101010101010101ull) & 0x8040201008040201ull;
	return ((x + 0x7F7F7F7F7F7F7F7Full) >> 7) & 0x0101010101010101ull;
}

/* The burst loop with the rule-by-rule path, compiled twice: for the x86-64 baseline, and with
 * AVX2/BMI1/BMI2/POPCNT/MOVBE for CPUs that have them (one copy chosen when the rules are compiled, by
 * fg_isa_v3: a bit scan, a population count, a big-endian load or a variable shift is then one instruction
 * instead of a few, or a call). FG_NO_ISA_DISPATCH builds the baseline alone (the C tests run it). */
typedef uint64_t (*fg_filter_fn)(const struct fg_frule *f, const struct fg_pkt *pk, uint32_t n, uint64_t m);

#define FG_ISA(name) name##_base
#define FG_ISA_ATTR
#define FG_ISA_AVX2 0
#include "engine_cols.h"
#undef FG_ISA
#undef FG_ISA_ATTR
#undef FG_ISA_AVX2
#if defined(__x86_64__) && !defined(FG_NO_ISA_DISPATCH)
#include <cpuid.h>
#include <immintrin.h>
#define FG_HAVE_ISA_V3 1
#define FG_ISA(name) name##_v3
#define FG_ISA_ATTR __attribute__((target("avx2,bmi,bmi2,popcnt,movbe")))
#define FG_ISA_AVX2 1
#include "engine_cols.h"
#undef FG_ISA
#undef FG_ISA_ATTR
#undef FG_ISA_AVX2
#endif

static fg_classify_fn isa_pick(void)
{
#ifdef FG_HAVE_ISA_V3
	unsigned a, b, c, d; /* MOVBE: CPUID leaf 1, ECX bit 22 (clang's __builtin_cpu_supports has no name for it) */
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
	    __builtin_cpu_supports("popcnt") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 22)))
		return classify_all_v3;
#endif
	return classify_all_base;
}

void fg_engine_classify_explain(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens,
				uint32_t n, uint64_t now_ns, uint8_t *verdicts, uint16_t *decided)
{
	e->classify(e, frames, lens, n, now_ns, verdicts, decided);
}

void fg_engine_classify(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens, uint32_t n,
			uint64_t now_ns, uint8_t *verdicts)
{
	fg_engine_classify_explain(e, frames, lens, n, now_ns, verdicts, NULL);
}

void fg_engine_counters(const struct fg_engine *e, struct fg_counters *out)
{
	*out = e->c;
}

uint32_t fg_engine_rule_count(const struct fg_engine *e)
{
	return e->nrules;
}

static const char *action_name(uint8_t a)
{
	return a == FG_ACT_PASS ? "pass" : a == FG_ACT_DROP ? "drop" : "ratelimit";
}

int fg_engine_rule_info(const struct fg_engine *e, uint32_t i, const char **name, const char **action,
			uint64_t *hits)
{
	if (i >= e->nrules)
		return -1;
	if (name)
		*name = e->rules[i].name;
	if (action)
		*action = action_name(e->rules[i].action);
	if (hits)
		*hits = e->rules[i].hits;
	return 0;
}

int fg_engine_default_verdict(const struct fg_engine *e, uint64_t *hits)
{
	if (hits)
		*hits = e->default_hits;
	return e->default_action == FG_ACT_PASS ? FG_PASS : FG_DROP;
}

uint64_t fg_engine_ratelimit_evictions(const struct fg_engine *e)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < e->nrules; i++)
		n += e->rules[i].rl.evictions;
	return n;
}

const struct fg_rule *fg_engine_find_rule(const struct fg_engine *e, const char *name)
{
	for (uint32_t i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i].name, name) == 0)
			return &e->rules[i];
	return NULL;
}

int fg_rule_same_limit(const struct fg_rule *f, const struct fg_rule *o)
{
	return o && f->action == FG_ACT_RATELIMIT && o->action == FG_ACT_RATELIMIT && f->rl_rate == o->rl_rate &&
	       f->rl_burst == o->rl_burst && f->rl.nsets == o->rl.nsets;
}

/* Rule i of fresh's rule of the same name in old: as its compile found it when old was its tables_from (the
 * swap then costs no name lookup: 1,024 rules took 4.3 ms of the packet loop), else looked up. */
static struct fg_rule *twin_in(const struct fg_engine *fresh, uint32_t i, const struct fg_engine *old)
{
	if (fresh->twins_of == old->id)
		return fresh->rules[i].twin ? &old->rules[fresh->rules[i].twin - 1] : NULL;
	return (struct fg_rule *)fg_engine_find_rule(old, fresh->rules[i].name);
}

void fg_engine_adopt_counters(struct fg_engine *fresh, const struct fg_engine *old)
{
	fresh->c = old->c;
	fresh->default_hits = old->default_hits;
	for (uint32_t i = 0; i < fresh->nrules; i++) {
		const struct fg_rule *o = twin_in(fresh, i, old);
		if (o)
			fresh->rules[i].hits = o->hits;
	}
}

int fg_engine_adopt_state(struct fg_engine *fresh, struct fg_engine *old)
{
	/* first the tables that have no twin in old, before anything changes */
	for (uint32_t i = 0; i < fresh->nrules; i++) {
		struct fg_rule *f = &fresh->rules[i];
		if (f->rl_adopt && !fg_rule_same_limit(f, twin_in(fresh, i, old))) {
			if (fg_rl_alloc(&f->rl))
				return -1;
			f->rl_adopt = 0;
		}
	}
	fg_engine_adopt_counters(fresh, old);
	for (uint32_t i = 0; i < fresh->nrules; i++) {
		struct fg_rule *f = &fresh->rules[i];
		struct fg_rule *o = twin_in(fresh, i, old);
		if (!fg_rule_same_limit(f, o))
			continue;
		struct fg_rl tmp = f->rl;
		f->rl = o->rl;
		o->rl = tmp; /* a table left to adopt: old's rule is left with none */
		f->rl_adopt = 0;
	}
	return 0;
}

size_t fg_engine_stats_json(const struct fg_engine *e, char *buf, size_t len)
{
	/* rule names are [A-Za-z0-9_.-]: nothing to escape */
	size_t w = 0;
	char scratch[1]; /* where a measuring call (no buf, or buf full) writes its nothing: never NULL */
#define OUT(...)                                                                  \
	do {                                                                      \
		size_t room_ = buf && w < len ? len - w : 0;                      \
		int k_ = snprintf(room_ ? buf + w : scratch, room_, __VA_ARGS__); \
		w += (size_t)(k_ > 0 ? k_ : 0);                                   \
	} while (0)
	OUT("{\"packets\":%llu,\"passed\":%llu,\"dropped\":%llu,\"malformed\":%llu,", (unsigned long long)e->c.packets,
	    (unsigned long long)e->c.passed, (unsigned long long)e->c.dropped, (unsigned long long)e->c.malformed);
	OUT("\"default\":{\"action\":\"%s\",\"hits\":%llu},\"ratelimit_evictions\":%llu,\"rules\":[",
	    action_name(e->default_action), (unsigned long long)e->default_hits,
	    (unsigned long long)fg_engine_ratelimit_evictions(e));
	for (uint32_t i = 0; i < e->nrules; i++)
		OUT("%s{\"name\":\"%s\",\"action\":\"%s\",\"hits\":%llu}", i ? "," : "", e->rules[i].name,
		    action_name(e->rules[i].action), (unsigned long long)e->rules[i].hits);
	OUT("]}");
#undef OUT
	return w;
}
