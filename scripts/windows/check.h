/*
 * What the codec test programs under scripts/windows share: one PASS/FAIL line per
 * check, counted for the summary line each program ends with, and UTF-16 strings
 * (the codecs' names) printed as UTF-8. Included by exactly one source file per
 * program, so its definitions are static.
 */
#ifndef DRVPROC_WINDOWS_CHECK_H
#define DRVPROC_WINDOWS_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s: ", ok ? "PASS" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (ok)
        passed++;
    else
        failed++;
}

/* UTF-16 to UTF-8 in one of four static buffers: at most four per printf. */
static const char *narrow(const WCHAR *w)
{
    static char buf[4][512];
    static int slot;
    char *out = buf[slot++ & 3];
    if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, out, sizeof buf[0], NULL, NULL))
        strcpy(out, "?");
    return out;
}

#endif
