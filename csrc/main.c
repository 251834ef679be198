/* floodgate-rx: the command line. Parses and checks every argument, then runs the pcap backend here or hands
 * a struct fg_live_opts to a live backend (csrc/live/). Exit status: 0 ok, 1 runtime error, 2 usage error. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_engine.h"
#include "fg_live.h"
#include "fg_rules_file.h"
#include "pcap_run.h"

#define USAGE                                                                                                 \
	"usage: floodgate-rx --backend af_xdp|netmap --interface IF --queue N --rules FILE [--cpu C]\n"        \
	"                    [--stats-json PATH] [--stats-prom PATH] [--stats-interval-ms MS]\n"              \
	"                    [--inject-dev NAME] [--zerocopy auto|on|off] [--xdp-takeover] [--coalesce-us US]\n" \
	"                    [--mlock]\n"                                                                     \
	"       floodgate-rx --backend pcap --pcap IN.pcap --rules FILE [--write-pass OUT.pcap]\n"            \
	"                    [--explain OUT.tsv] [--stats-json PATH]\n"                                        \
	"       floodgate-rx --check-rules --rules FILE|- [--rules-dir DIR] [--reload-of RUNNING]\n"          \
	"       floodgate-rx --check-args --backend af_xdp|netmap --interface IF --queue N --rules FILE ...\n"    \
	"       floodgate-rx --help\n"                                                                         \
	"The pcap backend prints its final stats as one JSON object on stdout. Rules: docs/rules-format.md\n"

/* --help: USAGE, then one line per option (tests/integration/test_af_xdp_live.py checks every option is here). */
#define HELP                                                                                                  \
	USAGE                                                                                                 \
	"\n"                                                                                                  \
	"  --backend B            af_xdp, netmap (live: own one RX queue) or pcap (replay a capture)\n"        \
	"  --rules FILE           rules file (relative src-file paths resolve against its directory);\n"       \
	"                         live backends re-read it on SIGHUP\n"                                       \
	"  --interface IF         live: the NIC\n"                                                             \
	"  --queue N              live: the RX queue to take, 0-65535\n"                                       \
	"  --cpu C                live: pin the packet loop to CPU C, 0-4095\n"                                \
	"  --stats-json PATH      stats JSON (live default /run/floodgate/rx-IF-Q.json; pcap: also on stdout)\n" \
	"  --stats-prom PATH      live: node_exporter textfile with the same counters\n"                       \
	"  --stats-interval-ms MS live: rewrite the stats files every MS, 10-3600000 (default 1000)\n"          \
	"  --inject-dev NAME      af_xdp: TUN device for passed frames (default fg<queue>)\n"                  \
	"  --zerocopy auto|on|off af_xdp: zero-copy when available (auto), required (on), or never (off)\n"    \
	"  --xdp-takeover         af_xdp: replace an XDP program attached outside libxdp's dispatcher while\n"  \
	"                         running and re-attach it at exit (also FLOODGATE_XDP_TAKEOVER=1)\n"          \
	"  --coalesce-us US       af_xdp: once frames drained the queue, wait US microseconds for the next\n"   \
	"                         batch before sleeping until the kernel wakes the loop, 0-1000 (default 50;\n" \
	"                         0 = wake for every frame the kernel hands over)\n"                          \
	"  --mlock                live: lock all memory (systemd: LimitMEMLOCK=infinity)\n"                     \
	"  --pcap IN.pcap         pcap: the capture to classify\n"                                              \
	"  --write-pass OUT.pcap  pcap: write the passed frames here\n"                                         \
	"  --explain OUT.tsv      pcap: one line per frame with the rule that decided it\n"                     \
	"  --check-rules          compile the --rules file as the receiver would, print its rule count and\n"   \
	"                         the memory the compile took at its peak, and exit: 0 when it compiles, 2\n"  \
	"                         with the first error (changes nothing)\n"                                  \
	"  --rules-dir DIR        --check-rules --rules - (stdin): where its relative src-file paths resolve\n"  \
	"  --reload-of RUNNING    --check-rules: as a reload from the rules file RUNNING would, both rule\n"     \
	"                         sets held at once (unchanged rate-limit tables shared) in the peak\n"         \
	"  --check-args           check a live receiver's command line as its start would (every option, and\n" \
	"                         that this build has the backend), open nothing, read no file, and exit: 0\n" \
	"                         when it would start with them, 2 with the first error (changes nothing)\n"  \
	"  --help                 this text\n"

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "floodgate-rx: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", USAGE);
	return 2;
}

/* Whole-string unsigned decimal within [min, max]. */
static int parse_num(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, NULL, 10);
	if (errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* getopt_long accepts any unique prefix ("--xdp" for "--xdp-takeover"): refuse them, so a unit file always
 * says exactly what it asks for. Returns 0, or the usage error's exit code. */
static int refuse_abbreviations(int argc, char **argv, const struct option *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || !a[2])
			continue;
		size_t len = strcspn(a + 2, "=");
		const struct option *exact = NULL, *prefix_of = NULL;
		for (const struct option *o = opts; o->name; o++) {
			if (strlen(o->name) == len && strncmp(o->name, a + 2, len) == 0)
				exact = o;
			else if (strncmp(o->name, a + 2, len) == 0)
				prefix_of = o;
		}
		if (exact && exact->has_arg == required_argument && !a[2 + len])
			i++; /* its value, whatever it looks like */
		if (!exact && prefix_of) {
			fprintf(stderr, "floodgate-rx: '%s': give the option's full name (e.g. --%s)\n%s", a,
				prefix_of->name, USAGE);
			return 2;
		}
	}
	return 0;
}

enum {
	OPT_BACKEND = 256, OPT_INTERFACE, OPT_QUEUE, OPT_CPU, OPT_RULES, OPT_STATS_JSON, OPT_STATS_PROM,
	OPT_STATS_INTERVAL, OPT_INJECT_DEV, OPT_ZEROCOPY, OPT_MLOCK, OPT_PCAP, OPT_WRITE_PASS, OPT_EXPLAIN, OPT_HELP,
	OPT_XDP_TAKEOVER, OPT_COALESCE_US, OPT_CHECK_RULES, OPT_RULES_DIR, OPT_RELOAD_OF, OPT_CHECK_ARGS,
};

/* The process's resident set now (VmRSS) or at its peak (VmHWM), in KiB; -1 when /proc cannot say. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	long kib = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kib = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* --check-rules: compile the rules as a receiver would at start or on SIGHUP (src-file paths against the file's
 * own directory, or --rules-dir for stdin), say how many rules and how much memory the compile took at its
 * peak, change nothing. reload_of: the rules file the receiver runs now, compiled first and held, so that the
 * peak is a reload's (both engines, the new one without the tables it would take over). The peak is measured
 * (VmHWM over VmRSS before), not estimated: the same code allocates and touches the same memory here. */
static int check_rules(const char *path, const char *dir, const char *reload_of)
{
	char err[640];
	struct fg_engine *e, *running = NULL;
	if (strcmp(path, "-") == 0 && !dir)
		return usage_error("%s--rules - (stdin) needs --rules-dir DIR: where its relative src-file paths "
				   "resolve (the directory the rules file will be written to)",
				   "");
	if (strcmp(path, "-") != 0 && dir)
		return usage_error("%s--rules-dir is for --rules - only: a rules file's src-file paths resolve "
				   "against its own directory",
				   "");
	long before = status_kib("VmRSS");
	if (reload_of) {
		/* a file in force that does not compile (edited since the receiver read it): measured as a start */
		running = fg_rules_load_file(reload_of, err, sizeof(err));
		if (!running)
			fprintf(stderr, "floodgate-rx: --reload-of: %s: measured without it, as a start\n", err);
	}
	if (strcmp(path, "-") == 0)
		e = fg_rules_load_fd(0, "stdin", dir, running, err, sizeof(err));
	else
		e = fg_rules_reload_file(path, running, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "floodgate-rx: rules refused: %s\n", err);
		fg_engine_free(running);
		return 2;
	}
	long peak = status_kib("VmHWM");
	printf("rules ok: %u rules", fg_engine_rule_count(e));
	if (before >= 0 && peak >= before)
		printf(", peak memory %ld KiB%s", peak - before, running ? " (a reload, both rule sets)" : "");
	printf("\n");
	fg_engine_free(e); /* tables left to adopt are not its own: nothing of running's is freed twice */
	fg_engine_free(running);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"backend", required_argument, NULL, OPT_BACKEND},
		{"interface", required_argument, NULL, OPT_INTERFACE},
		{"queue", required_argument, NULL, OPT_QUEUE},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"rules", required_argument, NULL, OPT_RULES},
		{"stats-json", required_argument, NULL, OPT_STATS_JSON},
		{"stats-prom", required_argument, NULL, OPT_STATS_PROM},
		{"stats-interval-ms", required_argument, NULL, OPT_STATS_INTERVAL},
		{"inject-dev", required_argument, NULL, OPT_INJECT_DEV},
		{"zerocopy", required_argument, NULL, OPT_ZEROCOPY},
		{"mlock", no_argument, NULL, OPT_MLOCK},
		{"xdp-takeover", no_argument, NULL, OPT_XDP_TAKEOVER},
		{"coalesce-us", required_argument, NULL, OPT_COALESCE_US},
		{"pcap", required_argument, NULL, OPT_PCAP},
		{"write-pass", required_argument, NULL, OPT_WRITE_PASS},
		{"explain", required_argument, NULL, OPT_EXPLAIN},
		{"help", no_argument, NULL, OPT_HELP},
		{"check-rules", no_argument, NULL, OPT_CHECK_RULES},
		{"rules-dir", required_argument, NULL, OPT_RULES_DIR},
		{"reload-of", required_argument, NULL, OPT_RELOAD_OF},
		{"check-args", no_argument, NULL, OPT_CHECK_ARGS},
		{NULL, 0, NULL, 0},
	};
	struct fg_live_opts lo = {.cpu = -1, .stats_interval_ms = 1000, .zerocopy = -1, .coalesce_us = 50};
	struct fg_pcap_opts po = {0};
	const char *backend = NULL, *rules_dir = NULL, *reload_of = NULL;
	int have_queue = 0, live_only = 0, pcap_only = 0, check_only = 0;
	const char *live_opt = NULL, *pcap_opt = NULL, *af_xdp_opt = NULL;
	unsigned long v;
	int c;
	opterr = 0;
	if (refuse_abbreviations(argc, argv, opts))
		return 2;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			backend = optarg;
			break;
		case OPT_INTERFACE:
			lo.ifname = optarg;
			live_only = 1, live_opt = "--interface";
			break;
		case OPT_QUEUE:
			if (parse_num(optarg, 0, 65535, &v))
				return usage_error("--queue '%s': expected an RX queue number 0-65535", optarg);
			lo.queue = (unsigned)v;
			have_queue = 1;
			live_only = 1, live_opt = "--queue";
			break;
		case OPT_CPU:
			if (parse_num(optarg, 0, 4095, &v))
				return usage_error("--cpu '%s': expected a CPU number 0-4095 (see nproc)", optarg);
			lo.cpu = (int)v;
			live_only = 1, live_opt = "--cpu";
			break;
		case OPT_RULES:
			lo.rules_path = po.rules_path = optarg;
			break;
		case OPT_STATS_JSON:
			lo.stats_json_path = po.stats_json_path = optarg;
			break;
		case OPT_STATS_PROM:
			lo.stats_prom_path = optarg;
			live_only = 1, live_opt = "--stats-prom";
			break;
		case OPT_STATS_INTERVAL:
			if (parse_num(optarg, 10, 3600000, &v))
				return usage_error("--stats-interval-ms '%s': expected 10-3600000 milliseconds", optarg);
			lo.stats_interval_ms = (unsigned)v;
			live_only = 1, live_opt = "--stats-interval-ms";
			break;
		case OPT_INJECT_DEV:
			if (!*optarg || strlen(optarg) > 15 || strpbrk(optarg, "/ \t\n:"))
				return usage_error("--inject-dev '%s': expected a device name of 1-15 characters "
						   "without '/', ':' or spaces",
						   optarg);
			lo.inject_dev = optarg;
			live_only = 1, live_opt = "--inject-dev";
			break;
		case OPT_ZEROCOPY:
			if (strcmp(optarg, "auto") == 0)
				lo.zerocopy = -1;
			else if (strcmp(optarg, "on") == 0)
				lo.zerocopy = 1;
			else if (strcmp(optarg, "off") == 0)
				lo.zerocopy = 0;
			else
				return usage_error("--zerocopy '%s': expected auto, on or off", optarg);
			live_only = 1, live_opt = "--zerocopy";
			break;
		case OPT_MLOCK:
			lo.mlock = 1;
			live_only = 1, live_opt = "--mlock";
			break;
		case OPT_XDP_TAKEOVER:
			lo.xdp_takeover = 1;
			live_only = 1, live_opt = "--xdp-takeover";
			af_xdp_opt = "--xdp-takeover";
			break;
		case OPT_COALESCE_US:
			if (parse_num(optarg, 0, 1000, &v))
				return usage_error("--coalesce-us '%s': expected 0-1000 microseconds", optarg);
			lo.coalesce_us = (unsigned)v;
			live_only = 1, live_opt = "--coalesce-us";
			af_xdp_opt = "--coalesce-us";
			break;
		case OPT_PCAP:
			po.pcap_path = optarg;
			pcap_only = 1, pcap_opt = "--pcap";
			break;
		case OPT_WRITE_PASS:
			po.write_pass_path = optarg;
			pcap_only = 1, pcap_opt = "--write-pass";
			break;
		case OPT_EXPLAIN:
			po.explain_path = optarg;
			pcap_only = 1, pcap_opt = "--explain";
			break;
		case OPT_CHECK_RULES:
			check_only = 1;
			break;
		case OPT_RULES_DIR:
			rules_dir = optarg;
			break;
		case OPT_RELOAD_OF:
			reload_of = optarg;
			break;
		case OPT_CHECK_ARGS:
			lo.check_only = 1;
			break;
		case OPT_HELP:
			fputs(HELP, stdout);
			return 0;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			/* getopt_long sets optopt to the option's value when a flag was given "=VALUE" */
			if (optopt >= OPT_BACKEND)
				return usage_error("'%s': this option takes no value", argv[optind - 1]);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (all arguments are --options)", argv[optind]);
	if (check_only && lo.check_only)
		return usage_error("%s--check-rules and --check-args are two checks: run them one at a time", "");
	if (check_only) {
		if (backend || live_only || pcap_only || lo.stats_json_path)
			return usage_error("%s--check-rules takes only --rules FILE|-, --rules-dir DIR and --reload-of FILE",
					   "");
		if (!po.rules_path)
			return usage_error("%s--check-rules needs --rules FILE (or - for stdin, with --rules-dir DIR)", "");
		return check_rules(po.rules_path, rules_dir, reload_of);
	}
	if (rules_dir)
		return usage_error("%s--rules-dir applies to --check-rules only", "");
	if (reload_of)
		return usage_error("%s--reload-of applies to --check-rules only", "");
	if (!backend)
		return usage_error("%s--backend is required (af_xdp, netmap or pcap)", "");
	if (!po.rules_path)
		return usage_error("%s--rules FILE is required (format: docs/rules-format.md)", "");
	/* --check-args: the rules file is checked by --check-rules (it may not be written yet) */
	if (!lo.check_only && access(po.rules_path, R_OK) != 0) {
		fprintf(stderr, "floodgate-rx: cannot read the rules file %s: %s\n", po.rules_path, strerror(errno));
		return 2;
	}
	if (strcmp(backend, "pcap") == 0) {
		if (lo.check_only)
			return usage_error("%s--check-args checks a live receiver's command line (af_xdp, netmap)", "");
		if (live_only)
			return usage_error("%s applies to the live backends only (af_xdp, netmap), not to pcap",
					   live_opt);
		if (!po.pcap_path)
			return usage_error("%s--backend pcap needs --pcap IN.pcap", "");
		return fg_pcap_run(&po);
	}
	if (strcmp(backend, "af_xdp") != 0 && strcmp(backend, "netmap") != 0)
		return usage_error("--backend '%s': expected af_xdp, netmap or pcap", backend);
	if (pcap_only)
		return usage_error("%s applies to --backend pcap only", pcap_opt);
	if (af_xdp_opt && strcmp(backend, "af_xdp") != 0)
		return usage_error("%s applies to --backend af_xdp only", af_xdp_opt);
	if (!lo.ifname || !*lo.ifname)
		return usage_error("%s--interface IF is required for a live backend", "");
	if (!have_queue)
		return usage_error("%s--queue N is required for a live backend", "");
	if (lo.stats_json_path && !*lo.stats_json_path)
		return usage_error("%s--stats-json needs a path", "");
	int rc = strcmp(backend, "af_xdp") == 0 ? fg_live_af_xdp(&lo) : fg_live_netmap(&lo);
	if (lo.check_only && rc == 0)
		printf("args ok: backend %s, interface %s, queue %u\n", backend, lo.ifname, lo.queue);
	return rc;
}
