/*
 * A C driver that talks to its own instance through the C ABI, as any driver linked
 * with -ldrvproc may: its DRV_USER handler calls
 * SendDriverMessage(hdrvr, DRV_USER + 1, ...) with the handle it was called with,
 * and answers what that returned. DRV_USER + 1 answers SELFSEND_MAGIC when it
 * reaches the instance it was addressed to (the id and handle DRV_OPEN saw), and
 * SELFSEND_WRONG otherwise; whatever another driver answers is passed on as is.
 *
 * The driver may be hosted by any manager (drvctl, a Rust program with its own
 * DriverManager), while its SendDriverMessage goes through libdrvproc. To catch a
 * handle that one of them takes for one of its own instances, DRV_OPEN's args name
 * another driver file, which the instance opens with OpenDriverA and keeps open
 * until its DRV_CLOSE.
 *
 * One instance at a time (the tests open one).
 *
 * Build (from the repository root, after `cargo build -p drvproc-capi`):
 *   cc -shared -fPIC -Wall -Wextra -I crates/drvproc-capi/include \
 *      drivers/selfsend-c/selfsend.c -o libselfsend.so -L target/debug -ldrvproc
 */
#include <drvproc.h>

#define SELFSEND_ID 0x51
#define SELFSEND_MAGIC 0x5E1F
#define SELFSEND_WRONG 0x0BAD

static HDRVR own;   /* the handle DRV_OPEN was sent with */
static HDRVR other; /* the other driver's instance, while open */

/* Opens the driver file named by DRV_OPEN's args (UTF-16, ASCII expected). */
static HDRVR open_other(LPCWSTR args)
{
    char path[4096];
    size_t i;

    if (!args)
        return NULL;
    for (i = 0; args[i] && i + 1 < sizeof path; i++)
        path[i] = (char)args[i];
    path[i] = 0;
    return OpenDriverA(path, NULL, 0);
}

LRESULT CALLBACK DriverProc(DWORD_PTR dwDriverId, HDRVR hdrvr, UINT msg, LPARAM lParam1, LPARAM lParam2)
{
    switch (msg) {
    case DRV_LOAD:
    case DRV_ENABLE:
    case DRV_DISABLE:
    case DRV_FREE:
        return 1;
    case DRV_OPEN:
        own = hdrvr;
        other = open_other((LPCWSTR)lParam1);
        return SELFSEND_ID;
    case DRV_CLOSE:
        if (other)
            CloseDriver(other, 0, 0);
        other = NULL;
        own = NULL;
        return 1;
    case DRV_USER:
        return SendDriverMessage(hdrvr, DRV_USER + 1, 0x11, 0x22);
    case DRV_USER + 1:
        return dwDriverId == SELFSEND_ID && hdrvr == own && lParam1 == 0x11 && lParam2 == 0x22 ? SELFSEND_MAGIC
                                                                                            : SELFSEND_WRONG;
    default:
        return DefDriverProc(dwDriverId, hdrvr, msg, lParam1, lParam2);
    }
}
