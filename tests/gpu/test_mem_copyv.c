/* test_mem_copyv.c - homi_mem_copyv, the batched copy the collective engine
 * and the front-ends use between host, pinned and device memory: random
 * piece lists of the three shapes it coalesces differently (pieces that
 * continue each other, equal-length pieces at constant strides, as the rows
 * of a subarray, and scattered pieces), in every direction, checked against
 * memcpy of the same list on the host.  Exits 77 without a usable GPU. */
#include "homi_test.h"

#define SPACE (8u << 20) /* bytes of every source and destination area */
#define MAXN 4096

enum shape { CONTIG, STRIDED, SCATTERED, MIXED, NSHAPE };
static const char *shape_name[NSHAPE] = {"contiguous", "strided", "scattered", "mixed"};

/* n pieces of one shape inside [0, SPACE) of source and destination;
 * destination ranges never overlap (sources may). */
static unsigned make_list(enum shape sh, size_t *doff, size_t *soff, size_t *len)
{
    unsigned n = 1 + (unsigned)t_below(MAXN);
    size_t d = t_below(4096), s = t_below(4096);
    if (sh == CONTIG) {
        for (unsigned i = 0; i < n; i++) {
            len[i] = t_below(3) ? 1 + t_below(1500) : 0; /* some empty pieces */
            if (d + len[i] > SPACE || s + len[i] > SPACE) return i;
            doff[i] = d, soff[i] = s, d += len[i], s += len[i];
        }
        return n;
    }
    if (sh == STRIDED) {
        size_t w = 1 + t_below(3000), dp = w + t_below(5000), sp = w + t_below(5000);
        if (t_below(2)) dp = w; /* destination rows packed */
        for (unsigned i = 0; i < n; i++) {
            if (d + w > SPACE || s + w > SPACE) return i;
            len[i] = w, doff[i] = d, soff[i] = s, d += dp, s += sp;
        }
        return n;
    }
    unsigned k = 0; /* scattered / mixed: runs of either kind, then jumps */
    while (k < n) {
        unsigned run = 1 + (unsigned)t_below(sh == MIXED ? 64 : 2);
        size_t w = 1 + t_below(2000), gap = t_below(3) ? t_below(9000) : 0;
        for (unsigned r = 0; r < run && k < n; r++, k++) {
            size_t l = sh == MIXED && t_below(2) ? w : 1 + t_below(2000);
            if (d + l > SPACE || s + l > SPACE) return k;
            len[k] = l, doff[k] = d, soff[k] = s;
            d += l + gap;
            s += t_below(2) ? l : l + t_below(7000);
        }
        d += t_below(20000);
        s = t_below(SPACE / 2);
    }
    return n;
}

int main(void)
{
    if (!homi_cuda_available()) {
        printf("SKIP: no usable CUDA GPU\n");
        return 77;
    }
    t_seed_from_env(20261125);
    static const homi_mem_kind kinds[] = {HOMI_MEM_HOST, HOMI_MEM_PINNED, HOMI_MEM_DEVICE};
    static const char *kname[] = {"host", "pinned", "device"};
    char *area[3][2];
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 2; j++)
            REQUIRE(homi_mem_alloc(kinds[k], -1, SPACE, (void **)&area[k][j]) == 0, "alloc %s",
                    kname[k]);
    char *src = malloc(SPACE), *want = malloc(SPACE), *got = malloc(SPACE);
    REQUIRE(src && want && got, "malloc");
    size_t *doff = malloc(MAXN * sizeof *doff), *soff = malloc(MAXN * sizeof *soff),
           *len = malloc(MAXN * sizeof *len);
    void **dp = malloc(MAXN * sizeof *dp);
    const void **sp = malloc(MAXN * sizeof *sp);
    REQUIRE(doff && soff && len && dp && sp, "malloc");
    unsigned long long pieces = 0, bytes = 0, lists = 0;
    for (int round = 0; round < 24; round++)
        for (int sk = 0; sk < 3; sk++)
            for (int dk = 0; dk < 3; dk++) {
                enum shape sh = (enum shape)((round + sk + dk) % NSHAPE);
                char ctx[96];
                snprintf(ctx, sizeof ctx, "%s -> %s, %s, round %d", kname[sk], kname[dk],
                         shape_name[sh], round);
                t_context = ctx;
                unsigned n = make_list(sh, doff, soff, len);
                /* source contents and the destination's old contents */
                t_fill_random(src, SPACE);
                t_fill_random(want, SPACE);
                char *S = area[sk][0], *D = area[dk][1];
                void *d0 = D, *d1 = S;
                const void *s0 = want, *s1 = src;
                size_t l = SPACE;
                REQUIRE(homi_mem_copyv(1, &d0, &s0, &l, -1) == 0, "fill destination");
                REQUIRE(homi_mem_copyv(1, &d1, &s1, &l, -1) == 0, "fill source");
                for (unsigned i = 0; i < n; i++) {
                    memcpy(want + doff[i], src + soff[i], len[i]);
                    dp[i] = D + doff[i];
                    sp[i] = S + soff[i];
                    bytes += len[i];
                }
                CHECK(homi_mem_copyv(n, dp, sp, len, -1) == 0, "homi_mem_copyv of %u pieces", n);
                void *g = got;
                const void *gs = D;
                REQUIRE(homi_mem_copyv(1, &g, &gs, &l, -1) == 0, "copy back");
                long long at = t_first_diff(got, want, SPACE);
                CHECK(at < 0, "%u pieces: first wrong byte at %lld", n, at);
                pieces += n;
                lists++;
                t_bail_if_many();
            }
    printf("homi_mem_copyv: %llu lists, %llu pieces, %llu bytes checked in all 9 directions\n",
           lists, pieces, bytes);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 2; j++)
            homi_mem_free(kinds[k], area[k][j]);
    free(src), free(want), free(got), free(doff), free(soff), free(len), free(dp), free(sp);
    return t_finish("test_mem_copyv");
}
