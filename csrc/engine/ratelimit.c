/* See ratelimit.h. */
#define _GNU_SOURCE
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

int fg_rl_init(struct fg_rl *rl, uint64_t entries, uint64_t rate, uint64_t burst)
{
	memset(rl, 0, sizeof(*rl));
	uint64_t n = FG_RL_WAYS;
	while (n < entries)
		n <<= 1;
	rl->nsets = n / FG_RL_WAYS;
	unsigned log2 = 0;
	while ((1ull << log2) < rl->nsets)
		log2++;
	rl->shift = 64 - log2;
	rl->interval = 1000000000ull / rate;
	rl->tau = (burst - 1) * rl->interval;
	size_t bytes = (size_t)n * sizeof(struct fg_rl_entry);
	rl->t = aligned_alloc(64, bytes);
	if (!rl->t)
		return -1;
	memset(rl->t, 0, bytes);
	return 0;
}

void fg_rl_free(struct fg_rl *rl)
{
	free(rl->t);
	rl->t = NULL;
}
