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
#include <semaphore.h>
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
 * on stderr when it cannot be read or compiled. running: a reload's, whose unchanged rate-limit tables the new
 * engine will take over (fg_engine_adopt_state) instead of allocating its own; NULL at start. */
static struct fg_engine *load_rules(const char *path, const struct fg_engine *running)
{
	char err[512] = "";
	struct fg_engine *e = fg_rules_reload_file(path, running, err, sizeof(err));
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
	/* The runtime's threads (a reload's compile, the stats writer) run on the other CPUs this process may use */
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
	rt->eng = load_rules(o->rules_path, NULL);
	if (!rt->eng)
		return FG_EXIT_USAGE;
	rt->json_path = o->stats_json_path;
	if (!rt->json_path) {
		snprintf(rt->json_default, sizeof(rt->json_default), "/run/floodgate/rx-%s-%u.json", o->ifname, o->queue);
		rt->json_path = rt->json_default;
	}
	rt->interval_ns = (uint64_t)(o->stats_interval_ms ? o->stats_interval_ms : 1000) * 1000000ull;
	rt->stats.backend = backend;
	rt->stats.ifname = o->ifname;
	rt->stats.queue = o->queue;
	rt->stats.json_path = rt->json_path;
	rt->stats.prom_path = o->stats_prom_path;
	if (fg_stats_init(&rt->stats) != 0) {
		fprintf(stderr, "floodgate-rx: out of memory for the stats snapshot\n");
		goto fail;
	}
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
	fg_stats_free(&rt->stats);
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

/* Stats: the loop copies its counters into a snapshot, the writer thread writes the files (fg_stats.h). */
static void take_stats(struct fg_rt *rt)
{
	if (rt->refresh_io)
		rt->refresh_io(rt);
	fg_stats_take(&rt->stats, rt->eng, &rt->io, rt->reloads, rt->reload_errs, rt->reload.running);
}

int fg_rt_write_stats(struct fg_rt *rt)
{
	take_stats(rt);
	return fg_stats_write(&rt->stats);
}

/* Hand a snapshot to the writer thread (or write it here when there is none); 0 while the writer is still on
 * the previous one: the caller asks again at the next burst. */
static int request_stats(struct fg_rt *rt)
{
	if (!rt->stats_writer) {
		fg_rt_write_stats(rt);
		return 1;
	}
	if (atomic_load_explicit(&rt->stats.busy, memory_order_acquire))
		return 0;
	take_stats(rt);
	atomic_store_explicit(&rt->stats.busy, 1, memory_order_relaxed);
	sem_post(&rt->stats.go); /* publishes the snapshot to the writer */
	return 1;
}

static void stop_writer(struct fg_rt *rt)
{
	if (!rt->stats_writer)
		return;
	atomic_store_explicit(&rt->stats.stop, 1, memory_order_release);
	sem_post(&rt->stats.go);
	pthread_join(rt->stats_thread, NULL);
	rt->stats_writer = 0;
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
	/* rt->eng is not replaced before this thread is joined; only what its compile set is read from it */
	rt->reload.fresh = load_rules(rt->o->rules_path, rt->eng);
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
	} else if (fg_engine_adopt_state(fresh, rt->eng)) { /* only if rt->eng were not the compile's */
		rt->reload_errs++;
		fg_engine_free(fresh);
		fprintf(stderr, "floodgate-rx: reload: out of memory for a rate-limit table, the previous rules stay in "
				"force\n");
	} else {
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
	rt->stats_pending = 1; /* the new rules' names in the stats at once */
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
	fg_rt_write_stats(rt); /* the first one before READY=1, so a reader finds the file at once */
	rt->stats_writer = spawn(rt, &rt->stats_thread, fg_stats_writer, &rt->stats);
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
	if ((now_ns >= rt->next_stats_ns || fg_rt_dump || rt->stats_pending) && request_stats(rt)) {
		fg_rt_dump = 0;
		rt->stats_pending = 0;
		rt->next_stats_ns = now_ns + rt->interval_ns;
	}
}

int fg_rt_poll_ms(const struct fg_rt *rt, uint64_t now_ns)
{
	uint64_t due = rt->next_stats_ns > now_ns ? (rt->next_stats_ns - now_ns) / 1000000 + 1 : 0;
	uint64_t cap = rt->stats_pending ? 1 : rt->reload.running ? 10 : 1000;
	return (int)(due > cap ? cap : due);
}

void fg_rt_teardown(struct fg_rt *rt)
{
	fg_rt_notify("STOPPING=1");
	drop_reload(rt);
	stop_writer(rt);
	if (rt->eng) {
		fg_rt_write_stats(rt);
		fg_engine_free(rt->eng);
		rt->eng = NULL;
	}
	fg_stats_free(&rt->stats);
}

void fg_rt_abort(struct fg_rt *rt)
{
	drop_reload(rt);
	stop_writer(rt);
	fg_engine_free(rt->eng);
	rt->eng = NULL;
	fg_stats_free(&rt->stats);
}
