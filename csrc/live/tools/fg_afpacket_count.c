/* BENCH PEER: the classic way to read one queue's frames in user space without taking the queue from the
 * kernel: an AF_PACKET TPACKET_V3 ring with a classic BPF filter on the frame's RX queue (SKF_AD_QUEUE).
 *   fg_afpacket_count IFACE QUEUE SECONDS
 * Prints: packets=N seconds=S pps=P */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fg_afpacket_count IFACE QUEUE SECONDS\n");
		return 2;
	}
	unsigned queue = (unsigned)atoi(argv[2]);
	double secs = atof(argv[3]);
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	int v = TPACKET_V3;
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_QUEUE)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, queue, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = 4, .filter = code};
	struct tpacket_req3 req = {.tp_block_size = 1 << 20, .tp_block_nr = 16, .tp_frame_size = 2048,
				   .tp_frame_nr = (1 << 20) / 2048 * 16, .tp_retire_blk_tov = 10};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(argv[1])};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) || !sll.sll_ifindex ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("fg_afpacket_count: setup");
		return 1;
	}
	uint8_t *ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED,
			     fd, 0);
	if (ring == MAP_FAILED) {
		perror("fg_afpacket_count: mmap");
		return 1;
	}
	uint64_t packets = 0;
	unsigned blk = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double t0 = now(), t;
	while ((t = now()) - t0 < secs) {
		struct tpacket_block_desc *b = (void *)(ring + (size_t)blk * req.tp_block_size);
		if (!(b->hdr.bh1.block_status & TP_STATUS_USER)) {
			poll(&pfd, 1, 100);
			continue;
		}
		packets += b->hdr.bh1.num_pkts;
		b->hdr.bh1.block_status = TP_STATUS_KERNEL;
		blk = (blk + 1) % req.tp_block_nr;
	}
	struct tpacket_stats_v3 st;
	socklen_t sl = sizeof(st);
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
	t -= t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	printf("packets=%llu seconds=%.2f pps=%.0f ring_drops=%u cpu_seconds=%.3f\n", (unsigned long long)packets, t,
	       (double)packets / t, st.tp_drops, cpu);
	return 0;
}
