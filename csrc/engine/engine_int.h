/* The compiled engine's layout, shared by the rules parser and the classifier (not part of the API). */
#ifndef FG_ENGINE_INT_H
#define FG_ENGINE_INT_H

#include <stdint.h>

#include "../fg_engine.h"
#include "pkt_parse.h"
#include "prefix_set.h"
#include "ratelimit.h"

#define FG_RULES_MAX 1024
#define FG_LINE_MAX 4096
#define FG_NAME_MAX 64
#define FG_RULES_FILE_MAX (16u << 20)
#define FG_SRC_FILE_MAX (64u << 20)
#define FG_PREFIXES_MAX (1u << 20)
#define FG_PORTS_MAX 64
#define FG_QTYPES_MAX 64
#define FG_SUFFIXES_MAX 256

enum fg_action { FG_ACT_DROP = 0, FG_ACT_PASS = 1, FG_ACT_RATELIMIT = 2 };

enum fg_term {
	FG_T_SRC = 1u << 0,
	FG_T_IPV4 = 1u << 1,
	FG_T_IPV6 = 1u << 2,
	FG_T_PROTO = 1u << 3,
	FG_T_DPORT = 1u << 4,
	FG_T_SPORT = 1u << 5,
	FG_T_FRAG = 1u << 6,
	FG_T_DNSVALID = 1u << 7,
	FG_T_QTYPE = 1u << 8,
	FG_T_SUFFIX = 1u << 9,
};
#define FG_T_DNS_ANY (FG_T_DNSVALID | FG_T_QTYPE | FG_T_SUFFIX)

/* A suffix of at most FG_SUFFIX_FAST bytes is also kept as up to 4 words aligned to the END of the name:
 * the name's last 8 * nw bytes, read as words, match when ((word | fold) ^ want) & mask is 0 for each.
 * fold has 0x20 at letter positions (so 'E' | 0x20 == 'e' and nothing else does), mask 0xFF at the
 * suffix's bytes. Reading up to 32 bytes before the name's end never leaves the frame: a question starts
 * at least 54 bytes in (Ethernet 14 + IPv4 20 + UDP 8 + DNS header 12). */
#define FG_SUFFIX_FAST 32
struct fg_suffix {
	uint8_t len;     /* wire length including the root byte */
	uint8_t nlabels; /* labels before the root */
	uint8_t nw;      /* words of the fast compare (len <= FG_SUFFIX_FAST), else 0 */
	uint64_t want[4], fold[4], mask[4];
	uint8_t wire[256];
};

struct fg_rule {
	uint32_t terms;
	/* the cheap terms, precomputed for a branch-free test (see rule_matches) */
	uint32_t need_flags; /* packet flags that must all be set */
	uint32_t any_flags;  /* at least one of these must be set (0: no requirement) */
	uint8_t proto_mask;  /* 0xFF with the protocol term, else 0 (and proto 0) */
	uint8_t action;
	uint8_t proto;
	uint32_t line;
	uint64_t hits;
	uint64_t *dport_bm, *sport_bm, *qtype_bm; /* 65536-bit maps */
	struct fg_prefix_set *src;
	struct fg_suffix *suffixes;
	uint32_t nsuffixes;
	struct fg_rl rl;
	uint64_t rl_rate, rl_burst, rl_entries;
	uint8_t rl_adopt; /* rl.t NULL: the table is the running engine's, moved in by fg_engine_adopt_state */
	uint32_t twin;    /* compiled with tables_from: 1 + the index of its rule of the same name there, 0 none */
	char name[FG_NAME_MAX + 1];
};

/* The rule named name, or NULL. */
const struct fg_rule *fg_engine_find_rule(const struct fg_engine *e, const char *name);
/* fresh is a ratelimit rule whose source table old's can be (both ratelimit, same rate, burst and table size;
 * old may be NULL). Reads only what a compile sets, so old's engine may be classifying meanwhile. */
int fg_rule_same_limit(const struct fg_rule *fresh, const struct fg_rule *old);

/* The fast path (engine.c): a rule as it applies to a frame that fg_pkt_parse_fast accepted, i.e. untagged
 * IPv4/UDP, not a fragment. Terms such a frame always meets (ipv4, udp, proto 17, the "any IP" of src/proto,
 * the L4 needed by ports) are gone; rules it can never meet (ipv6, tcp, proto != 17, fragment) are left out
 * of the list, and so are rules whose DNS terms the frame's DNS flags fail (one list per flag state). What
 * remains is tested in the general evaluator's order. */
enum fg_fcheck {
	FG_F_DPORT = 1u << 0,
	FG_F_SPORT = 1u << 1,
	FG_F_QTYPE = 1u << 2,
	FG_F_SRC = 1u << 3,
	FG_F_SUFFIX = 1u << 4,
	FG_F_RL = 1u << 5,      /* a ratelimit rule: matches only over the rate */
	FG_F_SUFFIX1 = 1u << 6, /* one suffix of at most FG_SUFFIX_FAST bytes: the unrolled compare below */
	FG_F_RARE = 1u << 7,    /* FG_F_SPORT or FG_F_SUFFIX: tested behind this one bit */
};

struct fg_frule {
	uint32_t checks; /* enum fg_fcheck */
	uint32_t idx;    /* the rule's index in rules[] */
	uint64_t *hits;  /* &rules[idx].hits */
	const uint64_t *dport_bm, *sport_bm, *qtype_bm;
	const struct fg_prefix_set *src;
	struct fg_rule *r;
	/* FG_F_SUFFIX1: the suffix's words counted from the END of the name (word w: the 8 bytes ending
	 * 8 * w bytes before it); words from s_nw on are zero (mask 0), so the compare reads 2 words, or 4 for
	 * suffixes over 16 bytes, without a switch on s_nw */
	uint8_t s_len, s_nlabels, s_nw;
	uint8_t need; /* the DNS flags its terms need: 0 none, 1 FG_PKT_DNSQ, 2 FG_PKT_DNSQ | FG_PKT_DNSOK */
	uint8_t dport_one; /* FG_F_DPORT with exactly one port, dport1: the filter loops compare it, no map */
	uint16_t dport1;
	uint64_t s_want[4], s_fold[4], s_mask[4];
};

struct fg_engine;
typedef void (*fg_classify_fn)(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens, uint32_t n,
			       uint64_t now_ns, uint8_t *verdicts, uint16_t *decided);

struct fg_engine {
	struct fg_counters c;
	fg_classify_fn classify; /* the burst loop for this CPU's instruction set (engine.c) */
	uint64_t default_hits;
	uint8_t default_action;
	uint8_t want_dns;
	uint32_t nrules;
	uint32_t rl_first; /* index of the first ratelimit rule, nrules when none */
	struct fg_rule *rules;
	/* the fast path's rule lists, indexed by (flags / FG_PKT_DNSQ) & 3: the rules a frame with those DNS
	 * flags can still match (their DNS terms hold). 32 bytes each, so that the list's offset is
	 * flags & (FG_PKT_DNSQ | FG_PKT_DNSOK) itself */
	struct fg_flist {
		struct fg_frule *r;   /* the list */
		struct fg_frule *rl;  /* its first ratelimit rule (pass 2 starts there), end when none */
		struct fg_frule *end; /* one past its last rule */
		struct fg_rl *rl0;    /* rl's table, NULL when none */
	} flist[4];
	uint8_t fast_off;       /* fg_engine_set_fast_path(e, 0): every frame takes the general path */
	uint64_t id;            /* this compile's number, never reused in the process */
	uint64_t twins_of;      /* the id of the tables_from engine its rules' twin indexes are for, 0 none */
	uint8_t verdict_of[FG_RULES_MAX + 1]; /* [0]: the default's verdict, [k + 1]: rule k's (FG_PASS/FG_DROP) */
};

/* 65536 set bits: stands in for a port/qtype map a rule does not have, so the test needs no branch */
extern const uint64_t fg_bm_all[1024];

static inline __attribute__((always_inline)) int fg_bm_test(const uint64_t *bm, uint16_t i)
{
	return (int)((bm[i >> 6] >> (i & 63)) & 1);
}

static inline void fg_bm_set(uint64_t *bm, uint16_t i)
{
	bm[i >> 6] |= 1ull << (i & 63);
}

/* rules_parse.c: fill e from the text (e is zeroed by the caller). 0, or -1 with err filled. */
int fg_rules_parse(struct fg_engine *e, const char *text, size_t len, const struct fg_compile_opts *o, char *err,
		   size_t errlen);
void fg_rule_free(struct fg_rule *r);

#endif
