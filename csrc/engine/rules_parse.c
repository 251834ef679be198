/* The rules file parser: text -> struct fg_engine (docs/rules-format.md is the grammar; keep them in step).
 * Runs once per load, never on the packet path; every error names the line and is fatal for the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_int.h"

struct tok {
	const char *s;
	size_t n;
};

struct pctx {
	struct fg_engine *e;
	const struct fg_compile_opts *o;
	char *err;
	size_t errlen;
	uint32_t line;
	const char *rule; /* name of the rule being parsed, for messages */
	uint32_t default_line;
	size_t prefixes; /* over the whole file */
};

static int fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pctx *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->rule)
		snprintf(c->err, c->errlen, "line %u: rule '%s': %s", c->line, c->rule, msg);
	else
		snprintf(c->err, c->errlen, "line %u: %s", c->line, msg);
	return -1;
}

static int tok_is(struct tok t, const char *w)
{
	return t.n == strlen(w) && memcmp(t.s, w, t.n) == 0;
}

/* Printable form of a token for messages (bounded). */
#define TOKF "%.*s"
#define TOKA(t) (int)((t).n > 80 ? 80 : (t).n), (t).s

/* Decimal number without sign, at most max. */
static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Iterate the comma-separated items of a token. Returns 1 with the next item, 0 at the end; an empty item
 * (",," or a leading/trailing comma) comes back with n == 0 for the caller to report. */
static int next_item(struct tok *list, struct tok *item)
{
	if (!list->s)
		return 0;
	const char *c = memchr(list->s, ',', list->n);
	size_t k = c ? (size_t)(c - list->s) : list->n;
	item->s = list->s;
	item->n = k;
	if (c) {
		list->s += k + 1;
		list->n -= k + 1;
	} else {
		list->s = NULL; /* that was the last item */
		list->n = 0;
	}
	return 1;
}

static int add_prefix(struct pctx *c, struct fg_prefix_list *pl, struct tok t, char *err, size_t errlen)
{
	struct fg_prefix p;
	if (fg_prefix_parse(t.s, t.n, &p, err, errlen))
		return -1;
	if (++c->prefixes > FG_PREFIXES_MAX) {
		snprintf(err, errlen, "more than %u prefixes in the rules file and its src-files", FG_PREFIXES_MAX);
		return -1;
	}
	if (fg_prefix_list_add(pl, &p)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_src(struct pctx *c, struct fg_prefix_list *pl, struct tok list)
{
	struct tok it;
	int r;
	while ((r = next_item(&list, &it))) {
		if (it.n == 0)
			return fail(c, "empty item in the src list (remove the extra comma)");
		char e[200];
		if (add_prefix(c, pl, it, e, sizeof(e)))
			return fail(c, "%s", e);
	}
	return 0;
}

static int load_src_file(struct pctx *c, struct fg_prefix_list *pl, struct tok path)
{
	if (c->o && c->o->no_files)
		return fail(c, "src-file is not allowed here (put the prefixes in the rule)");
	char full[4096];
	if (path.n >= 2048)
		return fail(c, "src-file path too long");
	if (path.s[0] != '/' && c->o && c->o->base_dir && *c->o->base_dir)
		snprintf(full, sizeof(full), "%s/%.*s", c->o->base_dir, (int)path.n, path.s);
	else
		snprintf(full, sizeof(full), "%.*s", (int)path.n, path.s);
	FILE *f = fopen(full, "rb");
	if (!f)
		return fail(c, "src-file '" TOKF "': cannot open %s: %s", TOKA(path), full, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)FG_SRC_FILE_MAX) {
		fclose(f);
		return fail(c, "src-file '" TOKF "': not a regular file of at most %u MiB", TOKA(path),
			    FG_SRC_FILE_MAX >> 20);
	}
	char line[256];
	uint32_t ln = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n' && !feof(f)) {
			rc = fail(c, "src-file '" TOKF "': line %u: longer than 254 bytes", TOKA(path), ln);
			break;
		}
		char *h = strchr(line, '#');
		if (h)
			*h = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		n = strcspn(s, " \t\r\n");
		char *rest = s + n;
		rest += strspn(rest, " \t\r\n");
		if (*rest) {
			rc = fail(c, "src-file '" TOKF "': line %u: one prefix per line", TOKA(path), ln);
			break;
		}
		if (n == 0)
			continue;
		char e[200];
		struct tok t = {s, n};
		if (add_prefix(c, pl, t, e, sizeof(e))) {
			rc = fail(c, "src-file '" TOKF "': line %u: %s", TOKA(path), ln, e);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = fail(c, "src-file '" TOKF "': read error", TOKA(path));
	fclose(f);
	return rc;
}

static int parse_ports(struct pctx *c, const char *what, struct tok list, uint64_t **bm)
{
	*bm = calloc(1024, sizeof(uint64_t));
	if (!*bm)
		return fail(c, "out of memory");
	struct tok it;
	int r, count = 0;
	while ((r = next_item(&list, &it))) {
		if (it.n == 0)
			return fail(c, "empty item in the %s list (remove the extra comma)", what);
		if (++count > FG_PORTS_MAX)
			return fail(c, "more than %d items in the %s list", FG_PORTS_MAX, what);
		const char *dash = memchr(it.s, '-', it.n);
		uint64_t lo, hi;
		if (dash) {
			if (parse_u64(it.s, (size_t)(dash - it.s), 65535, &lo) ||
			    parse_u64(dash + 1, it.n - (size_t)(dash - it.s) - 1, 65535, &hi) || lo > hi)
				return fail(c, "bad %s range '" TOKF "' (expected LO-HI with 0 <= LO <= HI <= 65535)",
					    what, TOKA(it));
		} else {
			if (parse_u64(it.s, it.n, 65535, &lo))
				return fail(c, "bad %s '" TOKF "' (expected a port 0-65535 or a range LO-HI)", what,
					    TOKA(it));
			hi = lo;
		}
		for (uint64_t p = lo; p <= hi; p++)
			fg_bm_set(*bm, (uint16_t)p);
	}
	return 0;
}

static const struct {
	const char *name;
	uint16_t v;
} qtypes[] = {
	{"A", 1},      {"NS", 2},     {"CNAME", 5},   {"SOA", 6},    {"PTR", 12},    {"HINFO", 13},
	{"MX", 15},    {"TXT", 16},   {"AAAA", 28},   {"SRV", 33},   {"NAPTR", 35},  {"DS", 43},
	{"RRSIG", 46}, {"NSEC", 47},  {"DNSKEY", 48}, {"TLSA", 52},  {"SVCB", 64},   {"HTTPS", 65},
	{"CAA", 257},  {"IXFR", 251}, {"AXFR", 252},  {"ANY", 255},
};

static int parse_qtypes(struct pctx *c, struct tok list, uint64_t **bm)
{
	*bm = calloc(1024, sizeof(uint64_t));
	if (!*bm)
		return fail(c, "out of memory");
	struct tok it;
	int r, count = 0;
	while ((r = next_item(&list, &it))) {
		if (it.n == 0)
			return fail(c, "empty item in the qtype list (remove the extra comma)");
		if (++count > FG_QTYPES_MAX)
			return fail(c, "more than %d items in the qtype list", FG_QTYPES_MAX);
		uint64_t v = 0;
		int found = 0;
		for (size_t i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++)
			if (tok_is(it, qtypes[i].name)) {
				v = qtypes[i].v;
				found = 1;
			}
		if (!found && parse_u64(it.s, it.n, 65535, &v))
			return fail(c,
				    "unknown qtype '" TOKF "' (use a number 0-65535 or one of A NS CNAME SOA PTR "
				    "HINFO MX TXT AAAA SRV NAPTR DS RRSIG NSEC DNSKEY TLSA SVCB HTTPS CAA IXFR AXFR ANY)",
				    TOKA(it));
		fg_bm_set(*bm, (uint16_t)v);
	}
	return 0;
}

/* The fast-compare words of a suffix (see struct fg_suffix); wire is already lower case. */
static void suffix_words(struct fg_suffix *sx)
{
	sx->nw = 0;
	if (sx->len > FG_SUFFIX_FAST)
		return;
	uint32_t nw = (sx->len + 7u) / 8u, span = nw * 8u, lead = span - sx->len;
	uint8_t want[32] = {0}, fold[32] = {0}, mask[32] = {0};
	for (uint32_t b = lead; b < span; b++) {
		uint8_t ch = sx->wire[b - lead];
		want[b] = ch;
		mask[b] = 0xFF;
		fold[b] = (ch >= 'a' && ch <= 'z') ? 0x20 : 0;
	}
	for (uint32_t j = 0; j < nw; j++) {
		memcpy(&sx->want[j], want + 8 * j, 8);
		memcpy(&sx->fold[j], fold + 8 * j, 8);
		memcpy(&sx->mask[j], mask + 8 * j, 8);
	}
	sx->nw = (uint8_t)nw;
}

static int parse_suffixes(struct pctx *c, struct fg_rule *r, struct tok list)
{
	struct tok it;
	int rr;
	while ((rr = next_item(&list, &it))) {
		if (it.n == 0)
			return fail(c, "empty item in the qname-suffix list (remove the extra comma)");
		if (r->nsuffixes == FG_SUFFIXES_MAX)
			return fail(c, "more than %d names in the qname-suffix list", FG_SUFFIXES_MAX);
		struct tok d = it;
		if (d.n > 1 && d.s[d.n - 1] == '.')
			d.n--;
		if (d.n > 253)
			return fail(c, "qname-suffix '" TOKF "' is longer than 253 characters", TOKA(it));
		struct fg_suffix *sx = &r->suffixes[r->nsuffixes];
		size_t w = 0, start = 0;
		uint8_t nl = 0;
		for (size_t i = 0; i <= d.n; i++) {
			if (i == d.n || d.s[i] == '.') {
				size_t l = i - start;
				if (l == 0 || l > 63)
					return fail(c, "qname-suffix '" TOKF "': labels must be 1-63 characters",
						    TOKA(it));
				sx->wire[w++] = (uint8_t)l;
				for (size_t k = start; k < i; k++) {
					char ch = d.s[k];
					sx->wire[w++] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
				}
				nl++;
				start = i + 1;
			}
		}
		sx->wire[w++] = 0;
		sx->len = (uint8_t)w;
		sx->nlabels = nl;
		suffix_words(sx);
		r->nsuffixes++;
	}
	return 0;
}

static int parse_rate(struct pctx *c, struct fg_rule *r, struct tok *t, size_t nt, size_t *i)
{
	/* ratelimit RATE/s burst BURST [table ENTRIES] */
	if (*i >= nt)
		return fail(c, "ratelimit needs RATE/s burst BURST (e.g. ratelimit 100/s burst 200)");
	struct tok rt = t[(*i)++];
	if (rt.n < 3 || rt.s[rt.n - 2] != '/' || rt.s[rt.n - 1] != 's' ||
	    parse_u64(rt.s, rt.n - 2, 1000000000, &r->rl_rate) || r->rl_rate == 0)
		return fail(c, "bad rate '" TOKF "' (expected RATE/s with RATE 1-1000000000, e.g. 100/s)", TOKA(rt));
	if (*i + 1 >= nt || !tok_is(t[*i], "burst"))
		return fail(c, "ratelimit needs 'burst BURST' after the rate (e.g. ratelimit 100/s burst 200)");
	struct tok bt = t[*i + 1];
	*i += 2;
	if (parse_u64(bt.s, bt.n, 1000000, &r->rl_burst) || r->rl_burst == 0)
		return fail(c, "bad burst '" TOKF "' (expected 1-1000000)", TOKA(bt));
	r->rl_entries = 1048576;
	if (*i < nt && tok_is(t[*i], "table")) {
		if (*i + 1 >= nt)
			return fail(c, "'table' needs a number of entries (1024-16777216)");
		struct tok tt = t[*i + 1];
		*i += 2;
		if (parse_u64(tt.s, tt.n, 16777216, &r->rl_entries) || r->rl_entries < 1024)
			return fail(c, "bad table size '" TOKF "' (expected 1024-16777216 entries)", TOKA(tt));
	}
	return 0;
}

static int valid_name(struct tok t)
{
	if (t.n == 0 || t.n > FG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < t.n; i++) {
		char ch = t.s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

const uint64_t fg_bm_all[1024] = {[0 ... 1023] = ~0ull};

/* Flag masks and defaults that let the classifier test the cheap terms without branches. */
static void rule_prepare(struct fg_rule *r)
{
	uint32_t t = r->terms;
	r->need_flags = 0;
	r->any_flags = 0;
	if (t & FG_T_IPV4)
		r->need_flags |= FG_PKT_IPV4;
	if (t & FG_T_IPV6)
		r->need_flags |= FG_PKT_IPV6;
	if (t & (FG_T_PROTO | FG_T_SRC))
		r->any_flags = FG_PKT_IPV4 | FG_PKT_IPV6;
	if (t & FG_T_FRAG)
		r->need_flags |= FG_PKT_FRAG;
	if (t & (FG_T_DPORT | FG_T_SPORT))
		r->need_flags |= FG_PKT_L4;
	if (t & FG_T_DNS_ANY)
		r->need_flags |= FG_PKT_DNSQ;
	if (t & FG_T_DNSVALID)
		r->need_flags |= FG_PKT_DNSOK;
	r->proto_mask = (t & FG_T_PROTO) ? 0xFF : 0;
	if (!(t & FG_T_PROTO))
		r->proto = 0;
}

#define TERMS_LIST "src, src-file, ipv4, ipv6, udp, tcp, proto, dport, sport, fragment, dns-valid, qtype, qname-suffix"

static int parse_rule(struct pctx *c, struct tok *t, size_t nt)
{
	struct fg_engine *e = c->e;
	if (nt < 2 || !valid_name(t[1])) {
		if (nt < 2)
			return fail(c, "rule needs a name and an action: rule NAME pass|drop|ratelimit ... MATCH...");
		return fail(c, "bad rule name '" TOKF "' (1-%d characters from A-Z a-z 0-9 _ . -)", TOKA(t[1]),
			    FG_NAME_MAX);
	}
	for (uint32_t i = 0; i < e->nrules; i++)
		if (tok_is(t[1], e->rules[i].name))
			return fail(c, "rule '" TOKF "' is already defined on line %u (rule names must be unique)",
				    TOKA(t[1]), e->rules[i].line);
	if (e->nrules == FG_RULES_MAX)
		return fail(c, "more than %d rules", FG_RULES_MAX);
	struct fg_rule *r = &e->rules[e->nrules++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, t[1].s, t[1].n);
	if (c->o && c->o->tables_from) { /* matched by name here, in the compile, not at the swap */
		const struct fg_rule *tw = fg_engine_find_rule(c->o->tables_from, r->name);
		r->twin = tw ? (uint32_t)(tw - c->o->tables_from->rules) + 1 : 0;
	}
	r->line = c->line;
	c->rule = r->name;
	if (nt < 3)
		return fail(c, "missing action (pass, drop or ratelimit)");
	size_t i = 3;
	if (tok_is(t[2], "pass")) {
		r->action = FG_ACT_PASS;
	} else if (tok_is(t[2], "drop")) {
		r->action = FG_ACT_DROP;
	} else if (tok_is(t[2], "ratelimit")) {
		r->action = FG_ACT_RATELIMIT;
		if (parse_rate(c, r, t, nt, &i))
			return -1;
	} else {
		return fail(c, "unknown action '" TOKF "' (expected pass, drop or ratelimit)", TOKA(t[2]));
	}
	struct fg_prefix_list pl = {0};
	int rc = 0;
	for (; i < nt && !rc; i++) {
		struct tok k = t[i];
		uint32_t bit;
		int needs_arg = 1;
		if (tok_is(k, "src") || tok_is(k, "src-file"))
			bit = FG_T_SRC;
		else if (tok_is(k, "ipv4"))
			bit = FG_T_IPV4, needs_arg = 0;
		else if (tok_is(k, "ipv6"))
			bit = FG_T_IPV6, needs_arg = 0;
		else if (tok_is(k, "udp") || tok_is(k, "tcp"))
			bit = FG_T_PROTO, needs_arg = 0;
		else if (tok_is(k, "proto"))
			bit = FG_T_PROTO;
		else if (tok_is(k, "dport"))
			bit = FG_T_DPORT;
		else if (tok_is(k, "sport"))
			bit = FG_T_SPORT;
		else if (tok_is(k, "fragment"))
			bit = FG_T_FRAG, needs_arg = 0;
		else if (tok_is(k, "dns-valid"))
			bit = FG_T_DNSVALID, needs_arg = 0;
		else if (tok_is(k, "qtype"))
			bit = FG_T_QTYPE;
		else if (tok_is(k, "qname-suffix"))
			bit = FG_T_SUFFIX;
		else {
			rc = fail(c, "unknown match term '" TOKF "' (expected " TERMS_LIST ")", TOKA(k));
			break;
		}
		if ((r->terms & bit) && bit != FG_T_SRC) {
			rc = fail(c, "'" TOKF "' given twice%s", TOKA(k),
				  bit == FG_T_PROTO ? " (give one of udp, tcp, proto N)" : "");
			break;
		}
		if ((bit == FG_T_IPV4 && (r->terms & FG_T_IPV6)) || (bit == FG_T_IPV6 && (r->terms & FG_T_IPV4))) {
			rc = fail(c, "ipv4 and ipv6 together never match (write two rules)");
			break;
		}
		r->terms |= bit;
		if (!needs_arg) {
			if (tok_is(k, "udp"))
				r->proto = 17;
			else if (tok_is(k, "tcp"))
				r->proto = 6;
			continue;
		}
		if (i + 1 >= nt) {
			rc = fail(c, "'" TOKF "' needs a value", TOKA(k));
			break;
		}
		struct tok v = t[++i];
		if (tok_is(k, "src"))
			rc = parse_src(c, &pl, v);
		else if (tok_is(k, "src-file"))
			rc = load_src_file(c, &pl, v);
		else if (bit == FG_T_PROTO) {
			uint64_t p = 0;
			if (parse_u64(v.s, v.n, 255, &p))
				rc = fail(c, "bad protocol '" TOKF "' (expected 0-255, or write udp / tcp)", TOKA(v));
			r->proto = (uint8_t)p;
		} else if (bit == FG_T_DPORT)
			rc = parse_ports(c, "dport", v, &r->dport_bm);
		else if (bit == FG_T_SPORT)
			rc = parse_ports(c, "sport", v, &r->sport_bm);
		else if (bit == FG_T_QTYPE)
			rc = parse_qtypes(c, v, &r->qtype_bm);
		else if (bit == FG_T_SUFFIX) {
			r->suffixes = calloc(FG_SUFFIXES_MAX, sizeof(*r->suffixes));
			rc = r->suffixes ? parse_suffixes(c, r, v) : fail(c, "out of memory");
		}
	}
	if (!rc && (r->terms & FG_T_SRC)) {
		r->src = fg_prefix_set_build(&pl);
		if (!r->src)
			rc = fail(c, "out of memory building the source prefix set");
	}
	fg_prefix_list_free(&pl);
	if (!rc && r->action == FG_ACT_RATELIMIT) {
		const struct fg_engine *run = c->o ? c->o->tables_from : NULL;
		if (fg_rl_params(&r->rl, r->rl_entries, r->rl_rate, r->rl_burst))
			rc = fail(c, "a rate-limit table of %llu entries is too large", (unsigned long long)r->rl_entries);
		else if (r->twin && fg_rule_same_limit(r, &run->rules[r->twin - 1]))
			r->rl_adopt = 1; /* the running engine's table moves in at the swap */
		else if (fg_rl_alloc(&r->rl))
			rc = fail(c, "out of memory for a rate-limit table of %llu entries",
				  (unsigned long long)r->rl_entries);
	}
	if (!rc && (r->terms & FG_T_DNS_ANY))
		e->want_dns = 1;
	if (!rc)
		rule_prepare(r);
	c->rule = NULL;
	return rc;
}

/* Split one line into tokens; '#' at a token start ends the line. */
static int tokenize(struct pctx *c, const char *s, size_t n, struct tok *t, size_t max, size_t *nt)
{
	*nt = 0;
	size_t i = 0;
	if (n && s[n - 1] == '\r')
		n--;
	for (size_t k = 0; k < n; k++) {
		unsigned char ch = (unsigned char)s[k];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7F)
			return fail(c, "control or non-ASCII byte 0x%02x at column %zu (the file must be ASCII text)", ch,
				    k + 1);
	}
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n || s[i] == '#')
			break;
		size_t st = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		if (*nt == max)
			return fail(c, "too many words on one line (at most %zu)", max);
		t[*nt].s = s + st;
		t[(*nt)++].n = i - st;
	}
	return 0;
}

static int parse_lines(struct pctx *c0, const char *text, size_t len, struct tok *t, size_t tmax);

int fg_rules_parse(struct fg_engine *e, const char *text, size_t len, const struct fg_compile_opts *o, char *err,
		   size_t errlen)
{
	struct pctx c = {.e = e, .o = o, .err = err, .errlen = errlen};
	e->default_action = FG_ACT_PASS;
	if (len > FG_RULES_FILE_MAX) {
		snprintf(err, errlen, "rules file larger than %u MiB", FG_RULES_FILE_MAX >> 20);
		return -1;
	}
	e->rules = calloc(FG_RULES_MAX, sizeof(*e->rules));
	if (!e->rules) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	enum { TOKS_MAX = FG_LINE_MAX / 2 + 1 };
	struct tok *t = malloc(TOKS_MAX * sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = parse_lines(&c, text, len, t, TOKS_MAX);
	free(t);
	if (rc)
		return -1;
	e->verdict_of[0] = e->default_action == FG_ACT_PASS ? FG_PASS : FG_DROP;
	for (uint32_t i = 0; i < e->nrules; i++)
		e->verdict_of[i + 1] = e->rules[i].action == FG_ACT_PASS ? FG_PASS : FG_DROP;
	e->rl_first = e->nrules;
	for (uint32_t i = 0; i < e->nrules; i++)
		if (e->rules[i].action == FG_ACT_RATELIMIT) {
			e->rl_first = i;
			break;
		}
	return 0;
}

static int parse_lines(struct pctx *c0, const char *text, size_t len, struct tok *t, size_t tmax)
{
	struct pctx c = *c0;
	struct fg_engine *e = c.e;
	size_t pos = 0;
	while (pos < len) {
		c.line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *s = text + pos;
		pos += n + (nl ? 1 : 0);
		if (n > FG_LINE_MAX)
			return fail(&c, "line longer than %d bytes (put long prefix lists in a src-file)", FG_LINE_MAX);
		size_t nt;
		if (tokenize(&c, s, n, t, tmax, &nt))
			return -1;
		if (nt == 0)
			continue;
		if (tok_is(t[0], "default")) {
			if (c.default_line)
				return fail(&c, "'default' given twice (first on line %u)", c.default_line);
			if (nt != 2 || !(tok_is(t[1], "pass") || tok_is(t[1], "drop")))
				return fail(&c, "expected 'default pass' or 'default drop'");
			e->default_action = tok_is(t[1], "pass") ? FG_ACT_PASS : FG_ACT_DROP;
			c.default_line = c.line;
		} else if (tok_is(t[0], "rule")) {
			if (parse_rule(&c, t, nt))
				return -1;
		} else {
			return fail(&c, "unknown statement '" TOKF "' (expected 'rule', 'default' or a '#' comment)",
				    TOKA(t[0]));
		}
	}
	return 0;
}

void fg_rule_free(struct fg_rule *r)
{
	free(r->dport_bm);
	free(r->sport_bm);
	free(r->qtype_bm);
	free(r->suffixes);
	fg_prefix_set_free(r->src);
	fg_rl_free(&r->rl);
}
