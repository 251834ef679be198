/* See pcap_file.h. Every record header is checked against the file's size before use. */
#define _GNU_SOURCE
#include "pcap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAX (256u * 1024) /* larger than any snaplen tcpdump uses: a bigger record means a corrupt file */

static uint32_t get32(const uint8_t *p, int swapped)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

int fg_capture_load(const char *path, struct fg_capture *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the capture: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size < 24) {
		snprintf(err, errlen, "%s: too short for a pcap file (%lld bytes)", path, (long long)st.st_size);
		close(fd);
		return -1;
	}
	c->map_len = (size_t)st.st_size;
	c->map = mmap(NULL, c->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
		return -1;
	}
	const uint8_t *m = c->map;
	uint32_t magic;
	memcpy(&magic, m, 4);
	int swapped, nsec;
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		swapped = 0;
		nsec = magic == 0xa1b23c4d;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		swapped = 1;
		nsec = magic == 0x4d3cb2a1;
	} else if (magic == 0x0a0d0d0a) {
		snprintf(err, errlen, "%s: pcapng is not supported: convert it with `tcpdump -r %s -w out.pcap`", path,
			 path);
		goto fail;
	} else {
		snprintf(err, errlen, "%s: not a pcap file (magic 0x%08x)", path, magic);
		goto fail;
	}
	c->linktype = get32(m + 20, swapped) & 0x0FFFFFFF;
	uint32_t lt = c->linktype;
	if (lt != 1 && lt != 113 && lt != 276 && lt != 101 && lt != 12 && lt != 14) {
		snprintf(err, errlen,
			 "%s: link type %u not supported (Ethernet, Linux cooked or raw IP: capture with "
			 "`tcpdump -i IFACE -w FILE`)",
			 path, lt);
		goto fail;
	}
	/* first pass: count records and the bytes converted frames need */
	size_t off = 24, arena_need = 0;
	uint32_t n = 0;
	while (off + 16 <= c->map_len) {
		uint32_t caplen = get32(m + off + 8, swapped);
		if (caplen > REC_MAX) {
			snprintf(err, errlen, "%s: record %u at byte %zu claims %u bytes: the file is corrupt", path,
				 n + 1, off, caplen);
			goto fail;
		}
		if (off + 16 + caplen > c->map_len)
			break;
		n++;
		arena_need += caplen + 16;
		off += 16 + caplen;
	}
	c->truncated = off != c->map_len;
	c->n = n;
	c->frames = calloc(n + 1, sizeof(*c->frames));
	c->lens = calloc(n + 1, sizeof(*c->lens));
	c->ts_ns = calloc(n + 1, sizeof(*c->ts_ns));
	c->records = calloc(n + 1, sizeof(*c->records));
	c->rec_lens = calloc(n + 1, sizeof(*c->rec_lens));
	int convert = lt != 1 && lt != 113;
	if (convert)
		c->arena = malloc(arena_need + 1);
	if (!c->frames || !c->lens || !c->ts_ns || !c->records || !c->rec_lens || (convert && !c->arena)) {
		snprintf(err, errlen, "%s: out of memory for %u frames", path, n);
		goto fail;
	}
	off = 24;
	size_t ap = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = m + off;
		uint32_t sec = get32(r, swapped), frac = get32(r + 4, swapped), caplen = get32(r + 8, swapped);
		const uint8_t *d = r + 16;
		c->records[i] = r;
		c->rec_lens[i] = caplen;
		c->ts_ns[i] = (uint64_t)sec * 1000000000ull + (nsec ? frac : (uint64_t)frac * 1000ull);
		if (lt == 1) {
			c->frames[i] = d;
			c->lens[i] = caplen;
		} else if (lt == 113) {
			/* cooked v1: 16 bytes, protocol at 14; seen from 2 bytes in it is an Ethernet header */
			c->frames[i] = caplen >= 2 ? d + 2 : d;
			c->lens[i] = caplen >= 2 ? caplen - 2 : 0;
		} else {
			uint8_t *f = c->arena + ap;
			uint16_t et = 0;
			const uint8_t *payload = d;
			uint32_t plen = caplen;
			if (lt == 276) { /* cooked v2: 20 bytes, protocol at 0 */
				if (caplen >= 20) {
					et = (uint16_t)((d[0] << 8) | d[1]);
					payload = d + 20;
					plen = caplen - 20;
				} else {
					plen = 0;
				}
			} else if (caplen) { /* raw IP: the version nibble says which */
				et = (d[0] >> 4) == 6 ? 0x86DD : 0x0800;
			}
			memset(f, 0, 12);
			f[12] = (uint8_t)(et >> 8);
			f[13] = (uint8_t)et;
			memcpy(f + 14, payload, plen);
			c->frames[i] = f;
			c->lens[i] = plen + 14;
			ap += plen + 14;
		}
		off += 16 + caplen;
	}
	return 0;
fail:
	fg_capture_free(c);
	return -1;
}

void fg_capture_free(struct fg_capture *c)
{
	if (c->map)
		munmap(c->map, c->map_len);
	free(c->frames);
	free(c->lens);
	free(c->ts_ns);
	free(c->records);
	free(c->rec_lens);
	free(c->arena);
	memset(c, 0, sizeof(*c));
}

int fg_capture_write(const struct fg_capture *c, const uint8_t *keep, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	int ok = fwrite(c->map, 24, 1, f) == 1; /* same header: magic, version, snaplen, link type */
	for (uint32_t i = 0; ok && i < c->n; i++) {
		if (!keep[i])
			continue;
		const uint8_t *r = c->records[i];
		size_t caplen = c->rec_lens[i];
		ok = fwrite(r, 16 + caplen, 1, f) == 1;
	}
	if (fclose(f) != 0 || !ok) {
		snprintf(err, errlen, "%s: write error: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
