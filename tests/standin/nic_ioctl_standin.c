/*
 * STAND-IN NIC for the real ethtool binary (tests only; never installed on a host).
 *
 * LD_PRELOADed into /usr/sbin/ethtool, this library answers ethtool's SIOCETHTOOL ioctls for ONE
 * made-up interface (env FG_NIC_NAME) as an ixgbe-like NIC would: RX ring count, the RSS indirection
 * table and hash key (GRSSH/SRSSH) and an ntuple rule table (GRXCLSRLCNT/GRXCLSRLALL/GRXCLSRULE/
 * SRXCLSRLINS/SRXCLSRLDEL). Every other ioctl, and every other interface, goes to the kernel untouched.
 *
 * Why: no NIC here supports -x/-X/-n/-N (veth answers "Operation not supported"). With this stand-in the
 * REAL ethtool parses the arguments, computes the weight table (fill_indir_table), picks rule locations
 * (rmgr), and prints -x/-n output, so floodgate's modules are tested against real ethtool behaviour; only
 * the driver below ethtool is modelled. ethtool 6.1 uses ioctl (not netlink) for all of these commands.
 *
 * State persists between ethtool runs in FG_NIC_STATE (a binary file). Knobs, read when the file is
 * created: FG_NIC_RINGS (default 16), FG_NIC_INDIR_SIZE (128), FG_NIC_RULE_SLOTS (table size ethtool
 * sees, 2046 like ixgbe), FG_NIC_RULE_CAPACITY (rules the "hardware" holds before ENOSPC, 8).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ETH_RSS_HASH_TOP
#define ETH_RSS_HASH_TOP (1 << 0) /* toeplitz, as in the kernel's ethtool.h */
#endif
#define MAX_INDIR 512
#define MAX_RULES 64
#define KEY_SIZE 40
#define MAGIC 0x66676e31u /* "fgn1" */

struct nic_state {
	uint32_t magic, rings, indir_size, slots, capacity, nrules;
	uint32_t indir[MAX_INDIR];
	uint8_t key[KEY_SIZE];
	struct ethtool_rx_flow_spec rules[MAX_RULES];
};

static uint32_t env_u32(const char *name, uint32_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? (uint32_t)strtoul(v, NULL, 0) : dflt;
}

static int load(struct nic_state *s)
{
	const char *path = getenv("FG_NIC_STATE");
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (f) {
		size_t n = fread(s, sizeof(*s), 1, f);
		fclose(f);
		if (n == 1 && s->magic == MAGIC)
			return 0;
	}
	memset(s, 0, sizeof(*s));
	s->magic = MAGIC;
	s->rings = env_u32("FG_NIC_RINGS", 16);
	s->indir_size = env_u32("FG_NIC_INDIR_SIZE", 128);
	s->slots = env_u32("FG_NIC_RULE_SLOTS", 2046);
	s->capacity = env_u32("FG_NIC_RULE_CAPACITY", 8);
	if (s->indir_size > MAX_INDIR || s->capacity > MAX_RULES || !s->rings)
		return -1;
	for (uint32_t i = 0; i < s->indir_size; i++)
		s->indir[i] = i % s->rings; /* the kernel's ethtool_rxfh_indir_default() */
	for (uint32_t i = 0; i < KEY_SIZE; i++)
		s->key[i] = (uint8_t)(0x6d + 7 * i);
	return 0;
}

static int save(const struct nic_state *s)
{
	const char *path = getenv("FG_NIC_STATE");
	if (!path)
		return 0;
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s, sizeof(*s), 1, f) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static int find_rule(const struct nic_state *s, uint32_t loc)
{
	for (uint32_t i = 0; i < s->nrules; i++)
		if (s->rules[i].location == loc)
			return (int)i;
	return -1;
}

static int rxfh(struct nic_state *s, struct ethtool_rxfh *r, int set)
{
	if (r->rss_context)
		return -EOPNOTSUPP;
	if (!set) {
		if (!r->indir_size && !r->key_size) {
			r->indir_size = s->indir_size;
			r->key_size = KEY_SIZE;
			r->hfunc = ETH_RSS_HASH_TOP;
			return 0;
		}
		if (r->indir_size != s->indir_size || r->key_size != KEY_SIZE)
			return -EINVAL;
		memcpy(r->rss_config, s->indir, s->indir_size * sizeof(uint32_t));
		memcpy((uint8_t *)(r->rss_config + s->indir_size), s->key, KEY_SIZE);
		r->hfunc = ETH_RSS_HASH_TOP;
		return 0;
	}
	if (r->hfunc && r->hfunc != ETH_RSS_HASH_TOP)
		return -EOPNOTSUPP;
	uint32_t n = r->indir_size;
	if (n != ETH_RXFH_INDIR_NO_CHANGE && n != 0 && n != s->indir_size)
		return -EINVAL;
	if (r->key_size && r->key_size != KEY_SIZE)
		return -EINVAL;
	if (n == 0) {
		for (uint32_t i = 0; i < s->indir_size; i++)
			s->indir[i] = i % s->rings;
	} else if (n != ETH_RXFH_INDIR_NO_CHANGE) {
		for (uint32_t i = 0; i < n; i++)
			if (r->rss_config[i] >= s->rings)
				return -EINVAL; /* as ethtool_copy_validate_indir() */
		memcpy(s->indir, r->rss_config, n * sizeof(uint32_t));
	}
	if (r->key_size)
		memcpy(s->key, (uint8_t *)(r->rss_config + (n == ETH_RXFH_INDIR_NO_CHANGE ? 0 : n)), KEY_SIZE);
	return save(s) ? -EIO : 0;
}

static int rxnfc(struct nic_state *s, struct ethtool_rxnfc *c)
{
	int i;
	switch (c->cmd) {
	case ETHTOOL_GRXRINGS:
		c->data = s->rings;
		return 0;
	case ETHTOOL_GRXCLSRLCNT:
		c->rule_cnt = s->nrules;
		c->data = s->slots;
		return 0;
	case ETHTOOL_GRXCLSRLALL:
		if (c->rule_cnt < s->nrules)
			return -EMSGSIZE;
		for (uint32_t k = 0; k < s->nrules; k++)
			c->rule_locs[k] = s->rules[k].location;
		c->rule_cnt = s->nrules;
		c->data = s->slots;
		return 0;
	case ETHTOOL_GRXCLSRULE:
		i = find_rule(s, c->fs.location);
		if (i < 0)
			return -ENOENT;
		c->fs = s->rules[i];
		return 0;
	case ETHTOOL_SRXCLSRLINS: {
		struct ethtool_rx_flow_spec *fs = &c->fs;
		uint32_t flow = fs->flow_type & ~(FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS);
		if (fs->location >= s->slots)
			return -EINVAL;
		if (flow != TCP_V4_FLOW && flow != UDP_V4_FLOW && flow != TCP_V6_FLOW && flow != UDP_V6_FLOW &&
		    flow != SCTP_V4_FLOW && flow != SCTP_V6_FLOW)
			return -EOPNOTSUPP;
		if (fs->ring_cookie != RX_CLS_FLOW_DISC && ethtool_get_flow_spec_ring(fs->ring_cookie) >= s->rings)
			return -EINVAL;
		i = find_rule(s, fs->location);
		if (i < 0) {
			if (s->nrules >= s->capacity)
				return -ENOSPC;
			i = (int)s->nrules++;
		}
		s->rules[i] = *fs; /* a rule at a used location replaces it, as ixgbe does */
		return save(s) ? -EIO : 0;
	}
	case ETHTOOL_SRXCLSRLDEL:
		i = find_rule(s, c->fs.location);
		if (i < 0)
			return -ENOENT;
		s->rules[i] = s->rules[--s->nrules];
		return save(s) ? -EIO : 0;
	}
	return -EOPNOTSUPP;
}

static const char hash_names[][ETH_GSTRING_LEN] = {"toeplitz", "xor", "crc32"};

static int handle(void *data)
{
	struct nic_state s;
	uint32_t cmd;
	memcpy(&cmd, data, sizeof(cmd));
	if (load(&s))
		return -EINVAL;
	switch (cmd) {
	case ETHTOOL_GRSSH:
		return rxfh(&s, data, 0);
	case ETHTOOL_SRSSH:
		return rxfh(&s, data, 1);
	case ETHTOOL_GSSET_INFO: {
		struct ethtool_sset_info *si = data;
		if (!(si->sset_mask & (1ULL << ETH_SS_RSS_HASH_FUNCS)))
			return -EOPNOTSUPP;
		si->sset_mask = 1ULL << ETH_SS_RSS_HASH_FUNCS;
		si->data[0] = 3;
		return 0;
	}
	case ETHTOOL_GSTRINGS: {
		struct ethtool_gstrings *gs = data;
		if (gs->string_set != ETH_SS_RSS_HASH_FUNCS)
			return -EOPNOTSUPP;
		gs->len = 3;
		memcpy(gs->data, hash_names, sizeof(hash_names));
		return 0;
	}
	case ETHTOOL_GRXRINGS:
	case ETHTOOL_GRXCLSRLCNT:
	case ETHTOOL_GRXCLSRLALL:
	case ETHTOOL_GRXCLSRULE:
	case ETHTOOL_SRXCLSRLINS:
	case ETHTOOL_SRXCLSRLDEL:
		return rxnfc(&s, data);
	}
	return -EOPNOTSUPP;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real_ioctl)(int, unsigned long, ...);
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!real_ioctl)
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	const char *name = getenv("FG_NIC_NAME");
	struct ifreq *ifr = arg;
	if (request != SIOCETHTOOL || !name || strncmp(ifr->ifr_name, name, IFNAMSIZ) != 0)
		return real_ioctl(fd, request, arg);
	int rc = handle(ifr->ifr_data);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
