# Live receiver backends (csrc/live/): the live af_xdp benchmark.
.PHONY: bench-live
BENCH_TARGETS += bench-live

# pps taken from one queue of a real 8-queue veth by the af_xdp receiver while the kernel serves the other
# queues, beside an AF_PACKET TPACKET_V3 queue-filter reader under the same flood, same run (root).
# BENCH_LIVE_ARGS: SECONDS ROUNDS QUEUE_SHARE_PERCENT.
BENCH_LIVE_ARGS ?= 4 3 50
bench-live:
	$(MAKE) -C csrc
	csrc/live/tools/bench_live.sh csrc/floodgate-rx $(BENCH_LIVE_ARGS)

# The live tests (tests/integration/test_af_xdp_live.py) run csrc/floodgate-rx.
.PHONY: live-test-prereqs
TEST_PREREQS += live-test-prereqs
live-test-prereqs:
	$(MAKE) -C csrc floodgate-rx
