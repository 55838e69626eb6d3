/* test_passthru_plan.c - the passthrough command planner and its
 * pre-submission check (src/paths/passthru_plan.h) on random synthetic
 * extent maps, executed against a simulated namespace: for 512 B and 4 KiB
 * LBAs, with and without a partition offset, random unaligned ranges must
 * give exactly the file's bytes; every command must pass the check, be
 * LBA-aligned and within the transfer limit; tampered commands (other
 * LBAs, other extent, too long, outside the namespace) must be refused.
 * The same planner runs against a real NVMe controller in tests/vm. */
#include "cplane/extmap.h"
#include "homi_test.h"
#include "paths/passthru_plan.h"

#define FSB 4096ull

static uint8_t dev_byte(uint64_t d)
{
    return (uint8_t)((d * 2654435761ull) >> 13);
}
static uint8_t unsafe_byte(uint64_t x)
{
    return (uint8_t)(x * 7 + 3);
}

/* The bytes the file holds in [x, x+len): what a read through the file
 * system gives. */
static void file_bytes(const struct homi_extmap *m, const struct homi_pt_geom *g, uint64_t x,
                       uint64_t len, uint8_t *out)
{
    for (uint64_t k = 0; k < len;) {
        uint64_t at = x + k, n = len - k;
        const struct homi_extent *e = NULL;
        for (size_t i = 0; i < m->n && !e; i++)
            if (at >= m->ext[i].logical && at < m->ext[i].logical + m->ext[i].length)
                e = &m->ext[i];
        if (e && e->logical + e->length - at < n) n = e->logical + e->length - at;
        for (uint64_t j = 0; j < n; j++) {
            uint64_t y = at + j;
            if (!e)
                out[k + j] = unsafe_byte(y); /* past the map */
            else if (e->cls == HOMI_EXT_HOLE)
                out[k + j] = 0;
            else if (e->cls != HOMI_EXT_DATA)
                out[k + j] = unsafe_byte(y);
            else
                out[k + j] = dev_byte(g->part_start + e->physical + (y - e->logical));
        }
        k += n;
    }
}

static void random_map(struct homi_extmap *m, uint64_t *fsize)
{
    memset(m, 0, sizeof *m);
    size_t n = 1 + t_below(12);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = FSB * (1 + t_below(300));
        int r = (int)t_below(10), cls = HOMI_EXT_DATA;
        if (r == 7) cls = HOMI_EXT_HOLE;
        if (r == 8) cls = HOMI_EXT_UNWRITTEN;
        if (r == 9) cls = HOMI_EXT_DELALLOC;
        uint64_t phys = cls == HOMI_EXT_HOLE ? 0 : FSB * (16 + t_below(50000));
        REQUIRE(homi_extmap_push(m, pos, phys, len, 0, cls) == 0, "push");
        pos += len;
    }
    /* the last extent ends inside its block, as at EOF */
    uint64_t cut = t_below(FSB);
    m->ext[m->n - 1].length -= cut;
    *fsize = m->file_size = pos - cut;
}

static void run_case(unsigned lba, uint64_t part_start, uint32_t max_cmd, int iters)
{
    struct homi_pt_geom g = {part_start, part_start + FSB * 60000, lba, max_cmd};
    char ctx[96];
    snprintf(ctx, sizeof ctx, "lba %u part %llu max %u", lba, (unsigned long long)part_start,
             max_cmd);
    t_context = ctx;
    size_t cap = 4096;
    struct homi_pt_piece *p = malloc(cap * sizeof *p);
    uint8_t *got = malloc(4u << 20), *want = malloc(4u << 20);
    REQUIRE(p && got && want, "oom");
    for (int it = 0; it < iters; it++) {
        struct homi_extmap m;
        uint64_t fsize;
        random_map(&m, &fsize);
        uint64_t off = t_below(fsize + 8192);
        uint32_t len = (uint32_t)(1 + t_below(it % 3 ? 20000 : (4u << 20) - 1));
        size_t n = homi_pt_plan(&m, &g, off, len, NULL, 0);
        REQUIRE(n > 0 && n <= cap, "plan needs %zu pieces", n);
        size_t n2 = homi_pt_plan(&m, &g, off, len, p, cap);
        CHECK(n2 == n, "sizing call said %zu, plan gave %zu", n, n2);
        memset(got, 0xee, len);
        uint64_t pos = off;
        for (size_t i = 0; i < n; i++) {
            const struct homi_pt_piece *q = &p[i];
            CHECK(q->foff == pos, "piece %zu starts at %llu, expected %llu", i,
                  (unsigned long long)q->foff, (unsigned long long)pos);
            CHECK(q->dst_off == q->foff - off, "dst_off");
            CHECK(q->len > 0, "empty piece");
            pos = q->foff + q->len;
            uint8_t *d = got + q->dst_off;
            switch (q->kind) {
            case HOMI_PT_NVME:
                CHECK(homi_pt_check(&m, &g, q) == 0, "NVMe piece %zu refused", i);
                CHECK((uint64_t)q->nlb * lba == q->len, "NVMe piece not whole LBAs");
                CHECK(q->nlb * lba <= max_cmd, "command above the limit");
                for (uint32_t k = 0; k < q->len; k++)
                    d[k] = dev_byte(q->slba * lba + k);
                break;
            case HOMI_PT_BOUNCE:
                CHECK(homi_pt_check(&m, &g, q) == 0, "bounce piece %zu refused", i);
                CHECK(q->nlb == 1 && q->skip + q->len <= lba, "bounce piece shape");
                for (uint32_t k = 0; k < q->len; k++)
                    d[k] = dev_byte(q->slba * lba + q->skip + k);
                break;
            case HOMI_PT_KERNEL:
                CHECK(homi_pt_check(&m, &g, q) != 0, "kernel piece passed the check");
                file_bytes(&m, &g, q->foff, q->len, d);
                break;
            case HOMI_PT_ZERO: memset(d, 0, q->len); break;
            default: T_FAIL("piece kind %d", q->kind);
            }
            if (q->kind == HOMI_PT_NVME || q->kind == HOMI_PT_BOUNCE) {
                struct homi_pt_piece bad = *q;
                bad.slba++;
                CHECK(homi_pt_check(&m, &g, &bad) != 0, "shifted command accepted");
                bad = *q;
                bad.nlb += (uint32_t)(max_cmd / lba);
                CHECK(homi_pt_check(&m, &g, &bad) != 0, "over-long command accepted");
                bad = *q;
                bad.ext_logical += FSB;
                CHECK(homi_pt_check(&m, &g, &bad) != 0, "command of another extent accepted");
                bad = *q;
                bad.slba = g.ns_bytes / lba;
                CHECK(homi_pt_check(&m, &g, &bad) != 0, "command past the namespace accepted");
            }
        }
        CHECK(pos == off + len, "pieces end at %llu, range at %llu", (unsigned long long)pos,
              (unsigned long long)(off + len));
        file_bytes(&m, &g, off, len, want);
        for (uint32_t k = 0; k < len; k++) {
            if (got[k] != want[k]) {
                T_FAIL("byte %llu: got %u want %u (off %llu len %u)", (unsigned long long)(off + k),
                       got[k], want[k], (unsigned long long)off, len);
                break;
            }
        }
        homi_extmap_free(&m);
        if (t_failures > 20) break;
    }
    printf("%s: %d random ranges\n", ctx, iters);
    free(p);
    free(got);
    free(want);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    t_seed_from_env(20261125);
    run_case(512, 0, 128 << 10, 300);
    run_case(4096, 0, 512 << 10, 300);
    run_case(512, 3u << 20, 504 << 10, 300);
    run_case(4096, 3u << 20, 4096, 300); /* one LBA per command */
    run_case(512, 1048576 + 512 * 7, 64 << 10, 200);
    return t_finish("test_passthru_plan");
}
