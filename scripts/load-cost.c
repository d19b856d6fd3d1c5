/* Cost of OpenDriver + CloseDriver when each open maps the driver's DLL and each
 * close unmaps it (no other instance keeps it loaded), through any DLL exporting
 * winmm's names: Wine's or Windows' winmm.dll, or drvproc.dll.
 *
 *   x86_64-w64-mingw32-gcc -O2 -o load-cost.exe scripts/load-cost.c
 *   wine load-cost.exe winmm.dll 'Z:\path\to\drvnull.dll' [rounds]
 *   wine load-cost.exe 'Z:\path\to\drvproc.dll' 'Z:\path\to\drvnull.dll' [rounds]
 *
 * Prints the time of one open + close in ns: the fastest and the median of 11
 * batches (on a busy machine the fastest batch is the least disturbed one). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

typedef HANDLE(WINAPI *open_fn)(LPCWSTR, LPCWSTR, LPARAM);
typedef LRESULT(WINAPI *close_fn)(HANDLE, LPARAM, LPARAM);

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: load-cost MANAGER.dll DRIVER [rounds]\n");
        return 2;
    }
    HMODULE manager = LoadLibraryA(argv[1]);
    if (!manager) {
        fprintf(stderr, "cannot load %s: error %lu\n", argv[1], GetLastError());
        return 1;
    }
    open_fn open = (open_fn)(void *)GetProcAddress(manager, "OpenDriver");
    close_fn close = (close_fn)(void *)GetProcAddress(manager, "CloseDriver");
    if (!open || !close) {
        fprintf(stderr, "%s exports no OpenDriver/CloseDriver\n", argv[1]);
        return 1;
    }
    WCHAR driver[MAX_PATH];
    MultiByteToWideChar(CP_UTF8, 0, argv[2], -1, driver, MAX_PATH);
    int rounds = argc > 3 ? atoi(argv[3]) : 100;
    LARGE_INTEGER frequency, start, end;
    QueryPerformanceFrequency(&frequency);
    enum { BATCHES = 11 };
    double batches[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        QueryPerformanceCounter(&start);
        for (int i = 0; i < rounds; i++) {
            HANDLE h = open(driver, NULL, 0);
            if (!h) {
                fprintf(stderr, "OpenDriver(%s) failed\n", argv[2]);
                return 1;
            }
            close(h, 0, 0);
        }
        QueryPerformanceCounter(&end);
        batches[b] = (double)(end.QuadPart - start.QuadPart) * 1e9 / (double)frequency.QuadPart / rounds;
    }
    if (GetModuleHandleW(driver)) {
        fprintf(stderr, "the driver is still loaded: the loop did not unload it\n");
        return 1;
    }
    qsort(batches, BATCHES, sizeof batches[0], by_value);
    printf("%s: open+close of %s: fastest %.0f ns, median %.0f ns (%d batches of %d)\n", argv[1], argv[2],
           batches[0], batches[BATCHES / 2], BATCHES, rounds);
    return 0;
}
