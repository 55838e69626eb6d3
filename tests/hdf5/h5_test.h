/* h5_test.h - helpers shared by the HDF5 driver tests: file access
 * property lists for sec2 and H5FD_homi, HDF5 call checks, and a search of
 * the HDF5 error stack for the text of an error. */
#ifndef HOMI_H5_TEST_H
#define HOMI_H5_TEST_H

#include "H5FDhomi.h"
#include "homi_test.h"

#define H5_OK(expr)                                                                                \
    do {                                                                                           \
        if ((expr) < 0) {                                                                          \
            T_FAIL("%s failed", #expr);                                                            \
            H5Eprint2(H5E_DEFAULT, stderr);                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static inline hid_t t_fapl_sec2(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_OK(fapl);
    H5_OK(H5Pset_fapl_sec2(fapl));
    return fapl;
}

/* H5FD_homi with hints text (NULL: defaults). */
static inline hid_t t_fapl_homi(const char *hints)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_OK(fapl);
    H5FD_homi_config_t cfg;
    H5_OK(H5FD_homi_config_init(&cfg));
    if (hints) snprintf(cfg.hints, sizeof cfg.hints, "%s", hints);
    H5_OK(H5Pset_fapl_homi(fapl, &cfg));
    return fapl;
}

/* Does the current HDF5 error stack contain text?  (Clears the stack.) */
static char t_h5_needle[256];
static int t_h5_found;
static herr_t t_h5_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    (void)data;
    if (e->desc && strstr(e->desc, t_h5_needle)) t_h5_found = 1;
    return 0;
}

static inline int t_h5_error_has(const char *text)
{
    snprintf(t_h5_needle, sizeof t_h5_needle, "%s", text);
    t_h5_found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, t_h5_walk, NULL);
    if (!t_h5_found) {
        fprintf(stderr, "error stack without \"%s\":\n", text);
        H5Eprint2(H5E_DEFAULT, stderr);
    }
    H5Eclear2(H5E_DEFAULT);
    return t_h5_found;
}

/* Quiet HDF5's automatic error printing (expected failures). */
static inline void t_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

#endif
