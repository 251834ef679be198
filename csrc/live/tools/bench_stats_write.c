/* make bench-stats: what one stats write costs the packet loop (csrc/live/fg_stats.h), same run, same rules:
 *   in the loop    fg_rt_write_stats: snapshot, format, write both files (JSON and Prometheus) and rename them,
 *                  what the loop's tick did until 2026-11-27 and still does at start and exit
 *   to the writer  fg_rt_tick with the stats interval due: snapshot and hand it to the writer thread
 * Before timing, the writer's files (from a snapshot with new values) are compared with the loop's written
 * after them (equal but for the JSON timestamp): both write the same, from the snapshot taken when asked.
 * Usage: bench_stats_write [RULES [WRITES [DIR]]] (defaults 20, 2000, a new directory under /run). */
#define _GNU_SOURCE
#include "../fg_runtime.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[2][1 << 20];
	static int which;
	char *b = buf[which ^= 1];
	size_t n = f ? fread(b, 1, sizeof(buf[0]) - 1, f) : 0;
	if (f)
		fclose(f);
	b[n] = '\0';
	char *ts = strstr(b, "\"timestamp\":"); /* the one field that differs between two writes */
	if (ts)
		for (ts += 12; *ts && *ts != ','; ts++)
			*ts = '0';
	return b;
}

static void wait_writer(struct fg_rt *rt)
{
	while (atomic_load_explicit(&rt->stats.busy, memory_order_acquire))
		usleep(10);
}

int main(int argc, char **argv)
{
	int nrules = argc > 1 ? atoi(argv[1]) : 20, writes = argc > 2 ? atoi(argv[2]) : 2000;
	char tmpl[] = "/run/fg-bench-stats-XXXXXX", json[PATH_MAX], prom[PATH_MAX];
	const char *dir = argc > 3 ? argv[3] : mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(json, sizeof(json), "%s/rx.json", dir);
	snprintf(prom, sizeof(prom), "%s/rx.prom", dir);
	static char text[1 << 20];
	size_t w = (size_t)snprintf(text, sizeof(text), "default drop\n");
	for (int i = 0; i < nrules && w < sizeof(text) - 128; i++)
		w += (size_t)snprintf(text + w, sizeof(text) - w, "rule r%d pass src 198.51.%d.0/24 udp dport 53 dns-valid\n",
				      i, i % 250);
	char err[256];
	struct fg_live_opts o;
	memset(&o, 0, sizeof(o));
	o.ifname = "eth1";
	o.queue = 4;
	o.stats_json_path = json;
	o.stats_prom_path = prom;
	struct fg_rt rt;
	memset(&rt, 0, sizeof(rt));
	rt.o = &o;
	rt.backend = "netmap";
	rt.json_path = json;
	rt.interval_ns = 1000000000ull;
	rt.stats = (struct fg_stats){.backend = "netmap", .ifname = "eth1", .queue = 4, .json_path = json, .prom_path = prom};
	rt.eng = fg_engine_compile(text, w, err, sizeof(err));
	if (!rt.eng || fg_stats_init(&rt.stats) != 0) {
		fprintf(stderr, "bench_stats_write: %s\n", rt.eng ? "out of memory" : err);
		return 1;
	}
	fg_rt_ready(&rt); /* the first write in the loop, then the writer thread */
	if (!rt.stats_writer) {
		fprintf(stderr, "bench_stats_write: no writer thread\n");
		return 1;
	}
	/* the same files either way: the writer's, from a snapshot with new values, then the loop's */
	rt.io.injected = 11;
	rt.reloads = 7;
	rt.next_stats_ns = 0;
	fg_rt_tick(&rt, fg_rt_now_ns());
	wait_writer(&rt);
	char *j1 = strdup(slurp(json)), *p1 = strdup(slurp(prom));
	unlink(json);
	unlink(prom);
	fg_rt_write_stats(&rt);
	if (!strstr(j1, "\"injected\":11,") || !strstr(j1, "\"reloads\":7,") ||
	    !strstr(p1, "floodgate_rx_injected_total{interface=\"eth1\",queue=\"4\",backend=\"netmap\"} 11\n") ||
	    strcmp(j1, slurp(json)) != 0 || strcmp(p1, slurp(prom)) != 0) {
		fprintf(stderr, "bench_stats_write: the writer thread's files differ from the loop's:\n%s\n%s\n", j1, p1);
		return 1;
	}
	double in_loop = 0, handed = 0, in_loop_max = 0, handed_max = 0;
	for (int i = 0; i < writes; i++) {
		uint64_t t0 = fg_rt_now_ns();
		fg_rt_write_stats(&rt);
		double us = (double)(fg_rt_now_ns() - t0) / 1e3;
		in_loop += us;
		in_loop_max = us > in_loop_max ? us : in_loop_max;
		rt.next_stats_ns = 0;
		t0 = fg_rt_now_ns();
		fg_rt_tick(&rt, t0);
		us = (double)(fg_rt_now_ns() - t0) / 1e3;
		handed += us;
		handed_max = us > handed_max ? us : handed_max;
		wait_writer(&rt);
	}
	fg_rt_teardown(&rt);
	unlink(json);
	unlink(prom);
	if (argc <= 3)
		rmdir(dir);
	printf("%d rules, %d writes of the JSON and Prometheus files under %s, the packet loop's time per write:\n", nrules,
	       writes, argc > 3 ? dir : "/run");
	printf("  written in the loop       %8.2f us mean, %8.1f us max\n", in_loop / writes, in_loop_max);
	printf("  handed to the writer      %8.2f us mean, %8.1f us max\n", handed / writes, handed_max);
	printf("in_loop_us=%.2f writer_us=%.2f ratio=%.1f\n", in_loop / writes, handed / writes,
	       handed > 0 ? in_loop / handed : 0.0);
	return 0;
}
