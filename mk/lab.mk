# The lab (issue 4): podman hosts fg-wire + fg-edge1..N with 8-queue veth NICs and the tc-BPF NIC model.
# See docs/lab.md. All targets need root.
LAB_EDGES ?= 2
EDGE ?= 1
RATE ?= 500000
DURATION ?= 60
PROCS ?= 1
QPS ?= 2000
MEASURE_SECONDS ?= 10
export LAB_EDGES

.PHONY: lab-build lab-image lab-up lab-down lab-status lab-attack lab-attack-stop lab-measure lab-inventory

# The tests need the NIC model's BPF object and the lab image (built once per recipe, about 1.5-4 min).
TEST_PREREQS += lab-build lab-image

lab-build: $(STAMPS)/apt
	@$(MAKE) -s -C lab/nicmodel
	@$(MAKE) -s -C lab/traffic

lab-image: $(STAMPS)/apt
	@lab/image/build.sh >/dev/null

lab-up: $(STAMPS)/apt
	@lab/up.sh
	@$(MAKE) -s lab-inventory

lab-down: $(STAMPS)/apt
	@lab/down.sh

lab-status:
	@lab/status.sh

lab-attack:
	@EDGE=$(EDGE) RATE=$(RATE) DURATION=$(DURATION) PROCS=$(PROCS) lab/attack.sh

lab-attack-stop:
	@lab/attack.sh stop $(EDGE)

lab-measure:
	@python3 lab/measure.py --edge $(EDGE) --qps $(QPS) --seconds $(MEASURE_SECONDS)

# inventories/lab/hosts.yml covers the default 2 edges; lab/.state/inventory.yml matches LAB_EDGES.
lab-inventory:
	@mkdir -p lab/.state && python3 lab/inventory.py --edges $(LAB_EDGES) --out lab/.state/inventory.yml
