/*
 * Opens one driver by file and prints its answer to each message of the
 * configuration flow, then to a custom message, and the close. Compiled on Linux
 * against <drvproc.h> and libdrvproc, and for Windows against <windows.h> and
 * winmm, so that one driver's answers through both managers can be compared.
 * Usage: messages DRIVER
 */
#include <stdio.h>
#if defined(_WIN32)
#  include <windows.h>
#  include <mmsystem.h>
#  define TEXTW(s) L##s
#else
#  include <drvproc.h>
#  define TEXTW(s) u##s
#endif

int main(int argc, char **argv)
{
    WCHAR wide[4096];
    DRVCONFIGINFO dci;
    HDRVR h;
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: messages DRIVER\n");
        return 2;
    }
    for (i = 0; argv[1][i] && i + 1 < sizeof wide / sizeof wide[0]; i++)
        wide[i] = (WCHAR)(unsigned char)argv[1][i];
    wide[i] = 0;
    h = OpenDriver(wide, NULL, 0);
    printf("open: %s\n", h ? "ok" : "NULL");
    if (!h)
        return 1;
    dci.dwDCISize = sizeof dci;
    dci.lpszDCISectionName = TEXTW("Drivers32");
    dci.lpszDCIAliasName = TEXTW("sample");
    printf("DRV_QUERYCONFIGURE -> %ld\n", (long)SendDriverMessage(h, DRV_QUERYCONFIGURE, 0, 0));
    printf("DRV_CONFIGURE -> %ld\n", (long)SendDriverMessage(h, DRV_CONFIGURE, 0, (LPARAM)&dci));
    printf("DRV_INSTALL -> %ld\n", (long)SendDriverMessage(h, DRV_INSTALL, 0, (LPARAM)&dci));
    printf("DRV_REMOVE -> %ld\n", (long)SendDriverMessage(h, DRV_REMOVE, 0, (LPARAM)&dci));
    printf("DRV_USER+1 -> %ld\n", (long)SendDriverMessage(h, DRV_USER + 1, 5, 6));
    printf("close -> %ld\n", (long)CloseDriver(h, 0, 0));
    return 0;
}
