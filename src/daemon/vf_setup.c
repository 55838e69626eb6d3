/* vf_setup.c - homid --delegate-vf CTRL:VFN (issue 21): before homid owns a
 * delegated controller, the control plane makes it out of an SR-IOV
 * virtual function of the physical function whose kernel controller is
 * CTRL, with the queue (VQ) and interrupt (VI) resources the hints ask for
 * (homi_vf_queues I/O queue pairs, homi_vf_interrupts), through the PF's
 * kernel admin queue (src/nvme/sriov.c); the VF's PCI address becomes
 * homi_delegate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "daemon/homid.h"
#include "homi_nvme.h"

int homid_vf_setup(homi_config *cfg, const char *spec, char *why, size_t whylen)
{
    char ctrl[32];
    unsigned vfn = 1;
    const char *colon = strchr(spec, ':');
    size_t cl = colon ? (size_t)(colon - spec) : strlen(spec);
    char *end = NULL;
    if (colon) vfn = (unsigned)strtoul(colon + 1, &end, 10);
    if (!cl || cl >= sizeof ctrl || strncmp(spec, "nvme", 4) || (colon && (*end || !vfn))) {
        snprintf(why, whylen, "--delegate-vf %s: expected CTRL[:VF], e.g. nvme0:1", spec);
        return HOMI_EINVAL;
    }
    memcpy(ctrl, spec, cl);
    ctrl[cl] = 0;
    unsigned nq = cfg->vf_queues, ni = cfg->vf_interrupts;
    /* the primary's flexible resources go to the secondaries (a no-op when
     * they already have: no reset of the kernel's controller then) */
    int rc = homi_nvme_sriov_release_primary(ctrl, why, whylen);
    char bdf[64] = "";
    if (!rc) rc = homi_nvme_sriov_vf_prepare(ctrl, vfn, nq + 1, ni, bdf, sizeof bdf, why, whylen);
    if (rc) return rc;
    /* (the engine, which sets the log level, does not exist yet) */
    fprintf(stderr,
            "homid: SR-IOV: %s VF %u (%s): %u I/O queue pairs + admin, %u interrupt(s), bound to "
            "vfio-pci\n",
            ctrl, vfn, bdf, nq, ni);
    rc = homi_config_set(cfg, "homi_delegate", bdf);
    if (rc) snprintf(why, whylen, "VF address %s not accepted as homi_delegate", bdf);
    return rc;
}
