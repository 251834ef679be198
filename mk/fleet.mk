# Fleet rollout (issue 6): benchmark and Molecule scenario over many lab edges. See docs/fleet.md.
#   make bench-fleet [FLEET_SIZES=20,50] [FLEET_MODES=project,defaults,mitogen]  (mitogen column only when installed)
FLEET_SIZES ?= 20,50
FLEET_MODES ?= project,defaults,mitogen
BENCH_TARGETS += bench-fleet

.PHONY: bench-fleet

bench-fleet: deps
	@$(MAKE) -s -C csrc floodgate-rx
	@$(PY) lab/fleet/bench_fleet.py --sizes $(FLEET_SIZES) --modes $(FLEET_MODES)
