# Filter engine, pcap backend, CLI, cffi binding, fuzzers (csrc/, owned by the engine area).
# pytest needs: floodgate-rx, the C unit test binaries (plain + ASan/UBSan), the libFuzzer targets and the
# cffi binding, all built by `make -C csrc`.
.PHONY: engine-build bench-engine
ENGINE_MAKE = $(MAKE) --no-print-directory -C csrc PYTHON=$(PY)

engine-build: $(STAMPS)/apt $(STAMPS)/venv
	$(ENGINE_MAKE) all test-bins fuzz binding bench

# One core, 1M frames in memory: engine (16 and 10,000 prefixes) vs libpcap's BPF interpreter vs a read-only
# sweep, plus a hand-written C classifier of the BPF expression's checks; the last line is the summary
# `engine_mpps=... bpf_mpps=... ratio=... ceiling_mpps=... engine_10k_mpps=... handc_mpps=... engine_vs_handc=...
# engine_b32_mpps=... ratio_b32=...` (the engine in bursts of 64, and of 32 in the last two fields).
bench-engine: $(STAMPS)/apt
	$(ENGINE_MAKE) bench
	taskset -c $${BENCH_CPU:-$$(( $$(nproc) - 1 ))} csrc/build/bench_engine

TEST_PREREQS += engine-build
BENCH_TARGETS += bench-engine
