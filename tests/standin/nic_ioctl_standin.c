/*
 * STAND-IN NIC for the real ethtool binary (tests only; never installed on a host).
 *
 * LD_PRELOADed into /usr/sbin/ethtool, this library answers ethtool's SIOCETHTOOL ioctls for ONE
 * made-up interface (env FG_NIC_NAME) as an ixgbe-like NIC would: RX ring count, the RSS indirection
 * table and hash key (GRSSH/SRSSH) and an ntuple rule table (GRXCLSRLCNT/GRXCLSRLALL/GRXCLSRULE/
 * SRXCLSRLINS/SRXCLSRLDEL) and, when no real interface has that name, a small ixgbe-like offload feature
 * set including ntuple (ethtool's ioctl path for -k/-K: ethtool falls back to it when netlink is refused, which
 * the stand-in does only for its made-up interface). As on ixgbe, inserting a rule while ntuple is off fails
 * with EOPNOTSUPP, and turning ntuple off deletes every rule. Every other ioctl, and every other interface,
 * goes to the kernel untouched.
 *
 * Why: no NIC here supports -x/-X/-n/-N (veth answers "Operation not supported"). With this stand-in the
 * REAL ethtool parses the arguments, computes the weight table (fill_indir_table), picks rule locations
 * (rmgr), and prints -x/-n output, so floodgate's modules are tested against real ethtool behaviour; only
 * the driver below ethtool is modelled. ethtool 6.1 uses ioctl (not netlink) for all of these commands.
 *
 * State persists between ethtool runs in FG_NIC_STATE (a binary file). Knobs, read when the file is
 * created: FG_NIC_RINGS (default 16), FG_NIC_INDIR_SIZE (128), FG_NIC_RULE_SLOTS (table size ethtool
 * sees, 2046 like ixgbe), FG_NIC_RULE_CAPACITY (rules the "hardware" holds before ENOSPC, 8), FG_NIC_NTUPLE
 * (1: ntuple starts on, the default; 0: starts off).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef ETH_RSS_HASH_TOP
#define ETH_RSS_HASH_TOP (1 << 0) /* toeplitz, as in the kernel's ethtool.h */
#endif
#define MAX_INDIR 512
#define MAX_RULES 64
#define KEY_SIZE 40
#define MAGIC 0x66676e32u /* "fgn2" */

/* Offload features (kernel names, ETH_SS_FEATURES order) of the modelled NIC: one 32-bit block. */
enum { F_RXCSUM, F_TXCSUM, F_SG, F_TSO, F_GSO, F_GRO, F_LRO, F_RXHASH, F_RXVLAN, F_TXVLAN, F_NTUPLE, NFEAT };
static const char feature_names[NFEAT][ETH_GSTRING_LEN] = {
	"rx-checksum",	    "tx-checksum-ip-generic", "tx-scatter-gather", "tx-tcp-segmentation",
	"tx-generic-segmentation", "rx-gro",		      "rx-lro",		   "rx-hashing",
	"rx-vlan-hw-parse", "tx-vlan-hw-insert",      "rx-ntuple-filter",
};
#define BIT(f) (1u << (f))
#define ALL_FEATURES (BIT(NFEAT) - 1)

struct nic_state {
	uint32_t magic, rings, indir_size, slots, capacity, nrules, features;
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
	s->features = ALL_FEATURES & ~BIT(F_LRO) & ~(env_u32("FG_NIC_NTUPLE", 1) ? 0 : BIT(F_NTUPLE));
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
		if (!(s->features & BIT(F_NTUPLE)))
			return -EOPNOTSUPP; /* ixgbe: no perfect filters while ntuple is off */
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

static uint32_t on(const struct nic_state *s, int f)
{
	return (s->features >> f) & 1;
}

static int features(struct nic_state *s, void *data, uint32_t cmd)
{
	struct ethtool_value *v = data;
	switch (cmd) {
	case ETHTOOL_GRXCSUM: v->data = on(s, F_RXCSUM); return 0;
	case ETHTOOL_GTXCSUM: v->data = on(s, F_TXCSUM); return 0;
	case ETHTOOL_GSG: v->data = on(s, F_SG); return 0;
	case ETHTOOL_GTSO: v->data = on(s, F_TSO); return 0;
	case ETHTOOL_GGSO: v->data = on(s, F_GSO); return 0;
	case ETHTOOL_GGRO: v->data = on(s, F_GRO); return 0;
	case ETHTOOL_GFLAGS:
		v->data = (on(s, F_LRO) ? ETH_FLAG_LRO : 0) | (on(s, F_RXVLAN) ? ETH_FLAG_RXVLAN : 0) |
			  (on(s, F_TXVLAN) ? ETH_FLAG_TXVLAN : 0) | (on(s, F_NTUPLE) ? ETH_FLAG_NTUPLE : 0) |
			  (on(s, F_RXHASH) ? ETH_FLAG_RXHASH : 0);
		return 0;
	case ETHTOOL_GFEATURES: {
		struct ethtool_gfeatures *g = data;
		uint32_t room = g->size;
		g->size = 1;
		if (room < 1)
			return 0; /* the kernel reports the size it needs */
		g->features[0].available = ALL_FEATURES;
		g->features[0].requested = s->features;
		g->features[0].active = s->features;
		g->features[0].never_changed = 0;
		return 0;
	}
	case ETHTOOL_SFEATURES: {
		struct ethtool_sfeatures *f = data;
		if (f->size < 1)
			return -EINVAL;
		uint32_t valid = f->features[0].valid & ALL_FEATURES;
		uint32_t was = s->features;
		s->features = (s->features & ~valid) | (f->features[0].requested & valid);
		if ((was & BIT(F_NTUPLE)) && !(s->features & BIT(F_NTUPLE)))
			s->nrules = 0; /* ixgbe drops every perfect filter when ntuple goes off */
		return save(s) ? -EIO : 0;
	}
	}
	return -EOPNOTSUPP;
}

/* Is the stand-in interface's name free (not a real interface here)? Then it also answers -k/-K. */
static int models_features(void)
{
	const char *name = getenv("FG_NIC_NAME");
	return name && if_nametoindex(name) == 0;
}

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
		uint64_t known = (1ULL << ETH_SS_RSS_HASH_FUNCS) | (models_features() ? 1ULL << ETH_SS_FEATURES : 0);
		uint64_t asked = si->sset_mask & known;
		uint32_t k = 0;
		for (int set = 0; set < 64; set++)
			if (asked & (1ULL << set))
				si->data[k++] = set == ETH_SS_FEATURES ? NFEAT : 3;
		si->sset_mask = asked;
		return 0;
	}
	case ETHTOOL_GSTRINGS: {
		struct ethtool_gstrings *gs = data;
		if (gs->string_set == ETH_SS_RSS_HASH_FUNCS) {
			gs->len = 3;
			memcpy(gs->data, hash_names, sizeof(hash_names));
			return 0;
		}
		if (gs->string_set == ETH_SS_FEATURES && models_features()) {
			gs->len = NFEAT;
			memcpy(gs->data, feature_names, sizeof(feature_names));
			return 0;
		}
		return -EOPNOTSUPP;
	}
	case ETHTOOL_GRXCSUM:
	case ETHTOOL_GTXCSUM:
	case ETHTOOL_GSG:
	case ETHTOOL_GTSO:
	case ETHTOOL_GGSO:
	case ETHTOOL_GGRO:
	case ETHTOOL_GFLAGS:
	case ETHTOOL_GFEATURES:
	case ETHTOOL_SFEATURES:
		return models_features() ? features(&s, data, cmd) : -EOPNOTSUPP;
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

/* ethtool uses netlink for -k/-K when it can: refuse netlink (only) while the stand-in answers -k/-K,
 * so ethtool takes its ioctl path, exactly as with a kernel without ethtool netlink. */
int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	if (!real_socket)
		real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (domain == AF_NETLINK && models_features()) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	return real_socket(domain, type, protocol);
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
