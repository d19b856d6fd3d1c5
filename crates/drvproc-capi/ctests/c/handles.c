/*
 * Prints the first handles OpenDriverA returns in a fresh process, one per line
 * (as unsigned hexadecimal), then closes them.
 * Usage: handles DRIVER_FILE COUNT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <drvproc.h>

int main(int argc, char **argv)
{
    HDRVR h[16];
    int count, i;

    if (argc != 3 || (count = atoi(argv[2])) < 1 || count > 16) {
        fprintf(stderr, "usage: handles DRIVER_FILE COUNT (1..16)\n");
        return 2;
    }
    for (i = 0; i < count; i++) {
        h[i] = OpenDriverA(argv[1], NULL, 0);
        if (!h[i]) {
            fprintf(stderr, "OpenDriverA: %s\n", drvproc_last_error());
            return 1;
        }
        printf("%#jx\n", (uintmax_t)(uintptr_t)h[i]);
    }
    for (i = count - 1; i >= 0; i--)
        if (CloseDriver(h[i], 0, 0) != 1)
            return 1;
    return 0;
}
