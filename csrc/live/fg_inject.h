/* Re-injection of passed frames into the kernel through a TUN device (af_xdp backend).
 * TUN takes bare IP packets (IFF_TUN|IFF_NO_PI): the Ethernet header and any 802.1Q/802.1ad tags are
 * stripped first. The kernel then receives the packet as if it had arrived on the TUN device. */
#ifndef FG_INJECT_H
#define FG_INJECT_H

#include <stddef.h>
#include <stdint.h>

/* Offset of the IP header in an Ethernet frame (after up to two VLAN tags), or -1 when the frame is not
 * an IPv4/IPv6 packet with at least a version byte that matches its ethertype. */
int fg_l3_offset(const uint8_t *frame, uint32_t len);

/* Create (or attach to) TUN device name, bring it up, relax its rp_filter so packets from any source are
 * accepted, and accept IPv6 on it when the NIC nic does. Returns the fd, or -1 with a reason in err. */
int fg_tun_open(const char *name, const char *nic, char *err, size_t errlen);

#endif
