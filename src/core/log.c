/* log.c - leveled logging to stderr. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int homi_log_level = HOMI_LOG_WARN;

static const char *const names[] = {"error", "warn", "info", "debug"};

const char *homi_log_level_name(int level)
{
    if (level < 0 || level > HOMI_LOG_DEBUG) return "?";
    return names[level];
}

int homi_log_level_parse(const char *s)
{
    for (int i = 0; i <= HOMI_LOG_DEBUG; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    if (strcasecmp(s, "warning") == 0) return HOMI_LOG_WARN;
    return -1;
}

void homi_log(int level, const char *fmt, ...)
{
    if (level > homi_log_level) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "homi: %s: %s\n", homi_log_level_name(level), line);
}
