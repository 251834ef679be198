/* The receiver's stats files (see fg_stats.h). */
#define _GNU_SOURCE
#include "fg_stats.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fg_stats_init(struct fg_stats *s)
{
	s->snap = calloc(1, sizeof(*s->snap));
	if (!s->snap || sem_init(&s->go, 0, 0) != 0) {
		free(s->snap);
		s->snap = NULL;
		return -1;
	}
	atomic_init(&s->busy, 0);
	atomic_init(&s->stop, 0);
	return 0;
}

void fg_stats_free(struct fg_stats *s)
{
	if (!s->snap)
		return;
	sem_destroy(&s->go);
	free(s->snap);
	s->snap = NULL;
}

void fg_stats_take(struct fg_stats *s, const struct fg_engine *e, const struct fg_io_counters *io,
		   uint64_t reloads, uint64_t reload_errs, int reloading)
{
	struct fg_stats_snap *p = s->snap;
	clock_gettime(CLOCK_REALTIME, &p->ts);
	fg_engine_counters(e, &p->c);
	p->io = *io;
	p->reloads = reloads;
	p->reload_errs = reload_errs;
	p->reloading = reloading;
	uint32_t n = fg_engine_rule_count(e);
	p->nrules = 0;
	for (uint32_t i = 0; i < n && i < FG_STATS_RULES; i++) {
		const char *name = NULL;
		if (fg_engine_rule_info(e, i, &name, &p->rules[i].action, &p->rules[i].hits) != 0)
			break;
		snprintf(p->rules[i].name, sizeof(p->rules[i].name), "%s", name ? name : "");
		p->nrules = i + 1;
	}
}

/* mkdir -p of path's parent directory. */
static void make_parent(const char *path)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	}
	mkdir(dir, 0755);
}

/* Write tmp then rename: readers (node_exporter, Ansible) never see a half-written file. */
static int write_atomic(const char *path, void (*emit)(FILE *, const struct fg_stats *), const struct fg_stats *s)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f && errno == ENOENT) {
		make_parent(path);
		f = fopen(tmp, "w");
	}
	if (!f)
		return -1;
	emit(f, s);
	if (fflush(f) != 0 || ferror(f)) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Rule names come from the rules file: escape anything that would break a JSON or Prometheus string. */
static void put_escaped(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static void emit_json(FILE *f, const struct fg_stats *s)
{
	const struct fg_stats_snap *p = s->snap;
	fprintf(f, "{\"backend\":\"%s\",\"interface\":\"", s->backend);
	put_escaped(f, s->ifname);
	fprintf(f,
		"\",\"queue\":%u,\"timestamp\":%lld.%03ld,\"packets\":%llu,\"passed\":%llu,\"dropped\":%llu,"
		"\"malformed\":%llu,\"injected\":%llu,\"inject_errors\":%llu,\"reloads\":%llu,\"reload_errors\":%llu,",
		s->queue, (long long)p->ts.tv_sec, p->ts.tv_nsec / 1000000, (unsigned long long)p->c.packets,
		(unsigned long long)p->c.passed, (unsigned long long)p->c.dropped, (unsigned long long)p->c.malformed,
		(unsigned long long)p->io.injected, (unsigned long long)p->io.inject_errors,
		(unsigned long long)p->reloads, (unsigned long long)p->reload_errs);
	if (p->io.have_missed)
		fprintf(f, "\"missed\":%llu,", (unsigned long long)p->io.missed);
	/* a SIGHUP's rules are compiling: the rules below are still the ones in force */
	fprintf(f, "\"reloading\":%s,", p->reloading ? "true" : "false");
	fputs("\"rules\":[", f);
	for (uint32_t i = 0; i < p->nrules; i++) {
		fputs(i ? ",{\"name\":\"" : "{\"name\":\"", f);
		put_escaped(f, p->rules[i].name);
		fputs("\",\"action\":\"", f);
		put_escaped(f, p->rules[i].action);
		fprintf(f, "\",\"hits\":%llu}", (unsigned long long)p->rules[i].hits);
	}
	fputs("]}\n", f);
}

static void prom_counter(FILE *f, const struct fg_stats *s, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{interface=\"", name, help, name, name);
	put_escaped(f, s->ifname);
	fprintf(f, "\",queue=\"%u\",backend=\"%s\"} %llu\n", s->queue, s->backend, (unsigned long long)v);
}

static void emit_prom(FILE *f, const struct fg_stats *s)
{
	const struct fg_stats_snap *p = s->snap;
	prom_counter(f, s, "floodgate_rx_packets_total", "Frames received on the queue and classified.", p->c.packets);
	prom_counter(f, s, "floodgate_rx_passed_total", "Frames the rules passed to the kernel.", p->c.passed);
	prom_counter(f, s, "floodgate_rx_dropped_total", "Frames the rules dropped.", p->c.dropped);
	prom_counter(f, s, "floodgate_rx_malformed_total", "Frames whose headers failed bounds or validity checks.",
		     p->c.malformed);
	prom_counter(f, s, "floodgate_rx_injected_total", "Passed frames handed back to the kernel.", p->io.injected);
	prom_counter(f, s, "floodgate_rx_inject_errors_total", "Passed frames the kernel did not take.",
		     p->io.inject_errors);
	if (p->io.have_missed)
		prom_counter(f, s, "floodgate_rx_missed_total",
			     "Frames of the queue the kernel dropped before the receiver read them (it fell behind).",
			     p->io.missed);
	fputs("# HELP floodgate_rx_rule_hits_total Frames each rule matched.\n"
	      "# TYPE floodgate_rx_rule_hits_total counter\n",
	      f);
	for (uint32_t i = 0; i < p->nrules; i++) {
		fputs("floodgate_rx_rule_hits_total{interface=\"", f);
		put_escaped(f, s->ifname);
		fprintf(f, "\",queue=\"%u\",backend=\"%s\",rule=\"", s->queue, s->backend);
		put_escaped(f, p->rules[i].name);
		fputs("\",action=\"", f);
		put_escaped(f, p->rules[i].action);
		fprintf(f, "\"} %llu\n", (unsigned long long)p->rules[i].hits);
	}
}

int fg_stats_write(struct fg_stats *s)
{
	int rc = 0;
	if (s->json_path && write_atomic(s->json_path, emit_json, s) != 0) {
		if (!s->warned_json++)
			fprintf(stderr, "floodgate-rx: cannot write stats %s: %s\n", s->json_path, strerror(errno));
		rc = -1;
	}
	if (s->prom_path && write_atomic(s->prom_path, emit_prom, s) != 0) {
		if (!s->warned_prom++)
			fprintf(stderr, "floodgate-rx: cannot write stats %s: %s\n", s->prom_path, strerror(errno));
		rc = -1;
	}
	return rc;
}

void *fg_stats_writer(void *arg)
{
	struct fg_stats *s = arg;
	for (;;) {
		while (sem_wait(&s->go) != 0 && errno == EINTR)
			;
		if (atomic_load_explicit(&s->stop, memory_order_acquire))
			return NULL;
		fg_stats_write(s);
		atomic_store_explicit(&s->busy, 0, memory_order_release);
	}
}
