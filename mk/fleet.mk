# Fleet rollout (issue 6): benchmark and Molecule scenario over many lab edges. See docs/fleet.md.
#   make bench-fleet [FLEET_SIZES=20,50] [FLEET_MODES=project,pipelining,defaults] [FLEET_CONNECTION=ssh|podman]
#                    [FLEET_ROUNDS=1] (rounds of every column, their order reversed each round; medians in the table)
FLEET_SIZES ?= 20,50
FLEET_MODES ?= project,defaults
FLEET_CONNECTION ?= ssh
FLEET_ROUNDS ?= 1
BENCH_TARGETS += bench-fleet

.PHONY: bench-fleet

bench-fleet: deps
	@$(MAKE) -s -C csrc floodgate-rx
	@$(PY) lab/fleet/bench_fleet.py --sizes $(FLEET_SIZES) --modes $(FLEET_MODES) --connection $(FLEET_CONNECTION) --rounds $(FLEET_ROUNDS)
