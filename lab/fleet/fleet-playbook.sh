#!/usr/bin/env bash
# Runs one floodgate playbook over the fleet lab: lab/fleet/fleet-playbook.sh INVENTORY mitigate|unmitigate ARGS...
# With the mitogen package in the venv (FLEET_MITOGEN=auto, the default; 1 = required, 0 = never) it runs with
# the bench's mitogen settings (lab/fleet/bench_fleet.py), else over plain podman exec. Exit code: ansible's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
inv=$1 action=$2
shift 2
export ANSIBLE_CONFIG=$root/ansible.cfg CONTAINERS_CONF=$root/lab/.state/fleet/containers.conf
book=$root/$action.yml
mode=${FLEET_MITOGEN:-auto}
if [ "$mode" != 0 ] && "$root/.venv/bin/python" -c 'import ansible_mitogen' 2>/dev/null; then
	env_lines=$(cd "$here" && "$root/.venv/bin/python" -c "
import shlex, bench_fleet as b
env = b.mitogen_env() or {}
print('\n'.join(f'export {k}={shlex.quote(v)}' for k, v in env.items()))
if 'containers.podman.podman' in open('$inv/hosts.yml' if __import__('os').path.isdir('$inv') else '$inv').read():
    print('inv=' + shlex.quote(str(b.mitogen_inventory('$inv'))))
")
	eval "$env_lines"
	echo "fleet-playbook: $action with mitogen" >&2
elif [ "$mode" = 1 ]; then
	echo "fleet-playbook: FLEET_MITOGEN=1 but mitogen is not installed in .venv" >&2
	exit 2
fi
exec "$root/.venv/bin/ansible-playbook" -i "$inv" "$book" "$@"
