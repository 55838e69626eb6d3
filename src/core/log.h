/* log.h - leveled logging to stderr ("homi: <level>: ..."), level from the
 * homi_log_level hint / HOMI_LOG_LEVEL. */
#ifndef HOMI_CORE_LOG_H
#define HOMI_CORE_LOG_H

enum { HOMI_LOG_ERROR = 0, HOMI_LOG_WARN = 1, HOMI_LOG_INFO = 2, HOMI_LOG_DEBUG = 3 };

extern int homi_log_level;
void homi_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *homi_log_level_name(int level);
int homi_log_level_parse(const char *s); /* -1 if unknown */

#define HOMI_DEBUG(...)                                                                            \
    do {                                                                                           \
        if (homi_log_level >= HOMI_LOG_DEBUG) homi_log(HOMI_LOG_DEBUG, __VA_ARGS__);               \
    } while (0)

#endif
