/* The rules parser: the documented grammar, limits and error messages (docs/rules-format.md). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "../fg_engine.h"
#include "../fg_rules_file.h"
#include "tests.h"

/* Compiles text; returns 1 when it compiled, else 0 with err filled. */
static int compiles(const char *text, char *err, size_t errlen)
{
	struct fg_engine *e = fg_engine_compile(text, strlen(text), err, errlen);
	fg_engine_free(e);
	return e != NULL;
}

/* The text fails and the message contains want. */
static int fails_with(const char *text, const char *want)
{
	char err[600] = "";
	if (compiles(text, err, sizeof(err)))
		return 0;
	if (!strstr(err, want)) {
		fprintf(stderr, "  error was: %s\n  expected: %s\n", err, want);
		return 0;
	}
	return 1;
}

static void test_grammar(void)
{
	char err[600];
	CHECK(compiles("", err, sizeof(err)));
	CHECK(compiles("# only a comment\n\n   \t\n", err, sizeof(err)));
	CHECK(compiles("default drop\r\nrule a pass src 198.51.100.0/24,2001:db8::/32 udp dport 53 dns-valid # c\n"
		       "rule rnd drop qname-suffix example.com,Example.NET.\n"
		       "rule limit ratelimit 100/s burst 200 table 1048576\n"
		       "rule b pass proto 6 dport 1-1024,8080 sport 0-65535\n"
		       "rule c drop fragment\nrule d pass ipv6 qtype A,AAAA,65535\nrule e.f-g_h pass\n",
		       err, sizeof(err)));
	struct fg_engine *e = fg_engine_compile("rule x drop\nrule y ratelimit 1/s burst 1\n", 40, err, sizeof(err));
	CHECK(e && fg_engine_rule_count(e) == 2);
	const char *name, *action;
	uint64_t hits;
	CHECK(fg_engine_rule_info(e, 1, &name, &action, &hits) == 0 && !strcmp(name, "y") &&
	      !strcmp(action, "ratelimit") && hits == 0);
	CHECK(fg_engine_rule_info(e, 2, &name, &action, &hits) == -1);
	uint64_t dh;
	CHECK(fg_engine_default_verdict(e, &dh) == FG_PASS); /* default when absent: pass */
	fg_engine_free(e);
}

static void test_errors(void)
{
	CHECK(fails_with("rul x pass\n", "line 1: unknown statement 'rul' (expected 'rule', 'default'"));
	CHECK(fails_with("\nrule clients pass dprt 53\n", "line 2: rule 'clients': unknown match term 'dprt'"));
	CHECK(fails_with("rule clients pass src 198.51.100.1/24\n",
			 "line 1: rule 'clients': bad prefix '198.51.100.1/24': host bits set (did you mean "
			 "198.51.100.0/24?)"));
	CHECK(fails_with("rule a pass\nrule a drop\n", "line 2: rule 'a' is already defined on line 1"));
	CHECK(fails_with("rule limit ratelimit 100 burst 2\n", "line 1: rule 'limit': bad rate '100'"));
	CHECK(fails_with("rule limit ratelimit 100/s\n", "needs 'burst BURST'"));
	CHECK(fails_with("rule limit ratelimit 100/s burst 0\n", "bad burst '0'"));
	CHECK(fails_with("rule limit ratelimit 100/s burst 5 table 10\n", "bad table size '10'"));
	CHECK(fails_with("rule limit ratelimit 0/s burst 5\n", "bad rate '0/s'"));
	CHECK(fails_with("default pass\n\ndefault drop\n", "line 3: 'default' given twice (first on line 1)"));
	CHECK(fails_with("default maybe\n", "expected 'default pass' or 'default drop'"));
	CHECK(fails_with("rule 'x' pass\n", "bad rule name"));
	CHECK(fails_with("rule x\n", "missing action"));
	CHECK(fails_with("rule x accept\n", "unknown action 'accept'"));
	CHECK(fails_with("rule x pass dport\n", "'dport' needs a value"));
	CHECK(fails_with("rule x pass dport 70000\n", "bad dport '70000'"));
	CHECK(fails_with("rule x pass dport 9-3\n", "bad dport range '9-3'"));
	CHECK(fails_with("rule x pass dport 53,,54\n", "empty item in the dport list"));
	CHECK(fails_with("rule x pass src 10.0.0.0/8,\n", "empty item in the src list"));
	CHECK(fails_with("rule x pass udp tcp\n", "given twice (give one of udp, tcp, proto N)"));
	CHECK(fails_with("rule x pass ipv4 ipv6\n", "ipv4 and ipv6 together never match"));
	CHECK(fails_with("rule x pass qtype BOGUS\n", "unknown qtype 'BOGUS'"));
	CHECK(fails_with("rule x pass qname-suffix a..b\n", "labels must be 1-63 characters"));
	CHECK(fails_with("rule x pass proto 256\n", "bad protocol '256'"));
	CHECK(fails_with("rule x pass src-file /nonexistent/floodgate.txt\n", "cannot open"));
	CHECK(fails_with("rule x pass\x01\n", "control or non-ASCII byte 0x01"));
	CHECK(fails_with("rule x pass src 2001:db8::/129\n", "prefix length must be 0-128"));
	/* limits */
	char *big = malloc(5000);
	memset(big, ' ', 5000);
	memcpy(big, "rule x pass", 11);
	big[4999] = '\0';
	CHECK(fails_with(big, "line 1: line longer than 4096 bytes"));
	free(big);
	char *many = malloc(1025 * 24 + 1), *w = many;
	for (int i = 0; i < 1025; i++)
		w += sprintf(w, "rule r%d drop\n", i);
	CHECK(fails_with(many, "line 1025: more than 1024 rules"));
	free(many);
	char name65[80];
	memset(name65, 'n', 65);
	name65[65] = 0;
	char line[120];
	snprintf(line, sizeof(line), "rule %s pass\n", name65);
	CHECK(fails_with(line, "bad rule name"));
	/* no files for untrusted text */
	char err[300];
	struct fg_compile_opts o = {.no_files = 1};
	const char *t = "rule x pass src-file /etc/hosts\n";
	CHECK(fg_engine_compile_ex(t, strlen(t), &o, err, sizeof(err)) == NULL && strstr(err, "not allowed"));
}

static void test_files(void)
{
	char dir[] = "/tmp/fg-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[300], rules[300], err[600];
	snprintf(path, sizeof(path), "%s/allow.txt", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "# partners\n198.51.100.0/24\n\n2001:db8::/32  # v6\n");
	fclose(f);
	snprintf(rules, sizeof(rules), "%s/rules.conf", dir);
	f = fopen(rules, "w");
	fprintf(f, "default drop\nrule p pass src-file allow.txt\n"); /* relative to the rules file */
	fclose(f);
	struct fg_engine *e = fg_rules_load_file(rules, err, sizeof(err));
	CHECK(e != NULL);
	fg_engine_free(e);
	f = fopen(path, "a");
	fprintf(f, "10.0.0.1/8\n");
	fclose(f);
	e = fg_rules_load_file(rules, err, sizeof(err));
	CHECK(e == NULL && strstr(err, "src-file 'allow.txt': line 5: bad prefix '10.0.0.1/8'"));
	snprintf(path, sizeof(path), "%s/none.conf", dir);
	CHECK(fg_rules_load_file(path, err, sizeof(err)) == NULL && strstr(err, "cannot read the rules file"));
	CHECK(fg_rules_load_file(dir, err, sizeof(err)) == NULL && strstr(err, "not a regular file"));
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

void test_rules(void)
{
	test_grammar();
	test_errors();
	test_files();
}
