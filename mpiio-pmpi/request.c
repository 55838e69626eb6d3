/* request.c - nonblocking reads the layer serves complete inside the call;
 * the application still gets a real MPI_Request (a generalized request,
 * already complete) so MPI_Wait, MPI_Test and MPI_Waitall work on it and
 * its status carries the exact byte count and error. */
#include <stdlib.h>

#include "layer.h"

struct done {
    MPI_Status st;
    int err;
};

static int query(void *extra, MPI_Status *st)
{
    struct done *d = extra;
    *st = d->st;
    MPI_Count bytes = 0;
    PMPI_Get_elements_x(&d->st, MPI_BYTE, &bytes);
    PMPI_Status_set_elements_x(st, MPI_BYTE, bytes);
    PMPI_Status_set_cancelled(st, 0);
    st->MPI_ERROR = d->err;
    return d->err;
}

static int release(void *extra)
{
    free(extra);
    return MPI_SUCCESS;
}

static int cancel(void *extra, int complete)
{
    (void)extra;
    (void)complete;
    return MPI_SUCCESS;
}

int lyr_request_done(const MPI_Status *st, int err, MPI_Request *req)
{
    struct done *d = calloc(1, sizeof *d);
    if (!d) return MPI_ERR_NO_MEM;
    if (st != MPI_STATUS_IGNORE)
        d->st = *st;
    else
        PMPI_Status_set_elements_x(&d->st, MPI_BYTE, 0);
    d->err = err;
    int rc = PMPI_Grequest_start(query, release, cancel, d, req);
    if (rc != MPI_SUCCESS) {
        free(d);
        return rc;
    }
    return PMPI_Grequest_complete(*req);
}
