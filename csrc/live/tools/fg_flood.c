/* BENCH TOOL: a DNS flood from one core through AF_PACKET sendmmsg (goes through the qdisc, so the wire's
 * tc-BPF steering applies). 81-byte frames: UDP/53 queries from random sources in 203.0.113.0/24 and
 * 198.18.0.0/16 with random qnames; UDP source port & 7 picks the RX queue under steer_by_sport.bpf.c.
 *   fg_flood IFACE DST_MAC DST_IP SECONDS QUEUE_SHARE TARGET_QUEUE
 * QUEUE_SHARE percent of the frames go to TARGET_QUEUE, the rest spread over the other 7 queues.
 * Prints: sent=N seconds=S pps=P */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NFRAMES 4096
#define BATCH 64
#define FLEN 81

static uint8_t frames[NFRAMES][FLEN];

static uint16_t csum(const uint8_t *p, int n)
{
	uint32_t s = 0;
	for (int i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: fg_flood IFACE DST_MAC DST_IP SECONDS QUEUE_SHARE TARGET_QUEUE\n");
		return 2;
	}
	unsigned mac[6];
	struct in_addr dst;
	if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[3], &dst) != 1) {
		fprintf(stderr, "fg_flood: bad MAC or IP\n");
		return 2;
	}
	double secs = atof(argv[4]);
	int share = atoi(argv[5]), target = atoi(argv[6]) & 7;
	int ifindex = (int)if_nametoindex(argv[1]);
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (!ifindex || fd < 0) {
		perror("fg_flood: interface/socket");
		return 1;
	}
	srand(42);
	for (int i = 0; i < NFRAMES; i++) {
		uint8_t *f = frames[i];
		memset(f, 0, FLEN);
		for (int k = 0; k < 6; k++)
			f[k] = (uint8_t)mac[k];
		f[6] = 0x02, f[11] = 0x01; /* locally administered source MAC */
		f[12] = 0x08;
		uint8_t *ip = f + 14, *udp = ip + 20, *dns = udp + 8;
		ip[0] = 0x45;
		ip[2] = 0, ip[3] = FLEN - 14;
		ip[8] = 64, ip[9] = 17;
		uint32_t src = (i & 1) ? (0xcb007100u | (uint32_t)(rand() & 0xff))       /* 203.0.113.x */
				       : (0xc6120000u | (uint32_t)(rand() & 0xffff)); /* 198.18.x.x */
		src = htonl(src);
		memcpy(ip + 12, &src, 4);
		memcpy(ip + 16, &dst, 4);
		uint16_t c = csum(ip, 20);
		ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
		int q = (i % 100) < share ? target : (target + 1 + (i % 7)) & 7;
		uint16_t sport = (uint16_t)(((1024 + rand() % 60000) & ~7) | q);
		udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
		udp[3] = 53;
		udp[5] = FLEN - 14 - 20; /* UDP checksum 0: none (IPv4) */
		dns[0] = (uint8_t)rand(), dns[1] = (uint8_t)rand();
		dns[2] = 0x01, dns[5] = 1;                  /* RD, QDCOUNT=1 */
		uint8_t *q0 = dns + 12;                     /* 12 random chars . example . com */
		q0[0] = 12;
		for (int k = 1; k <= 12; k++)
			q0[k] = (uint8_t)('a' + rand() % 26);
		memcpy(q0 + 13, "\x07" "example" "\x03" "com" "\x00" "\x00\x01" "\x00\x01", 17);
	}
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t sent = 0;
	unsigned next = 0;
	double t0 = now(), t = t0;
	while (t - t0 < secs) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = frames[(next + (unsigned)i) % NFRAMES];
			iov[i].iov_len = FLEN;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &sll;
			msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		}
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0) {
			sent += (uint64_t)n;
			next += (unsigned)n;
		}
		if ((sent & 0x3ff) < BATCH)
			t = now();
	}
	t = now() - t0;
	printf("sent=%llu seconds=%.2f pps=%.0f\n", (unsigned long long)sent, t, (double)sent / t);
	return 0;
}
