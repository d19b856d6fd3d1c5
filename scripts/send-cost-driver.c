/* The trivial driver of scripts/send-cost.c: answers 1 to the lifecycle messages
 * (so that it opens and closes) and 0 to everything else, touching no memory, so
 * that a call of it costs only the call itself.
 *
 *   cc -O2 -shared -fPIC -I crates/drvproc-capi/include -o libsendcost.so scripts/send-cost-driver.c
 *   x86_64-w64-mingw32-gcc -O2 -shared -I crates/drvproc-capi/include -o sendcost.dll scripts/send-cost-driver.c
 *
 * Only drvproc.h's types and constants are used (no function of it), so the DLL
 * links with nothing and the same binary serves Wine's winmm and drvproc.dll. */
#include <drvproc.h>

#ifdef _WIN32
#  define EXPORT __declspec(dllexport)
#else
#  define EXPORT __attribute__((visibility("default")))
#endif

EXPORT LRESULT CALLBACK DriverProc(DWORD_PTR dwDriverId, HDRVR hdrvr, UINT msg, LPARAM lParam1, LPARAM lParam2)
{
    (void)dwDriverId;
    (void)hdrvr;
    (void)lParam1;
    (void)lParam2;
    switch (msg) {
    case DRV_LOAD:
    case DRV_ENABLE:
    case DRV_OPEN:
    case DRV_CLOSE:
    case DRV_DISABLE:
    case DRV_FREE:
        return 1;
    default:
        return 0;
    }
}
