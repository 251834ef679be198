/* The classifier: compile (rules_parse.c), then classify bursts in two passes:
 * 1. parse every frame into struct fg_pkt (prefetching the frame a few ahead) and evaluate the rules before
 *    the first rate limit; undecided frames prefetch their rate-limit table set, so that by pass 2 the cache
 *    misses of the whole burst have overlapped;
 * 2. the first rate limit and the rules after it for the undecided frames (first match wins; ratelimit
 *    decides only over-rate frames).
 * Frames of the usual flood shape take the fast path (fg_pkt_parse_fast, eval_fast), all others the general
 * parser and evaluator, frame by frame in the same burst.
 * No allocation, no syscalls, no locks: one engine per packet loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "pkt_parse.h"

#define PREFETCH_AHEAD 8 /* frames ahead; spread one per packet (a burst's worth at once gains nothing) */

/* The fast path's rule lists: every rule as it applies to an untagged, unfragmented IPv4/UDP frame (see
 * struct fg_frule), one list per state of the frame's DNS flags (no question, a question, a valid query), so
 * that a rule whose DNS terms the frame fails is not even visited. Built once at compile time; the packet
 * path only reads them. 0, or -1 out of memory. */
static int fast_plan_build(struct fg_engine *e)
{
	_Static_assert(FG_PKT_DNSOK == FG_PKT_DNSQ << 1, "fast list index: (flags / FG_PKT_DNSQ) & 3");
	for (uint32_t st = 0; st < 4; st++) {
		struct fg_flist *l = &e->flist[st];
		uint32_t have = ((st & 1) ? FG_PKT_DNSQ : 0) | ((st & 2) ? FG_PKT_DNSOK : 0);
		l->r = calloc(e->nrules ? e->nrules : 1, sizeof(*l->r));
		if (!l->r)
			return -1;
		l->n = 0;
		l->rl_first = UINT32_MAX;
		for (uint32_t i = 0; i < e->nrules; i++) {
			struct fg_rule *r = &e->rules[i];
			uint32_t t = r->terms;
			uint32_t need = ((t & FG_T_DNS_ANY) ? FG_PKT_DNSQ : 0) | ((t & FG_T_DNSVALID) ? FG_PKT_DNSOK : 0);
			if ((t & (FG_T_IPV6 | FG_T_FRAG)) || ((t & FG_T_PROTO) && r->proto != 17) || (need & ~have))
				continue; /* never true of such a frame */
			struct fg_frule *f = &l->r[l->n];
			f->checks = ((t & FG_T_DPORT) ? FG_F_DPORT : 0) | ((t & FG_T_SPORT) ? FG_F_SPORT : 0) |
				    ((t & FG_T_QTYPE) ? FG_F_QTYPE : 0) | ((t & FG_T_SRC) ? FG_F_SRC : 0) |
				    ((t & FG_T_SUFFIX) ? FG_F_SUFFIX : 0) |
				    (r->action == FG_ACT_RATELIMIT ? FG_F_RL : 0);
			f->idx = i;
			f->dport_bm = r->dport_bm;
			f->sport_bm = r->sport_bm;
			f->qtype_bm = r->qtype_bm;
			f->src = r->src;
			f->r = r;
			if ((t & FG_T_SUFFIX) && r->nsuffixes == 1 && r->suffixes[0].nw) {
				const struct fg_suffix *sx = &r->suffixes[0];
				f->checks = (f->checks & ~FG_F_SUFFIX) | FG_F_SUFFIX1;
				f->s_len = sx->len;
				f->s_nlabels = sx->nlabels;
				f->s_nw = sx->nw;
				for (uint32_t j = 0; j < sx->nw; j++) {
					f->s_want[sx->nw - 1 - j] = sx->want[j];
					f->s_fold[sx->nw - 1 - j] = sx->fold[j];
					f->s_mask[sx->nw - 1 - j] = sx->mask[j];
				}
			}
			if (r->action == FG_ACT_RATELIMIT && l->rl_first == UINT32_MAX)
				l->rl_first = l->n;
			l->n++;
		}
		if (l->rl_first == UINT32_MAX)
			l->rl_first = l->n;
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
	if (fg_rules_parse(e, text ? text : "", len, o, err, errlen) || fast_plan_build(e)) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		fg_engine_free(e);
		return NULL;
	}
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


/* suffix_match1 for the fast path's one-suffix rules (FG_F_SUFFIX1): the same test, unrolled. */
static inline __attribute__((always_inline)) int suffix1_fast(const struct fg_frule *f, const struct fg_pkt *p)
{
	uint32_t n = f->s_len, qlen = p->qname_len, nl = p->nlabels, sl = f->s_nlabels;
	if (qlen < n || nl < sl)
		return 0;
	const uint8_t *qe = p->qname + qlen;
	uint64_t diff = (uint64_t)(p->label_off[nl - sl] ^ (qlen - n)); /* a label starts where the suffix does */
#define W(w) (((load8(qe - 8 * ((w) + 1)) | f->s_fold[w]) ^ f->s_want[w]) & f->s_mask[w])
	switch (f->s_nw) {
	case 4:
		diff |= W(3);
		/* fall through */
	case 3:
		diff |= W(2);
		/* fall through */
	case 2:
		diff |= W(1);
		/* fall through */
	default:
		diff |= W(0);
	}
#undef W
	return diff == 0;
}

/* Rules [from, to) of the fast list l for a frame fg_pkt_parse_fast accepted (struct fg_frule): the deciding
 * rule's index in rules[], or -1 when none decided. hash: fg_rl_hash of the source's key, which is all a
 * ratelimit rule's table needs (the same key, so the same hash, for every ratelimit rule). */
static inline __attribute__((always_inline)) int eval_fast(const struct fg_flist *l, const struct fg_pkt *p,
							   uint32_t from, uint32_t to, uint64_t now, uint64_t hash)
{
	for (uint32_t k = from; k < to; k++) {
		const struct fg_frule *f = &l->r[k];
		/* tests per possible check, not a jump on the rule's shape: a switch over the common shapes ran
		 * 13 instructions per frame fewer and 2-4% slower (its indirect jump mispredicts) */
		uint32_t c = f->checks;
		if ((c & FG_F_DPORT) && !fg_bm_test(f->dport_bm, p->dport))
			continue;
		if ((c & FG_F_SPORT) && !fg_bm_test(f->sport_bm, p->sport))
			continue;
		if ((c & FG_F_QTYPE) && !fg_bm_test(f->qtype_bm, p->qtype))
			continue;
		if ((c & FG_F_SRC) && !fg_prefix_set_has4(f->src, p->src4))
			continue;
		if ((c & FG_F_SUFFIX1) && !suffix1_fast(f, p))
			continue;
		if ((c & FG_F_SUFFIX) && !suffix_match(f->r, p))
			continue;
		if ((c & FG_F_RL) && fg_rl_conform(&f->r->rl, fg_rl_key4(p->src4), hash, now))
			continue; /* within its rate: the following rules decide */
		f->r->hits++;
		return (int)f->idx;
	}
	return -1;
}

/* decided: NULL, or where the deciding rules go; the compiler makes one copy with and one without. */
static inline __attribute__((always_inline)) void classify_burst(struct fg_engine *e, const uint8_t *const *frames,
								  const uint32_t *lens, uint32_t n, uint64_t now,
								  uint8_t *verdicts, uint16_t *decided)
{
	struct fg_pkt pk[FG_BURST_MAX];
	uint64_t hash[FG_BURST_MAX];
	uint8_t pending[FG_BURST_MAX];
	const struct fg_flist *fl[FG_BURST_MAX]; /* the fast list frame i took, NULL: the general path */
	uint16_t who[FG_BURST_MAX];
	uint32_t npending = 0;
	const int want_dns = e->want_dns;
	const int fast_on = !e->fast_off;
	const uint32_t rl_first = e->rl_first;
	struct fg_rl *rl0 = rl_first < e->nrules ? &e->rules[rl_first].rl : NULL;
	const int have_rl = rl0 != NULL;

	/* pass 1: parse each frame (prefetching the frame 8 ahead; the burst's first few up front) and evaluate
	 * the rules before the first rate limit; frames they leave undecided fetch their bucket now, so that
	 * the table's cache misses of the whole burst overlap before pass 2 needs them */
	for (uint32_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
		__builtin_prefetch(frames[i], 0, 0);
	uint64_t malformed = 0, default_hits = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n) {
			const uint8_t *nx = frames[i + PREFETCH_AHEAD];
			__builtin_prefetch(nx, 0, 0);
			__builtin_prefetch(nx + 64, 0, 0);
		}
		struct fg_pkt *p = &pk[i];
		int k, undecided, rl;
		const void *addr = &e->c; /* decided frames prefetch a cache-hot dummy (no branch on k) */
		if (fast_on && fg_pkt_parse_fast(frames[i], lens[i], want_dns, p)) {
			const struct fg_flist *l = &e->flist[(p->flags / FG_PKT_DNSQ) & 3];
			fl[i] = l;
			k = eval_fast(l, p, 0, l->rl_first, now, 0);
			rl = l->rl_first < l->n;
			undecided = (k < 0) & rl;
			if (rl) {
				hash[i] = fg_rl_hash(fg_rl_key4(p->src4));
				addr = undecided ? (const void *)fg_rl_set(&l->r[l->rl_first].r->rl, hash[i]) : addr;
			}
		} else {
			fg_pkt_parse(frames[i], lens[i], want_dns, p);
			fl[i] = NULL;
			if (p->flags & FG_PKT_MALFORMED) {
				malformed++;
				verdicts[i] = FG_DROP;
				if (decided)
					who[i] = FG_DECIDED_MALFORMED;
				continue;
			}
			k = eval_rules(e, p, 0, rl_first, now, 0);
			rl = have_rl;
			undecided = (k < 0) & rl;
			if (rl) {
				hash[i] = fg_rl_hash(rl_key(p));
				addr = undecided ? (const void *)fg_rl_set(rl0, hash[i]) : addr;
			}
		}
		/* undecided frames go on to the rate limit: queue them (pass 2 overwrites their verdicts);
		 * decided ones are queued then forgotten (npending not bumped) */
		__builtin_prefetch(addr, 1);
		pending[npending] = (uint8_t)i;
		npending += (uint32_t)undecided;
		verdicts[i] = e->verdict_of[k + 1];
		if (decided)
			who[i] = k < 0 ? FG_DECIDED_DEFAULT : (uint16_t)k;
		default_hits += (uint64_t)((k < 0) & !rl);
	}

	/* pass 2: the first rate limit and everything after it */
	for (uint32_t j = 0; j < npending; j++) {
		uint32_t i = pending[j];
		const struct fg_flist *l = fl[i];
		int k = l ? eval_fast(l, &pk[i], l->rl_first, l->n, now, hash[i])
			  : eval_rules(e, &pk[i], rl_first, e->nrules, now, hash[i]);
		verdicts[i] = e->verdict_of[k + 1];
		if (decided)
			who[i] = k < 0 ? FG_DECIDED_DEFAULT : (uint16_t)k;
		default_hits += (uint64_t)(k < 0);
	}

	uint64_t passed = 0;
	for (uint32_t i = 0; i < n; i++)
		passed += verdicts[i];
	if (decided)
		memcpy(decided, who, n * sizeof(*decided));
	e->c.packets += n;
	e->c.passed += passed;
	e->c.dropped += n - passed;
	e->c.malformed += malformed;
	e->default_hits += default_hits;
}

void fg_engine_classify_explain(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens,
				uint32_t n, uint64_t now_ns, uint8_t *verdicts, uint16_t *decided)
{
	/* more than a burst is accepted and cut into bursts, so a caller's mistake never overflows pk[] */
	for (uint32_t off = 0; off < n; off += FG_BURST_MAX) {
		uint32_t m = n - off < FG_BURST_MAX ? n - off : FG_BURST_MAX;
		if (decided)
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, decided + off);
		else
			classify_burst(e, frames + off, lens + off, m, now_ns, verdicts + off, NULL);
	}
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

static const struct fg_rule *find_rule(const struct fg_engine *e, const char *name)
{
	for (uint32_t i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i].name, name) == 0)
			return &e->rules[i];
	return NULL;
}

void fg_engine_adopt_counters(struct fg_engine *fresh, const struct fg_engine *old)
{
	fresh->c = old->c;
	fresh->default_hits = old->default_hits;
	for (uint32_t i = 0; i < fresh->nrules; i++) {
		const struct fg_rule *o = find_rule(old, fresh->rules[i].name);
		if (o)
			fresh->rules[i].hits = o->hits;
	}
}

void fg_engine_adopt_state(struct fg_engine *fresh, struct fg_engine *old)
{
	fg_engine_adopt_counters(fresh, old);
	for (uint32_t i = 0; i < fresh->nrules; i++) {
		struct fg_rule *f = &fresh->rules[i];
		struct fg_rule *o = (struct fg_rule *)find_rule(old, f->name);
		if (!o || f->action != FG_ACT_RATELIMIT || o->action != FG_ACT_RATELIMIT || f->rl_rate != o->rl_rate ||
		    f->rl_burst != o->rl_burst || f->rl.nsets != o->rl.nsets)
			continue;
		struct fg_rl tmp = f->rl;
		f->rl = o->rl;
		o->rl = tmp;
	}
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
