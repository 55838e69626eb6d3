/* H5FDhomi_plugin.c - the dynamically loaded VFD plugin entry points of
 * HDF5 1.14 (HDF5_DRIVER=homi with HDF5_PLUGIN_PATH naming the directory
 * of libhomi_hdf5.so).  Older HDF5 versions load no VFD plugins: there
 * this file compiles to nothing. */
#include "H5FDhomi_int.h"

#if HOMI_H5_114
H5PL_type_t H5PLget_plugin_type(void)
{
    return H5PL_TYPE_VFD;
}

const void *H5PLget_plugin_info(void)
{
    return &H5FD_homi_class_g;
}
#else
/* ISO C forbids an empty translation unit */
typedef int homi_h5_plugin_unused;
#endif
