/* path.c - the registry of I/O paths built into this library and their
 * per-engine set-up.  A path that is not built in or fails to initialise
 * stays unavailable with a reason; requests for it fall back (counted). */
#include "paths/path.h"

#include <stdio.h>
#include <string.h>

#include "core/engine.h"
#include "core/log.h"

static const struct homi_path_ops *const builtin[HOMI_PATH_COUNT] = {
    [HOMI_PATH_KERNEL] = &homi_path_kernel_ops,
    [HOMI_PATH_PASSTHRU] = &homi_path_passthru_ops,
    [HOMI_PATH_CUFILE] = &homi_path_cufile_ops,
    [HOMI_PATH_DELEGATED] = &homi_path_delegated_ops,
};

static const char *const not_built[HOMI_PATH_COUNT] = {
#ifdef HOMI_HAVE_CUDA
    [HOMI_PATH_DEVICE] =
        "GPU threads use it through homi_devq_create() (homi_cuda.h), not homi_pread",
#else
    [HOMI_PATH_DEVICE] = "device-initiated path needs a CUDA build",
#endif
    [HOMI_PATH_HOLE] = "not an I/O path",
};

void homi_paths_init(struct homi_engine *eng)
{
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        struct homi_path_inst *pi = &eng->paths[p];
        memset(pi, 0, sizeof *pi);
        pi->ops = builtin[p];
        if (!pi->ops) {
            snprintf(pi->why, sizeof pi->why, "%s", not_built[p] ? not_built[p] : "not built");
            continue;
        }
        int rc = pi->ops->init(eng, &pi->state, pi->why, sizeof pi->why);
        pi->ok = rc == 0;
        if (!pi->ok) homi_log(HOMI_LOG_INFO, "path %s unavailable: %s", pi->ops->name, pi->why);
    }
}

void homi_paths_fini(struct homi_engine *eng)
{
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        struct homi_path_inst *pi = &eng->paths[p];
        if (pi->ok && pi->ops->fini) pi->ops->fini(pi->state);
        pi->ok = 0;
        pi->state = NULL;
    }
}
