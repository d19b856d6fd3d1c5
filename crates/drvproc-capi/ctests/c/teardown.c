/*
 * A client that keeps its driver handle in thread-specific data and closes it from
 * the key's destructor, when the thread that opened it exits (after the C runtime
 * and libdrvproc may have torn down their own per-thread state).
 * Usage: teardown DRIVER_FILE
 * Prints one line per step; the test harness checks them and the driver's trace.
 */
#include <pthread.h>
#include <stdio.h>
#include <drvproc.h>

static pthread_key_t key;
static const char *driver;
static LRESULT send_result = -1;
static LRESULT close_result = -1;

static void close_in_destructor(void *value)
{
    close_result = CloseDriver((HDRVR)value, 0, 0);
}

static void *worker(void *unused)
{
    HDRVR h = OpenDriverA(driver, NULL, 0);

    (void)unused;
    if (!h) {
        fprintf(stderr, "OpenDriverA: %s\n", drvproc_last_error());
        return NULL;
    }
    send_result = SendDriverMessage(h, DRV_USER, 1, 2);
    pthread_setspecific(key, h);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t thread;
    HDRVR again;

    if (argc != 2) {
        fprintf(stderr, "usage: teardown DRIVER_FILE\n");
        return 2;
    }
    driver = argv[1];
    if (pthread_key_create(&key, close_in_destructor) != 0 || pthread_create(&thread, NULL, worker, NULL) != 0) {
        fprintf(stderr, "cannot start the thread\n");
        return 2;
    }
    pthread_join(thread, NULL);
    printf("send -> %ld\n", (long)send_result);
    printf("close from a key destructor -> %ld\n", (long)close_result);
    /* The module was unloaded with its last instance: this open loads it again. */
    again = OpenDriverA(driver, NULL, 0);
    printf("reopen: %s\n", again ? "ok" : drvproc_last_error());
    printf("close -> %ld\n", (long)CloseDriver(again, 0, 0));
    return 0;
}
