/* coll_hints.c - the collective engine's MPI-IO hints, parsed and reported
 * once for both MPI-IO front-ends (ad_homi and libhomi_mpiio):
 * homi_node_size, homi_coll_ipc, homi_coll_overlap, homi_coll_read_streams,
 * homi_coll_net, homi_gpu_buffer_size and homi_sieve_gap, with the value
 * parsers they share (sizes with K/M/G suffixes, enable/disable/automatic). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "homi_coll.h"

int homi_coll_parse_tristate(const char *v, int *out)
{
    if (!strcasecmp(v, "enable") || !strcasecmp(v, "true"))
        *out = HOMI_COLL_ENABLE;
    else if (!strcasecmp(v, "disable") || !strcasecmp(v, "false"))
        *out = HOMI_COLL_DISABLE;
    else if (!strcasecmp(v, "automatic") || !strcasecmp(v, "auto"))
        *out = HOMI_COLL_AUTO;
    else
        return -1;
    return 0;
}

int homi_coll_parse_size(const char *v, int64_t *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0) return -1;
    int shift = *end == 'k' || *end == 'K'   ? 10
                : *end == 'm' || *end == 'M' ? 20
                : *end == 'g' || *end == 'G' ? 30
                                             : 0;
    if (shift) end++;
    if (*end || n > (INT64_MAX >> shift)) return -1;
    *out = (int64_t)n << shift;
    return 0;
}

static int parse_net(const char *v, int *out)
{
    if (!strcasecmp(v, "auto") || !strcasecmp(v, "automatic"))
        *out = HOMI_COLL_NET_AUTO;
    else if (!strcasecmp(v, "ucx"))
        *out = HOMI_COLL_NET_UCX;
    else if (!strcasecmp(v, "mpi"))
        *out = HOMI_COLL_NET_MPI;
    else
        return -1;
    return 0;
}

const char *homi_coll_tristate_name(int v)
{
    return v == HOMI_COLL_ENABLE ? "enable" : v == HOMI_COLL_DISABLE ? "disable" : "automatic";
}

static const char *const keys[] = {
    "homi_node_size", "homi_coll_ipc",        "homi_coll_overlap", "homi_coll_read_streams",
    "homi_coll_net",  "homi_gpu_buffer_size", "homi_sieve_gap",    "homi_coll_indep_min"};
#define NKEYS (sizeof keys / sizeof keys[0])

const char *homi_coll_hint_key(unsigned i)
{
    return i < NKEYS ? keys[i] : NULL;
}

#define EXPECT(text) (snprintf(why, whylen, "expected %s", text), -1)
#define TRI "enable, disable or automatic"

int homi_coll_hint_set(homi_coll_opts *o, const char *key, const char *val, char *why,
                       size_t whylen)
{
    int64_t n;
    if (!strcmp(key, "homi_node_size")) {
        if (homi_coll_parse_size(val, &n) || n > 1 << 20) return EXPECT("0 or a rank count");
        o->node_size = (int)n;
    } else if (!strcmp(key, "homi_coll_ipc")) {
        if (homi_coll_parse_tristate(val, &o->ipc)) return EXPECT(TRI);
    } else if (!strcmp(key, "homi_coll_overlap")) {
        if (homi_coll_parse_tristate(val, &o->overlap)) return EXPECT(TRI);
    } else if (!strcmp(key, "homi_coll_read_streams")) {
        if (homi_coll_parse_size(val, &n) || n < 1 || n > HOMI_COLL_MAX_STREAMS)
            return (snprintf(why, whylen, "expected 1..%d", HOMI_COLL_MAX_STREAMS), -1);
        o->read_streams = (int)n;
    } else if (!strcmp(key, "homi_coll_net")) {
        if (parse_net(val, &o->net)) return EXPECT("auto, ucx or mpi");
    } else if (!strcmp(key, "homi_gpu_buffer_size")) {
        if (homi_coll_parse_size(val, &n) || (n && (n < 4096 || n > (1ll << 30))))
            return EXPECT("0 or a size 4K..1G");
        o->gpu_buffer_size = n;
    } else if (!strcmp(key, "homi_sieve_gap")) {
        if (homi_coll_parse_size(val, &n) || n > (1ll << 30)) return EXPECT("a size up to 1G");
        o->sieve_gap = n;
    } else if (!strcmp(key, "homi_coll_indep_min")) {
        if (homi_coll_parse_size(val, &n) || n > (1ll << 40)) return EXPECT("0 or a size up to 1T");
        o->indep_min = n;
    } else {
        return 0;
    }
    return 1;
}

int homi_coll_hint_get(const homi_coll_opts *o, const char *key, char *buf, size_t len)
{
    if (!strcmp(key, "homi_node_size"))
        snprintf(buf, len, "%d", o->node_size);
    else if (!strcmp(key, "homi_coll_ipc"))
        snprintf(buf, len, "%s", homi_coll_tristate_name(o->ipc));
    else if (!strcmp(key, "homi_coll_overlap"))
        snprintf(buf, len, "%s", homi_coll_tristate_name(o->overlap));
    else if (!strcmp(key, "homi_coll_read_streams"))
        snprintf(buf, len, "%d", o->read_streams);
    else if (!strcmp(key, "homi_coll_net"))
        snprintf(buf, len, "%s",
                 o->net == HOMI_COLL_NET_UCX   ? "ucx"
                 : o->net == HOMI_COLL_NET_MPI ? "mpi"
                                               : "auto");
    else if (!strcmp(key, "homi_gpu_buffer_size"))
        snprintf(buf, len, "%lld", (long long)o->gpu_buffer_size);
    else if (!strcmp(key, "homi_sieve_gap"))
        snprintf(buf, len, "%lld", (long long)o->sieve_gap);
    else if (!strcmp(key, "homi_coll_indep_min"))
        snprintf(buf, len, "%lld", (long long)o->indep_min);
    else
        return -1;
    return 0;
}
