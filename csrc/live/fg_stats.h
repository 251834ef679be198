/* The receiver's stats files (JSON, Prometheus textfile). The packet loop only copies its counters into a
 * snapshot (a few microseconds); a thread of its own formats it and writes both files, which takes 0.1-0.25 ms
 * on tmpfs: as long as a 512-slot netmap ring lasts at 10GbE line rate (34 us) several times over. */
#ifndef FG_STATS_H
#define FG_STATS_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "../fg_engine.h"

/* Counters of the I/O side, beside the engine's verdict counters. */
struct fg_io_counters {
	uint64_t injected;      /* passed frames handed back to the kernel */
	uint64_t inject_errors; /* passed frames the kernel did not take (not IP, ring full, write error) */
	uint64_t missed;        /* frames of the queue the kernel dropped before the receiver read them */
	int have_missed;        /* the backend counts missed (af_xdp); else the stats leave it out */
};

#define FG_STATS_RULES 1024 /* the engine's rule limit (FG_RULES_MAX) */
#define FG_STATS_NAME 64    /* a rule name's room (FG_NAME_MAX) */

/* Everything the files say, copied at one instant: the writer never reads the engine, which a reload may free. */
struct fg_stats_snap {
	struct timespec ts; /* CLOCK_REALTIME */
	struct fg_counters c;
	struct fg_io_counters io;
	uint64_t reloads, reload_errs;
	int reloading;
	uint32_t nrules;
	struct {
		char name[FG_STATS_NAME];
		const char *action; /* the engine's static action names */
		uint64_t hits;
	} rules[FG_STATS_RULES];
};

struct fg_stats {
	const char *backend, *ifname, *json_path, *prom_path; /* prom_path may be NULL */
	unsigned queue;
	struct fg_stats_snap *snap; /* allocated once; the loop fills it only while the writer is idle */
	sem_t go;                   /* the loop posts: a snapshot to write (or, with stop set, exit) */
	atomic_int busy;            /* the writer holds snap */
	atomic_int stop;
	int warned_json, warned_prom; /* say a write failure once, not every second */
};

/* 0, or -1 when out of memory. */
int fg_stats_init(struct fg_stats *s);
void fg_stats_free(struct fg_stats *s);
/* Copy the engine's and the I/O counters into s->snap (the caller makes sure the writer is idle). */
void fg_stats_take(struct fg_stats *s, const struct fg_engine *e, const struct fg_io_counters *io,
		   uint64_t reloads, uint64_t reload_errs, int reloading);
/* Write both files from s->snap, each atomically (PATH.tmp.PID, then rename). 0, or -1 if one failed. */
int fg_stats_write(struct fg_stats *s);
/* The writer thread's body: waits on go, writes, clears busy; returns once stop is set. */
void *fg_stats_writer(void *arg);

#endif
