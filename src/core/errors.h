/* errors.h - mapping between errno values and homi_err. */
#ifndef HOMI_CORE_ERRORS_H
#define HOMI_CORE_ERRORS_H
int homi_err_from_errno(int e); /* e > 0 */
#endif
