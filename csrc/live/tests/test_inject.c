/* Unit test of fg_l3_offset: which part of a received frame goes into the TUN device. Every frame is copied
 * into a buffer of exactly its length, so ASan catches any read past it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fg_inject.h"

static int failures;

static void check(const char *what, const unsigned char *frame, unsigned len, int want)
{
	unsigned char *exact = malloc(len ? len : 1);
	memcpy(exact, frame, len);
	int got = fg_l3_offset(exact, len);
	free(exact);
	if (got != want) {
		printf("FAIL %s: got %d, want %d\n", what, got, want);
		failures++;
	}
}

int main(void)
{
	unsigned char f[64];
	memset(f, 0, sizeof(f));
	f[12] = 0x08, f[13] = 0x00, f[14] = 0x45;
	check("ipv4", f, 34, 14);
	check("ipv4, one byte of IP", f, 15, 14);
	check("ethernet header only", f, 14, -1);
	check("truncated ethernet", f, 13, -1);
	check("empty", f, 0, -1);
	f[14] = 0x60;
	check("ethertype ipv4 but version 6", f, 34, -1);
	f[12] = 0x86, f[13] = 0xdd;
	check("ipv6", f, 54, 14);
	f[12] = 0x08, f[13] = 0x06;
	check("arp", f, 42, -1);

	memset(f, 0, sizeof(f));
	f[12] = 0x81, f[13] = 0x00, f[16] = 0x08, f[17] = 0x00, f[18] = 0x45;
	check("802.1Q ipv4", f, 38, 18);
	check("802.1Q truncated after tag", f, 17, -1);
	check("802.1Q no payload", f, 18, -1);

	memset(f, 0, sizeof(f));
	f[12] = 0x88, f[13] = 0xa8, f[16] = 0x81, f[17] = 0x00, f[20] = 0x86, f[21] = 0xdd, f[22] = 0x60;
	check("QinQ ipv6", f, 62, 22);

	memset(f, 0, sizeof(f));
	f[12] = 0x81, f[13] = 0x00, f[16] = 0x81, f[17] = 0x00, f[20] = 0x81, f[21] = 0x00, f[24] = 0x08;
	f[25] = 0x00, f[26] = 0x45;
	check("three tags (more than a NIC strips or we accept)", f, 46, -1);

	printf("%s: fg_l3_offset\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
