/* Runtime shared by the live backends (see fg_runtime.h). */
#define _GNU_SOURCE
#include "fg_runtime.h"

#include "../fg_rules_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t fg_rt_stop;
volatile sig_atomic_t fg_rt_reload;
volatile sig_atomic_t fg_rt_dump;

uint64_t fg_rt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int fg_rt_rx_queue_count(const char *ifname)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "rx-", 3) == 0)
			n++;
	closedir(d);
	return n;
}

int fg_rt_check_queue(const char *ifname, unsigned queue, char *err, size_t errlen)
{
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/')) {
		snprintf(err, errlen, "interface name \"%s\" is not valid: give a name from `ip link`",
			 ifname ? ifname : "");
		return -1;
	}
	if (if_nametoindex(ifname) == 0) {
		snprintf(err, errlen, "interface %s not found: check `ip link`", ifname);
		return -1;
	}
	int n = fg_rt_rx_queue_count(ifname);
	if (n < 0) {
		snprintf(err, errlen, "interface %s: cannot read /sys/class/net/%s/queues: %s", ifname, ifname,
			 strerror(errno));
		return -1;
	}
	if (queue >= (unsigned)n) {
		snprintf(err, errlen, "queue %u out of range: %s has %d RX queue%s (ethtool -l %s)", queue, ifname,
			 n, n == 1 ? "" : "s", ifname);
		return -1;
	}
	return 0;
}

/* Compile the rules file (fg_rules_file: whole-file read, src-file paths relative to it); NULL with a message
 * on stderr when it cannot be read or compiled. */
static struct fg_engine *load_rules(const char *path)
{
	char err[512] = "";
	struct fg_engine *e = fg_rules_load_file(path, err, sizeof(err));
	if (!e)
		fprintf(stderr, "floodgate-rx: rules file %s\n", err[0] ? err : "cannot be compiled");
	return e;
}

static void on_stop(int sig)
{
	(void)sig;
	fg_rt_stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	fg_rt_reload = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	fg_rt_dump = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking poll() returns EINTR so the loop sees the flag at once. */
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int pin_cpu(struct fg_rt *rt, int cpu)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t set;
	CPU_ZERO(&set);
	if (cpu < 0 || cpu >= CPU_SETSIZE || (ncpu > 0 && cpu >= ncpu)) {
		fprintf(stderr, "floodgate-rx: --cpu %d is not a CPU of this host (CPUs 0-%ld): pick one from `lscpu`\n",
			cpu, ncpu - 1);
		return -1;
	}
	CPU_SET(cpu, &set);
	/* A reload compiles on the other CPUs this process may use, never on the receiver's own */
	if (sched_getaffinity(0, sizeof(rt->others), &rt->others) == 0) {
		CPU_CLR(cpu, &rt->others);
		rt->have_others = CPU_COUNT(&rt->others) > 0;
	}
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "floodgate-rx: cannot pin to CPU %d: %s (is it offline or outside this cgroup's cpuset?)\n",
			cpu, strerror(errno));
		return -1;
	}
	return 0;
}

int fg_rt_setup(struct fg_rt *rt, const struct fg_live_opts *o, const char *backend)
{
	memset(rt, 0, sizeof(*rt));
	rt->o = o;
	rt->backend = backend;
	char err[256];
	if (!o->rules_path) {
		fprintf(stderr, "floodgate-rx: --rules FILE is required\n");
		return FG_EXIT_USAGE;
	}
	if (fg_rt_check_queue(o->ifname, o->queue, err, sizeof(err)) != 0) {
		fprintf(stderr, "floodgate-rx: %s\n", err);
		return FG_EXIT_USAGE;
	}
	rt->eng = load_rules(o->rules_path);
	if (!rt->eng)
		return FG_EXIT_USAGE;
	rt->json_path = o->stats_json_path;
	if (!rt->json_path) {
		snprintf(rt->json_default, sizeof(rt->json_default), "/run/floodgate/rx-%s-%u.json", o->ifname, o->queue);
		rt->json_path = rt->json_default;
	}
	rt->interval_ns = (uint64_t)(o->stats_interval_ms ? o->stats_interval_ms : 1000) * 1000000ull;
	install_signals();
	if (o->cpu >= 0 && pin_cpu(rt, o->cpu) != 0)
		goto fail;
	if (o->mlock && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
		fprintf(stderr,
			"floodgate-rx: mlockall: %s: raise the memlock limit (systemd: LimitMEMLOCK=infinity) or drop "
			"--mlock\n",
			strerror(errno));
		goto fail;
	}
	return 0;
fail:
	fg_engine_free(rt->eng);
	rt->eng = NULL;
	return FG_EXIT_USAGE;
}

void fg_rt_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@') /* abstract namespace */
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		fprintf(stderr, "floodgate-rx: sd_notify %s: %s\n", path, strerror(errno));
	close(fd);
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
static int write_atomic(const char *path, void (*emit)(FILE *, struct fg_rt *), struct fg_rt *rt)
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
	emit(f, rt);
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

static void emit_json(FILE *f, struct fg_rt *rt)
{
	struct fg_counters c;
	struct timespec ts;
	fg_engine_counters(rt->eng, &c);
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "{\"backend\":\"%s\",\"interface\":\"", rt->backend);
	put_escaped(f, rt->o->ifname);
	fprintf(f,
		"\",\"queue\":%u,\"timestamp\":%lld.%03ld,\"packets\":%llu,\"passed\":%llu,\"dropped\":%llu,"
		"\"malformed\":%llu,\"injected\":%llu,\"inject_errors\":%llu,\"reloads\":%llu,\"reload_errors\":%llu,",
		rt->o->queue, (long long)ts.tv_sec, ts.tv_nsec / 1000000, (unsigned long long)c.packets,
		(unsigned long long)c.passed, (unsigned long long)c.dropped, (unsigned long long)c.malformed,
		(unsigned long long)rt->io.injected, (unsigned long long)rt->io.inject_errors,
		(unsigned long long)rt->reloads, (unsigned long long)rt->reload_errs);
	if (rt->io.have_missed)
		fprintf(f, "\"missed\":%llu,", (unsigned long long)rt->io.missed);
	/* a SIGHUP's rules are compiling: the rules below are still the ones in force */
	fprintf(f, "\"reloading\":%s,", rt->reload.running ? "true" : "false");
	fputs("\"rules\":[", f);
	uint32_t n = fg_engine_rule_count(rt->eng);
	for (uint32_t i = 0; i < n; i++) {
		const char *name = NULL, *action = NULL;
		uint64_t hits = 0;
		if (fg_engine_rule_info(rt->eng, i, &name, &action, &hits) != 0)
			break;
		fputs(i ? ",{\"name\":\"" : "{\"name\":\"", f);
		put_escaped(f, name);
		fputs("\",\"action\":\"", f);
		put_escaped(f, action);
		fprintf(f, "\",\"hits\":%llu}", (unsigned long long)hits);
	}
	fputs("]}\n", f);
}

static void prom_counter(FILE *f, struct fg_rt *rt, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{interface=\"", name, help, name, name);
	put_escaped(f, rt->o->ifname);
	fprintf(f, "\",queue=\"%u\",backend=\"%s\"} %llu\n", rt->o->queue, rt->backend, (unsigned long long)v);
}

static void emit_prom(FILE *f, struct fg_rt *rt)
{
	struct fg_counters c;
	fg_engine_counters(rt->eng, &c);
	prom_counter(f, rt, "floodgate_rx_packets_total", "Frames received on the queue and classified.", c.packets);
	prom_counter(f, rt, "floodgate_rx_passed_total", "Frames the rules passed to the kernel.", c.passed);
	prom_counter(f, rt, "floodgate_rx_dropped_total", "Frames the rules dropped.", c.dropped);
	prom_counter(f, rt, "floodgate_rx_malformed_total", "Frames whose headers failed bounds or validity checks.",
		     c.malformed);
	prom_counter(f, rt, "floodgate_rx_injected_total", "Passed frames handed back to the kernel.",
		     rt->io.injected);
	prom_counter(f, rt, "floodgate_rx_inject_errors_total", "Passed frames the kernel did not take.",
		     rt->io.inject_errors);
	if (rt->io.have_missed)
		prom_counter(f, rt, "floodgate_rx_missed_total",
			     "Frames of the queue the kernel dropped before the receiver read them (it fell behind).",
			     rt->io.missed);
	fputs("# HELP floodgate_rx_rule_hits_total Frames each rule matched.\n"
	      "# TYPE floodgate_rx_rule_hits_total counter\n",
	      f);
	uint32_t n = fg_engine_rule_count(rt->eng);
	for (uint32_t i = 0; i < n; i++) {
		const char *name = NULL, *action = NULL;
		uint64_t hits = 0;
		if (fg_engine_rule_info(rt->eng, i, &name, &action, &hits) != 0)
			break;
		fputs("floodgate_rx_rule_hits_total{interface=\"", f);
		put_escaped(f, rt->o->ifname);
		fprintf(f, "\",queue=\"%u\",backend=\"%s\",rule=\"", rt->o->queue, rt->backend);
		put_escaped(f, name);
		fputs("\",action=\"", f);
		put_escaped(f, action);
		fprintf(f, "\"} %llu\n", (unsigned long long)hits);
	}
}

int fg_rt_write_stats(struct fg_rt *rt)
{
	int rc = 0;
	static int warned_json, warned_prom; /* say it once, not every second */
	if (rt->refresh_io)
		rt->refresh_io(rt);
	if (rt->json_path && write_atomic(rt->json_path, emit_json, rt) != 0) {
		if (!warned_json++)
			fprintf(stderr, "floodgate-rx: cannot write stats %s: %s\n", rt->json_path,
				strerror(errno));
		rc = -1;
	}
	if (rt->o->stats_prom_path && write_atomic(rt->o->stats_prom_path, emit_prom, rt) != 0) {
		if (!warned_prom++)
			fprintf(stderr, "floodgate-rx: cannot write stats %s: %s\n", rt->o->stats_prom_path,
				strerror(errno));
		rc = -1;
	}
	return rc;
}

/* A thread for the runtime's slow work, off the packet loop: every signal blocked (they stay the loop's, whose
 * poll() they interrupt), on the CPUs other than the receiver's when --cpu pinned it and it has others (or
 * wherever allowed, should that affinity be refused: a cpuset changed since). 0 when it could not start. */
static int spawn(struct fg_rt *rt, pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	int ok = 0;
	for (int other_cpus = rt->have_others; !ok && other_cpus >= 0; other_cpus--) {
		pthread_attr_t attr;
		if (pthread_attr_init(&attr) != 0)
			break;
		pthread_attr_setstacksize(&attr, 2u << 20); /* locked with --mlock: not the default 8 MiB */
		if (other_cpus)
			pthread_attr_setaffinity_np(&attr, sizeof(rt->others), &rt->others);
		ok = pthread_create(t, &attr, fn, arg) == 0;
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return ok;
}

static void *free_engine(void *arg)
{
	fg_engine_free(arg);
	return NULL;
}

/* Wait for the engine a previous reload replaced to be freed (long done by the time anyone asks). */
static void reap(struct fg_rt *rt)
{
	if (rt->reload.reaping)
		pthread_join(rt->reload.reaper, NULL);
	rt->reload.reaping = 0;
}

static void *compile_rules(void *arg)
{
	struct fg_rt *rt = arg;
	rt->reload.fresh = load_rules(rt->o->rules_path);
	atomic_store_explicit(&rt->reload.done, 1, memory_order_release);
	return NULL;
}

/* The loop's side of a reload, once the compile is over: swap the new engine in (counters and unchanged
 * rate-limit tables carried over) or keep the old one when the file was refused. Between two bursts, so no
 * frame is classified by a half-built engine. */
static void finish_reload(struct fg_rt *rt)
{
	if (rt->reload.running)
		pthread_join(rt->reload.thread, NULL);
	rt->reload.running = 0;
	atomic_store_explicit(&rt->reload.done, 0, memory_order_relaxed);
	struct fg_engine *fresh = rt->reload.fresh;
	rt->reload.fresh = NULL;
	double ms = (double)(fg_rt_now_ns() - rt->reload.started_ns) / 1e6;
	if (!fresh) {
		rt->reload_errs++;
		fprintf(stderr, "floodgate-rx: reload refused, the previous rules stay in force\n");
	} else {
		fg_engine_adopt_state(fresh, rt->eng);
		struct fg_engine *old = rt->eng;
		rt->eng = fresh;
		/* freeing a 1M-prefix set and a 16M-source table takes 3-5 ms: a netmap ring's worth at line rate */
		reap(rt);
		rt->reload.reaping = spawn(rt, &rt->reload.reaper, free_engine, old);
		if (!rt->reload.reaping)
			fg_engine_free(old);
		rt->reloads++;
		fprintf(stderr,
			"floodgate-rx: rules reloaded from %s (%u rules, compiled in %.1f ms beside the running ones)\n",
			rt->o->rules_path, fg_engine_rule_count(fresh), ms);
	}
	fg_rt_notify("READY=1");
	fg_rt_write_stats(rt);
}

/* SIGHUP: compile the file in a thread (spawn) while the loop goes on with the running engine. Without a
 * thread the file is compiled here, as before. */
static void start_reload(struct fg_rt *rt)
{
	fg_rt_notify("RELOADING=1");
	rt->reload.started_ns = fg_rt_now_ns();
	rt->reload.fresh = NULL;
	reap(rt);
	if (spawn(rt, &rt->reload.thread, compile_rules, rt)) {
		rt->reload.running = 1;
		return;
	}
	fprintf(stderr, "floodgate-rx: no thread for the reload: compiling it in the receiver's loop\n");
	compile_rules(rt);
	finish_reload(rt);
}

/* A reload still compiling when the receiver stops: wait for it (its file is bounded in size) and drop it; and
 * the engine a reload replaced, if it is still being freed. */
static void drop_reload(struct fg_rt *rt)
{
	reap(rt);
	if (!rt->reload.running)
		return;
	pthread_join(rt->reload.thread, NULL);
	rt->reload.running = 0;
	fg_engine_free(rt->reload.fresh);
	rt->reload.fresh = NULL;
}

void fg_rt_ready(struct fg_rt *rt)
{
	fg_rt_write_stats(rt);
	rt->next_stats_ns = fg_rt_now_ns() + rt->interval_ns;
	fg_rt_notify("READY=1");
}

void fg_rt_tick(struct fg_rt *rt, uint64_t now_ns)
{
	if (atomic_load_explicit(&rt->reload.done, memory_order_acquire))
		finish_reload(rt);
	/* a SIGHUP during a compile waits for it, then compiles the file again: the latest edit wins */
	if (fg_rt_reload && !rt->reload.running) {
		fg_rt_reload = 0;
		start_reload(rt);
	}
	if (now_ns >= rt->next_stats_ns || fg_rt_dump) {
		fg_rt_dump = 0;
		fg_rt_write_stats(rt);
		rt->next_stats_ns = now_ns + rt->interval_ns;
	}
}

int fg_rt_poll_ms(const struct fg_rt *rt, uint64_t now_ns)
{
	uint64_t due = rt->next_stats_ns > now_ns ? (rt->next_stats_ns - now_ns) / 1000000 + 1 : 0;
	uint64_t cap = rt->reload.running ? 10 : 1000;
	return (int)(due > cap ? cap : due);
}

void fg_rt_teardown(struct fg_rt *rt)
{
	fg_rt_notify("STOPPING=1");
	drop_reload(rt);
	if (rt->eng) {
		fg_rt_write_stats(rt);
		fg_engine_free(rt->eng);
		rt->eng = NULL;
	}
}

void fg_rt_abort(struct fg_rt *rt)
{
	drop_reload(rt);
	fg_engine_free(rt->eng);
	rt->eng = NULL;
}
