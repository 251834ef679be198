// SPDX-License-Identifier: MIT
/* fg-flood: a bounded DNS query flood for the floodgate lab.
 *
 * Sends UDP/53 queries (random qnames under a zone, random spoofed sources from the given prefixes) as raw
 * Ethernet frames on an AF_PACKET socket *through the qdisc*, so the NIC model on the device's clsact egress
 * steers every frame to a receive queue of the edge. sendmmsg() in batches (--batch, default 64; smaller
 * interleaves the flood more finely with other traffic); frames are rebuilt in place in
 * a fixed set of buffers (no allocation while sending). Always bounded: stops at --count frames or after
 * --duration seconds (default 10, at most 3600), whichever comes first, or on SIGINT/SIGTERM. A /32 prefix and
 * --sport give one fixed 4-tuple (the lab's RSS tests predict its queue).
 * Prints one JSON line: {"sent":N,"errors":N,"seconds":S,"pps":R}. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_MAX 256
#define MAX_PREFIXES 16
#define QLABEL_LEN 10

struct prefix {
	uint32_t net; /* host order */
	uint32_t hostmask;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rnd(void)
{
	/* xorshift64*: fast, good enough for addresses and labels */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int parse_prefix(const char *s, struct prefix *p)
{
	char buf[64];
	char *slash;
	struct in_addr a;
	long len = 32;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		char *end;
		*slash = 0;
		len = strtol(slash + 1, &end, 10);
		if (*end || len < 8 || len > 32)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	p->hostmask = len == 32 ? 0 : (uint32_t)((1ull << (32 - len)) - 1);
	p->net = ntohl(a.s_addr) & ~p->hostmask;
	return 0;
}

/* Writes the query name `<random label>.<zone>` (or just the zone) in DNS wire format; returns its length. */
static size_t put_qname(uint8_t *q, const uint8_t *zone_wire, size_t zone_len, int random_label)
{
	size_t n = 0;
	if (random_label) {
		static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
		q[n++] = QLABEL_LEN;
		uint64_t r = rnd();
		for (int i = 0; i < QLABEL_LEN; i++) {
			q[n++] = (uint8_t)alphabet[r % 36];
			r /= 36;
			if (r == 0)
				r = rnd();
		}
	}
	memcpy(q + n, zone_wire, zone_len);
	return n + zone_len;
}

static int zone_to_wire(const char *zone, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *p = zone;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || n + len + 2 > cap)
			return -1;
		out[n++] = (uint8_t)len;
		memcpy(out + n, p, len);
		n += len;
		p += len + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return (int)n;
}

/* Builds one Ethernet/IPv4/UDP/DNS query frame; returns its length. */
static size_t build_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr,
			  uint32_t daddr, uint16_t dport, const uint8_t *zone_wire, size_t zone_len,
			  int random_label, int fixed_sport)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *dns = udp + 8;
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;

	uint64_t r = rnd();
	dns[0] = (uint8_t)r; /* id */
	dns[1] = (uint8_t)(r >> 8);
	dns[2] = 0x01; /* RD */
	dns[3] = 0x00;
	dns[4] = 0;
	dns[5] = 1; /* QDCOUNT */
	memset(dns + 6, 0, 6);
	size_t qn = put_qname(dns + 12, zone_wire, zone_len, random_label);
	uint8_t *qt = dns + 12 + qn;
	qt[0] = 0, qt[1] = 1; /* A */
	qt[2] = 0, qt[3] = 1; /* IN */
	size_t dns_len = 12 + qn + 4;
	size_t udp_len = 8 + dns_len;

	uint16_t sport = fixed_sport ? (uint16_t)fixed_sport : (uint16_t)(1024 + (r >> 16) % 64512);
	udp[0] = sport >> 8, udp[1] = sport & 0xff;
	udp[2] = dport >> 8, udp[3] = dport & 0xff;
	udp[4] = udp_len >> 8, udp[5] = udp_len & 0xff;
	udp[6] = udp[7] = 0;

	ip[0] = 0x45;
	ip[1] = 0;
	size_t ip_len = 20 + udp_len;
	ip[2] = ip_len >> 8, ip[3] = ip_len & 0xff;
	ip[4] = (uint8_t)(r >> 40), ip[5] = (uint8_t)(r >> 48);
	ip[6] = 0x40, ip[7] = 0; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	ip[10] = ip[11] = 0;
	uint32_t s = htonl(saddr), d = htonl(daddr);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	uint16_t ipsum = csum_fold(csum_add(0, ip, 20));
	ip[10] = ipsum >> 8, ip[11] = ipsum & 0xff;

	/* UDP checksum over the pseudo header, as a real resolver's packets carry. */
	uint32_t sum = csum_add(0, ip + 12, 8) + 17 + (uint32_t)udp_len;
	uint16_t usum = csum_fold(csum_add(sum, udp, udp_len));
	if (usum == 0)
		usum = 0xffff;
	udp[6] = usum >> 8, udp[7] = usum & 0xff;
	return 14 + ip_len;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fg-flood --dev IF --dst-mac MAC --dst-ip IP [--src-prefix CIDR]... [--rate PPS]\n"
		"                [--count N] [--duration S] [--zone lab.test] [--fixed-qname] [--dport 53] [--sport P]\n"
		"                [--batch 64]\n"
		"  rate 0 = as fast as possible; stops at count or duration (default 10 s, at most 3600 s);\n"
		"  batch: frames per sendmmsg (1-64; smaller interleaves the flood more finely with other traffic)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dev", required_argument, 0, 'i'},	  {"dst-mac", required_argument, 0, 'm'},
		{"dst-ip", required_argument, 0, 'd'},	  {"src-prefix", required_argument, 0, 's'},
		{"rate", required_argument, 0, 'r'},	  {"count", required_argument, 0, 'c'},
		{"duration", required_argument, 0, 't'}, {"zone", required_argument, 0, 'z'},
		{"fixed-qname", no_argument, 0, 'f'},	  {"dport", required_argument, 0, 'p'},
		{"sport", required_argument, 0, 'P'},	  {"batch", required_argument, 0, 'b'},
		{0, 0, 0, 0},
	};
	const char *dev = NULL, *zone = "lab.test";
	uint8_t dmac[6], smac[6];
	int have_dmac = 0, random_label = 1;
	uint32_t daddr = 0;
	struct prefix prefixes[MAX_PREFIXES];
	int nprefixes = 0;
	double rate = 0, duration = 10;
	unsigned long long count = 0;
	long dport = 53, sport = 0, batch = BATCH;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		struct in_addr a;
		char *end;
		switch (c) {
		case 'i': dev = optarg; break;
		case 'm':
			if (parse_mac(optarg, dmac)) usage();
			have_dmac = 1;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &a) != 1) usage();
			daddr = ntohl(a.s_addr);
			break;
		case 's':
			if (nprefixes == MAX_PREFIXES || parse_prefix(optarg, &prefixes[nprefixes])) usage();
			nprefixes++;
			break;
		case 'r':
			rate = strtod(optarg, &end);
			if (*end || rate < 0) usage();
			break;
		case 'c':
			count = strtoull(optarg, &end, 10);
			if (*end) usage();
			break;
		case 't':
			duration = strtod(optarg, &end);
			if (*end || duration <= 0 || duration > 3600) usage();
			break;
		case 'z': zone = optarg; break;
		case 'f': random_label = 0; break;
		case 'p':
			dport = strtol(optarg, &end, 10);
			if (*end || dport < 1 || dport > 65535) usage();
			break;
		case 'b':
			batch = strtol(optarg, &end, 10);
			if (*end || batch < 1 || batch > BATCH) usage();
			break;
		case 'P':
			sport = strtol(optarg, &end, 10);
			if (*end || sport < 1 || sport > 65535) usage();
			break;
		default: usage();
		}
	}
	if (!dev || !have_dmac || !daddr)
		usage();
	if (nprefixes == 0)
		parse_prefix("10.96.0.0/16", &prefixes[nprefixes++]);
	uint8_t zone_wire[200];
	int zone_len = zone_to_wire(zone, zone_wire, sizeof(zone_wire));
	if (zone_len < 0) {
		fprintf(stderr, "fg-flood: bad zone '%s'\n", zone);
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, no receive copies */
	if (fd < 0) {
		perror("fg-flood: socket(AF_PACKET)");
		return 1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "fg-flood: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(dev), .sll_halen = 6};
	memcpy(sll.sll_addr, dmac, 6);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("fg-flood: bind");
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rng_state ^= (uint64_t)getpid() << 32 ^ (uint64_t)(now_s() * 1e9);

	static uint8_t frames[BATCH][FRAME_MAX];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}

	unsigned long long sent = 0, errors = 0;
	double start = now_s(), t = start;
	while (!stop && (count == 0 || sent < count) && (t - start) < duration) {
		unsigned int n = (unsigned int)batch;
		if (count && count - sent < n)
			n = (unsigned int)(count - sent);
		if (rate > 0) {
			/* Pace: never ahead of rate * elapsed. */
			double allowed = rate * (t - start) - (double)sent;
			if (allowed < 1) {
				struct timespec ts = {0, 50000};
				nanosleep(&ts, NULL);
				t = now_s();
				continue;
			}
			if (allowed < n)
				n = (unsigned int)allowed;
		}
		for (unsigned int i = 0; i < n; i++) {
			const struct prefix *p = &prefixes[rnd() % (uint64_t)nprefixes];
			uint32_t saddr = p->net | ((uint32_t)rnd() & p->hostmask);
			iov[i].iov_len = build_frame(frames[i], dmac, smac, saddr, daddr, (uint16_t)dport, zone_wire,
						     (size_t)zone_len, random_label, (int)sport);
		}
		int rc = sendmmsg(fd, msgs, n, 0);
		if (rc < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				perror("fg-flood: sendmmsg");
				return 1;
			}
			errors += n;
		} else {
			sent += (unsigned int)rc;
		}
		t = now_s();
	}
	double secs = now_s() - start;
	printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n", sent, errors, secs,
	       secs > 0 ? sent / secs : 0.0);
	close(fd);
	return 0;
}
