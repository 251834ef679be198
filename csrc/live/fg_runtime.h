/* Runtime shared by the live backends: the parts of a receiver that are not packet I/O.
 * Checks (interface, queue), CPU pinning, mlock, signals (stop, reload), sd_notify, stats files.
 * Everything here runs between bursts, never per packet; a reload's compile and the stats files' writes run in
 * threads of their own. */
#ifndef FG_RUNTIME_H
#define FG_RUNTIME_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../fg_engine.h"
#include "../fg_live.h"
#include "fg_stats.h"

/* Exit codes of a live backend (the process exit code). */
enum { FG_EXIT_OK = 0, FG_EXIT_RUNTIME = 1, FG_EXIT_USAGE = 2 };

/* Set by signal handlers; the packet loop checks them once per burst. */
extern volatile sig_atomic_t fg_rt_stop;
extern volatile sig_atomic_t fg_rt_reload;
extern volatile sig_atomic_t fg_rt_dump; /* SIGUSR1: write the stats files now */

struct fg_rt {
	const struct fg_live_opts *o;
	const char *backend;
	struct fg_engine *eng;
	struct fg_io_counters io;
	uint64_t next_stats_ns;
	uint64_t interval_ns;
	uint64_t reloads;     /* successful SIGHUP reloads */
	uint64_t reload_errs; /* reloads refused (bad rules file): the old rules stay */
	const char *json_path; /* o->stats_json_path, or the default /run/floodgate/rx-IF-Q.json */
	char json_default[128];
	struct fg_stats stats;  /* the snapshot and the files (fg_stats.h) */
	pthread_t stats_thread; /* writes them, so the loop never waits on a file */
	int stats_writer;       /* that thread runs (else the loop writes them itself) */
	int stats_pending;      /* a write is wanted before the next interval (after a reload) */
	/* Set by a backend whose I/O counters live in the kernel: called before every stats write. */
	void (*refresh_io)(struct fg_rt *rt);
	void *backend_ctx;
	/* A SIGHUP's rules compile in a thread of their own while the loop goes on classifying with the running
	 * engine (a 1M-prefix allowlist takes most of a second; a netmap ring at line rate fills in under a
	 * millisecond); the loop swaps the result in between two bursts. */
	struct {
		pthread_t thread;
		int running;             /* started and not yet joined (the loop's own state) */
		atomic_int done;         /* set by the thread once fresh holds its result */
		struct fg_engine *fresh; /* the compiled rules; NULL when the file was refused */
		uint64_t started_ns;
		pthread_t reaper; /* frees the engine a reload replaced (milliseconds for a big one) */
		int reaping;
	} reload;
	cpu_set_t others; /* the CPUs allowed before --cpu pinned us, less that one: where those threads run */
	int have_others;
};

uint64_t fg_rt_now_ns(void); /* CLOCK_MONOTONIC */

/* "interface eth9 not found: check `ip link`" / "queue 9 out of range: eth1 has 8 RX queues (...)".
 * Returns 0 when usable; else writes the reason to err and returns -1. */
int fg_rt_check_queue(const char *ifname, unsigned queue, char *err, size_t errlen);
/* Number of RX queues the kernel exposes for ifname (sysfs queues/rx-N), or -1. */
int fg_rt_rx_queue_count(const char *ifname);

/* Validate options, check interface and queue, load the rules, install signal handlers, pin, mlock.
 * Prints a clear error on stderr and returns FG_EXIT_* on failure; 0 on success. */
int fg_rt_setup(struct fg_rt *rt, const struct fg_live_opts *o, const char *backend);
/* Once the queue is bound: READY=1 for systemd and a first stats write. */
void fg_rt_ready(struct fg_rt *rt);
/* Between bursts: start a requested reload, swap in a compiled one, write stats when due. */
void fg_rt_tick(struct fg_rt *rt, uint64_t now_ns);
/* Whether fg_rt_tick has something to do: the loops ask once per burst, so it is a few loads. */
static inline int fg_rt_tick_due(struct fg_rt *rt, uint64_t now_ns)
{
	return fg_rt_reload || fg_rt_dump || rt->stats_pending || now_ns >= rt->next_stats_ns ||
	       atomic_load_explicit(&rt->reload.done, memory_order_relaxed);
}
/* How long an idle loop may wait in poll(): until the next stats write (at most 1 s), 10 ms while a reload
 * compiles (its engine is swapped in soon after it is ready), 1 ms while a stats write waits for the writer. */
int fg_rt_poll_ms(const struct fg_rt *rt, uint64_t now_ns);
/* STOPPING=1, final stats, free the engine (after waiting for a reload still compiling). */
void fg_rt_teardown(struct fg_rt *rt);
/* Start failed before READY: free the engine, write nothing (a failed start leaves no stats file behind). */
void fg_rt_abort(struct fg_rt *rt);

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. No-op when unset. */
void fg_rt_notify(const char *state);
/* Write the stats files here and now (start and exit; the loop hands them to the writer thread instead). */
int fg_rt_write_stats(struct fg_rt *rt);

#endif
