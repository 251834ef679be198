/* af_xdp backend: one AF_XDP socket (libxdp) bound to one RX queue in native mode; every other queue stays
 * with the kernel. Frames are classified in bursts; passed ones go back to the kernel through a TUN device,
 * the rest are dropped by returning their buffer to the fill ring. No allocation or syscall per dropped
 * frame; one write() per passed frame (the few valid ones). */
#define _GNU_SOURCE
#include "../fg_live.h"

#include <stdio.h>

#ifndef FG_HAVE_AF_XDP
int fg_live_af_xdp(const struct fg_live_opts *o)
{
	(void)o;
	fprintf(stderr, "floodgate-rx: built without the af_xdp backend: install libxdp-dev, libbpf-dev and "
			"pkg-config, then rebuild with `make -C csrc`\n");
	return 2;
}
#else

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "fg_inject.h"
#include "fg_runtime.h"

#define FRAME_SIZE 2048u
/* The RX ring holds 8192 frames: 16 ms of a 500 kpps flood, 0.55 ms at 10GbE line rate, so a loop that the
 * scheduler holds off for a few milliseconds (another task on its core) loses nothing. 32 MiB of UMEM. */
#define NUM_FRAMES 16384u /* == fill ring size: every frame is either with the kernel or in our hands */
#define FILL_SIZE NUM_FRAMES
#define RX_SIZE 8192u /* tests/integration/test_af_xdp_live.py reads this line */
#define BUSY_RETRY_MS 10000 /* a queue freed by a previous owner can report EBUSY for about 2 s */

struct xsk_rx {
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_ring_cons rx;
	int zerocopy;
	int ifindex;
	int saved_prog_fd; /* an XDP program we replaced (see take_over); restored at exit; -1 = none */
	char saved_prog_name[64];
};

static int libxdp_log(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_DEBUG || (level == LIBXDP_INFO && !getenv("FG_DEBUG")))
		return 0;
	fputs("floodgate-rx: ", stderr); /* libxdp prefixes its own "libxdp: " */
	return vfprintf(stderr, fmt, ap);
}

/* libbpf's notes (unknown ELF sections of libxdp's objects, the dispatcher probe) are noise to an operator:
 * libxdp and this file report what matters. FG_DEBUG=1 shows them. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!getenv("FG_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int create_socket(struct xsk_rx *x, const struct fg_live_opts *o, int zerocopy)
{
	struct xsk_socket_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.rx_size = RX_SIZE;
	cfg.tx_size = 0;
	cfg.libxdp_flags = 0; /* libxdp loads its default XSK program, joining the dispatcher when one is there */
	cfg.xdp_flags = XDP_FLAGS_DRV_MODE; /* generic mode numbers queues differently on some kernels */
	cfg.bind_flags = (uint16_t)(XDP_USE_NEED_WAKEUP | (zerocopy ? XDP_ZEROCOPY : XDP_COPY));
	return xsk_socket__create(&x->xsk, o->ifname, o->queue, x->umem, &x->rx, NULL, &cfg);
}

/* Bind the queue: zero-copy first when allowed, then copy; retry EBUSY with back-off. */
static int bind_queue(struct xsk_rx *x, const struct fg_live_opts *o)
{
	unsigned waited = 0, step = 50;
	int announced = 0;
	for (;;) {
		int rc = -EOPNOTSUPP;
		if (o->zerocopy != 0) {
			rc = create_socket(x, o, 1);
			x->zerocopy = rc == 0;
			if (rc != 0 && rc != -EBUSY && o->zerocopy == 1) {
				fprintf(stderr,
					"floodgate-rx: zero-copy AF_XDP is not available on %s queue %u: %s (use "
					"--zerocopy auto or off)\n",
					o->ifname, o->queue, strerror(-rc));
				return -1;
			}
		}
		if (rc != 0 && rc != -EBUSY && o->zerocopy != 1)
			rc = create_socket(x, o, 0);
		if (rc == 0)
			return 0;
		if (rc == -EBUSY && waited < BUSY_RETRY_MS && !fg_rt_stop) {
			if (!announced++)
				fprintf(stderr, "floodgate-rx: %s queue %u is busy, retrying for up to %u s\n", o->ifname,
					o->queue, BUSY_RETRY_MS / 1000);
			sleep_ms(step);
			waited += step;
			step = step * 2 > 500 ? 500 : step * 2;
			continue;
		}
		const char *hint = "";
		char busy[160];
		if (rc == -EBUSY) {
			snprintf(busy, sizeof(busy),
				 " (another AF_XDP socket owns the queue: stop it; `ip link show dev %s` shows the XDP "
				 "program)",
				 o->ifname);
			hint = busy;
		} else if (rc == -EOPNOTSUPP)
			hint = " (the driver has no native XDP mode)";
		else if (rc == -EPERM)
			hint = " (needs root, or CAP_NET_ADMIN+CAP_BPF+CAP_NET_RAW)";
		fprintf(stderr, "floodgate-rx: cannot bind AF_XDP socket to %s queue %u: %s%s\n", o->ifname, o->queue,
			strerror(-rc), hint);
		return -1;
	}
}

static int takeover_allowed(const struct fg_live_opts *o)
{
	const char *env = getenv("FLOODGATE_XDP_TAKEOVER");
	return o->xdp_takeover || (env && strcmp(env, "1") == 0);
}

/* libxdp lets several XDP programs share an interface through its dispatcher. A program attached without the
 * dispatcher (or on a kernel that cannot load it: the dispatcher needs freplace programs) blocks the
 * receiver's program. With take-over allowed, detach it for the receiver's lifetime and re-attach it at exit;
 * libxdp's XSK program passes every frame of every other queue to the kernel, as a pass-through would. */
static int take_over(struct xsk_rx *x, const struct fg_live_opts *o)
{
	__u32 id = 0;
	if (bpf_xdp_query_id(x->ifindex, XDP_FLAGS_DRV_MODE, &id) != 0 || id == 0)
		return 0;
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);
	if (libxdp_get_error(mp) || !mp)
		return 0;
	int legacy = xdp_multiprog__is_legacy(mp);
	const struct xdp_program *main_prog = xdp_multiprog__main_prog(mp);
	snprintf(x->saved_prog_name, sizeof(x->saved_prog_name), "%s",
		 main_prog && xdp_program__name(main_prog) ? xdp_program__name(main_prog) : "?");
	xdp_multiprog__close(mp);
	if (!legacy)
		return 0; /* a dispatcher: libxdp adds the receiver's program to it */
	/* libxdp's own XSK program, attached alone (the lab keeps one for per-queue counters; a killed receiver
	 * leaves one): libxdp adds our socket to its map. It is not ours, so it stays when we stop. */
	if (strcmp(x->saved_prog_name, "xsk_def_prog") == 0)
		return 0;
	if (!takeover_allowed(o)) {
		fprintf(stderr,
			"floodgate-rx: %s already has XDP program '%s' (id %u) outside libxdp's dispatcher, so the "
			"receiver's AF_XDP program cannot join it: unload it (`ip link set dev %s xdpdrv off`) or let "
			"floodgate-rx replace it while it runs and restore it at exit (--xdp-takeover, or environment "
			"FLOODGATE_XDP_TAKEOVER=1)\n",
			o->ifname, x->saved_prog_name, id, o->ifname);
		return -1;
	}
	x->saved_prog_fd = bpf_prog_get_fd_by_id(id);
	if (x->saved_prog_fd < 0 || bpf_xdp_detach(x->ifindex, XDP_FLAGS_DRV_MODE, NULL) != 0) {
		fprintf(stderr, "floodgate-rx: cannot take over XDP program '%s' (id %u) on %s: %s\n",
			x->saved_prog_name, id, o->ifname, strerror(errno));
		if (x->saved_prog_fd >= 0)
			close(x->saved_prog_fd);
		x->saved_prog_fd = -1;
		return -1;
	}
	fprintf(stderr, "floodgate-rx: replaced XDP program '%s' (id %u) on %s for the receiver's lifetime; it is "
			"re-attached at exit\n",
		x->saved_prog_name, id, o->ifname);
	return 0;
}

static void restore_taken_over(struct xsk_rx *x)
{
	if (x->saved_prog_fd < 0)
		return;
	int rc = bpf_xdp_attach(x->ifindex, x->saved_prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (rc != 0)
		fprintf(stderr, "floodgate-rx: could not re-attach XDP program '%s': %s (re-load it by hand)\n",
			x->saved_prog_name, strerror(-rc));
	else
		fprintf(stderr, "floodgate-rx: re-attached XDP program '%s'\n", x->saved_prog_name);
	close(x->saved_prog_fd);
	x->saved_prog_fd = -1;
}

static int setup(struct xsk_rx *x, const struct fg_live_opts *o)
{
	x->ifindex = (int)if_nametoindex(o->ifname);
	if (take_over(x, o) != 0)
		return -1;
	size_t size = (size_t)NUM_FRAMES * FRAME_SIZE;
	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		fprintf(stderr, "floodgate-rx: cannot map %zu bytes of UMEM: %s\n", size, strerror(errno));
		return -1;
	}
	struct xsk_umem_config ucfg = {
		.fill_size = FILL_SIZE,
		.comp_size = 64,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
		.flags = 0,
	};
	int rc = xsk_umem__create(&x->umem, x->area, size, &x->fill, &x->comp, &ucfg);
	if (rc != 0) {
		fprintf(stderr, "floodgate-rx: cannot register UMEM: %s%s\n", strerror(-rc),
			rc == -ENOMEM || rc == -EPERM ? " (raise the memlock limit: LimitMEMLOCK=infinity)" : "");
		return -1;
	}
	if (bind_queue(x, o) != 0)
		return -1;
	uint32_t idx = 0;
	if (xsk_ring_prod__reserve(&x->fill, NUM_FRAMES, &idx) != NUM_FRAMES) {
		fprintf(stderr, "floodgate-rx: cannot fill the UMEM fill ring\n");
		return -1;
	}
	for (uint32_t i = 0; i < NUM_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&x->fill, NUM_FRAMES);
	return 0;
}

static void release(struct xsk_rx *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk); /* also detaches libxdp's program when this was its last socket */
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)NUM_FRAMES * FRAME_SIZE);
	restore_taken_over(x);
	memset(x, 0, sizeof(*x));
	x->saved_prog_fd = -1;
}

static void inject(struct fg_rt *rt, int tun, const uint8_t *frame, uint32_t len)
{
	int off = fg_l3_offset(frame, len);
	if (off < 0 || write(tun, frame + off, len - (uint32_t)off) < 0)
		rt->io.inject_errors++;
	else
		rt->io.injected++;
}

/* The frames of this queue the kernel dropped before we read them: our RX ring was full (the loop fell behind)
 * or no frame was free. XDP_STATISTICS, read only when the stats files are written. */
static void refresh_missed(struct fg_rt *rt)
{
	const struct xsk_rx *x = rt->backend_ctx;
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	if (!x || !x->xsk || getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
		return;
	rt->io.missed = st.rx_dropped + st.rx_ring_full;
	rt->io.have_missed = 1;
}

/* Wait for frames after the queue ran dry. While frames flow (the last peek found some), first sleep
 * coalesce_us and look again: under a flood the loop then wakes once per batch, not for every few frames the
 * kernel hands over, and that wakeup (not the rules) was most of its CPU time (docs/backends.md). Only a queue
 * still dry after that waits in poll() for the kernel to wake it. */
static void wait_for_frames(struct fg_rt *rt, struct xsk_rx *x, struct pollfd *pfd, int flowing, uint64_t now)
{
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		recvfrom(pfd->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	if (flowing && rt->o->coalesce_us) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)rt->o->coalesce_us * 1000L};
		nanosleep(&ts, NULL);
		return;
	}
	/* Sleep until frames arrive, a signal, or the next stats write (or a reload's swap) is due. */
	poll(pfd, 1, fg_rt_poll_ms(rt, now));
	fg_rt_tick(rt, fg_rt_now_ns());
}

static void run(struct fg_rt *rt, struct xsk_rx *x, int tun)
{
	const uint8_t *frames[FG_BURST_MAX];
	uint32_t lens[FG_BURST_MAX];
	uint64_t addrs[FG_BURST_MAX];
	uint8_t verdicts[FG_BURST_MAX];
	struct pollfd pfd = {.fd = xsk_socket__fd(x->xsk), .events = POLLIN};
	int flowing = 0; /* the last peek found frames */

	while (!fg_rt_stop) {
		uint32_t idx = 0;
		uint32_t n = xsk_ring_cons__peek(&x->rx, FG_BURST_MAX, &idx);
		uint64_t now = fg_rt_now_ns();
		if (n == 0) {
			wait_for_frames(rt, x, &pfd, flowing, now);
			flowing = 0;
			continue;
		}
		flowing = 1;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
			addrs[i] = d->addr;
			frames[i] = xsk_umem__get_data(x->area, d->addr);
			lens[i] = d->len;
		}
		fg_engine_classify(rt->eng, frames, lens, n, now, verdicts);
		for (uint32_t i = 0; i < n; i++)
			if (verdicts[i] == FG_PASS)
				inject(rt, tun, frames[i], lens[i]);
		xsk_ring_cons__release(&x->rx, n);
		/* Every frame goes straight back to the kernel: NUM_FRAMES == FILL_SIZE, so this always fits. */
		uint32_t fidx = 0;
		if (xsk_ring_prod__reserve(&x->fill, n, &fidx) == n) {
			for (uint32_t i = 0; i < n; i++)
				*xsk_ring_prod__fill_addr(&x->fill, fidx + i) = addrs[i] & ~(uint64_t)(FRAME_SIZE - 1);
			xsk_ring_prod__submit(&x->fill, n);
		}
		if (fg_rt_tick_due(rt, now))
			fg_rt_tick(rt, now); /* a reload swaps the engine here, between two bursts */
	}
}

int fg_live_af_xdp(const struct fg_live_opts *o)
{
	if (o->check_only)
		return 0;
	struct fg_rt rt;
	int rc = fg_rt_setup(&rt, o, "af_xdp");
	if (rc != 0)
		return rc;
	libxdp_set_print(libxdp_log);
	libbpf_set_print(libbpf_log);

	char tun_name[16]; /* IFNAMSIZ */
	snprintf(tun_name, sizeof(tun_name), "fg%u", o->queue);
	const char *inject_dev = o->inject_dev ? o->inject_dev : tun_name;
	char err[256];
	int tun = fg_tun_open(inject_dev, o->ifname, err, sizeof(err));
	if (tun < 0) {
		fprintf(stderr, "floodgate-rx: %s\n", err);
		fg_rt_abort(&rt);
		return FG_EXIT_USAGE;
	}

	struct xsk_rx x;
	memset(&x, 0, sizeof(x));
	x.saved_prog_fd = -1;
	if (setup(&x, o) != 0) {
		release(&x);
		close(tun);
		fg_rt_abort(&rt);
		return FG_EXIT_RUNTIME;
	}
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x.ifindex);
	int dispatched = mp && !libxdp_get_error(mp) && !xdp_multiprog__is_legacy(mp);
	if (mp && !libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	fprintf(stderr, "floodgate-rx: af_xdp on %s queue %u (native mode, %s, XSK program %s), re-injecting through %s\n",
		o->ifname, o->queue, x.zerocopy ? "zero-copy" : "copy",
		dispatched ? "in libxdp's dispatcher" : "attached alone, without libxdp's dispatcher",
		inject_dev);
	rt.backend_ctx = &x;
	rt.refresh_io = refresh_missed;
	fg_rt_ready(&rt);
	run(&rt, &x, tun);
	fg_rt_teardown(&rt);
	release(&x); /* the queue returns to the kernel before we exit */
	close(tun);
	fprintf(stderr, "floodgate-rx: stopped, %s queue %u released\n", o->ifname, o->queue);
	return FG_EXIT_OK;
}
#endif
