/* Classification end to end: first match wins, counters, malformed frames, rate limits, reload. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "../engine/engine_int.h"
#include "../engine/ratelimit.h"
#include "../fg_engine.h"
#include "tests.h"

static struct fg_engine *compile(const char *t)
{
	char err[600];
	struct fg_engine *e = fg_engine_compile(t, strlen(t), err, sizeof(err));
	if (!e)
		fprintf(stderr, "compile: %s\n", err);
	return e;
}

static int classify1(struct fg_engine *e, const struct frame *f, uint64_t now, uint16_t *who)
{
	const uint8_t *fr[1] = {f->b};
	uint32_t len[1] = {f->len};
	uint8_t v[1];
	uint16_t w[1];
	fg_engine_classify_explain(e, fr, len, 1, now, v, w);
	if (who)
		*who = w[0];
	return v[0];
}

static void test_first_match(void)
{
	struct fg_engine *e = compile("default drop\n"
				      "rule frags drop fragment\n"
				      "rule clients pass src 198.51.100.0/24,2001:db8::/32 udp dport 53 dns-valid\n"
				      "rule rnd drop qname-suffix example.com\n"
				      "rule dnsok pass udp dport 53 dns-valid qtype A,AAAA\n");
	CHECK(e != NULL);
	struct frame f;
	uint16_t who;
	struct pkt_spec s = {.src = "198.51.100.9", .sport = 9, .dport = 53, .qname = "x.example.com", .qtype = 16};
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_PASS && who == 1);
	s.src = "203.0.113.1";
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 2);
	s.qname = "WWW.Example.COM"; /* case-insensitive, label-aligned */
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 2);
	s.qname = "notexample.com"; /* not label-aligned: not a suffix match; qtype TXT not allowed */
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == FG_DECIDED_DEFAULT);
	s.qtype = 28;
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_PASS && who == 3);
	s.qname = "example.com"; /* the suffix itself */
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 2);
	s.v6 = 1, s.src = "2001:db8:ff::1", s.qname = "a.example.org";
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_PASS && who == 1);
	s.v6 = 0, s.src = "198.51.100.9", s.frag = 0x0010;
	build_frame(&f, &s);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 0);
	/* malformed: dropped before the rules */
	build_frame(&f, &s);
	f.len = 20;
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == FG_DECIDED_MALFORMED);
	struct fg_counters c;
	fg_engine_counters(e, &c);
	CHECK(c.packets == 9 && c.passed == 3 && c.dropped == 6 && c.malformed == 1);
	uint64_t hits;
	const char *n, *a;
	fg_engine_rule_info(e, 2, &n, &a, &hits);
	CHECK(hits == 3 && !strcmp(a, "drop"));
	uint64_t dh;
	CHECK(fg_engine_default_verdict(e, &dh) == FG_DROP && dh == 1);
	/* stats JSON: snprintf-like sizing */
	size_t need = fg_engine_stats_json(e, NULL, 0);
	char small[10];
	CHECK(fg_engine_stats_json(e, small, sizeof(small)) == need && small[9] == '\0');
	char *js = malloc(need + 1);
	CHECK(fg_engine_stats_json(e, js, need + 1) == need && strlen(js) == need);
	CHECK(strstr(js, "\"packets\":9,\"passed\":3,\"dropped\":6,\"malformed\":1") != NULL);
	CHECK(strstr(js, "{\"name\":\"rnd\",\"action\":\"drop\",\"hits\":3}") != NULL);
	free(js);
	fg_engine_free(e);
}

static void test_terms(void)
{
	struct fg_engine *e = compile("rule t drop tcp dport 80\nrule s drop sport 1-99\nrule v6 drop ipv6\n"
				      "rule p drop proto 1\nrule all pass\n");
	struct frame f;
	uint16_t who;
	struct pkt_spec tcp = {.proto = 6, .sport = 1000, .dport = 80};
	build_frame(&f, &tcp);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 0);
	struct pkt_spec udp = {.sport = 50, .dport = 80};
	build_frame(&f, &udp);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 1);
	udp.sport = 100, udp.v6 = 1;
	build_frame(&f, &udp);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 2);
	struct pkt_spec icmp = {.proto = 1};
	build_frame(&f, &icmp);
	CHECK(classify1(e, &f, 0, &who) == FG_DROP && who == 3);
	/* a non-IP frame only matches rules without IP terms */
	build_frame(&f, &icmp);
	f.b[12] = 0x08, f.b[13] = 0x06;
	CHECK(classify1(e, &f, 0, &who) == FG_PASS && who == 4);
	fg_engine_free(e);
}

static void test_ratelimit(void)
{
	/* 10/s, burst 3: three at once pass, the fourth is dropped; after 100 ms one more passes */
	struct fg_engine *e = compile("default drop\nrule lim ratelimit 10/s burst 3 table 1024\nrule ok pass udp\n");
	struct frame f;
	uint16_t who;
	struct pkt_spec s = {.src = "192.0.2.7", .sport = 1, .dport = 53};
	build_frame(&f, &s);
	uint64_t t0 = 5000000000ull;
	for (int i = 0; i < 3; i++)
		CHECK(classify1(e, &f, t0, &who) == FG_PASS && who == 1);
	CHECK(classify1(e, &f, t0, &who) == FG_DROP && who == 0);
	CHECK(classify1(e, &f, t0 + 99999999, NULL) == FG_DROP);
	CHECK(classify1(e, &f, t0 + 100000000, NULL) == FG_PASS);
	CHECK(classify1(e, &f, t0 + 100000000, NULL) == FG_DROP);
	/* another source has its own bucket */
	struct pkt_spec o = {.src = "192.0.2.8", .sport = 1, .dport = 53};
	struct frame g;
	build_frame(&g, &o);
	CHECK(classify1(e, &g, t0, NULL) == FG_PASS);
	/* IPv6 sources are limited per /64 */
	struct pkt_spec a6 = {.v6 = 1, .src = "2001:db8:1:2::1", .sport = 1, .dport = 53};
	struct pkt_spec b6 = {.v6 = 1, .src = "2001:db8:1:2::ffff", .sport = 1, .dport = 53};
	struct frame h;
	build_frame(&h, &a6);
	for (int i = 0; i < 3; i++)
		classify1(e, &h, t0, NULL);
	build_frame(&h, &b6);
	CHECK(classify1(e, &h, t0, NULL) == FG_DROP);
	/* an IPv6 source whose /64 reads like an IPv4 key (ffff:ffff:IPv4::/64) has a bucket of its own: spoofed
	 * IPv6 frames never use up an IPv4 source's burst */
	struct pkt_spec v4 = {.src = "192.0.2.77", .sport = 1, .dport = 53};
	struct pkt_spec m6 = {.v6 = 1, .src = "ffff:ffff:c000:24d::1", .sport = 1, .dport = 53};
	build_frame(&h, &m6);
	for (int i = 0; i < 3; i++)
		CHECK(classify1(e, &h, t0, NULL) == FG_PASS);
	CHECK(classify1(e, &h, t0, NULL) == FG_DROP);
	build_frame(&h, &v4);
	CHECK(classify1(e, &h, t0, NULL) == FG_PASS);
	/* a bounded table: 100,000 spoofed sources in a 1024-entry table evict, never grow */
	for (uint32_t i = 0; i < 100000; i++) {
		f.b[14 + 12] = (uint8_t)(i >> 24), f.b[14 + 13] = (uint8_t)(i >> 16);
		f.b[14 + 14] = (uint8_t)(i >> 8), f.b[14 + 15] = (uint8_t)i;
		classify1(e, &f, t0 + 1, NULL);
	}
	CHECK(fg_engine_ratelimit_evictions(e) > 90000);
	/* reload: counters by name, rate-limit state when the limit is unchanged */
	struct fg_engine *fresh = compile("default drop\nrule new pass src 10.0.0.0/8\n"
					  "rule lim ratelimit 10/s burst 3 table 1024\nrule ok pass udp\n");
	struct pkt_spec o9 = {.src = "192.0.2.9", .sport = 1, .dport = 53};
	build_frame(&g, &o9);
	CHECK(classify1(e, &g, t0 + 2, NULL) == FG_PASS); /* first and second of three */
	CHECK(classify1(e, &g, t0 + 2, NULL) == FG_PASS);
	fg_engine_adopt_state(fresh, e);
	struct fg_counters c1, c2;
	fg_engine_counters(e, &c1);
	fg_engine_counters(fresh, &c2);
	CHECK(c1.packets == c2.packets && c1.passed == c2.passed);
	uint64_t h_old, h_new;
	fg_engine_rule_info(e, 0, NULL, NULL, &h_old);
	fg_engine_rule_info(fresh, 1, NULL, NULL, &h_new);
	CHECK(h_old == h_new && h_new > 0);
	CHECK(classify1(fresh, &g, t0 + 3, NULL) == FG_PASS);  /* third of three, carried over */
	CHECK(classify1(fresh, &g, t0 + 4, NULL) == FG_DROP);  /* the bucket moved with the reload */
	CHECK(classify1(e, &g, t0 + 5, NULL) == FG_PASS);      /* the old engine got the empty table */
	fg_engine_free(e);
	fg_engine_free(fresh);
}

static struct fg_engine *compile_for_reload(const char *t, const struct fg_engine *running)
{
	char err[600];
	struct fg_compile_opts o = {.no_files = 1, .tables_from = running};
	struct fg_engine *e = fg_engine_compile_ex(t, strlen(t), &o, err, sizeof(err));
	if (!e)
		fprintf(stderr, "compile: %s\n", err);
	return e;
}

/* A reload's compile given the running engine (tables_from): a rate limit that keeps its name, rate, burst and
 * table size gets no table of its own (a 16M-source one is 256 MiB, zeroed, only to be swapped out and freed);
 * fg_engine_adopt_state moves the running one in, buckets and all. A changed limit gets a fresh table at
 * compile; a table left to adopt whose twin is not in the engine given to adopt is allocated there. */
static void test_reload_keeps_tables_without_twins(void)
{
	struct fg_engine *e = compile("default drop\nrule lim ratelimit 10/s burst 3 table 4096\n"
				      "rule lim2 ratelimit 10/s burst 3 table 1024\nrule ok pass udp\n");
	struct fg_engine *fresh = compile_for_reload("default drop\nrule new pass src 10.0.0.0/8\n"
						     "rule lim ratelimit 10/s burst 3 table 4096\n"
						     "rule lim2 ratelimit 20/s burst 3 table 1024\nrule ok pass udp\n",
						     e);
	if (!e || !fresh)
		return;
	const struct fg_rl_set *running_table = e->rules[0].rl.t;
	CHECK(fresh->rules[1].rl_adopt == 1 && fresh->rules[1].rl.t == NULL); /* unchanged: left to adopt */
	CHECK(fresh->rules[2].rl_adopt == 0 && fresh->rules[2].rl.t != NULL); /* new rate: a table of its own */
	struct frame f;
	struct pkt_spec s = {.src = "192.0.2.9", .sport = 1, .dport = 53};
	build_frame(&f, &s);
	uint64_t t0 = 5000000000ull;
	CHECK(classify1(e, &f, t0, NULL) == FG_PASS && classify1(e, &f, t0, NULL) == FG_PASS);
	/* the rules were matched by name in the compile: the swap looks nothing up */
	CHECK(fresh->twins_of == e->id && fresh->rules[0].twin == 0 && fresh->rules[1].twin == 1 &&
	      fresh->rules[3].twin == 3);
	CHECK(fg_engine_adopt_state(fresh, e) == 0);
	uint64_t hits = 0;
	fg_engine_rule_info(fresh, 3, NULL, NULL, &hits);
	CHECK(hits == 2); /* 'ok' passed both, its counter carried from e's rule 2 */
	CHECK(fresh->rules[1].rl.t == running_table && fresh->rules[1].rl_adopt == 0);
	CHECK(e->rules[0].rl.t == NULL); /* the running engine gave its table up: it is freed next, unused */
	CHECK(classify1(fresh, &f, t0 + 1, NULL) == FG_PASS); /* third of three, carried over */
	CHECK(classify1(fresh, &f, t0 + 2, NULL) == FG_DROP);
	fg_engine_free(e);
	/* adopt from an engine that is not the compile's tables_from (no twin): the table is allocated there */
	struct fg_engine *other = compile("default drop\nrule ok pass udp\n");
	struct fg_engine *again = compile_for_reload(
		"default drop\nrule lim ratelimit 10/s burst 3 table 4096\nrule ok pass udp\n", fresh);
	if (other && again) {
		CHECK(again->rules[0].rl.t == NULL && again->twins_of == fresh->id && again->rules[1].twin == 4);
		CHECK(classify1(other, &f, t0, NULL) == FG_PASS);
		CHECK(fg_engine_adopt_state(again, other) == 0 && again->rules[0].rl.t != NULL);
		fg_engine_rule_info(again, 1, NULL, NULL, &hits);
		CHECK(hits == 1); /* by name, from other's rule 0 (twin 4 is fresh's index, not other's) */
		for (int i = 0; i < 3; i++) /* an empty table: a full burst again */
			CHECK(classify1(again, &f, t0 + 2, NULL) == FG_PASS);
		CHECK(classify1(again, &f, t0 + 2, NULL) == FG_DROP);
	}
	fg_engine_free(other);
	fg_engine_free(again);
	fg_engine_free(fresh);
}

/* A burst of fast-shaped frames goes rule by rule: the rate limit charges its table in frame order, and the
 * rule after it (whose checks are tested while the limit's table sets are fetched) decides only the frames the
 * limit let through. Same verdicts and deciding rules as frame by frame (fast path off) and as worked out. */
static void test_ratelimit_rule_by_rule(void)
{
	const char *rules = "default drop\nrule rnd drop qname-suffix example.com\n"
			    "rule lim ratelimit 10/s burst 2 table 1024\nrule ok pass udp dport 53 qtype A\n";
	struct fg_engine *e = compile(rules), *g = compile(rules);
	fg_engine_set_fast_path(g, 0);
	enum { N = 48 };
	static struct frame fs[N];
	const uint8_t *fr[N];
	uint32_t len[N];
	uint8_t v[N], vg[N];
	uint16_t w[N], wg[N];
	static const char *srcs[3] = {"192.0.2.1", "192.0.2.2", "198.51.100.3"};
	int seen[3] = {0, 0, 0}, ok = 1;
	for (int i = 0; i < N; i++) {
		struct pkt_spec s = {.src = srcs[i % 3], .sport = 1000, .dport = (uint16_t)(i % 4 == 3 ? 54 : 53),
				     .qname = i % 5 == 4 ? "x.example.com" : "www.example.org",
				     .qtype = (uint16_t)(i % 7 == 6 ? 28 : 1), .dns_flags_hi = 0x01, .qdcount = 1};
		build_frame(&fs[i], &s);
		fr[i] = fs[i].b;
		len[i] = fs[i].len;
	}
	fg_engine_classify_explain(e, fr, len, N, 1000, v, w);
	fg_engine_classify_explain(g, fr, len, N, 1000, vg, wg);
	for (int i = 0; i < N; i++) {
		uint16_t want;
		if (i % 5 == 4)
			want = 0; /* rnd */
		else if (++seen[i % 3] > 2)
			want = 1; /* over the burst of 2 */
		else
			want = (i % 4 != 3 && i % 7 != 6) ? 2 : FG_DECIDED_DEFAULT;
		ok &= w[i] == want && wg[i] == want && v[i] == vg[i] && v[i] == (want == 2 ? FG_PASS : FG_DROP);
	}
	CHECK(ok);
	uint64_t h1, h2;
	fg_engine_rule_info(e, 1, NULL, NULL, &h1);
	fg_engine_rule_info(g, 1, NULL, NULL, &h2);
	CHECK(h1 == h2 && h1 == (uint64_t)(N - N / 5 - 6));
	fg_engine_free(e);
	fg_engine_free(g);
}

/* A burst of 64 on the rule-by-rule path with rare checks before a rate limit (a source-port rule, a suffix
 * list) and a rate limit with a check of its own (qtype): same verdicts, deciding rules, hits, counters and
 * table state as frame by frame (fast path off), over three bursts. Then the same bursts with one frame the
 * fast path does not take (a VLAN tag) near their end: each burst goes frame by frame after all but that frame
 * were parsed, and leaves no trace of the rule-by-rule attempt (no hit counted twice). */
static void test_rule_by_rule_64(void)
{
	const char *rules = "default pass\nrule cl pass src 192.0.2.0/30 udp dport 53 dns-valid\n"
			    "rule sp drop sport 1001\nrule sfx drop qname-suffix example.com,example.net\n"
			    "rule lim ratelimit 10/s burst 2 table 1024 qtype A\nrule ok drop udp dport 53 qtype AAAA\n";
	enum { N = 64 };
	static struct frame fs[N];
	const uint8_t *fr[N];
	uint32_t len[N];
	static const char *srcs[5] = {"192.0.2.1", "192.0.2.9", "198.51.100.3", "203.0.113.7", "192.0.2.2"};
	static const char *names[4] = {"www.example.org", "a.example.com", "b.example.net", "mail.example.org"};
	for (int round = 0; round < 2; round++) {
		struct fg_engine *e = compile(rules), *g = compile(rules);
		fg_engine_set_fast_path(g, 0);
		for (int i = 0; i < N; i++) {
			struct pkt_spec s = {.src = srcs[i % 5], .sport = (uint16_t)(1000 + i % 3),
					     .dport = (uint16_t)(i % 11 == 10 ? 54 : 53), .qname = names[i % 4],
					     .qtype = (uint16_t)(i % 6 == 5 ? 28 : 1), .dns_flags_hi = 0x01, .qdcount = 1,
					     .vlans = round == 1 && i == 57};
			build_frame(&fs[i], &s);
			fr[i] = fs[i].b;
			len[i] = fs[i].len;
		}
		uint8_t v[N], vg[N];
		uint16_t w[N], wg[N];
		int ok = 1, seen_lim = 0;
		for (int b = 0; b < 3; b++) { /* three bursts: the table carries state from one to the next */
			fg_engine_classify_explain(e, fr, len, N, 1000 + (uint64_t)b, v, w);
			fg_engine_classify_explain(g, fr, len, N, 1000 + (uint64_t)b, vg, wg);
			for (int i = 0; i < N; i++) {
				ok &= v[i] == vg[i] && w[i] == wg[i];
				seen_lim |= w[i] == 3;
			}
		}
		CHECK(ok);
		CHECK(seen_lim); /* some frames over their rate */
		for (uint32_t k = 0; k < fg_engine_rule_count(e); k++) {
			uint64_t h1, h2;
			fg_engine_rule_info(e, k, NULL, NULL, &h1);
			fg_engine_rule_info(g, k, NULL, NULL, &h2);
			CHECK(h1 == h2 && h1 > 0);
		}
		struct fg_counters c1, c2;
		fg_engine_counters(e, &c1);
		fg_engine_counters(g, &c2);
		uint64_t d1, d2;
		fg_engine_default_verdict(e, &d1);
		fg_engine_default_verdict(g, &d2);
		CHECK(c1.packets == 3 * N && c1.packets == c2.packets && c1.passed == c2.passed && d1 == d2 && d1 > 0);
		CHECK(fg_engine_ratelimit_evictions(e) == fg_engine_ratelimit_evictions(g));
		fg_engine_free(e);
		fg_engine_free(g);
	}
}

/* One suffix of 17-32 bytes is compared as four words on the rule-by-rule path (its own filter loops): a name
 * that differs from it only in its first 16 bytes does not match, one that ends in it on a label boundary does;
 * the same with the fast path off. */
static void test_long_suffix_rule_by_rule(void)
{
	const char *rules = "default pass\nrule x drop qname-suffix another-long-label.example.org\n";
	static const struct {
		const char *name;
		int drop;
	} cases[] = {{"another-long-label.example.org", 1}, {"xnother-long-label.example.org", 0},
		     {"a.another-long-label.example.org", 1}, {"ANOTHER-Long-Label.Example.ORG", 1},
		     {"xanother-long-label.example.org", 0}, {"another-long-label.example.org.x", 0},
		     {"label.example.org", 0}};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct fg_engine *e = compile(rules), *g = compile(rules);
	fg_engine_set_fast_path(g, 0);
	static struct frame fs[N];
	const uint8_t *fr[N];
	uint32_t len[N];
	uint8_t v[N], vg[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		struct pkt_spec s = {.src = "192.0.2.1", .sport = 1000, .dport = 53, .qname = cases[i].name,
				     .qtype = 1, .dns_flags_hi = 0x01, .qdcount = 1};
		build_frame(&fs[i], &s);
		fr[i] = fs[i].b;
		len[i] = fs[i].len;
	}
	fg_engine_classify(e, fr, len, N, 0, v);
	fg_engine_classify(g, fr, len, N, 0, vg);
	for (int i = 0; i < N; i++)
		ok &= v[i] == (cases[i].drop ? FG_DROP : FG_PASS) && vg[i] == v[i];
	CHECK(ok);
	fg_engine_free(e);
	fg_engine_free(g);
}

/* A destination-port check of one port is a compare on the rule-by-rule path (the filter loops' dport1), of
 * several a map lookup: both against frames with the ports at the edges (0, 65535) and beside the one tested,
 * with and without a source check, the same as worked out and as the fast path off. */
static void test_one_port_rule_by_rule(void)
{
	static const struct {
		const char *terms;
		uint32_t lo, hi, lo2, hi2; /* the ports that match: [lo, hi] or [lo2, hi2] */
	} rules[] = {{"dport 53", 53, 53, 1, 0},		{"dport 0", 0, 0, 1, 0},
		     {"dport 65535", 65535, 65535, 1, 0},	{"dport 53,54", 53, 54, 1, 0},
		     {"dport 1-65535", 1, 65535, 1, 0},	{"dport 0,65535", 0, 0, 65535, 65535},
		     {"dport 53 src 192.0.2.0/24", 53, 53, 1, 0}, {"dport 52 qtype A", 52, 52, 1, 0}};
	static const uint16_t ports[] = {0, 1, 52, 53, 54, 65534, 65535};
	enum { N = 2 * sizeof(ports) / sizeof(ports[0]) };
	static struct frame fs[N];
	const uint8_t *fr[N];
	uint32_t len[N];
	for (int i = 0; i < N; i++) {
		struct pkt_spec sp = {.src = i % 2 ? "192.0.2.9" : "198.51.100.9", .sport = 1000,
				      .dport = ports[i / 2], .qname = "www.example.org", .qtype = 1,
				      .dns_flags_hi = 0x01, .qdcount = 1};
		build_frame(&fs[i], &sp);
		fr[i] = fs[i].b;
		len[i] = fs[i].len;
	}
	int ok = 1;
	for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
		char text[200];
		snprintf(text, sizeof(text), "default pass\nrule x drop %s\n", rules[k].terms);
		struct fg_engine *e = compile(text), *g = compile(text);
		fg_engine_set_fast_path(g, 0);
		uint8_t v[N], vg[N];
		fg_engine_classify(e, fr, len, N, 0, v);
		fg_engine_classify(g, fr, len, N, 0, vg);
		for (int i = 0; i < N; i++) {
			uint32_t d = ports[i / 2];
			int drop = (d >= rules[k].lo && d <= rules[k].hi) || (d >= rules[k].lo2 && d <= rules[k].hi2);
			if (strstr(rules[k].terms, "src"))
				drop &= i % 2;
			ok &= v[i] == (drop ? FG_DROP : FG_PASS) && vg[i] == v[i];
		}
		fg_engine_free(e);
		fg_engine_free(g);
	}
	CHECK(ok);
}

/* The rate limiter's hash: fg_rl_hash4 is fg_rl_hash of the IPv4 key, and both give the top bits of murmur3's
 * full fmix64 (what the Python model computes), which are all a set index uses (up to 2^22 sets). */
static void test_ratelimit_hash(void)
{
	int ok = 1;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint32_t a = i < 4 ? (uint32_t[]){0, 1, 0x7FFFFFFF, 0xFFFFFFFF}[i] : (uint32_t)x;
		uint64_t k = i & 1 ? fg_rl_key6(x) : fg_rl_key4(a);
		uint64_t full = k;
		full ^= full >> 33, full *= 0xff51afd7ed558ccdull, full ^= full >> 33, full *= 0xc4ceb9fe1a85ec53ull;
		full ^= full >> 33;
		ok &= (fg_rl_hash(k) >> 31) == (full >> 31);
		ok &= fg_rl_hash4(a) == fg_rl_hash(fg_rl_key4(a));
	}
	CHECK(ok);
}

/* A large allowlist on the rule-by-rule path (1,202 partly covered /16s, so as many second-level chunks): the
 * verdicts are the set's membership, the same with the fast path off. Sources in covered /24s, beside them in
 * the same /16, in /16s with no prefix, and in the first and last /16. */
static void test_large_allowlist_rule_by_rule(void)
{
	char dir[] = "/tmp/fg-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[300], rules[400];
	snprintf(path, sizeof(path), "%s/allow.txt", dir);
	FILE *f = fopen(path, "w");
	for (uint32_t k = 0; k < 1200; k++) /* /24 number 3 of every third /16 from 1.0 on, and 255.255.3.0/24 */
		fprintf(f, "%u.%u.3.0/24\n", 1 + (k * 3) / 256, (k * 3) % 256);
	fprintf(f, "255.255.3.0/24\n0.0.3.0/24\n");
	fclose(f);
	snprintf(rules, sizeof(rules), "default drop\nrule ok pass src-file %s udp dport 53\n", path);
	struct fg_engine *e = compile(rules), *g = compile(rules);
	CHECK(e && g);
	fg_engine_set_fast_path(g, 0);
	enum { N = 64 };
	static struct frame fs[N];
	const uint8_t *fr[N];
	uint32_t len[N];
	uint8_t v[N], vg[N], want[N];
	int ok = 1;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < N; i++) {
			uint32_t k = (uint32_t)(round * N + i) * 7u % 1300u, a = 1 + (k * 3) / 256, b = (k * 3) % 256;
			uint32_t c = (uint32_t)i % 4 == 0 ? 4 : 3; /* beside the covered /24 */
			if (i == 1)
				a = 255, b = 255;
			else if (i == 2)
				a = 0, b = 0;
			else if (i == 3)
				b = (b + 1) % 256; /* a /16 with no prefix (or the next covered one past 1200) */
			char src[32];
			snprintf(src, sizeof(src), "%u.%u.%u.%u", a, b, c, (uint32_t)(round + i) % 256);
			uint32_t kk = (a - 1) * 256 + b; /* which /16 from 1.0 on */
			want[i] = (c == 3 && ((i == 1 || i == 2) || (a >= 1 && kk % 3 == 0 && kk / 3 < 1200))) ? FG_PASS
													       : FG_DROP;
			struct pkt_spec sp = {.src = src, .sport = 1000, .dport = 53, .qname = "www.example.org",
					      .qtype = 1, .dns_flags_hi = 0x01, .qdcount = 1};
			build_frame(&fs[i], &sp);
			fr[i] = fs[i].b;
			len[i] = fs[i].len;
		}
		fg_engine_classify(e, fr, len, N, 0, v);
		fg_engine_classify(g, fr, len, N, 0, vg);
		for (int i = 0; i < N; i++)
			ok &= v[i] == want[i] && vg[i] == want[i];
	}
	CHECK(ok);
	fg_engine_free(e);
	fg_engine_free(g);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_bursts(void)
{
	struct fg_engine *e = compile("rule d drop udp dport 7\n");
	struct frame *fs = calloc(200, sizeof(*fs));
	const uint8_t *fr[200];
	uint32_t len[200];
	uint8_t v[200];
	for (int i = 0; i < 200; i++) {
		struct pkt_spec s = {.sport = 1, .dport = (uint16_t)(i % 2 ? 7 : 8)};
		build_frame(&fs[i], &s);
		fr[i] = fs[i].b;
		len[i] = fs[i].len;
	}
	fg_engine_classify(e, fr, len, 200, 0, v); /* more than FG_BURST_MAX: cut into bursts */
	int ok = 1;
	for (int i = 0; i < 200; i++)
		ok &= v[i] == (i % 2 ? FG_DROP : FG_PASS);
	CHECK(ok);
	fg_engine_classify(e, fr, len, 0, 0, v);
	struct fg_counters c;
	fg_engine_counters(e, &c);
	CHECK(c.packets == 200 && c.dropped == 100);
	free(fs);
	fg_engine_free(e);
}

void test_engine(void)
{
	test_first_match();
	test_terms();
	test_ratelimit();
	test_reload_keeps_tables_without_twins();
	test_ratelimit_rule_by_rule();
	test_rule_by_rule_64();
	test_ratelimit_hash();
	test_one_port_rule_by_rule();
	test_long_suffix_rule_by_rule();
	test_large_allowlist_rule_by_rule();
	test_bursts();
}
