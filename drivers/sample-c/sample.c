/*
 * The sample driver of the "Creating a DriverProc function" chapter, in C, written
 * the way the Windows documentation writes it: the 32-bit-era prototype without
 * CALLBACK, a switch over the DRV_* messages, DefDriverProc for the rest.
 *
 * Build (from the repository root, after `cargo build -p drvproc-capi`):
 *   cc -shared -fPIC -Wall -Wextra -I crates/drvproc-capi/include \
 *      drivers/sample-c/sample.c -o libdrvsamplec.so -L target/debug -ldrvproc
 */
#include <drvproc.h>

LONG DriverProc(DWORD dwDriverId, HDRVR hdrvr, UINT msg, LONG lParam1, LONG lParam2)
{
    switch (msg) {
    case DRV_LOAD:
        return (LONG)1L;          /* accept the load */
    case DRV_FREE:
        return (LONG)1L;
    case DRV_OPEN:
        return (LONG)1L;          /* the instance id: any non-zero value */
    case DRV_CLOSE:
        return (LONG)1L;
    case DRV_ENABLE:
        return (LONG)1L;
    case DRV_DISABLE:
        return (LONG)1L;
    case DRV_QUERYCONFIGURE:
        return (LONG)0L;          /* no configuration dialog */
    case DRV_CONFIGURE:
        return DRVCNF_OK;
    case DRV_INSTALL:
        return DRVCNF_OK;
    case DRV_REMOVE:
        return DRVCNF_OK;
    default:
        return (LONG)DefDriverProc(dwDriverId, hdrvr, msg, lParam1, lParam2);
    }
}
