/* A C client of a VfW codec through libdrvproc, as msvfw32 drives one: opens the
 * driver named by argv[1] with an ICOPEN, asks for its info, compresses an 8-bit
 * 37x9 frame (a keyframe, then a delta frame against it), decompresses both and
 * checks they give the frames back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drvproc.h>

#define W 37
#define H 9
#define STRIDE 40 /* rows are padded to 4 bytes */

struct fmt {
    BITMAPINFOHEADER h;
    DWORD palette[256];
};

static int fail(const char *what, LRESULT r) {
    fprintf(stderr, "%s: %ld (%s)\n", what, (long)r, drvproc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    ICOPEN open;
    memset(&open, 0, sizeof open);
    open.dwSize = sizeof open;
    open.fccType = 0x63646976; /* 'vidc' */
    open.dwVersion = 0x1000;
    open.dwFlags = ICMODE_COMPRESS;
    HDRVR h = OpenDriverA(argv[1], NULL, (LPARAM)&open);
    if (!h) return fail("OpenDriverA", 0);
    ICINFO info;
    memset(&info, 0, sizeof info);
    LRESULT r = SendDriverMessage(h, ICM_GETINFO, (LPARAM)&info, sizeof info);
    printf("ICM_GETINFO -> %ld, handler %.4s\n", (long)r, (const char *)&info.fccHandler);

    struct fmt in, out;
    memset(&in, 0, sizeof in);
    in.h.biSize = sizeof in.h;
    in.h.biWidth = W;
    in.h.biHeight = H;
    in.h.biPlanes = 1;
    in.h.biBitCount = 8;
    in.h.biCompression = BI_RGB;
    in.h.biSizeImage = STRIDE * H;
    in.h.biClrUsed = 256;
    for (int i = 0; i < 256; i++) in.palette[i] = (DWORD)(i * 0x010101);
    r = SendDriverMessage(h, ICM_COMPRESS_QUERY, (LPARAM)&in, 0);
    if (r != ICERR_OK) return fail("ICM_COMPRESS_QUERY", r);
    LRESULT fsize = SendDriverMessage(h, ICM_COMPRESS_GET_FORMAT, (LPARAM)&in, 0);
    printf("output format size: %ld\n", (long)fsize);
    if (fsize != (LRESULT)sizeof out) return fail("ICM_COMPRESS_GET_FORMAT size", fsize);
    r = SendDriverMessage(h, ICM_COMPRESS_GET_FORMAT, (LPARAM)&in, (LPARAM)&out);
    if (r != ICERR_OK) return fail("ICM_COMPRESS_GET_FORMAT", r);
    LRESULT max = SendDriverMessage(h, ICM_COMPRESS_GET_SIZE, (LPARAM)&in, (LPARAM)&out);
    if (max <= 0) return fail("ICM_COMPRESS_GET_SIZE", max);
    r = SendDriverMessage(h, ICM_COMPRESS_BEGIN, (LPARAM)&in, (LPARAM)&out);
    if (r != ICERR_OK) return fail("ICM_COMPRESS_BEGIN", r);

    static BYTE frame[2][STRIDE * H], data[2][65536], back[STRIDE * H];
    DWORD sizes[2];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            frame[0][y * STRIDE + x] = (BYTE)(x < 20 ? 7 : x * 3 + y);
            frame[1][y * STRIDE + x] = (BYTE)(y == 4 && x > 10 ? 200 : frame[0][y * STRIDE + x]);
        }
    for (int f = 0; f < 2; f++) {
        DWORD flags = 0, ckid = 0;
        ICCOMPRESS c;
        memset(&c, 0, sizeof c);
        c.dwFlags = f == 0 ? ICCOMPRESS_KEYFRAME : 0;
        c.lpbiOutput = &out.h;
        c.lpOutput = data[f];
        c.lpbiInput = &in.h;
        c.lpInput = frame[f];
        c.lpckid = &ckid;
        c.lpdwFlags = &flags;
        c.lFrameNum = f;
        c.dwQuality = 10000;
        c.lpbiPrev = f ? &in.h : NULL;
        c.lpPrev = f ? frame[0] : NULL;
        r = SendDriverMessage(h, ICM_COMPRESS, (LPARAM)&c, sizeof c);
        if (r != ICERR_OK) return fail("ICM_COMPRESS", r);
        sizes[f] = out.h.biSizeImage;
        printf("frame %d: %s, %lu bytes\n", f, (flags & AVIIF_KEYFRAME) ? "keyframe" : "delta",
               (unsigned long)sizes[f]);
    }
    SendDriverMessage(h, ICM_COMPRESS_END, 0, 0);

    r = SendDriverMessage(h, ICM_DECOMPRESS_QUERY, (LPARAM)&out, (LPARAM)&in);
    if (r != ICERR_OK) return fail("ICM_DECOMPRESS_QUERY", r);
    r = SendDriverMessage(h, ICM_DECOMPRESS_BEGIN, (LPARAM)&out, (LPARAM)&in);
    if (r != ICERR_OK) return fail("ICM_DECOMPRESS_BEGIN", r);
    for (int f = 0; f < 2; f++) {
        ICDECOMPRESS d;
        memset(&d, 0, sizeof d);
        d.dwFlags = f ? ICDECOMPRESS_NOTKEYFRAME : 0;
        out.h.biSizeImage = sizes[f];
        d.lpbiInput = &out.h;
        d.lpInput = data[f];
        d.lpbiOutput = &in.h;
        d.lpOutput = back;
        r = SendDriverMessage(h, ICM_DECOMPRESS, (LPARAM)&d, sizeof d);
        if (r != ICERR_OK) return fail("ICM_DECOMPRESS", r);
        int same = 1;
        for (int y = 0; y < H; y++)
            if (memcmp(back + y * STRIDE, frame[f] + y * STRIDE, W) != 0) same = 0;
        printf("frame %d decompressed to the input: %s\n", f, same ? "yes" : "no");
    }
    SendDriverMessage(h, ICM_DECOMPRESS_END, 0, 0);
    if (CloseDriver(h, 0, 0) != 1) return fail("CloseDriver", 0);
    return 0;
}
