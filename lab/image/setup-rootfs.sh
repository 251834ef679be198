#!/usr/bin/env bash
# Container-specific settings of the lab rootfs ($1): systemd as PID 1 without the units that need a real
# machine, and no service started by default (lab/up.sh starts dnsmasq on edges only).
set -euo pipefail
root=${1:?usage: setup-rootfs.sh ROOTFS}
: >"$root/etc/machine-id"
echo lab >"$root/etc/hostname"
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
	systemd-networkd.service systemd-networkd-wait-online.service systemd-timesyncd.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# dnsmasq runs on edges only: lab/up.sh gives it the lab zone and starts it there.
chroot "$root" systemctl disable dnsmasq.service >/dev/null 2>&1 || true
# sshd runs on fleet-lab edges only (lab/fleet/lab.sh starts it with the controller's lab key). The host keys
# generated in the chroot are shared by every lab host: lab only, never a production practice.
chroot "$root" systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
