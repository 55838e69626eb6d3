/* cufile_abi.h - the few cuFile types and codes HOMI uses (the ABI of
 * NVIDIA's cufile.h, CUDA 11.4+), so that libcufile can be loaded with
 * dlopen without its header being installed.  Shared by the cuFile path
 * and the cuFile baseline of homi-bench --gpu. */
#ifndef HOMI_PATHS_CUFILE_ABI_H
#define HOMI_PATHS_CUFILE_ABI_H

typedef struct {
    int err;    /* CUfileOpError, 0 = success */
    int cu_err; /* CUresult */
} cufile_error;

typedef struct {
    int type; /* CU_FILE_HANDLE_TYPE_OPAQUE_FD */
    union {
        int fd;
        void *handle;
    } handle;
    const void *fs_ops;
} cufile_descr;

typedef void *cufile_handle;

#define CU_FILE_HANDLE_TYPE_OPAQUE_FD 1
#define CU_FILE_DRIVER_ALREADY_OPEN 5026

#endif
