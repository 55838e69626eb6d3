/* clock.h - monotonic time in nanoseconds. */
#ifndef HOMI_CORE_CLOCK_H
#define HOMI_CORE_CLOCK_H
#include <stdint.h>
uint64_t homi_now_ns(void);
#endif
