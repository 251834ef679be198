/* make bench-engine: one core, one in-memory workload, three classifiers side by side.
 *   engine      floodgate's engine, full rule set (16-prefix allowlist + DNS validity + qname suffix +
 *               per-source rate limit over a 1M-entry table)
 *   engine_10k  the same with a 10,000-prefix allowlist
 *   bpf         libpcap's BPF interpreter (pcap_offline_filter) with the expression closest to it that BPF
 *               can say: no fragments, the 16-prefix allowlist and the DNS header checks (no qname walk, so
 *               no question validation, suffix or qtype; no state, so no rate limit)
 *   handc       a minimal hand-written C classifier of exactly the BPF expression's checks (EtherType IPv4, no
 *               fragment, UDP, dst port 53, the 16 /24s one by one as BPF tests them, the DNS header bytes;
 *               every read bounds-checked as BPF does), with a frame prefetch 8 ahead (its one line): what a
 *               classifier costs that does the fraction of the engine's work BPF can express. Its verdicts
 *               are checked frame by frame against BPF's before it is timed
 *   ceiling     a read-only sweep touching the same bytes of every frame (memory bound)
 * Workload (generated once, fixed seed): ~90% flood — half from random sources in four /16s, half from
 * spoofed sources anywhere (the rate limiter's cache-miss cliff), random qnames (half under the attacked
 * example.com) — and ~10% valid queries from the allowlisted prefixes. Median of 5 runs, with min-max. */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../fg_engine.h"

#define SLOT 128 /* frames are under 128 bytes; one slot each, packed like a ring */
#define RUNS 5
/* Frames per fg_engine_classify call: 64 (FG_BURST_MAX), what the live backends hand the engine whenever
 * their ring holds that many, i.e. under any flood (af_xdp: xsk_ring_cons__peek of up to FG_BURST_MAX;
 * netmap: min(avail, FG_BURST_MAX)). The engine is also timed with bursts of 32 (a lighter load, and what
 * this benchmark used before), printed beside it. */
#ifndef BURST
#define BURST FG_BURST_MAX
#endif
_Static_assert(BURST >= 32 && BURST <= FG_BURST_MAX, "BURST: 32 to FG_BURST_MAX frames (the verdicts array)");

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* The thread's CPU clock: time this core spent on the loop, so other load on the machine (CI, a shared
 * 2-core box) does not count as our time; cache sharing with it still does. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *p, int n)
{
	uint32_t s = 0;
	for (int i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)~s;
}

/* One Ethernet/IPv4/UDP/DNS query; returns its length. */
static uint32_t build(uint8_t *f, uint32_t src, const char *qname, uint16_t qtype)
{
	memset(f, 0, SLOT);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = ip + 20, *dns = udp + 8;
	dns[0] = (uint8_t)rnd();
	dns[1] = (uint8_t)rnd();
	dns[2] = 0x01; /* RD */
	dns[5] = 1;    /* QDCOUNT */
	uint8_t *q = dns + 12;
	const char *s = qname;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		*q++ = (uint8_t)l;
		memcpy(q, s, l);
		q += l;
		s += l + (dot ? 1 : 0);
	}
	*q++ = 0;
	*q++ = (uint8_t)(qtype >> 8);
	*q++ = (uint8_t)qtype;
	*q++ = 0;
	*q++ = 1;
	uint32_t dlen = (uint32_t)(q - dns), ulen = dlen + 8, tot = ulen + 20;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = (uint8_t)(src >> 24);
	ip[13] = (uint8_t)(src >> 16);
	ip[14] = (uint8_t)(src >> 8);
	ip[15] = (uint8_t)src;
	ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 53;
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint16_t sport = (uint16_t)(1024 + rnd() % 60000);
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[3] = 53;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	return 14 + tot;
}

static void rand_label(char *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rnd() % 36];
	out[n] = '\0';
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct result {
	double med, min, max;
};

static struct result summarize(double *mpps)
{
	qsort(mpps, RUNS, sizeof(double), cmp_d);
	return (struct result){mpps[RUNS / 2], mpps[0], mpps[RUNS - 1]};
}

static const uint8_t **frames;
static uint32_t *lens;
static uint32_t nframes;
static uint32_t allow16[16]; /* the allowlisted /24s */

static struct result run_engine(const char *rules, uint64_t *passed_out, uint32_t burst)
{
	char err[512];
	struct fg_engine *e = fg_engine_compile(rules, strlen(rules), err, sizeof(err));
	if (!e) {
		fprintf(stderr, "bench: rules: %s\n", err);
		exit(1);
	}
	double mpps[RUNS];
	uint8_t verdicts[FG_BURST_MAX];
	uint64_t t_ns = 1;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();
		for (uint32_t i = 0; i < nframes; i += burst) {
			uint32_t n = nframes - i < burst ? nframes - i : burst;
			fg_engine_classify(e, frames + i, lens + i, n, t_ns, verdicts);
			t_ns += 1000 * burst / 32; /* 32 frames per microsecond of virtual time, whatever the burst */
		}
		mpps[r] = nframes / (now_s() - t0) / 1e6;
	}
	struct fg_counters c;
	fg_engine_counters(e, &c);
	*passed_out = c.passed / RUNS;
	fg_engine_free(e);
	return summarize(mpps);
}

static struct result run_handc(uint64_t *passed_out, const struct bpf_program *prog);

static struct result run_bpf(uint64_t *passed_out, struct result *handc, uint64_t *handc_passed)
{
	char expr[4096];
	/* the engine's rule order, as far as BPF goes: fragments (first or not) dropped, then the allowlist
	 * with the DNS header checks. BPF cannot walk the question (cBPF has no loops), so it cannot check
	 * that the question is well formed, match a qname suffix or read the QTYPE after the name, and it
	 * keeps no state, so no rate limit: its pass set is the allowlist rule's alone */
	int w = snprintf(expr, sizeof(expr), "ip[6:2] & 0x3fff = 0 and udp dst port 53 and (");
	for (int i = 0; i < 16; i++)
		w += snprintf(expr + w, sizeof(expr) - (size_t)w, "%ssrc net %u.%u.%u.0/24", i ? " or " : "",
			      allow16[i] >> 24, (allow16[i] >> 16) & 255, (allow16[i] >> 8) & 255);
	/* DNS header: QR=0 and opcode 0 (flags byte udp[10] & 0xf8), QDCOUNT (udp[12:2]) = 1 */
	snprintf(expr + w, sizeof(expr) - (size_t)w, ") and udp[10] & 0xf8 = 0 and udp[12:2] = 1");
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		fprintf(stderr, "bench: pcap_compile: %s\n", pcap_geterr(p));
		exit(1);
	}
	double mpps[RUNS];
	uint64_t passed = 0;
	struct pcap_pkthdr h = {0};
	for (int r = 0; r < RUNS; r++) {
		passed = 0;
		double t0 = now_s();
		for (uint32_t i = 0; i < nframes; i++) {
			h.caplen = h.len = lens[i];
			passed += pcap_offline_filter(&prog, &h, frames[i]) != 0;
		}
		mpps[r] = nframes / (now_s() - t0) / 1e6;
	}
	*passed_out = passed;
	*handc = run_handc(handc_passed, &prog);
	pcap_freecode(&prog);
	pcap_close(p);
	return summarize(mpps);
}

/* The BPF expression of run_bpf, written by hand in C: the same tests in the same order, and a frame is
 * rejected where BPF would reject it for reading past its end (libpcap's interpreter returns 0 then). The
 * allowlist is tested one /24 after another, as the compiled BPF chain does. */
static inline int handc_one(const uint8_t *f, uint32_t len)
{
	if (len < 14 + 20 || ((f[12] << 8) | f[13]) != 0x0800) /* ip[6:2] and ip[9] need the IPv4 header */
		return 0;
	if ((((f[20] << 8) | f[21]) & 0x3fff) != 0 || f[23] != 17) /* no fragment, UDP */
		return 0;
	uint32_t udp = 14 + (uint32_t)(f[14] & 0x0F) * 4;
	if (len < udp + 14) /* udp[12:2], the furthest read */
		return 0;
	if (((f[udp + 2] << 8) | f[udp + 3]) != 53)
		return 0;
	uint32_t src = ((uint32_t)f[26] << 24 | (uint32_t)f[27] << 16 | (uint32_t)f[28] << 8 | f[29]) & 0xFFFFFF00u;
	int in = 0;
	for (int k = 0; k < 16 && !in; k++)
		in = src == allow16[k];
	if (!in)
		return 0;
	return (f[udp + 10] & 0xf8) == 0 && ((f[udp + 12] << 8) | f[udp + 13]) == 1;
}

/* handc over the workload, prefetching frames HANDC_PREFETCH ahead (8, as the engine's near prefetch; 0: none); checked
 * against BPF first */
#ifndef HANDC_PREFETCH
#define HANDC_PREFETCH 8
#endif
static struct result run_handc(uint64_t *passed_out, const struct bpf_program *prog)
{
	struct pcap_pkthdr h = {0};
	for (uint32_t i = 0; i < nframes; i++) {
		h.caplen = h.len = lens[i];
		if (handc_one(frames[i], lens[i]) != (pcap_offline_filter(prog, &h, frames[i]) != 0)) {
			fprintf(stderr, "bench: hand-written classifier and BPF disagree on frame %u\n", i);
			exit(1);
		}
	}
	double mpps[RUNS];
	uint64_t passed = 0;
	for (int r = 0; r < RUNS; r++) {
		passed = 0;
		double t0 = now_s();
		for (uint32_t i = 0; i < nframes; i++) {
			if (HANDC_PREFETCH && i + HANDC_PREFETCH < nframes)
				__builtin_prefetch(frames[i + HANDC_PREFETCH], 0, 0);
			passed += (uint64_t)handc_one(frames[i], lens[i]);
		}
		mpps[r] = nframes / (now_s() - t0) / 1e6;
	}
	*passed_out = passed;
	return summarize(mpps);
}

static struct result run_ceiling(void)
{
	double mpps[RUNS];
	volatile uint64_t sink = 0;
	for (int r = 0; r < RUNS; r++) {
		uint64_t s = 0;
		double t0 = now_s();
		for (uint32_t i = 0; i < nframes; i++) {
			const uint8_t *f = frames[i];
			s += f[26] + f[lens[i] - 1]; /* the source address and the frame's last byte */
		}
		sink += s;
		mpps[r] = nframes / (now_s() - t0) / 1e6;
	}
	(void)sink;
	return summarize(mpps);
}

static const uint32_t flood16[4] = {0xCB000000, 0xCB010000, 0x2D200000, 0x5B6C0000}; /* 203.0 203.1 45.32 91.108 */

static int in_flood16(uint32_t a)
{
	for (int i = 0; i < 4; i++)
		if ((a & 0xFFFF0000) == flood16[i])
			return 1;
	return (a >> 16) == ((198u << 8) | 51u); /* nor the valid clients' /16 */
}

/* The rule set; the allowlist goes to a src-file (as an operator would for thousands of prefixes). */
static char *rules_text(int nprefixes, const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/allow-%d.txt", dir, nprefixes);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	for (int k = 0; k < nprefixes; k++) {
		/* the extra prefixes: random /24s anywhere but the flood's four /16s (spoofed sources still hit
		 * them), so 16 vs 10,000 compares the lookup structure, not a different traffic mix */
		uint32_t a;
		do
			a = k < 16 ? allow16[k] : (uint32_t)(((1u + rnd() % 222) << 24) | (rnd() & 0xFFFF00));
		while (k >= 16 && in_flood16(a));
		fprintf(f, "%u.%u.%u.0/24\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255);
	}
	fclose(f);
	char *t = malloc(2048);
	snprintf(t, 2048,
		 "default drop\n"
		 "rule frags drop fragment\n"
		 "rule clients pass src-file %s udp dport 53 dns-valid\n"
		 "rule rnd drop qname-suffix example.com\n"
		 "rule limit ratelimit 100/s burst 200 table 1048576\n"
		 "rule resolvers pass udp dport 53 dns-valid qtype A,AAAA,MX,TXT,PTR,SRV,NS,SOA,CNAME,HTTPS\n",
		 path);
	return t;
}

int main(int argc, char **argv)
{
	nframes = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	if (nframes < 64)
		nframes = 64;
	/* frames in a huge-page backed buffer, as in a NIC ring or an AF_XDP UMEM set up with huge pages */
	size_t buf_bytes = ((size_t)nframes * SLOT + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	uint8_t *buf = aligned_alloc(2u << 20, buf_bytes);
	if (buf)
		(void)madvise(buf, buf_bytes, MADV_HUGEPAGE);
	frames = malloc(nframes * sizeof(*frames));
	lens = malloc(nframes * sizeof(*lens));
	if (!buf || !frames || !lens)
		return 1;
	for (int i = 0; i < 16; i++)
		allow16[i] = (198u << 24) | (51u << 16) | ((uint32_t)(i * 7) << 8); /* 198.51.x.0/24 */
	static const char *valid_names[] = {"www.example.org", "mail.example.net", "api.service.example",
					    "cdn.static.example.io"};
	uint32_t nvalid = 0, nspoof = 0;
	for (uint32_t i = 0; i < nframes; i++) {
		uint8_t *f = buf + (size_t)i * SLOT;
		char qn[128], l1[20], l2[12];
		uint32_t src;
		if (rnd() % 10 == 0) {
			src = allow16[rnd() % 16] | (uint32_t)(rnd() % 254 + 1);
			lens[i] = build(f, src, valid_names[rnd() % 4], (uint16_t)(rnd() % 2 ? 1 : 28));
			nvalid++;
		} else {
			if (rnd() % 2) {
				src = flood16[rnd() % 4] | (uint32_t)(rnd() & 0xFFFF);
			} else {
				src = (uint32_t)rnd();
				nspoof++;
			}
			rand_label(l1, 8 + (int)(rnd() % 8));
			rand_label(l2, 6);
			if (rnd() % 2)
				snprintf(qn, sizeof(qn), "%s.example.com", l1);
			else
				snprintf(qn, sizeof(qn), "%s.%s.net", l1, l2);
			lens[i] = build(f, src, qn, 1);
		}
		frames[i] = f;
	}
	printf("workload: %u frames in memory (%u valid from 16 allowlisted /24s, %u flood from four /16s, %u "
	       "spoofed anywhere), bursts of %d, median of %d runs (min-max)\n",
	       nframes, nvalid, nframes - nvalid - nspoof, nspoof, BURST, RUNS);
	uint64_t pe, pe10k, pb, ph;
	if (argc > 2) { /* bench_engine N RULES-TEXT|@RULES-FILE: only the engine with these rules (tuning) */
		const char *text = argv[2];
		if (text[0] == '@') { /* from a file: keeps cachegrind's one-line command record intact */
			FILE *rf = fopen(text + 1, "r");
			static char rbuf[1 << 16];
			size_t rn = rf ? fread(rbuf, 1, sizeof(rbuf) - 1, rf) : 0;
			if (!rf) {
				perror(text + 1);
				return 1;
			}
			fclose(rf);
			rbuf[rn] = '\0';
			text = rbuf;
		}
		struct result x = run_engine(text, &pe, BURST);
		printf("  engine (custom rules) %7.1f Mpps (%.1f-%.1f)  passed %llu\n", x.med, x.min, x.max,
		       (unsigned long long)pe);
		return 0;
	}
	char dir[] = "/tmp/fg-bench-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char *r16 = rules_text(16, dir), *r10k = rules_text(10000, dir);
	struct result ce = run_ceiling();
	struct result en = run_engine(r16, &pe, BURST);
	struct result e10 = run_engine(r10k, &pe10k, BURST);
	uint64_t pe32;
	struct result e32 = run_engine(r16, &pe32, 32);
	struct result hc;
	struct result bp = run_bpf(&pb, &hc, &ph);
	printf("  engine (16 prefixes, full rules) %7.1f Mpps (%.1f-%.1f)  passed %llu\n", en.med, en.min, en.max,
	       (unsigned long long)pe);
	printf("  engine (10,000 prefixes)         %7.1f Mpps (%.1f-%.1f)  passed %llu\n", e10.med, e10.min, e10.max,
	       (unsigned long long)pe10k);
	printf("  engine (16 prefixes, bursts of 32) %5.1f Mpps (%.1f-%.1f)  passed %llu\n", e32.med, e32.min, e32.max,
	       (unsigned long long)pe32);
	printf("  libpcap BPF (16 prefixes + DNS)  %7.1f Mpps (%.1f-%.1f)  passed %llu\n", bp.med, bp.min, bp.max,
	       (unsigned long long)pb);
	printf("  hand-written C, BPF's checks     %7.1f Mpps (%.1f-%.1f)  passed %llu\n", hc.med, hc.min, hc.max,
	       (unsigned long long)ph);
	printf("  read-only sweep (ceiling)        %7.1f Mpps (%.1f-%.1f)\n", ce.med, ce.min, ce.max);
	/* the summary line, then the hand-written classifier, the engine's share of its speed, and the
	 * engine with bursts of 32 and its ratio to BPF */
	printf("engine_mpps=%.1f bpf_mpps=%.1f ratio=%.2f ceiling_mpps=%.1f engine_10k_mpps=%.1f handc_mpps=%.1f "
	       "engine_vs_handc=%.2f engine_b32_mpps=%.1f ratio_b32=%.2f\n",
	       en.med, bp.med, en.med / bp.med, ce.med, e10.med, hc.med, en.med / hc.med, e32.med, e32.med / bp.med);
	free(r16);
	free(r10k);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	free(buf);
	free(frames);
	free(lens);
	return 0;
}
