/* The filter engine's contract: pure classification, no I/O, no allocation after fg_engine_compile.
 * Shared by every backend, the cffi binding, the fuzzers and the benchmark. Extend, do not break. */
#ifndef FG_ENGINE_H
#define FG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define FG_BURST_MAX 64

enum fg_verdict { FG_DROP = 0, FG_PASS = 1 };

struct fg_engine; /* compiled rule set, its counters and its rate-limit table */

struct fg_counters {
	uint64_t packets;
	uint64_t passed;
	uint64_t dropped;
	uint64_t malformed; /* frames whose headers failed bounds or validity checks */
};

/* Compile a rules file held in memory. On error: NULL, and err holds "line N: what is wrong, what to do". */
struct fg_engine *fg_engine_compile(const char *text, size_t len, char *err, size_t errlen);
void fg_engine_free(struct fg_engine *e);

/* Classify n <= FG_BURST_MAX frames, each starting at its Ethernet header. now_ns is CLOCK_MONOTONIC,
 * used by rate limits. Writes one enum fg_verdict per frame into verdicts and updates counters. */
void fg_engine_classify(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens, uint32_t n,
			uint64_t now_ns, uint8_t *verdicts);

void fg_engine_counters(const struct fg_engine *e, struct fg_counters *out);
uint32_t fg_engine_rule_count(const struct fg_engine *e);
/* Rule i's name, action ("pass"/"drop"/...) and hit count; returns 0, or -1 when i is out of range. */
int fg_engine_rule_info(const struct fg_engine *e, uint32_t i, const char **name, const char **action,
			uint64_t *hits);
/* On reload (SIGHUP): carry totals and per-rule hits (matched by rule name) from old into fresh. */
void fg_engine_adopt_counters(struct fg_engine *fresh, const struct fg_engine *old);
/* The engine's counters as one JSON object; returns the length written (excluding NUL), or the length
 * needed when len is too small, like snprintf. */
size_t fg_engine_stats_json(const struct fg_engine *e, char *buf, size_t len);

/* ---- Extensions (added after the first contract; everything above is unchanged) ---- */

/* How fg_engine_compile_ex resolves `src-file PATH` (docs/rules-format.md). */
struct fg_compile_opts {
	const char *base_dir; /* directory for relative src-file paths; NULL = the current directory */
	int no_files;         /* 1: refuse src-file (fuzzers, untrusted text) */
	/* A reload's compile: the running engine, whose rate-limit tables the new one will take over. A ratelimit
	 * rule that keeps its name, rate, burst and table size gets no table of its own here (up to 256 MiB,
	 * allocated and zeroed only to be swapped out and freed): fg_engine_adopt_state(new, tables_from) moves
	 * the running one in, and the new engine must not classify before. Only what a compile sets is read from
	 * tables_from, so it may keep classifying while this runs in another thread. NULL: every table new. */
	const struct fg_engine *tables_from;
};

/* fg_engine_compile with options; fg_engine_compile(t, l, err, n) == fg_engine_compile_ex(t, l, NULL, err, n). */
struct fg_engine *fg_engine_compile_ex(const char *text, size_t len, const struct fg_compile_opts *o, char *err,
				       size_t errlen);

/* Which rule decided each frame, beside its verdict: */
#define FG_DECIDED_DEFAULT 0xFFFFu   /* no rule matched: the default verdict */
#define FG_DECIDED_MALFORMED 0xFFFEu /* headers failed the checks: dropped before any rule */
/* fg_engine_classify that also writes, per frame, the index of the deciding rule (or FG_DECIDED_*). */
void fg_engine_classify_explain(struct fg_engine *e, const uint8_t *const *frames, const uint32_t *lens,
				uint32_t n, uint64_t now_ns, uint8_t *verdicts, uint16_t *decided);

/* The default verdict (FG_PASS/FG_DROP) and how many frames it decided. */
int fg_engine_default_verdict(const struct fg_engine *e, uint64_t *hits);
/* Sources evicted from rate-limit tables (all ratelimit rules together). */
uint64_t fg_engine_ratelimit_evictions(const struct fg_engine *e);

/* On reload: fg_engine_adopt_counters and, for every ratelimit rule whose name, rate, burst and table size
 * are unchanged, take over old's source table (O(1), no copy), so a reload does not hand every source a
 * fresh burst. Rules are matched by name. When fresh was compiled with tables_from = old, its compile matched
 * them already (this is then one pass over the rules: the swap runs on the packet loop's thread) and old is
 * left without the tables taken, so it must not classify again; otherwise the tables are swapped and old keeps
 * working with the fresh (empty) ones. Free old next. 0; -1 when a table fresh left to adopt has no twin in old
 * (another engine than its tables_from) and cannot be allocated: nothing changed, fresh cannot be used. */
int fg_engine_adopt_state(struct fg_engine *fresh, struct fg_engine *old);

/* The fast path: frames of the usual flood shape (untagged IPv4 without options or fragmentation, UDP with
 * consistent lengths) are parsed by a short specialised parser and tested against the rules as they apply
 * to that shape (rules that can never match it left out, terms it always meets dropped); every other frame
 * takes the general parser and evaluator. Verdicts, deciding rules, counters and rate-limit state are the
 * same either way. On by default; off (on = 0) sends every frame the general way (tests compare the two).
 * Returns 1 when the fast path is now on. */
int fg_engine_set_fast_path(struct fg_engine *e, int on);

#endif
