/* Classic pcap files (tcpdump -w): read a whole capture into memory as frames the engine takes, and write
 * a selection of its records back out unchanged. Link types: Ethernet (1), Linux cooked v1 (113) and v2
 * (276), raw IP (101, 12, 14). pcapng is refused with the command that converts it. */
#ifndef FG_PCAP_FILE_H
#define FG_PCAP_FILE_H

#include <stddef.h>
#include <stdint.h>

struct fg_capture {
	uint8_t *map; /* the file, mapped read-only */
	size_t map_len;
	uint32_t linktype;
	uint32_t n;
	const uint8_t **frames; /* each starts at an Ethernet header (converted when the link type is not) */
	uint32_t *lens;
	uint64_t *ts_ns;          /* capture time of each frame */
	const uint8_t **records;  /* each record's 16-byte header in the file, for writing it back */
	uint32_t *rec_lens;       /* each record's captured length */
	uint8_t *arena;           /* converted frames */
	int truncated;            /* the last record was cut short (capture still being written, or killed) */
};

/* 0, or -1 with a message in err. */
int fg_capture_load(const char *path, struct fg_capture *c, char *err, size_t errlen);
void fg_capture_free(struct fg_capture *c);
/* Write the records i with keep[i] != 0 to path, in the input's format. 0, or -1 with err. */
int fg_capture_write(const struct fg_capture *c, const uint8_t *keep, const char *path, char *err, size_t errlen);

#endif
