/* dlpack.h - the DLPack C ABI as far as the homi extension needs it to take
 * a tensor from a capsule: the legacy DLManagedTensor ("dltensor" capsules,
 * DLPack 0.x) and DLManagedTensorVersioned ("dltensor_versioned", DLPack
 * 1.x, what CuPy 14 and NumPy 2 export).  Layout follows the DLPack
 * specification (dmlc/dlpack). */
#ifndef HOMI_PY_DLPACK_H
#define HOMI_PY_DLPACK_H

#include <stdint.h>

enum { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 };
enum { kDLOpaqueHandle = 3 };

typedef struct {
    int32_t device_type;
    int32_t device_id;
} DLDevice;

typedef struct {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
} DLDataType;

typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements; NULL: compact row-major */
    uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

typedef struct {
    uint32_t major;
    uint32_t minor;
} DLPackVersion;

enum { DLPACK_FLAG_READ_ONLY = 1u << 0 };

typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags;
    DLTensor dl_tensor;
} DLManagedTensorVersioned;

#endif /* HOMI_PY_DLPACK_H */
