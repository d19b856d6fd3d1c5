/* What SendDriverMessage costs over a direct call of the same driver: a C client's
 * view of the send path, one source for every manager it can be linked with.
 *
 * Linux, against libdrvproc:
 *   cc -O2 -std=c11 -I crates/drvproc-capi/include scripts/send-cost.c -o send-cost \
 *      -L target/release -Wl,-rpath,$PWD/target/release -ldrvproc -ldl
 *   ./send-cost $PWD/libsendcost.so
 * Windows (or Wine), against the system's winmm or against drvproc.dll (its import
 * library libdrvproc.dll.a; drvproc.dll beside the program at run time):
 *   x86_64-w64-mingw32-gcc -O2 -std=c11 scripts/send-cost.c -o send-cost.exe -lwinmm
 *   x86_64-w64-mingw32-gcc -O2 -std=c11 scripts/send-cost.c -o send-cost.exe -L DIR -ldrvproc
 *   wine send-cost.exe 'Z:\path\to\sendcost.dll'
 * The driver is scripts/send-cost-driver.c (answers 0 to DRV_USER + 1).
 *
 * Usage: send-cost DRIVER [CALLS [ROUNDS]]   (defaults: 10000000 calls, 5 rounds)
 * DRIVER is loaded twice over: by the program itself (dlopen / LoadLibrary) for its
 * DriverProc, and by OpenDriver for an instance; both name the same mapping. Each
 * round times CALLS direct calls, then CALLS sends of DRV_USER + 1 to the instance;
 * the figure of each is its fastest round (on a shared machine the least disturbed
 * one). Prints, in this order and format:
 *   send-cost: direct call: 1.23 ns
 *   send-cost: SendDriverMessage: 4.56 ns
 *   send-cost: ratio: 3.71
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#ifdef _WIN32
/* The system's declarations; the import library chosen at link time (winmm or
 * drvproc) decides which manager answers. */
#  include <windows.h>
#  include <mmsystem.h>
#else
#  include <dlfcn.h>
#  include <time.h>
#  include <drvproc.h>
#endif

enum { MAX_NAME = 4096 };

/* Results land here so that no loop's work is dead. */
static volatile LRESULT sink;
/* Read once per loop: the compiler cannot see which function it calls. */
static DRIVERPROC volatile direct_proc;

static double now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER frequency;
    LARGE_INTEGER t;
    if (!frequency.QuadPart)
        QueryPerformanceFrequency(&frequency);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart * 1e9 / (double)frequency.QuadPart;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
#endif
}

/* The driver's DriverProc, from the program's own load of it; NULL on failure. */
static DRIVERPROC load_driver_proc(const char *path)
{
#ifdef _WIN32
    HMODULE module = LoadLibraryA(path);
    if (!module) {
        fprintf(stderr, "send-cost: cannot load %s: error %lu\n", path, (unsigned long)GetLastError());
        return NULL;
    }
    return (DRIVERPROC)(void *)GetProcAddress(module, "DriverProc");
#else
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        fprintf(stderr, "send-cost: cannot load %s: %s\n", path, dlerror());
        return NULL;
    }
    return (DRIVERPROC)dlsym(module, "DriverProc");
#endif
}

/* OpenDriver takes a UTF-16 name; driver paths here are ASCII. */
static int widen(const char *text, WCHAR *wide, size_t capacity)
{
    size_t i;
    for (i = 0; text[i]; i++) {
        if ((unsigned char)text[i] > 0x7f || i + 1 >= capacity)
            return 0;
        wide[i] = (WCHAR)text[i];
    }
    wide[i] = 0;
    return 1;
}

static double time_direct(HDRVR h, long calls)
{
    DRIVERPROC proc = direct_proc;
    LRESULT sum = 0;
    double start = now_ns();
    for (long i = 0; i < calls; i++)
        sum += proc(1, h, DRV_USER + 1, (LPARAM)i, 0);
    double elapsed = now_ns() - start;
    sink = sum;
    return elapsed / (double)calls;
}

static double time_send(HDRVR h, long calls)
{
    LRESULT sum = 0;
    double start = now_ns();
    for (long i = 0; i < calls; i++)
        sum += SendDriverMessage(h, DRV_USER + 1, (LPARAM)i, 0);
    double elapsed = now_ns() - start;
    sink = sum;
    return elapsed / (double)calls;
}

int main(int argc, char **argv)
{
    WCHAR name[MAX_NAME];
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: send-cost DRIVER [CALLS [ROUNDS]]\n");
        return 2;
    }
    long calls = argc > 2 ? atol(argv[2]) : 10000000L;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (calls <= 0 || rounds <= 0) {
        fprintf(stderr, "send-cost: CALLS and ROUNDS must be positive\n");
        return 2;
    }
    direct_proc = load_driver_proc(argv[1]);
    if (!direct_proc) {
        fprintf(stderr, "send-cost: %s exports no DriverProc\n", argv[1]);
        return 1;
    }
    if (!widen(argv[1], name, MAX_NAME)) {
        fprintf(stderr, "send-cost: the driver's path must be ASCII and shorter than %d\n", MAX_NAME);
        return 1;
    }
    HDRVR h = OpenDriver(name, NULL, 0);
    if (!h) {
        fprintf(stderr, "send-cost: OpenDriver(%s) failed\n", argv[1]);
        return 1;
    }
    /* A send to a handle the manager rejects answers 0 as well: make sure this one
     * is an open instance of a loaded module before timing anything. */
    if (!GetDriverModuleHandle(h)) {
        fprintf(stderr, "send-cost: the instance has no module handle\n");
        return 1;
    }
    double direct = 0, send = 0;
    for (int r = 0; r < rounds; r++) {
        double d = time_direct(h, calls), s = time_send(h, calls);
        if (r == 0 || d < direct)
            direct = d;
        if (r == 0 || s < send)
            send = s;
    }
    if (CloseDriver(h, 0, 0) == 0) {
        fprintf(stderr, "send-cost: CloseDriver failed\n");
        return 1;
    }
    printf("send-cost: direct call: %.2f ns\n", direct);
    printf("send-cost: SendDriverMessage: %.2f ns\n", send);
    printf("send-cost: ratio: %.2f\n", send / direct);
    printf("send-cost: fastest of %d rounds of %ld calls each\n", rounds, calls);
    return 0;
}
