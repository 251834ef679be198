/* See pcap_run.h. Bursts of FG_BURST_MAX frames; the rate limiter's clock is the capture's own time (the
 * first frame of each burst), so a replay limits sources as the live receiver would have. */
#define _GNU_SOURCE
#include "pcap_run.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/pkt_parse.h"
#include "fg_engine.h"
#include "fg_rules_file.h"
#include "pcap_file.h"

static void qname_text(const struct fg_pkt *p, char *out, size_t len)
{
	size_t w = 0;
	if (!(p->flags & FG_PKT_DNSQ)) {
		snprintf(out, len, "-");
		return;
	}
	const uint8_t *q = p->qname;
	for (uint32_t off = 0; q[off] && w + 5 < len;) {
		uint8_t l = q[off++];
		for (uint8_t k = 0; k < l && w + 5 < len; k++, off++) {
			uint8_t ch = q[off];
			if (ch > 0x20 && ch < 0x7F && ch != '\\' && ch != '.')
				out[w++] = (char)ch;
			else
				w += (size_t)snprintf(out + w, len - w, "\\%03u", ch);
		}
		out[w++] = '.';
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
}

static int write_explain(const char *path, struct fg_engine *e, const struct fg_capture *cap,
			 const uint8_t *verdicts, const uint16_t *decided)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "floodgate-rx: %s: cannot create: %m\n", path);
		return -1;
	}
	fprintf(f, "frame\tverdict\trule\tsrc\tproto\tdport\tqtype\tqname\n");
	for (uint32_t i = 0; i < cap->n; i++) {
		struct fg_pkt p;
		fg_pkt_parse(cap->frames[i], cap->lens[i], 1, &p);
		const char *rule = "(default)";
		if (decided[i] == FG_DECIDED_MALFORMED)
			rule = "(malformed)";
		else if (decided[i] != FG_DECIDED_DEFAULT)
			fg_engine_rule_info(e, decided[i], &rule, NULL, NULL);
		char src[INET6_ADDRSTRLEN] = "-", qn[1100];
		if (p.flags & FG_PKT_IPV4) {
			uint32_t a = htonl(p.src4);
			inet_ntop(AF_INET, &a, src, sizeof(src));
		} else if (p.flags & FG_PKT_IPV6) {
			uint8_t a[16];
			for (int k = 0; k < 8; k++) {
				a[k] = (uint8_t)(p.src6_hi >> (56 - 8 * k));
				a[8 + k] = (uint8_t)(p.src6_lo >> (56 - 8 * k));
			}
			inet_ntop(AF_INET6, a, src, sizeof(src));
		}
		qname_text(&p, qn, sizeof(qn));
		int ip = (p.flags & (FG_PKT_IPV4 | FG_PKT_IPV6)) != 0, l4 = (p.flags & FG_PKT_L4) != 0;
		fprintf(f, "%u\t%s\t%s\t%s\t", i + 1, verdicts[i] ? "pass" : "drop", rule, src);
		if (ip)
			fprintf(f, "%u\t", p.proto);
		else
			fprintf(f, "-\t");
		if (l4)
			fprintf(f, "%u\t", p.dport);
		else
			fprintf(f, "-\t");
		if (p.flags & FG_PKT_DNSQ)
			fprintf(f, "%u\t%s\n", p.qtype, qn);
		else
			fprintf(f, "-\t-\n");
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "floodgate-rx: %s: write error: %m\n", path);
		return -1;
	}
	return 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void print_stats(FILE *f, const struct fg_engine *e, const struct fg_capture *cap, const char *pcap_path)
{
	size_t need = fg_engine_stats_json(e, NULL, 0) + 1;
	char *js = malloc(need);
	if (!js)
		return;
	fg_engine_stats_json(e, js, need);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "{\"backend\":\"pcap\",\"interface\":null,\"queue\":null,\"pcap\":");
	json_string(f, pcap_path);
	fprintf(f, ",\"timestamp\":%lld.%03ld,\"pcap_truncated\":%s,%s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, cap->truncated ? "true" : "false", js + 1);
	free(js);
}

int fg_pcap_run(const struct fg_pcap_opts *o)
{
	char err[1024];
	struct fg_engine *e = fg_rules_load_file(o->rules_path, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "floodgate-rx: rules file %s\n", err);
		return 2;
	}
	struct fg_capture cap;
	if (fg_capture_load(o->pcap_path, &cap, err, sizeof(err))) {
		fprintf(stderr, "floodgate-rx: %s\n", err);
		fg_engine_free(e);
		return 2;
	}
	if (cap.truncated)
		fprintf(stderr, "floodgate-rx: %s: the last record is cut short (capture still running?); "
				"using the %u complete ones\n",
			o->pcap_path, cap.n);
	uint8_t *verdicts = malloc(cap.n + 1);
	uint16_t *decided = malloc((cap.n + 1) * sizeof(*decided));
	int rc = 0;
	if (!verdicts || !decided) {
		fprintf(stderr, "floodgate-rx: out of memory for %u frames\n", cap.n);
		rc = 1;
		goto out;
	}
	for (uint32_t off = 0; off < cap.n; off += FG_BURST_MAX) {
		uint32_t m = cap.n - off < FG_BURST_MAX ? cap.n - off : FG_BURST_MAX;
		fg_engine_classify_explain(e, cap.frames + off, cap.lens + off, m, cap.ts_ns[off], verdicts + off,
					   decided + off);
	}
	if (o->write_pass_path && fg_capture_write(&cap, verdicts, o->write_pass_path, err, sizeof(err))) {
		fprintf(stderr, "floodgate-rx: %s\n", err);
		rc = 1;
	}
	if (o->explain_path && write_explain(o->explain_path, e, &cap, verdicts, decided))
		rc = 1;
	if (o->stats_json_path) {
		FILE *f = fopen(o->stats_json_path, "w");
		if (!f) {
			fprintf(stderr, "floodgate-rx: %s: cannot create: %m\n", o->stats_json_path);
			rc = 1;
		} else {
			print_stats(f, e, &cap, o->pcap_path);
			if (fclose(f) != 0)
				rc = 1;
		}
	}
	print_stats(stdout, e, &cap, o->pcap_path);
	if (fflush(stdout) != 0)
		rc = 1;
out:
	free(verdicts);
	free(decided);
	fg_capture_free(&cap);
	fg_engine_free(e);
	return rc;
}
