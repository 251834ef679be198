/* TUN re-injection (see fg_inject.h). */
#define _GNU_SOURCE
#include "fg_inject.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int fg_l3_offset(const uint8_t *frame, uint32_t len)
{
	uint32_t off = 12;
	if (len < 14)
		return -1;
	uint16_t type = (uint16_t)(frame[off] << 8 | frame[off + 1]);
	for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
		off += 4;
		if (len < off + 2)
			return -1;
		type = (uint16_t)(frame[off] << 8 | frame[off + 1]);
	}
	off += 2;
	if (len <= off)
		return -1;
	unsigned version = frame[off] >> 4;
	if ((type == 0x0800 && version == 4) || (type == 0x86dd && version == 6))
		return (int)off;
	return -1;
}

/* Per-device rp_filter 0; the effective value is max(all, dev), so a strict "all" still wins: say so. */
static void relax_rp_filter(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			fprintf(stderr, "floodgate-rx: cannot set %s: %s\n", path, strerror(errno));
		close(fd);
	}
	char v = '0';
	fd = open("/proc/sys/net/ipv4/conf/all/rp_filter", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = '0';
		close(fd);
	}
	if (v == '1')
		fprintf(stderr,
			"floodgate-rx: warning: net.ipv4.conf.all.rp_filter=1 (strict) makes the kernel drop IPv4 "
			"packets re-injected through %s: set it to 2 (loose) with `sysctl -w "
			"net.ipv4.conf.all.rp_filter=2`\n",
			name);
}

/* A TUN device created while net.ipv6.conf.default.disable_ipv6=1 drops IPv6: follow the NIC instead, whose
 * IPv6 packets it carries. */
static void follow_nic_ipv6(const char *name, const char *nic)
{
	char path[128], v = '1';
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", nic);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, &v, 1) != 1)
		v = '1';
	close(fd);
	if (v != '0')
		return;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			fprintf(stderr, "floodgate-rx: cannot enable IPv6 on %s: %s\n", name, strerror(errno));
		close(fd);
	}
}

int fg_tun_open(const char *name, const char *nic, char *err, size_t errlen)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "inject device name \"%s\" is not valid (1-%d characters)", name ? name : "",
			 IFNAMSIZ - 1);
		return -1;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open /dev/net/tun: %s (is the tun driver built in and the node present?)",
			 strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		snprintf(err, errlen, "cannot create TUN device %s: %s%s", name, strerror(errno),
			 errno == EBUSY ? " (another process holds it: is a receiver already running for this queue? "
					  "Otherwise pick another --inject-dev)"
			 : errno == EINVAL ? " (a non-TUN device has that name: pick another --inject-dev)"
					   : "");
		close(fd);
		return -1;
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
		snprintf(err, errlen, "cannot read flags of %s: %s", name, strerror(errno));
		goto fail;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
		snprintf(err, errlen, "cannot bring %s up: %s", name, strerror(errno));
		goto fail;
	}
	close(s);
	relax_rp_filter(name);
	follow_nic_ipv6(name, nic);
	return fd;
fail:
	if (s >= 0)
		close(s);
	close(fd);
	return -1;
}
