# The product's main command (`make demo`, README) and its undo, against the lab (mk/lab.mk).
#   make demo    lab up -> flood edge DEMO_EDGE -> measure legit DNS -> mitigate.yml -e queue=4 (af_xdp in the lab)
#                -> measure again -> before/after table and queue counters; the mitigation stays in place.
#   make undemo  unmitigate.yml on the demo edge and stop the flood.
DEMO_EDGE ?= 1
DEMO_QUEUE ?= 4
DEMO_RATE ?= 500000
DEMO_FLOOD_SECONDS ?= 120
DEMO_QPS ?= 2000
DEMO_SECONDS ?= 10
DEMO_INVENTORY ?= inventories/lab/hosts.yml
DEMO_RUN := run/demo
ANSIBLE_PLAYBOOK := $(BIN)/ansible-playbook -i $(DEMO_INVENTORY)

.PHONY: demo undemo mitigate-test

demo: deps lab-up
	@mkdir -p $(DEMO_RUN)
	@echo "== demo: giving edge$(DEMO_EDGE) back to its original state first (safe when nothing is mitigated)"
	@$(ANSIBLE_PLAYBOOK) unmitigate.yml -l edge$(DEMO_EDGE) >$(DEMO_RUN)/unmitigate-before.log 2>&1 || \
	  { tail -30 $(DEMO_RUN)/unmitigate-before.log; exit 1; }
	@lab/attack.sh stop $(DEMO_EDGE)
	@echo "== demo: flooding edge$(DEMO_EDGE) with $(DEMO_RATE) DNS queries/s from spoofed 10.96.0.0/16"
	@EDGE=$(DEMO_EDGE) RATE=$(DEMO_RATE) DURATION=$(DEMO_FLOOD_SECONDS) lab/attack.sh
	@sleep 2
	@echo "== demo: legit load before the mitigation ($(DEMO_QPS) qps for $(DEMO_SECONDS) s)"
	@python3 lab/measure.py --edge $(DEMO_EDGE) --qps $(DEMO_QPS) --seconds $(DEMO_SECONDS) --json >$(DEMO_RUN)/before.json
	@# On this 2-core machine the flood generator and Ansible share the CPUs (a run under flood takes minutes):
	@# the flood pauses while the playbook runs and resumes for the measurement after it.
	@lab/attack.sh stop $(DEMO_EDGE)
	@echo "== demo: ansible-playbook mitigate.yml -e queue=$(DEMO_QUEUE) -e backend=af_xdp -l edge$(DEMO_EDGE)"
	@$(ANSIBLE_PLAYBOOK) mitigate.yml -e queue=$(DEMO_QUEUE) -e backend=af_xdp -e verify_min_packets=0 \
	  -l edge$(DEMO_EDGE) >$(DEMO_RUN)/mitigate.log 2>&1 || { tail -60 $(DEMO_RUN)/mitigate.log; exit 1; }
	@grep -A4 'Print the run summary' $(DEMO_RUN)/mitigate.log | grep -E 'HOST|edge' || true
	@EDGE=$(DEMO_EDGE) RATE=$(DEMO_RATE) DURATION=$(DEMO_FLOOD_SECONDS) lab/attack.sh
	@sleep 2
	@echo "== demo: legit load after the mitigation, same flood"
	@python3 lab/measure.py --edge $(DEMO_EDGE) --qps $(DEMO_QPS) --seconds $(DEMO_SECONDS) --json >$(DEMO_RUN)/after.json
	@$(ANSIBLE_PLAYBOOK) status.yml -l edge$(DEMO_EDGE) >$(DEMO_RUN)/status.log 2>&1 || true
	@lab/attack.sh stop $(DEMO_EDGE)
	@$(PY) mk/demo_report.py $(DEMO_RUN)/before.json $(DEMO_RUN)/after.json $(DEMO_QUEUE) run/status.json
	@echo "The mitigation stays in place on edge$(DEMO_EDGE) (flood stopped). Undo it with:"
	@echo "  make undemo      (= ansible-playbook unmitigate.yml -l edge$(DEMO_EDGE))"

undemo: deps
	@lab/attack.sh stop $(DEMO_EDGE) || true
	@$(ANSIBLE_PLAYBOOK) unmitigate.yml -l edge$(DEMO_EDGE)

# The mitigation's own tests (roles, playbooks, Molecule e2e in the lab), also part of `make pytest`.
mitigate-test: deps
	$(BIN)/pytest tests/integration/test_mitigation_molecule.py $(PYTEST_ARGS)
