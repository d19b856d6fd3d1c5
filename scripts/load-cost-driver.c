/* The smallest installable driver, for scripts/load-cost.c: answers 1 to every
 * message. Written in C so that loading it costs only the mapping (a Rust DLL
 * also sets up its runtime, and leaks a TLS index per load on the win7 target).
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -o load-cost-driver.dll scripts/load-cost-driver.c */
#include <windows.h>

__declspec(dllexport) LRESULT WINAPI DriverProc(DWORD_PTR id, HANDLE h, UINT msg, LPARAM l1, LPARAM l2) {
    (void)id; (void)h; (void)msg; (void)l1; (void)l2;
    return 1;
}
