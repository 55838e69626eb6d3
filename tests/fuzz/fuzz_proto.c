/* fuzz_proto.c - libFuzzer target for homid's protocol checks
 * (src/cplane/homid_proto.c): every message parser, the request and
 * completion checks, the shared-region header check and ring arithmetic get
 * arbitrary bytes.  Built with clang -fsanitize=fuzzer,address,undefined by
 * scripts/fuzz.sh; without HOMI_LIBFUZZER it has a main() that replays
 * files given on the command line (the seed corpus runs as a unit test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cplane/homid_proto.h"
#include "homi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* first byte: descriptor count that "came with" the record */
    unsigned nfds = size ? data[0] % (HOMID_MAX_FDS + 2) : 0;
    const uint8_t *rec = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;
    struct homid_msg m;
    char why[160];
    int rc = homid_parse(rec, len, nfds, &m, why, sizeof why);
    if (rc == 0) {
        /* what a parsed message promises */
        if (m.h.magic != HOMID_MAGIC || m.h.len > HOMID_PAYLOAD_MAX || m.nfds != nfds) abort();
        if (m.h.type == HOMID_ERROR && strlen(m.u.error.text) >= HOMID_ERRTEXT) abort();
        if (m.h.type == HOMID_HELLO && m.u.hello.min_version > m.u.hello.max_version) abort();
        if (m.h.type == HOMID_HELLO && strlen(m.u.hello.job) >= HOMID_JOB) abort();
        if (m.h.type == HOMID_ADMIN && strlen(m.u.text) != m.h.len) abort();
        if (m.h.type == HOMID_DEVQ_CREATE) { /* a GPU queue's region homid may map */
            struct homid_dq_hdr l;
            const struct homid_devq_create *c = &m.u.dq_create;
            if (homid_dq_layout(c->slots, c->inline_max, c->chunks, c->chunk_size, &l, NULL, 0) ||
                l.size != c->size || l.size > HOMID_DQ_REGION_MAX ||
                l.cdata_off + (uint64_t)c->chunks * c->chunk_size > l.size || !c->threads ||
                c->threads > HOMID_DQ_THREADS_MAX || c->max_request < c->inline_max)
                abort();
        }
        if (m.h.type == HOMID_DEVQ &&
            (m.u.dq_op.op < HOMID_DQ_EXPORT || m.u.dq_op.op > HOMID_DQ_PAUSE))
            abort();
        if (m.h.type == HOMID_QPAIRS && (!m.u.qpairs.want || m.u.qpairs.want > HOMID_QPAIRS_MAX))
            abort();
    } else if (rc >= 0 || strlen(why) >= sizeof why) {
        abort();
    }
    /* the same bytes as a request, a completion and a region header */
    if (len >= sizeof(struct homid_sqe) + 8) {
        struct homid_sqe q;
        memcpy(&q, rec, sizeof q);
        uint32_t slots, ss;
        memcpy(&slots, rec + sizeof q, 4);
        memcpy(&ss, rec + sizeof q + 4, 4);
        slots = slots % (HOMID_SLOTS_MAX + 1);
        if (homid_sqe_check(&q, slots, ss, why, sizeof why) == 0) {
            if (q.slot >= slots || q.len == 0 || q.len > ss || q.offset + q.len < q.offset) abort();
        }
        struct homid_cqe c;
        memcpy(&c, rec, sizeof c);
        if (homid_cqe_check(&c, slots, ss) == 0 && (c.slot >= slots || c.result > (int64_t)ss))
            abort();
    }
    if (len >= sizeof(struct homid_shm_hdr) + 8) {
        struct homid_shm_hdr h;
        memcpy(&h, rec, sizeof h);
        uint64_t mapped;
        memcpy(&mapped, rec + sizeof h, 8);
        if (homid_shm_check(&h, mapped) == 0) {
            /* a header that passes describes rings and slots inside the mapping */
            if (h.size > mapped ||
                h.sq_off + (uint64_t)h.sq_entries * sizeof(struct homid_sqe) > h.cq_off ||
                h.cq_off + (uint64_t)h.cq_entries * sizeof(struct homid_cqe) > h.data_off ||
                h.data_off + (uint64_t)h.slots * h.slot_size > h.size)
                abort();
        }
    }
    if (len >= 12) {
        uint32_t a, b, n;
        memcpy(&a, rec, 4);
        memcpy(&b, rec + 4, 4);
        memcpy(&n, rec + 8, 4);
        long u = homid_ring_used(a, b, n);
        if (u > (long)n) abort();
    }
    return 0;
}

#ifndef HOMI_LIBFUZZER
static void seed(const char *dir, const char *name, uint8_t nfds, uint16_t type, const void *p,
                 uint32_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct homid_hdr h = {HOMID_MAGIC, HOMID_VERSION, type, len, 7};
    fwrite(&nfds, 1, 1, f);
    fwrite(&h, sizeof h, 1, f);
    if (len) fwrite(p, len, 1, f);
    fclose(f);
}

/* One valid record of every message type: where the fuzzer starts. */
static void write_seeds(const char *dir)
{
    struct homid_hello hello = {1, 1, 1234, 32, 1 << 20, "job-42"};
    struct homid_hello_ok ok = {1, 32, 1 << 20, 32, 32, 1024, 33 << 20, "node"};
    struct homid_open op = {0, 0};
    struct homid_open_ok ook = {65537, 0, 12345};
    struct homid_close cl = {65537, 0};
    struct homid_stats_ok so;
    memset(&so, 0, sizeof so);
    struct homid_error er = {HOMI_EBADF, "file id 3 was not passed by this client"};
    seed(dir, "hello", 0, HOMID_HELLO, &hello, sizeof hello);
    seed(dir, "hello_v1", 0, HOMID_HELLO, &hello, HOMID_HELLO_MIN); /* before job names */
    seed(dir, "admin", 0, HOMID_ADMIN, "weight 1234 4", 13);
    struct homid_admin_ok aok = {100};
    seed(dir, "admin_ok", 1, HOMID_ADMIN_OK, &aok, sizeof aok);
    seed(dir, "hello_ok", 3, HOMID_HELLO_OK, &ok, sizeof ok);
    seed(dir, "open", 1, HOMID_OPEN, &op, sizeof op);
    seed(dir, "open_ok", 0, HOMID_OPEN_OK, &ook, sizeof ook);
    seed(dir, "close", 0, HOMID_CLOSE, &cl, sizeof cl);
    seed(dir, "stats", 0, HOMID_STATS, NULL, 0);
    seed(dir, "stats_ok", 0, HOMID_STATS_OK, &so, sizeof so);
    seed(dir, "report", 0, HOMID_REPORT, &so.client, sizeof so.client);
    seed(dir, "ok", 0, HOMID_OK, NULL, 0);
    seed(dir, "error", 0, HOMID_ERROR, &er, (uint32_t)(sizeof er.code + strlen(er.text)));
    struct homid_dq_hdr dl;
    homid_dq_layout(1024, 16 << 10, 8, 8 << 20, &dl, NULL, 0);
    struct homid_devq_create dc = {1024, 16 << 10, 8, 8 << 20, 2, 0, 64 << 20, dl.size};
    struct homid_devq_op dop = {HOMID_DQ_EXPORT, 1, 65537, 0, 0};
    struct homid_devq_ok dok = {1, 2, 0x100000001ull};
    seed(dir, "devq_create", 2, HOMID_DEVQ_CREATE, &dc, sizeof dc);
    seed(dir, "devq_export", 0, HOMID_DEVQ, &dop, sizeof dop);
    seed(dir, "devq_ok", 0, HOMID_DEVQ_OK, &dok, sizeof dok);
    struct homid_qpairs qp = {2, 0};
    struct homid_qpairs_ok qok = {2, 4, 2, 0};
    seed(dir, "qpairs", 0, HOMID_QPAIRS, &qp, sizeof qp);
    seed(dir, "qpairs_ok", 0, HOMID_QPAIRS_OK, &qok, sizeof qok);
    struct homid_shm_hdr sh;
    homid_shm_layout(32, 1 << 20, &sh);
    char path[4096];
    snprintf(path, sizeof path, "%s/shm", dir);
    FILE *f = fopen(path, "wb");
    uint64_t mapped = sh.size;
    uint8_t z = 0;
    if (f) {
        fwrite(&z, 1, 1, f);
        fwrite(&sh, sizeof sh, 1, f);
        fwrite(&mapped, 8, 1, f);
        fclose(f);
    }
    struct homid_sqe q = {1, 4096, 65537, 3, 4096, HOMI_PATH_AUTO};
    uint32_t lim[2] = {32, 1 << 20};
    snprintf(path, sizeof path, "%s/sqe", dir);
    if ((f = fopen(path, "wb"))) {
        fwrite(&z, 1, 1, f);
        fwrite(&q, sizeof q, 1, f);
        fwrite(lim, sizeof lim, 1, f);
        fclose(f);
    }
}

/* Replay: each argument is a file of input bytes; --seeds DIR writes the
 * seed corpus into DIR and replays it. */
int main(int argc, char **argv)
{
    int n = 0;
    if (argc == 3 && !strcmp(argv[1], "--seeds")) {
        write_seeds(argv[2]);
        const char *names[] = {"hello",    "hello_ok", "open", "open_ok", "close", "stats",
                               "stats_ok", "report",   "ok",   "error",   "shm",   "sqe"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[2], names[i]);
            FILE *f = fopen(path, "rb");
            static uint8_t buf[4096];
            size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
            if (f) fclose(f);
            struct homid_msg m;
            char why[160];
            /* every message seed must parse */
            if (i < 10 && homid_parse(buf + 1, len - 1, buf[0], &m, why, sizeof why)) {
                fprintf(stderr, "seed %s does not parse: %s\n", names[i], why);
                return 1;
            }
            LLVMFuzzerTestOneInput(buf, len);
            n++;
        }
        printf("fuzz_proto: %d seeds written to %s and replayed\n", n, argv[2]);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        n++;
    }
    printf("fuzz_proto: %d inputs replayed without a crash\n", n);
    return 0;
}
#endif
