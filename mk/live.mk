# Live receiver backends (csrc/live/): the live af_xdp benchmark, and what a stats write costs the loop.
.PHONY: bench-live bench-stats
BENCH_TARGETS += bench-live bench-stats

# pps taken from one queue of a real 8-queue veth by the af_xdp receiver while the kernel serves the other
# queues, beside an AF_PACKET TPACKET_V3 queue-filter reader under the same flood, same run (root).
# BENCH_LIVE_ARGS: SECONDS ROUNDS QUEUE_SHARE_PERCENT.
BENCH_LIVE_ARGS ?= 4 3 50
bench-live:
	$(MAKE) -C csrc
	csrc/live/tools/bench_live.sh csrc/floodgate-rx $(BENCH_LIVE_ARGS)

# One stats write (JSON + Prometheus files) as the packet loop pays for it: written in the loop, as until
# 2026-11-27, against handed to the stats writer thread; same run, same rules (BENCH_STATS_RULES).
BENCH_STATS_RULES ?= 20
bench-stats:
	$(MAKE) -C csrc build/bench_stats_write
	csrc/build/bench_stats_write $(BENCH_STATS_RULES)

# The live tests (tests/integration/test_af_xdp_live.py) run csrc/floodgate-rx; tests/unit/test_stats_writer.py
# the stats benchmark.
.PHONY: live-test-prereqs
TEST_PREREQS += live-test-prereqs
live-test-prereqs:
	$(MAKE) -C csrc floodgate-rx build/bench_stats_write
