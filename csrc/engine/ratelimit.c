/* See ratelimit.h. */
#define _GNU_SOURCE
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int fg_rl_params(struct fg_rl *rl, uint64_t entries, uint64_t rate, uint64_t burst)
{
	memset(rl, 0, sizeof(*rl));
	uint64_t n = FG_RL_WAYS;
	while (n < entries)
		n <<= 1;
	rl->nsets = n / FG_RL_WAYS;
	unsigned log2 = 0;
	while ((1ull << log2) < rl->nsets)
		log2++;
	if (log2 > 33) /* fg_rl_hash keeps only the top 33 bits exact (the rules allow 2^22 sets) */
		return -1;
	rl->shift = 64 - log2;
	rl->shift1 = rl->shift - 1;
	rl->interval = 1000000000ull / rate;
	rl->tau = (burst - 1) * rl->interval;
	return 0;
}

int fg_rl_alloc(struct fg_rl *rl)
{
	_Static_assert(sizeof(struct fg_rl_set) == 64, "a set is one cache line");
	size_t bytes = (size_t)rl->nsets * sizeof(struct fg_rl_set);
	/* 2 MiB-aligned and huge-page backed where the kernel allows: random sources touch random sets, and
	 * with 4 KiB pages every lookup would also miss the TLB (16 MiB = 4096 pages) */
	size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
	rl->t = aligned_alloc(align, (bytes + align - 1) / align * align);
	if (!rl->t)
		return -1;
	if (align > 64)
		(void)madvise(rl->t, bytes, MADV_HUGEPAGE);
	memset(rl->t, 0, bytes);
	return 0;
}

int fg_rl_init(struct fg_rl *rl, uint64_t entries, uint64_t rate, uint64_t burst)
{
	return fg_rl_params(rl, entries, rate, burst) || fg_rl_alloc(rl) ? -1 : 0;
}

void fg_rl_free(struct fg_rl *rl)
{
	free(rl->t);
	rl->t = NULL;
}
