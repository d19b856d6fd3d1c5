/*
 * One driver-client scenario, compiled three ways so that their answers and the
 * messages the trace driver records can be compared:
 *   - on Linux with cc against <drvproc.h> and libdrvproc;
 *   - for Windows with mingw against <windows.h> and winmm (the system's manager);
 *   - for Windows with mingw against <drvproc.h> and drvproc.dll (-DUSE_DRVPROC).
 * Usage: client MAIN FAIL LOAD2
 *   MAIN   a trace driver (drivers/trace) answering by default; the alias
 *          "trace.alias" names it with the args "from alias";
 *   FAIL   a copy whose first DRV_OPEN answers 0 (FAIL_OPEN=1);
 *   LOAD2  a copy whose DRV_LOAD answers 2 (LOAD=2).
 * Prints one line per call; the trace logs hold the messages.
 */
#include <stdio.h>
#include <string.h>
#if defined(_WIN32) && !defined(USE_DRVPROC)
#  include <windows.h>
#  include <mmsystem.h>
#  define TEXTW(s) L##s
#else
#  include <drvproc.h>
#  define TEXTW(s) u##s
#endif

/* OpenDriver takes UTF-16 names; the paths here are ASCII. */
static HDRVR open_file(const char *label, const char *path, const char *args, LPARAM l2)
{
    char name[4096];
    WCHAR wide[4096];
    size_t i;
    HDRVR h;

    snprintf(name, sizeof name, "%s%s%s", path, args ? " " : "", args ? args : "");
    for (i = 0; name[i]; i++)
        wide[i] = (WCHAR)(unsigned char)name[i];
    wide[i] = 0;
    h = OpenDriver(wide, NULL, l2);
    printf("%s: open %s\n", label, h ? "ok" : "NULL");
    return h;
}

static void opened(const char *label, HDRVR h)
{
    printf("%s: open %s\n", label, h ? "ok" : "NULL");
}

static void send_message(const char *label, HDRVR h, UINT msg, LPARAM l1, LPARAM l2)
{
    printf("%s: send %#x -> %ld\n", label, msg, (long)SendDriverMessage(h, msg, l1, l2));
}

static void close_it(const char *label, HDRVR h, LPARAM l1, LPARAM l2)
{
    printf("%s: close -> %ld\n", label, (long)CloseDriver(h, l1, l2));
}

int main(int argc, char **argv)
{
    HDRVR file, alias, session, failing, load2;

    if (argc != 4) {
        fprintf(stderr, "usage: client MAIN FAIL LOAD2\n");
        return 2;
    }
    /* First open by file with args, then a second instance by alias; closes with
     * parameters, the last one unloading. */
    file = open_file("file", argv[1], "file args", 0);
    if (!file)
        return 1;
    printf("file: module handle %s\n", GetDriverModuleHandle(file) ? "set" : "NULL");
    send_message("file", file, DRV_QUERYCONFIGURE, 0, 0);
    send_message("file", file, DRV_USER + 1, 5, 6);
    alias = OpenDriver(TEXTW("trace.alias"), NULL, 0);
    opened("alias", alias);
    printf("alias: same module %s\n", GetDriverModuleHandle(alias) == GetDriverModuleHandle(file) ? "yes" : "no");
    send_message("alias", alias, DRV_USER + 2, 7, 8);
    close_it("file", file, 11, 12);
    close_it("alias", alias, 13, 14);

    /* A first open with a non-zero lParam2: the session instance scheme. */
    session = OpenDriver(TEXTW("trace.alias"), TEXTW("Drivers32"), 99);
    opened("session", session);
    send_message("session", session, DRV_USER, 1, 2);
    close_it("session", session, 0, 0);

    /* The first DRV_OPEN fails. */
    failing = open_file("fail", argv[2], NULL, 0);
    if (failing)
        close_it("fail", failing, 0, 0);

    /* DRV_LOAD answers 2: non-zero, but not DRV_SUCCESS. */
    load2 = open_file("load2", argv[3], NULL, 0);
    if (load2)
        close_it("load2", load2, 0, 0);
    return 0;
}
