# Shared settings of the lab scripts (sourced). Everything the lab creates is named fg-* and recorded under
# lab/.state so that lab/down.sh can remove exactly that.
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_STATE=${LAB_STATE:-$LAB_DIR/.state}
export CONTAINERS_CONF=$LAB_STATE/containers.conf
LAB_IMAGE_REPO=localhost/floodgate-lab
LAB_WIRE=fg-wire
LAB_EDGE_PREFIX=fg-edge
# Queues of each edge NIC (the model's indirection table spreads over these).
LAB_QUEUES=8
# Where the NIC model's maps appear inside an edge (its own bpffs).
LAB_NICMODEL_PIN=/sys/fs/bpf/floodgate-nicmodel

lab_log() { echo "lab: $*" >&2; }
lab_die() { echo "lab: error: $*" >&2; exit 1; }

# The image tag is a hash of its recipe: the image is rebuilt only when the recipe changes.
lab_image_tag() {
	cat "$LAB_DIR/image/build.sh" "$LAB_DIR/image/packages.txt" "$LAB_DIR/image/setup-rootfs.sh" |
		sha256sum | cut -c1-12
}
lab_image() { echo "$LAB_IMAGE_REPO:$(lab_image_tag)"; }

lab_podman_conf() {
	mkdir -p "$LAB_STATE"
	"$LAB_DIR/podman/containers-conf.sh" "$CONTAINERS_CONF"
}

# Number of edges of the running lab (0 when down).
lab_edges_running() {
	if [ -f "$LAB_STATE/edges" ]; then cat "$LAB_STATE/edges"; else echo 0; fi
}

lab_pid() { podman inspect -f '{{.State.Pid}}' "$1" 2>/dev/null; }
