/* stage.c - device buffers in calls the MPI library serves (writes, and
 * reads the layer does not serve): the bytes count x datatype spans are
 * copied to host memory first (and back after a read), so that an MPI
 * library that is not CUDA-aware never touches device memory. */
#include <stdlib.h>

#include "layer.h"

size_t lyr_span_of(MPI_Count count, MPI_Datatype t, MPI_Aint *tlb)
{
    MPI_Aint lb, ext, text;
    PMPI_Type_get_true_extent(t, tlb, &text);
    PMPI_Type_get_extent(t, &lb, &ext);
    if (count <= 0) return 0;
    return (size_t)(ext * (count - 1) + text);
}

void *lyr_stage_in(const void *buf, MPI_Count count, MPI_Datatype datatype, int copy, void **host,
                   int *rc)
{
    MPI_Aint tlb;
    size_t span = lyr_span_of(count, datatype, &tlb);
    *rc = HOMI_OK;
    *host = (void *)buf;
    if (!span || !buf) return NULL;
    int dev = -1, kind = homi_mem_kind_of((const char *)buf + tlb, span, &dev);
    if (kind != HOMI_MEM_DEVICE) {
        *rc = kind < 0 ? kind : HOMI_OK;
        return NULL;
    }
    char *h = malloc(span);
    if (!h) {
        *rc = HOMI_ENOMEM;
        return NULL;
    }
    if (copy) {
        void *d = h;
        const void *s = (const char *)buf + tlb;
        *rc = homi_mem_copyv(1, &d, &s, &span, dev);
        if (*rc) {
            free(h);
            return NULL;
        }
    }
    *host = h - tlb;
    return h;
}

int lyr_stage_back(void *stage, void *buf, MPI_Count count, MPI_Datatype datatype)
{
    MPI_Aint tlb;
    size_t span = lyr_span_of(count, datatype, &tlb);
    void *d = (char *)buf + tlb;
    const void *s = stage;
    int rc = homi_mem_copyv(1, &d, &s, &span, -1);
    free(stage);
    return rc;
}
