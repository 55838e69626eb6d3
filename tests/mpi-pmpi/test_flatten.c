/* test_flatten.c - the PMPI layer's datatype flattener (mpiio-pmpi/
 * flatten.c) against the MPI library's own reading of each type: the bytes
 * its blocks select from a random buffer, for three consecutive instances,
 * must equal MPI_Pack of the same three instances; size and extent must
 * match.  Every constructor, C and Fortran order, negative displacements,
 * resized and nested types; the cached form must survive MPI_Type_free of
 * a type that contains it. */
#include <mpi.h>

#include "homi_test.h"
#include "layer.h"

#define SPAN (4 << 20)
static unsigned char *mem; /* the types' origin is mem + SPAN / 2 */

static void check(const char *name, MPI_Datatype t)
{
    t_context = name;
    int ni, na, nd, comb;
    MPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
    if (comb != MPI_COMBINER_NAMED) MPI_Type_commit(&t);
    const int count = 3;
    unsigned char *origin = mem + SPAN / 2;
    int psize;
    MPI_Pack_size(count, t, MPI_COMM_SELF, &psize);
    unsigned char *packed = malloc((size_t)psize), *mine = malloc((size_t)psize + 1);
    int pos = 0;
    MPI_Pack(origin, count, t, packed, psize, &pos, MPI_COMM_SELF);
    lyr_flat *f = lyr_flat_get(t);
    REQUIRE(f, "%s: not flattened", name);
    MPI_Aint lb, ext;
    MPI_Count size;
    MPI_Type_get_extent(t, &lb, &ext);
    MPI_Type_size_x(t, &size);
    CHECK(f->lb == lb && f->ext == ext && f->size == size,
          "lb/ext/size %lld/%lld/%lld vs MPI %lld/%lld/%lld", (long long)f->lb, (long long)f->ext,
          (long long)f->size, (long long)lb, (long long)ext, (long long)size);
    int64_t n = 0, sum = 0;
    for (int i = 0; i < count; i++)
        for (int64_t j = 0; j < f->n; j++) {
            int64_t o = i * f->ext + f->off[j];
            REQUIRE(o >= -SPAN / 2 && o + f->len[j] <= SPAN / 2, "block out of range");
            if (n + f->len[j] <= pos) memcpy(mine + n, origin + o, (size_t)f->len[j]);
            n += f->len[j];
        }
    for (int64_t j = 0; j < f->n; j++)
        sum += f->len[j];
    CHECK(sum == size, "blocks hold %lld bytes, type size %lld", (long long)sum, (long long)size);
    CHECK(n == pos, "flattened %lld bytes, MPI_Pack %d", (long long)n, pos);
    if (n == pos) {
        long long d = t_first_diff(mine, packed, (size_t)n);
        CHECK(d < 0, "type map differs from MPI_Pack at byte %lld (%lld blocks)", d,
              (long long)f->n);
    }
    /* cached: the same object the second time */
    lyr_flat *g = lyr_flat_get(t);
    CHECK(g && (g == f || f->n == 1), "not cached");
    lyr_flat_put(g);
    lyr_flat_put(f);
    free(packed);
    free(mine);
    if (comb != MPI_COMBINER_NAMED) MPI_Type_free(&t);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    t_seed_from_env(20);
    mem = malloc(SPAN);
    t_fill_random(mem, SPAN);
    MPI_Datatype t, u, v, w;

    check("named int", MPI_INT);
    MPI_Type_dup(MPI_SHORT_INT, &t);
    check("dup short_int", t);
    MPI_Type_contiguous(100, MPI_DOUBLE_INT, &t);
    check("contiguous double_int", t);
    MPI_Type_vector(7, 3, 5, MPI_INT, &t);
    check("vector", t);
    MPI_Type_create_hvector(6, 2, -40, MPI_DOUBLE, &t);
    check("hvector negative stride", t);
    {
        int bl[4] = {3, 0, 2, 5}, dp[4] = {10, 4, -6, 30};
        MPI_Type_indexed(4, bl, dp, MPI_FLOAT, &t);
        check("indexed (negative, empty block)", t);
        MPI_Aint hdp[4] = {100, 0, -50, 7};
        MPI_Type_create_hindexed(4, bl, hdp, MPI_SHORT, &t);
        check("hindexed", t);
        MPI_Type_create_indexed_block(4, 3, dp, MPI_LONG, &t);
        check("indexed_block", t);
        MPI_Type_create_hindexed_block(4, 2, hdp, MPI_INT, &t);
        check("hindexed_block", t);
    }
    {
        int bl[4] = {2, 1, 3, 1};
        MPI_Aint dp[4] = {0, 16, 40, -24};
        MPI_Datatype ty[4] = {MPI_INT, MPI_DOUBLE, MPI_CHAR, MPI_SHORT_INT};
        MPI_Type_create_struct(4, bl, dp, ty, &t);
        check("struct", t);
    }
    for (int order = 0; order < 2; order++) {
        int o = order ? MPI_ORDER_FORTRAN : MPI_ORDER_C;
        int gs[3] = {9, 8, 7}, ss[3] = {4, 3, 5}, st[3] = {2, 5, 1};
        MPI_Type_create_subarray(3, gs, ss, st, o, MPI_INT, &t);
        check(order ? "subarray 3-D Fortran" : "subarray 3-D C", t);
        MPI_Type_create_subarray(2, gs, ss, st, o, MPI_DOUBLE, &t);
        check(order ? "subarray 2-D Fortran" : "subarray 2-D C", t);
        int dist[2][3] = {{MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_NONE},
                          {MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_CYCLIC}};
        int darg[2][3] = {{MPI_DISTRIBUTE_DFLT_DARG, 2, MPI_DISTRIBUTE_DFLT_DARG},
                          {MPI_DISTRIBUTE_DFLT_DARG, 7, 2}};
        int ps[2][3] = {{2, 3, 1}, {3, 2, 2}};
        int g2[3] = {10, 13, 6};
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < (k ? 12 : 6); r++) {
                char name[64];
                snprintf(name, sizeof name, "darray %d %s rank %d", k, order ? "F" : "C", r);
                MPI_Type_create_darray(k ? 12 : 6, r, 3, g2, dist[k], darg[k], ps[k], o, MPI_INT,
                                       &t);
                check(name, t);
            }
    }
    MPI_Type_vector(3, 2, 4, MPI_INT, &u);
    MPI_Type_create_resized(u, -8, 64, &t);
    check("resized (negative lb, larger extent)", t);
    {
        int bl[2] = {1, 2};
        MPI_Aint dp[2] = {0, 72};
        MPI_Datatype ty[2] = {MPI_DOUBLE, u};
        MPI_Type_create_struct(2, bl, dp, ty, &v);
        MPI_Type_create_resized(v, 0, 200, &w);
        MPI_Type_contiguous(2, w, &t);
        MPI_Type_free(&v);
        check("nested: contiguous of resized struct of vector", t);
        MPI_Type_create_hvector(4, 1, 500, w, &t);
        check("nested: hvector of the same resized struct (cached child)", t);
        MPI_Type_free(&w);
    }
    MPI_Type_free(&u);
    MPI_Type_contiguous(1 << 19, MPI_CHAR, &t);
    check("contiguous 512 Ki chars (one block)", t);
    free(mem);
    MPI_Finalize();
    if (rank == 0) printf("flattener: every type equals MPI_Pack's type map\n");
    return t_finish("test_flatten");
}
