/* The pcap backend: a capture in memory through the engine, final stats as JSON on stdout. */
#ifndef FG_PCAP_RUN_H
#define FG_PCAP_RUN_H

struct fg_pcap_opts {
	const char *pcap_path;
	const char *rules_path;
	const char *write_pass_path; /* NULL: do not write */
	const char *explain_path;    /* NULL: do not write; else one TSV line per frame: which rule decided */
	const char *stats_json_path; /* NULL: stdout only */
};

/* Process exit code: 0 ok, 1 runtime error (I/O), 2 bad input (rules, capture). */
int fg_pcap_run(const struct fg_pcap_opts *o);

#endif
