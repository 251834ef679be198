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
#include "pcap_run.h"

#define USAGE                                                                                                 \
	"usage: floodgate-rx --backend af_xdp|netmap --interface IF --queue N --rules FILE [--cpu C]\n"        \
	"                    [--stats-json PATH] [--stats-prom PATH] [--stats-interval-ms MS]\n"              \
	"                    [--inject-dev NAME] [--zerocopy auto|on|off] [--mlock]\n"                        \
	"       floodgate-rx --backend pcap --pcap IN.pcap --rules FILE [--write-pass OUT.pcap]\n"            \
	"                    [--explain OUT.tsv] [--stats-json PATH]\n"                                        \
	"The pcap backend prints its final stats as one JSON object on stdout. Rules: docs/rules-format.md\n"

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

enum {
	OPT_BACKEND = 256, OPT_INTERFACE, OPT_QUEUE, OPT_CPU, OPT_RULES, OPT_STATS_JSON, OPT_STATS_PROM,
	OPT_STATS_INTERVAL, OPT_INJECT_DEV, OPT_ZEROCOPY, OPT_MLOCK, OPT_PCAP, OPT_WRITE_PASS, OPT_EXPLAIN, OPT_HELP,
};

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
		{"pcap", required_argument, NULL, OPT_PCAP},
		{"write-pass", required_argument, NULL, OPT_WRITE_PASS},
		{"explain", required_argument, NULL, OPT_EXPLAIN},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct fg_live_opts lo = {.cpu = -1, .stats_interval_ms = 1000, .zerocopy = -1};
	struct fg_pcap_opts po = {0};
	const char *backend = NULL;
	int have_queue = 0, live_only = 0, pcap_only = 0;
	const char *live_opt = NULL, *pcap_opt = NULL;
	unsigned long v;
	int c;
	opterr = 0;
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
		case OPT_HELP:
			fputs(USAGE, stdout);
			return 0;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (all arguments are --options)", argv[optind]);
	if (!backend)
		return usage_error("%s--backend is required (af_xdp, netmap or pcap)", "");
	if (!po.rules_path)
		return usage_error("%s--rules FILE is required (format: docs/rules-format.md)", "");
	if (access(po.rules_path, R_OK) != 0) {
		fprintf(stderr, "floodgate-rx: cannot read the rules file %s: %s\n", po.rules_path, strerror(errno));
		return 2;
	}
	if (strcmp(backend, "pcap") == 0) {
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
	if (!lo.ifname || !*lo.ifname)
		return usage_error("%s--interface IF is required for a live backend", "");
	if (!have_queue)
		return usage_error("%s--queue N is required for a live backend", "");
	if (lo.stats_json_path && !*lo.stats_json_path)
		return usage_error("%s--stats-json needs a path", "");
	return strcmp(backend, "af_xdp") == 0 ? fg_live_af_xdp(&lo) : fg_live_netmap(&lo);
}
