/* netmap backend: CloudFlare's "single RX queue" design on the real netmap API (libnetmap).
 *   netmap:IFACE-Q/R  one NIC RX ring (NR_REG_ONE_NIC, RX only: TX ring Q stays with the kernel)
 *   netmap:IFACE^/T   the host TX ring: what we put there enters the kernel stack as if received on IFACE
 * Passed frames move to the host ring by buffer swap (NS_BUF_CHANGED) when both ports share one memory
 * region, which is netmap's default for ports of one interface; otherwise they are copied. Dropped frames
 * only advance the RX ring. One poll()/sync per burst, never per frame.
 * No netmap code lives in this repository: build with NETMAP_SRC=/path/to/netmap (see docs/netmap.md). */
#define _GNU_SOURCE
#include "../fg_live.h"

#include <stdio.h>

#ifndef FG_HAVE_NETMAP
int fg_live_netmap(const struct fg_live_opts *o)
{
	(void)o;
	fprintf(stderr, "floodgate-rx: built without the netmap backend: build netmap's libnetmap and rebuild with "
			"`make -C csrc NETMAP_SRC=/path/to/netmap` (docs/netmap.md)\n");
	return 2;
}
#else

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* libnetmap.h wants net/netmap_user.h first, without NETMAP_WITH_LIBS (the deprecated nm_open helpers). */
#include <net/netmap_user.h>
#include <libnetmap.h>

#include "fg_runtime.h"

struct nm_rx {
	struct nmport_d *nic;  /* netmap:IFACE-Q/R */
	struct nmport_d *host; /* netmap:IFACE^/T */
	int swap;              /* both ports share a memory region: move buffers instead of copying */
};

static struct nmport_d *open_port(const char *spec)
{
	struct nmport_d *d = nmport_open(spec);
	if (!d) {
		int e = errno;
		const char *hint = "";
		if (access("/dev/netmap", F_OK) != 0)
			hint = " (/dev/netmap is missing: load netmap.ko and the netmap-patched NIC driver, docs/netmap.md)";
		else if (e == EBUSY)
			hint = " (another netmap client holds this ring)";
		else if (e == ENXIO || e == EOPNOTSUPP)
			hint = " (the interface's driver has no native netmap support: use --backend af_xdp)";
		fprintf(stderr, "floodgate-rx: cannot open %s: %s%s\n", spec, strerror(e), hint);
	}
	return d;
}

static void inject(struct fg_rt *rt, struct nm_rx *x, struct netmap_ring *rxr, struct netmap_slot *rs)
{
	struct netmap_ring *txr = NETMAP_TXRING(x->host->nifp, x->host->first_tx_ring);
	if (nm_ring_space(txr) == 0) {
		ioctl(x->host->fd, NIOCTXSYNC, NULL); /* host ring full: hand what is queued to the kernel, retry */
		if (nm_ring_space(txr) == 0) {
			rt->io.inject_errors++;
			return;
		}
	}
	struct netmap_slot *ts = &txr->slot[txr->head];
	if (rs->len > txr->nr_buf_size || (rs->flags & NS_MOREFRAG)) {
		rt->io.inject_errors++; /* multi-slot frames are not re-assembled here */
		return;
	}
	if (x->swap) {
		uint32_t idx = ts->buf_idx;
		ts->buf_idx = rs->buf_idx;
		rs->buf_idx = idx;
		ts->flags |= NS_BUF_CHANGED;
		rs->flags |= NS_BUF_CHANGED;
	} else {
		memcpy(NETMAP_BUF(txr, ts->buf_idx), NETMAP_BUF(rxr, rs->buf_idx), rs->len);
	}
	ts->len = rs->len;
	txr->head = txr->cur = nm_ring_next(txr, txr->head);
	rt->io.injected++;
}

static void run(struct fg_rt *rt, struct nm_rx *x)
{
	const uint8_t *frames[FG_BURST_MAX];
	uint32_t lens[FG_BURST_MAX];
	uint8_t verdicts[FG_BURST_MAX];
	struct netmap_ring *rxr = NETMAP_RXRING(x->nic->nifp, x->nic->first_rx_ring);
	struct pollfd pfd = {.fd = x->nic->fd, .events = POLLIN};

	while (!fg_rt_stop) {
		uint32_t avail = nm_ring_space(rxr);
		uint64_t now = fg_rt_now_ns();
		if (avail == 0) {
			/* poll() also syncs the RX ring: it returns the slots we consumed and fetches new ones. */
			poll(&pfd, 1, fg_rt_poll_ms(rt, now));
			fg_rt_tick(rt, fg_rt_now_ns());
			continue;
		}
		uint32_t n = avail < FG_BURST_MAX ? avail : FG_BURST_MAX;
		uint32_t head = rxr->head, i, j;
		for (i = 0, j = head; i < n; i++, j = nm_ring_next(rxr, j)) {
			frames[i] = (const uint8_t *)NETMAP_BUF(rxr, rxr->slot[j].buf_idx);
			lens[i] = rxr->slot[j].len;
		}
		fg_engine_classify(rt->eng, frames, lens, n, now, verdicts);
		int injected = 0;
		for (i = 0, j = head; i < n; i++, j = nm_ring_next(rxr, j)) {
			if (verdicts[i] == FG_PASS) {
				inject(rt, x, rxr, &rxr->slot[j]);
				injected = 1;
			}
		}
		rxr->head = rxr->cur = j;
		if (injected)
			ioctl(x->host->fd, NIOCTXSYNC, NULL); /* one sync per burst pushes the batch into the stack */
		if (fg_rt_tick_due(rt, now))
			fg_rt_tick(rt, now); /* a reload swaps the engine here, between two bursts */
	}
}

int fg_live_netmap(const struct fg_live_opts *o)
{
	if (o->check_only)
		return 0;
	struct fg_rt rt;
	int rc = fg_rt_setup(&rt, o, "netmap");
	if (rc != 0)
		return rc;
	char nic_spec[64], host_spec[64];
	snprintf(nic_spec, sizeof(nic_spec), "netmap:%s-%u/R", o->ifname, o->queue);
	snprintf(host_spec, sizeof(host_spec), "netmap:%s^/T", o->ifname);
	struct nm_rx x = {0};
	x.nic = open_port(nic_spec);
	if (x.nic)
		x.host = open_port(host_spec);
	if (!x.nic || !x.host) {
		if (x.nic)
			nmport_close(x.nic);
		fg_rt_abort(&rt);
		return FG_EXIT_RUNTIME;
	}
	x.swap = x.nic->mem == x.host->mem;
	fprintf(stderr, "floodgate-rx: netmap on %s (%s), re-injecting through %s by %s\n", o->ifname, nic_spec,
		host_spec, x.swap ? "buffer swap" : "copy");
	fg_rt_ready(&rt);
	run(&rt, &x);
	fg_rt_teardown(&rt);
	ioctl(x.host->fd, NIOCTXSYNC, NULL);
	nmport_close(x.host);
	nmport_close(x.nic); /* the ring returns to the kernel driver */
	fprintf(stderr, "floodgate-rx: stopped, %s queue %u released\n", o->ifname, o->queue);
	return FG_EXIT_OK;
}
#endif
