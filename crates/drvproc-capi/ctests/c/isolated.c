/*
 * A client of a driver hosted in a process of its own (DRVPROC_ISOLATE=1, or the
 * registry's marker of its alias), which crashes on a message as configured.
 * Usage: isolated NAME send|close|open
 *   send:  the driver crashes on DRV_USER; the send answers 0 and says why, the
 *          handle is then invalid, and a new open starts a new host.
 *   close: the driver crashes on DRV_CLOSE; CloseDriver answers 0 and says why.
 *   open:  the driver crashes on DRV_OPEN; OpenDriver answers NULL and says why.
 * Prints one line per step; the test harness checks them. The process must live.
 */
#include <stdio.h>
#include <string.h>
#include <drvproc.h>

int main(int argc, char **argv)
{
    HDRVR h;

    if (argc != 3) {
        fprintf(stderr, "usage: isolated NAME send|close|open\n");
        return 2;
    }
    h = OpenDriverA(argv[1], NULL, 0);
    if (!h) {
        printf("open -> NULL: %s\n", drvproc_last_error());
        printf("alive\n");
        return strcmp(argv[2], "open") == 0 ? 0 : 1;
    }
    printf("open: ok\n");
    printf("hosted: %s\n", GetDriverModuleHandle(h) == NULL ? "yes" : "no");
    printf("DRV_USER+1 -> %ld\n", (long)SendDriverMessage(h, DRV_USER + 1, 0, 0));
    if (strcmp(argv[2], "send") == 0) {
        printf("DRV_USER -> %ld: %s\n", (long)SendDriverMessage(h, DRV_USER, 0, 0), drvproc_last_error());
        printf("DRV_USER+1 after -> %ld: %s\n", (long)SendDriverMessage(h, DRV_USER + 1, 0, 0),
               drvproc_last_error());
        printf("flags after -> %lu\n", (unsigned long)GetDriverFlags(h));
        printf("CloseDriver after -> %ld: %s\n", (long)CloseDriver(h, 0, 0), drvproc_last_error());
        h = OpenDriverA(argv[1], NULL, 0);
        printf("reopen: %s\n", h ? "ok" : drvproc_last_error());
        printf("DRV_USER+1 reopened -> %ld\n", (long)SendDriverMessage(h, DRV_USER + 1, 0, 0));
        printf("CloseDriver reopened -> %ld\n", (long)CloseDriver(h, 0, 0));
    } else {
        printf("CloseDriver -> %ld: %s\n", (long)CloseDriver(h, 0, 0), drvproc_last_error());
        printf("flags after -> %lu\n", (unsigned long)GetDriverFlags(h));
    }
    printf("alive\n");
    return 0;
}
