/* libFuzzer: any bytes as a frame through the engine with a rule set that exercises every term, twice: with
 * the fast path (as shipped) and with it off (the general parser and evaluator); the two must give the same
 * verdict and deciding rule. The frame is copied into an exactly sized heap buffer so ASan catches any read
 * past its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fg_engine.h"

static struct fg_engine *eng, *eng_general;

static const char rules[] = "default drop\n"
			    "rule frags drop fragment\n"
			    "rule clients pass src 198.51.100.0/24,2001:db8::/32,10.1.2.128/25 udp dport 53 dns-valid\n"
			    "rule rnd drop qname-suffix example.com,a,Very.Long.Name.example.org\n"
			    "rule one drop qname-suffix Attacked.Example.NET\n"
			    "rule udp6 pass ipv6 udp dport 5353\n"
			    "rule qt drop qtype ANY,AXFR\n"
			    "rule lim ratelimit 1000/s burst 10 table 1024\n"
			    "rule tcp pass tcp dport 53,80-90 sport 1024-65535\n"
			    "rule v6 pass ipv6 proto 58\n"
			    "rule ok pass dns-valid\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!eng) {
		char err[256];
		eng = fg_engine_compile(rules, sizeof(rules) - 1, err, sizeof(err));
		eng_general = fg_engine_compile(rules, sizeof(rules) - 1, err, sizeof(err));
		if (!eng || !eng_general || fg_engine_set_fast_path(eng_general, 0) != 0)
			abort();
	}
	if (size > 65535)
		return 0;
	uint8_t *f = malloc(size ? size : 1);
	memcpy(f, data, size);
	const uint8_t *frames[1] = {f};
	uint32_t lens[1] = {(uint32_t)size};
	uint8_t v[1];
	uint16_t who[1];
	uint8_t v2[1];
	uint16_t who2[1];
	fg_engine_classify_explain(eng, frames, lens, 1, (uint64_t)size * 1000, v, who);
	fg_engine_classify_explain(eng_general, frames, lens, 1, (uint64_t)size * 1000, v2, who2);
	if (v[0] > 1 || v[0] != v2[0] || who[0] != who2[0])
		abort();
	free(f);
	return 0;
}
