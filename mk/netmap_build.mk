# netmap_build role: its Molecule scenario alone (it also runs inside `make pytest`).
# FG_NETMAP_SOURCE_PATH=<netmap checkout> builds from that tree; without it a local mirror or the git URL is tried.
.PHONY: molecule-netmap-build
molecule-netmap-build: deps
	$(BIN)/pytest -q -rs tests/integration/test_netmap_build_molecule.py
