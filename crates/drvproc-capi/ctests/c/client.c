/*
 * A driver client written against the Windows documentation, using only
 * <drvproc.h> and libdrvproc. Usage: client C_DRIVER RUST_DRIVER
 * The aliases "c.sample" and "rust.sample" must be in the DRVPROC_CONFIG file.
 * Prints one line per step; the test harness checks them.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <uchar.h>
#include <drvproc.h>

static void exercise(const char *label, HDRVR h, const char *path)
{
    DRVCONFIGINFO dci;
    HMODULE module;
    void *probe;

    printf("%s: open %s\n", label, h ? "ok" : drvproc_last_error());
    if (!h)
        return;
    printf("%s: flags %#lx\n", label, (unsigned long)GetDriverFlags(h));
    printf("%s: DRV_QUERYCONFIGURE -> %ld\n", label, (long)SendDriverMessage(h, DRV_QUERYCONFIGURE, 0, 0));
    dci.dwDCISize = sizeof(dci);
    dci.lpszDCISectionName = u"Drivers32";
    dci.lpszDCIAliasName = u"c.sample";
    printf("%s: DRV_CONFIGURE -> %ld\n", label, (long)SendDriverMessage(h, DRV_CONFIGURE, 0, (LPARAM)&dci));
    printf("%s: DRV_INSTALL -> %ld\n", label, (long)SendDriverMessage(h, DRV_INSTALL, 0, (LPARAM)&dci));
    printf("%s: DRV_USER+1 -> %ld\n", label, (long)DrvSendMessage(h, DRV_USER + 1, 5, 6));
    if (path) {
        module = GetDriverModuleHandle(h);
        probe = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        printf("%s: module handle is the dlopen handle: %s\n", label,
               module && (void *)module == probe ? "yes" : "no");
        printf("%s: DriverProc found through it: %s\n", label,
               dlsym((void *)DrvGetModuleHandle(h), "DriverProc") ? "yes" : "no");
        if (probe)
            dlclose(probe);
    }
    printf("%s: CloseDriver -> %ld\n", label, (long)CloseDriver(h, 0, 0));
    printf("%s: CloseDriver again -> %ld\n", label, (long)CloseDriver(h, 0, 0));
    printf("%s: SendDriverMessage after close -> %ld\n", label, (long)SendDriverMessage(h, DRV_USER, 0, 0));
}

static void to_wide(WCHAR *out, size_t cap, const char *in)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < cap; i++)
        out[i] = (WCHAR)(unsigned char)in[i];
    out[i] = 0;
}

int main(int argc, char **argv)
{
    WCHAR wide[4096];
    const WCHAR bad_utf16[] = {0x61, 0xD800, 0x62, 0};
    HDRVR a, b;

    if (argc != 3) {
        fprintf(stderr, "usage: client C_DRIVER RUST_DRIVER\n");
        return 2;
    }
    to_wide(wide, sizeof wide / sizeof wide[0], argv[1]);
    exercise("c file", OpenDriver(wide, NULL, 0), argv[1]);
    exercise("c alias", OpenDriver(u"c.sample", NULL, 0), argv[1]);
    exercise("rust file", OpenDriverA(argv[2], NULL, 0), argv[2]);
    exercise("rust alias", DrvOpen(u"RUST.SAMPLE", u"drivers32", 0), argv[2]);

    /* Two instances of one module: one load, closes in any order. */
    a = DrvOpenA("c.sample", NULL, 0);
    b = OpenDriverA("c.sample", "Drivers32", 0);
    printf("two instances: %s, distinct handles: %s\n", a && b ? "ok" : "failed", a != b ? "yes" : "no");
    printf("close first -> %ld, close second -> %ld\n", (long)DrvClose(a, 0, 0), (long)CloseDriver(b, 0, 0));

    /* Bad input: documented failures, never a crash. */
    a = OpenDriver(NULL, NULL, 0);
    printf("OpenDriver(NULL) -> %p: %s\n", (void *)a, drvproc_last_error());
    a = OpenDriver(bad_utf16, NULL, 0);
    printf("OpenDriver(bad UTF-16) -> %p: %s\n", (void *)a, drvproc_last_error());
    a = OpenDriverA("\xff\xfe", NULL, 0);
    printf("OpenDriverA(bad UTF-8) -> %p: %s\n", (void *)a, drvproc_last_error());
    a = OpenDriverA("no.such.alias", NULL, 0);
    printf("OpenDriverA(missing) -> %p: %s\n", (void *)a, drvproc_last_error());
    printf("CloseDriver(NULL) -> %ld\n", (long)CloseDriver(NULL, 0, 0));
    printf("SendDriverMessage(NULL) -> %ld\n", (long)SendDriverMessage(NULL, DRV_USER, 0, 0));
    printf("GetDriverModuleHandle(NULL) -> %p\n", (void *)GetDriverModuleHandle(NULL));
    printf("GetDriverFlags(NULL) -> %lu\n", (unsigned long)GetDriverFlags(NULL));
    printf("DefDriverProc(DRV_LOAD) -> %ld, (DRV_OPEN) -> %ld, DrvDefDriverProc(DRV_INSTALL) -> %ld\n",
           (long)DefDriverProc(0, NULL, DRV_LOAD, 0, 0), (long)DefDriverProc(0, NULL, DRV_OPEN, 0, 0),
           (long)DrvDefDriverProc(0, NULL, DRV_INSTALL, 0, 0));
    printf("DriverCallback(DCB_NULL) -> %d\n", DriverCallback(1, DCB_NULL, NULL, 0, 0, 0, 0));
    return 0;
}
