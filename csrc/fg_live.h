/* Live backends: each owns one NIC RX queue until asked to stop, and returns a process exit code.
 * The CLI (main.c) fills fg_live_opts; backends that were not compiled in report how to get them. */
#ifndef FG_LIVE_H
#define FG_LIVE_H

struct fg_live_opts {
	const char *ifname;          /* NIC, e.g. "eth3" */
	unsigned queue;              /* RX queue index */
	int cpu;                     /* core to pin the packet loop to, -1 = leave as is */
	const char *rules_path;      /* rules file; re-read on SIGHUP */
	const char *stats_json_path; /* JSON stats, rewritten atomically every stats_interval_ms;
				      * NULL = /run/floodgate/rx-<ifname>-<queue>.json (the team contract's default) */
	const char *stats_prom_path; /* node_exporter textfile, same cadence; NULL = off */
	unsigned stats_interval_ms;  /* default 1000 */
	const char *inject_dev;      /* af_xdp: TUN device for re-injection (default "fg<queue>") */
	int zerocopy;                /* af_xdp: -1 auto, 0 copy, 1 require zero-copy */
	int mlock;                   /* lock memory so the packet loop never faults */
	/* Extensions (zero = previous behaviour) */
	int xdp_takeover; /* af_xdp: replace an XDP program attached outside libxdp's dispatcher while running,
			   * re-attach it at exit (also FLOODGATE_XDP_TAKEOVER=1) */
	unsigned coalesce_us; /* af_xdp: once a burst drained the queue, wait this long for the next batch before
			       * sleeping until the kernel wakes the loop (floodgate-rx's default 50; 0 = wake per event) */
	int check_only; /* --check-args: return 0 at once when this build has the backend (open nothing); a
			 * backend not built still says so and returns 2 */
};

int fg_live_af_xdp(const struct fg_live_opts *o);
int fg_live_netmap(const struct fg_live_opts *o);

#endif
