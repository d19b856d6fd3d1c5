/*
 * A BI_RLE8 VfW codec driven through the system's msvfw32 and compared with a
 * reference codec of the same format (under Wine: Wine's own msrle32.dll).
 *
 * Usage: vfw-codec-test [OURS [REFERENCE]]
 *   OURS       the handler fourcc the codec under test is registered under
 *              (a `vidc.OURS` Drivers32 value or system.ini line; default "xrle");
 *   REFERENCE  the handler of the reference codec (default "mrle").
 * Both codecs are opened with ICOpen in both modes. The program compares what they
 * answer (ICGetInfo, queries, formats, sizes), then compresses sequences of 8-bit
 * frames with each (a keyframe, then delta frames against the previous frame) and
 * decompresses each codec's stream with both decoders, into 8-bit and 24-bit
 * frames. Both decoders must give identical frames from either stream, and the
 * stream of the codec under test must give back exactly the input frames. Frames
 * the reference compressor does not reproduce (msrle32 is lossy on some inputs)
 * are reported as NOTE lines, not failures. Last, ICLocate must find a codec for
 * BI_RLE8 to 8-bit BI_RGB. One PASS/FAIL line per check; exit status 1 if any failed.
 *
 * What a stream means is decided by a small RLE8 interpreter here, not by either
 * codec: a decoder is checked against that meaning. Defects of the reference codec
 * (lossy frames, frames it draws wrongly or past the buffer, output beyond its own
 * ICCompressGetSize) are NOTE lines. With VFW_TEST_DUMP=DIR (a Windows path) every
 * input frame and compressed frame is also written to DIR.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <vfw.h>

#include "check.h"

static const char *fourcc(DWORD f)
{
    static char buf[4][8];
    static int slot;
    char *out = buf[slot++ & 3];
    int i;
    for (i = 0; i < 4; i++) {
        char c = (char)(f >> (8 * i));
        out[i] = (c >= 32 && c < 127) ? c : '.';
    }
    out[4] = 0;
    return out;
}

static DWORD fourcc_of(const char *s)
{
    char b[4] = { ' ', ' ', ' ', ' ' };
    size_t i;
    for (i = 0; i < 4 && s[i]; i++)
        b[i] = s[i];
    return mmioFOURCC(b[0], b[1], b[2], b[3]);
}

/* A BITMAPINFO with room for a full colour table. */
typedef struct {
    BITMAPINFOHEADER h;
    RGBQUAD pal[256];
} BMI;

static DWORD stride_of(LONG width, WORD bits)
{
    return ((DWORD)width * bits + 31) / 32 * 4;
}

static void rgb_format(BMI *b, LONG w, LONG h, WORD bits, const RGBQUAD *pal)
{
    memset(b, 0, sizeof *b);
    b->h.biSize = sizeof b->h;
    b->h.biWidth = w;
    b->h.biHeight = h;
    b->h.biPlanes = 1;
    b->h.biBitCount = bits;
    b->h.biCompression = BI_RGB;
    b->h.biSizeImage = stride_of(w, bits) * (DWORD)h;
    if (bits == 8) {
        b->h.biClrUsed = 256;
        memcpy(b->pal, pal, sizeof b->pal);
    }
}

struct codec {
    const char *name; /* "ours" or "msrle32" */
    DWORD handler;
    HIC comp, decomp;
};

/* ------------------------------------------------------------------------ */
/* Frames */

static DWORD rng(DWORD *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xFFFFFF;
}

enum kind { K_RUNS, K_NOISE, K_SPOTS, K_SHORT, KINDS };
static const char *const kind_name[KINDS] = { "long runs", "noise", "sparse changes", "short runs and pairs" };

/* Fills frame n of a sequence of the given kind; frame n > 0 changes part of frame n-1. */
static void make_frame(enum kind k, BYTE *f, const BYTE *prev, LONG w, LONG h, int n, DWORD *seed)
{
    DWORD stride = stride_of(w, 8), x, y;
    if (n > 0)
        memcpy(f, prev, stride * (DWORD)h);
    switch (k) {
    case K_RUNS: {
        /* Runs of 1..400 pixels, crossing row ends; later frames redraw a band. */
        LONG y0 = n ? (LONG)(rng(seed) % (DWORD)h) : 0, y1 = n ? y0 + 1 + (LONG)(rng(seed) % 4) : h;
        BYTE v = (BYTE)rng(seed);
        DWORD left = 0;
        for (y = (DWORD)y0; y < (DWORD)y1 && y < (DWORD)h; y++)
            for (x = 0; x < (DWORD)w; x++) {
                if (!left) {
                    left = 1 + rng(seed) % 400;
                    v = (BYTE)rng(seed);
                }
                f[y * stride + x] = v;
                left--;
            }
        break;
    }
    case K_NOISE:
        for (y = 0; y < (DWORD)h; y++)
            for (x = 0; x < (DWORD)w; x++)
                if (!n || rng(seed) % 3 == 0)
                    f[y * stride + x] = (BYTE)rng(seed);
        break;
    case K_SPOTS:
        if (!n) {
            for (y = 0; y < (DWORD)h; y++)
                for (x = 0; x < (DWORD)w; x++)
                    f[y * stride + x] = (BYTE)(y / 8 * 16 + x / 8);
        } else {
            int spots = 1 + (int)(rng(seed) % 6), s;
            for (s = 0; s < spots; s++) {
                DWORD sx = rng(seed) % (DWORD)w, sy = rng(seed) % (DWORD)h, len = 1 + rng(seed) % 9;
                for (x = sx; x < sx + len && x < (DWORD)w; x++)
                    f[sy * stride + x] = (BYTE)rng(seed);
            }
        }
        break;
    case K_SHORT:
        /* Alternating pairs, single pixels and runs of 2-3: absolute runs of odd and even length. */
        for (y = 0; y < (DWORD)h; y++) {
            if (n && rng(seed) % 2)
                continue;
            for (x = 0; x < (DWORD)w;) {
                DWORD len = 1 + rng(seed) % 3, i;
                BYTE v = (BYTE)(rng(seed) % 4 * 64 + n);
                for (i = 0; i < len && x < (DWORD)w; i++, x++)
                    f[y * stride + x] = v;
            }
        }
        break;
    default:
        break;
    }
    /* Row padding is not image data: keep it zero. */
    for (y = 0; y < (DWORD)h; y++)
        for (x = (DWORD)w; x < stride; x++)
            f[y * stride + x] = 0;
}

/* ------------------------------------------------------------------------ */
/* Compressing and decompressing */

/* Whether the GUARD bytes after a buffer of n bytes still hold their fill. */
#define GUARD 65536
static int guard_intact(const BYTE *buf, DWORD n)
{
    DWORD i;
    for (i = 0; i < GUARD; i++)
        if (buf[n + i] != 0xA5)
            return 0;
    return 1;
}

/* The meaning of one RLE8 frame, independent of both codecs: draws it into `frame`
 * (8-bit, `stride` bytes a row) and marks the drawn pixels in `mask`, when given.
 * Every run must lie inside its row, every delta end inside the frame, and the end
 * of bitmap must be there. An end of line below the last row draws nothing and is
 * accepted, but counted in *eol_below. Returns NULL if valid, else what is wrong
 * (at byte *offset); nothing is drawn then. */
static const char *rle8_draw(const BYTE *d, DWORD len, LONG w, LONG h, BYTE *frame, BYTE *mask, DWORD stride,
                             DWORD *offset, int *eol_below)
{
    static char why[96];
    int pass;
    *eol_below = 0;
    for (pass = 0; pass < 2; pass++) {
        DWORD pos = 0, x = 0, y = 0, i;
        int draw = pass == 1;
        if (draw && !frame)
            return NULL;
        for (;;) {
            BYTE a, b;
            *offset = pos;
            if (pos + 2 > len)
                return "no end of bitmap";
            a = d[pos];
            b = d[pos + 1];
            pos += 2;
            if (a) {
                if (y >= (DWORD)h || x + a > (DWORD)w) {
                    snprintf(why, sizeof why, "run of %u at x %lu y %lu leaves the frame", a, (unsigned long)x,
                             (unsigned long)y);
                    return why;
                }
                for (i = 0; draw && i < a; i++) {
                    frame[y * stride + x + i] = b;
                    if (mask)
                        mask[y * stride + x + i] = 1;
                }
                x += a;
            } else if (b == 0) {
                if (y >= (DWORD)h && !draw)
                    ++*eol_below;
                x = 0;
                y++;
            } else if (b == 1) {
                break;
            } else if (b == 2) {
                if (pos + 2 > len)
                    return "cut delta";
                if (x + d[pos] > (DWORD)w || y + d[pos + 1] > (DWORD)h) {
                    snprintf(why, sizeof why, "delta (%u,%u) from x %lu y %lu leaves the frame", d[pos], d[pos + 1],
                             (unsigned long)x, (unsigned long)y);
                    return why;
                }
                x += d[pos];
                y += d[pos + 1];
                pos += 2;
            } else {
                if (y >= (DWORD)h || x + b > (DWORD)w) {
                    snprintf(why, sizeof why, "absolute run of %u at x %lu y %lu leaves the frame", b,
                             (unsigned long)x, (unsigned long)y);
                    return why;
                }
                if (pos + b + (b & 1u) > len)
                    return "cut absolute run";
                for (i = 0; draw && i < b; i++) {
                    frame[y * stride + x + i] = d[pos + i];
                    if (mask)
                        mask[y * stride + x + i] = 1;
                }
                x += b;
                pos += b + (b & 1u);
            }
        }
    }
    return NULL;
}

struct stream {
    int frames;
    BYTE **data;
    DWORD *size;
    DWORD *flags;
    BMI fmt; /* the compressed format (biSizeImage per frame is set on use) */
};

static void free_stream(struct stream *s)
{
    int i;
    for (i = 0; i < s->frames; i++)
        free(s->data[i]);
    free(s->data);
    free(s->size);
    free(s->flags);
    memset(s, 0, sizeof *s);
}

/* Compresses the frames with c: frame 0 as a keyframe, the rest against their previous frame. */
static int compress(struct codec *c, BMI *in, BYTE **frames, int n, struct stream *out, const char *what,
                    int is_ref)
{
    BMI fmt;
    DWORD max, sz;
    LRESULT r;
    int i, ok = 1;
    memset(out, 0, sizeof *out);
    memset(&fmt, 0, sizeof fmt);
    sz = ICCompressGetFormatSize(c->comp, &in->h);
    if (sz != sizeof(BITMAPINFOHEADER) + 256 * sizeof(RGBQUAD)) {
        check(0, "%s: %s: ICCompressGetFormatSize = %lu, expected 1064", what, c->name, (unsigned long)sz);
        return 0;
    }
    r = ICCompressGetFormat(c->comp, &in->h, &fmt.h);
    if (r != ICERR_OK || fmt.h.biCompression != BI_RLE8) {
        check(0, "%s: %s: ICCompressGetFormat = %ld, compression %s", what, c->name, (long)r,
              fourcc(fmt.h.biCompression));
        return 0;
    }
    max = ICCompressGetSize(c->comp, &in->h, &fmt.h);
    r = ICCompressBegin(c->comp, &in->h, &fmt.h);
    if (r != ICERR_OK) {
        check(0, "%s: %s: ICCompressBegin = %ld", what, c->name, (long)r);
        return 0;
    }
    out->frames = n;
    out->data = calloc((size_t)n, sizeof *out->data);
    out->size = calloc((size_t)n, sizeof *out->size);
    out->flags = calloc((size_t)n, sizeof *out->flags);
    out->fmt = fmt;
    for (i = 0; i < n; i++) {
        BMI o = fmt;
        DWORD ckid = 0, flags = 0;
        BYTE *buf = calloc(max + GUARD, 1);
        memset(buf + max, 0xA5, GUARD);
        DWORD rc = ICCompress(c->comp, i ? 0 : ICCOMPRESS_KEYFRAME, &o.h, buf, &in->h, frames[i], &ckid, &flags, i,
                              0, ICQUALITY_HIGH, i ? &in->h : NULL, i ? frames[i - 1] : NULL);
        if (!guard_intact(buf, max)) {
            if (is_ref)
                printf("NOTE: %s: %s: ICCompress frame %d (= %ld) wrote past the %lu bytes of ICCompressGetSize; "
                       "its stream is not decoded\n",
                       what, c->name, i, (long)(LONG)rc, (unsigned long)max);
            else
                check(0, "%s: %s: ICCompress frame %d (= %ld) wrote past the %lu bytes of ICCompressGetSize", what,
                      c->name, i, (long)(LONG)rc, (unsigned long)max);
            ok = 0;
            free(buf);
            break;
        }
        if (rc != ICERR_OK || o.h.biSizeImage == 0 || o.h.biSizeImage > max) {
            check(0, "%s: %s: ICCompress frame %d = %ld, biSizeImage %lu (max %lu)", what, c->name, i, (long)rc,
                  (unsigned long)o.h.biSizeImage, (unsigned long)max);
            ok = 0;
            free(buf);
            break;
        }
        out->data[i] = buf;
        out->size[i] = o.h.biSizeImage;
        out->flags[i] = flags;
    }
    ICCompressEnd(c->comp);
    return ok;
}

/* Decompresses the stream with c into frames of `bits` bits, one persistent buffer. */
/* A failure of the reference decoder (is_ref) is a NOTE, not a FAIL. */
static BYTE **decompress(struct codec *c, struct stream *s, int n, WORD bits, const char *what, const char *src,
                         int is_ref)
{
    BMI in = s->fmt, out;
    DWORD size;
    BYTE *buf, **frames;
    LRESULT r;
    int i;
    rgb_format(&out, in.h.biWidth, in.h.biHeight, bits, in.pal);
    size = out.h.biSizeImage;
    r = ICDecompressQuery(c->decomp, &in.h, &out.h);
    if (r != ICERR_OK) {
        check(0, "%s: %s decoding %s's stream to %u bits: ICDecompressQuery = %ld", what, c->name, src, bits, (long)r);
        return NULL;
    }
    r = ICDecompressBegin(c->decomp, &in.h, &out.h);
    if (r != ICERR_OK) {
        check(0, "%s: %s decoding %s's stream to %u bits: ICDecompressBegin = %ld", what, c->name, src, bits, (long)r);
        return NULL;
    }
    buf = calloc(size + GUARD, 1);
    memset(buf + size, 0xA5, GUARD);
    frames = calloc((size_t)n, sizeof *frames);
    for (i = 0; i < n; i++) {
        BMI o = out;
        DWORD rc;
        in.h.biSizeImage = s->size[i];
        rc = ICDecompress(c->decomp, (s->flags[i] & AVIIF_KEYFRAME) ? 0 : ICDECOMPRESS_NOTKEYFRAME, &in.h, s->data[i],
                          &o.h, buf);
        if (!guard_intact(buf, size)) {
            if (is_ref)
                printf("NOTE: %s: %s decoding %s's stream to %u bits: ICDecompress frame %d (= %ld) wrote past the "
                       "%lu-byte frame\n",
                       what, c->name, src, bits, i, (long)(LONG)rc, (unsigned long)size);
            else
                check(0, "%s: %s decoding %s's stream to %u bits: ICDecompress frame %d (= %ld) wrote past the "
                         "%lu-byte frame",
                      what, c->name, src, bits, i, (long)(LONG)rc, (unsigned long)size);
            break;
        }
        if (rc != ICERR_OK) {
            if (is_ref)
                printf("NOTE: %s: %s decoding %s's stream to %u bits: ICDecompress frame %d = %ld\n", what, c->name,
                       src, bits, i, (long)(LONG)rc);
            else
                check(0, "%s: %s decoding %s's stream to %u bits: ICDecompress frame %d = %ld", what, c->name, src,
                      bits, i, (long)(LONG)rc);
            break;
        }
        frames[i] = malloc(size);
        memcpy(frames[i], buf, size);
    }
    ICDecompressEnd(c->decomp);
    free(buf);
    if (i < n) {
        int j;
        for (j = 0; j < i; j++)
            free(frames[j]);
        free(frames);
        return NULL;
    }
    return frames;
}

static void free_frames(BYTE **f, int n)
{
    int i;
    if (!f)
        return;
    for (i = 0; i < n; i++)
        free(f[i]);
    free(f);
}

/* What a decoder must produce from frames that mean `meant` (8-bit indices, with
 * the pixels ever drawn in `drawn`), in `bits` bits: the indices, or their palette
 * colours, with never-drawn pixels left at the buffer's initial zero. */
static BYTE **meaning(BMI *in, BYTE **meant, BYTE **drawn, int n, WORD bits)
{
    LONG w = in->h.biWidth, h = in->h.biHeight, x, y;
    DWORD s8 = stride_of(w, 8), so = stride_of(w, bits), size = so * (DWORD)h;
    BYTE **out = calloc((size_t)n, sizeof *out);
    int i;
    for (i = 0; i < n; i++) {
        out[i] = calloc(size, 1);
        if (bits == 8) {
            memcpy(out[i], meant[i], size);
            continue;
        }
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) {
                RGBQUAD q = in->pal[meant[i][y * s8 + x]];
                BYTE *p = out[i] + y * so + 3 * x;
                if (!drawn[i][y * s8 + x])
                    continue;
                p[0] = q.rgbBlue;
                p[1] = q.rgbGreen;
                p[2] = q.rgbRed;
            }
    }
    return out;
}

/* Counts the image pixels (not row padding) where a and b differ; first difference in *fx, *fy. */
static DWORD differing(const BYTE *a, const BYTE *b, LONG w, LONG h, WORD bits, LONG *fx, LONG *fy)
{
    DWORD stride = stride_of(w, bits), n = 0, bpp = bits / 8;
    LONG x, y;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++)
            if (memcmp(a + y * stride + x * bpp, b + y * stride + x * bpp, bpp)) {
                if (!n) {
                    *fx = x;
                    *fy = y;
                }
                n++;
            }
    return n;
}

/* Our decoder must answer ICERR_ERROR to a frame that leaves the frame, drawing nothing. */
static void refuses(struct codec *c, struct stream *s, int k, const char *what)
{
    BMI in = s->fmt, out;
    BYTE *buf;
    DWORD size, i, touched = 0;
    DWORD r;
    rgb_format(&out, in.h.biWidth, in.h.biHeight, 8, in.pal);
    size = out.h.biSizeImage;
    buf = malloc(size + GUARD);
    memset(buf, 0x5A, size + GUARD);
    memset(buf + size, 0xA5, GUARD);
    in.h.biSizeImage = s->size[k];
    ICDecompressBegin(c->decomp, &in.h, &out.h);
    r = ICDecompress(c->decomp, k ? ICDECOMPRESS_NOTKEYFRAME : 0, &in.h, s->data[k], &out.h, buf);
    ICDecompressEnd(c->decomp);
    for (i = 0; i < size; i++)
        touched += buf[i] != 0x5A;
    check(r == (DWORD)ICERR_ERROR && !touched && guard_intact(buf, size),
          "%s: %s refuses msrle32's frame %d that leaves the frame: ICDecompress = %ld, %lu bytes drawn", what,
          c->name, k, (long)(LONG)r, (unsigned long)touched);
    free(buf);
}

static const char *const codec_label[2] = { "ours", "msrle32" };

/* One sequence: both compressors, both decoders, 8 and 24 bits. */
static void sequence(struct codec *cs, enum kind k, LONG w, LONG h, int n, const RGBQUAD *pal, const char *palname,
                     DWORD seed)
{
    BMI in;
    BYTE **frames = calloc((size_t)n, sizeof *frames);
    struct stream st[2];
    char what[160];
    DWORD stride = stride_of(w, 8);
    int i, enc, bi, valid[2] = { 0, 0 };
    BYTE **meant[2], **drawn[2];
    WORD bitsv[2] = { 8, 24 };

    snprintf(what, sizeof what, "%s %ldx%ld, %d frames, %s palette", kind_name[k], (long)w, (long)h, n, palname);
    rgb_format(&in, w, h, 8, pal);
    for (i = 0; i < n; i++) {
        frames[i] = calloc(stride * (DWORD)h, 1);
        make_frame(k, frames[i], i ? frames[i - 1] : NULL, w, h, i, &seed);
    }

    for (enc = 0; enc < 2; enc++) {
        if (!compress(&cs[enc], &in, frames, n, &st[enc], what, enc == 1)) {
            memset(&st[enc], 0, sizeof st[enc]);
            continue;
        }
        {
            DWORD total = 0;
            int keyok = (st[enc].flags[0] & AVIIF_KEYFRAME) != 0, deltaok = 1;
            for (i = 0; i < n; i++)
                total += st[enc].size[i];
            for (i = 1; i < n; i++)
                if (st[enc].flags[i] & AVIIF_KEYFRAME)
                    deltaok = 0;
            check(keyok && (enc == 1 || deltaok),
                  "%s: %s compresses (%lu bytes in all; frame 0 flags 0x%lx, delta frames%s keyframe-flagged)", what,
                  cs[enc].name, (unsigned long)total, (unsigned long)st[enc].flags[0],
                  deltaok ? " not" : " partly");
        }
    }

    if (getenv("VFW_TEST_DUMP")) {
        char name[256];
        FILE *fp;
        for (enc = 0; enc < 2; enc++)
            for (i = 0; i < st[enc].frames; i++) {
                snprintf(name, sizeof name, "%s/%s-%d-%ldx%ld-%s-%d.rle", getenv("VFW_TEST_DUMP"), codec_label[enc], k,
                         (long)w, (long)h, palname, i);
                if ((fp = fopen(name, "wb"))) {
                    fwrite(st[enc].data[i], 1, st[enc].size[i], fp);
                    fclose(fp);
                }
            }
        for (i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s/input-%d-%ldx%ld-%s-%d.raw", getenv("VFW_TEST_DUMP"), k, (long)w, (long)h,
                     palname, i);
            if ((fp = fopen(name, "wb"))) {
                fwrite(frames[i], 1, stride * (DWORD)h, fp);
                fclose(fp);
            }
        }
    }

    /* What each stream means: its frames drawn over one another, checked on the way. */
    for (enc = 0; enc < 2; enc++) {
        BYTE *cur = calloc(stride * (DWORD)h, 1), *mask = calloc(stride * (DWORD)h, 1);
        int eol_frames = 0;
        char eol_list[64] = "";
        valid[enc] = st[enc].frames;
        meant[enc] = calloc((size_t)n, sizeof *meant[enc]);
        drawn[enc] = calloc((size_t)n, sizeof *drawn[enc]);
        for (i = 0; i < st[enc].frames; i++) {
            DWORD off = 0;
            int eol_below = 0;
            const char *why = rle8_draw(st[enc].data[i], st[enc].size[i], w, h, cur, mask, stride, &off, &eol_below);
            if (why) {
                valid[enc] = i;
                if (enc == 0) {
                    check(0, "%s: our frame %d is not a valid RLE8 frame: %s (byte %lu)", what, i, why,
                          (unsigned long)off);
                } else {
                    printf("NOTE: %s: msrle32's frame %d is not a valid RLE8 frame: %s (byte %lu of %lu); "
                           "not decoded from there on\n",
                           what, i, why, (unsigned long)off, (unsigned long)st[enc].size[i]);
                    refuses(&cs[0], &st[enc], i, what);
                }
                break;
            }
            if (eol_below) {
                if (enc == 0)
                    check(0, "%s: our frame %d has an end of line below the last row", what, i);
                eol_frames++;
                snprintf(eol_list + strlen(eol_list), sizeof eol_list - strlen(eol_list), " %d", i);
            }
            meant[enc][i] = malloc(stride * (DWORD)h);
            memcpy(meant[enc][i], cur, stride * (DWORD)h);
            drawn[enc][i] = malloc(stride * (DWORD)h);
            memcpy(drawn[enc][i], mask, stride * (DWORD)h);
        }
        if (enc == 1 && eol_frames)
            printf("NOTE: %s: msrle32's frames%s (a valid stream otherwise) end with an extra end of line below "
                   "the last row\n",
                   what, eol_list);
        free(cur);
        free(mask);
        /* The stream against the input: ours must be lossless. */
        {
            int lossy = 0;
            for (i = 0; i < valid[enc]; i++) {
                LONG fx = 0, fy = 0;
                DWORD d = differing(meant[enc][i], frames[i], w, h, 8, &fx, &fy);
                if (!d)
                    continue;
                lossy = 1;
                if (enc == 0)
                    check(0, "%s: our frame %d means %lu pixels other than the input (first x %ld y %ld)", what, i,
                          (unsigned long)d, (long)fx, (long)fy);
                else
                    printf("NOTE: %s: msrle32's compressor is lossy: its frame %d means %lu pixels other than the "
                           "input (first x %ld y %ld)\n",
                           what, i, (unsigned long)d, (long)fx, (long)fy);
            }
            if (enc == 0 && !lossy && valid[0] == n)
                check(1, "%s: our stream is valid RLE8 and lossless (%d frames)", what, n);
        }
    }

    for (bi = 0; bi < 2; bi++) {
        WORD bits = bitsv[bi];
        for (enc = 0; enc < 2; enc++) {
            BYTE **got[2], **want;
            int dec, nv = valid[enc];
            if (!nv)
                continue;
            want = meaning(&in, meant[enc], drawn[enc], nv, bits);
            for (dec = 0; dec < 2; dec++)
                got[dec] = decompress(&cs[dec], &st[enc], nv, bits, what, codec_label[enc], dec == 1);
            for (dec = 0; dec < 2; dec++) {
                int exact = 1;
                if (!got[dec])
                    continue;
                for (i = 0; i < nv && exact; i++) {
                    LONG fx = 0, fy = 0;
                    DWORD d = differing(got[dec][i], want[i], w, h, bits, &fx, &fy);
                    if (!d)
                        continue;
                    exact = 0;
                    if (dec == 0)
                        check(0, "%s: %s's stream decoded by ours to %u bits: frame %d differs from the stream's "
                                 "meaning at %lu pixels (first x %ld y %ld)",
                              what, codec_label[enc], bits, i, (unsigned long)d, (long)fx, (long)fy);
                    else
                        printf("NOTE: %s: %s's stream decoded by msrle32 to %u bits: frame %d differs from the "
                               "stream's meaning at %lu pixels (first x %ld y %ld)\n",
                               what, codec_label[enc], bits, i, (unsigned long)d, (long)fx, (long)fy);
                }
                if (exact && dec == 0)
                    check(1, "%s: %s's stream decoded by ours to %u bits: %d frames as the stream means%s", what,
                          codec_label[enc], bits, nv, enc == 0 ? " (= the input)" : "");
                if (exact && dec == 1 && enc == 0)
                    check(1, "%s: our stream decoded by msrle32 to %u bits: %d frames = the input", what, bits, nv);
            }
            if (got[0] && got[1]) {
                int same = 1;
                LONG fx = 0, fy = 0;
                for (i = 0; i < nv && same; i++)
                    same = !differing(got[0][i], got[1][i], w, h, bits, &fx, &fy);
                if (same)
                    check(1, "%s: %s's stream to %u bits: both decoders give the same %d frames", what,
                          codec_label[enc], bits, nv);
                else
                    printf("NOTE: %s: %s's stream to %u bits: the decoders differ from frame %d (see above)\n", what,
                           codec_label[enc], bits, i - 1);
            }
            free_frames(got[0], nv);
            free_frames(got[1], nv);
            free_frames(want, nv);
        }
    }
    for (enc = 0; enc < 2; enc++) {
        free_frames(meant[enc], n);
        free_frames(drawn[enc], n);
    }
    for (enc = 0; enc < 2; enc++)
        if (st[enc].frames)
            free_stream(&st[enc]);
    free_frames(frames, n);
}

/* ------------------------------------------------------------------------ */
/* What the codecs answer */

static void info(struct codec *cs)
{
    ICINFO ii[2];
    int i;
    for (i = 0; i < 2; i++) {
        LRESULT r;
        memset(&ii[i], 0, sizeof ii[i]);
        r = ICGetInfo(cs[i].decomp, &ii[i], sizeof ii[i]);
        printf("%s: ICGetInfo = %ld: type %s handler %s flags 0x%lx version 0x%lx icm 0x%lx name \"%s\" "
               "description \"%s\" driver \"%s\"\n",
               cs[i].name, (long)r, fourcc(ii[i].fccType), fourcc(ii[i].fccHandler), (unsigned long)ii[i].dwFlags,
               (unsigned long)ii[i].dwVersion, (unsigned long)ii[i].dwVersionICM, narrow(ii[i].szName),
               narrow(ii[i].szDescription), narrow(ii[i].szDriver));
        check(r == (LRESULT)sizeof(ICINFO) && ii[i].fccType == ICTYPE_VIDEO, "%s: ICGetInfo answers %ld bytes, type vidc",
              cs[i].name, (long)r);
    }
    check(ii[0].fccHandler == ii[1].fccHandler, "ICGetInfo: the same handler as msrle32 (%s)",
          fourcc(ii[0].fccHandler));
    {
        DWORD q[2] = { 0, 0 };
        for (i = 0; i < 2; i++)
            ICSendMessage(cs[i].comp, ICM_GETDEFAULTQUALITY, (DWORD_PTR)&q[i], sizeof q[i]);
        check(q[0] == q[1], "ICGetDefaultQuality: %lu, msrle32 %lu", (unsigned long)q[0], (unsigned long)q[1]);
    }
}

static void formats(struct codec *cs, const RGBQUAD *pal)
{
    BMI in, f[2], d[2], rgb24, rgb8, rle, bad;
    DWORD gsz[2];
    LRESULT r[2];
    int i;
    rgb_format(&in, 64, 48, 8, pal);
    for (i = 0; i < 2; i++) {
        memset(&f[i], 0, sizeof f[i]);
        r[i] = ICCompressGetFormat(cs[i].comp, &in.h, &f[i].h);
        gsz[i] = ICCompressGetSize(cs[i].comp, &in.h, &f[i].h);
    }
    check(r[0] == ICERR_OK && r[1] == ICERR_OK && f[0].h.biCompression == f[1].h.biCompression &&
              f[0].h.biBitCount == f[1].h.biBitCount && f[0].h.biWidth == f[1].h.biWidth &&
              f[0].h.biHeight == f[1].h.biHeight && f[0].h.biClrUsed == f[1].h.biClrUsed &&
              !memcmp(f[0].pal, f[1].pal, sizeof f[0].pal),
          "ICCompressGetFormat 64x48: compression %lu, %u bpp %lux%ld clrused %lu sizeimage %lu (msrle32: "
          "compression %lu, %u bpp clrused %lu sizeimage %lu)",
          (unsigned long)f[0].h.biCompression, f[0].h.biBitCount, (unsigned long)f[0].h.biWidth, (long)f[0].h.biHeight,
          (unsigned long)f[0].h.biClrUsed, (unsigned long)f[0].h.biSizeImage, (unsigned long)f[1].h.biCompression,
          f[1].h.biBitCount, (unsigned long)f[1].h.biClrUsed, (unsigned long)f[1].h.biSizeImage);
    check(gsz[0] >= 64 * 48 + 2 * 48 + 2, "ICCompressGetSize 64x48: %lu (msrle32 %lu)", (unsigned long)gsz[0],
          (unsigned long)gsz[1]);
    rle = f[1];
    rle.h.biSizeImage = 1000;
    for (i = 0; i < 2; i++) {
        LONG sz = ICDecompressGetFormatSize(cs[i].decomp, &rle.h);
        memset(&d[i], 0, sizeof d[i]);
        r[i] = ICDecompressGetFormat(cs[i].decomp, &rle.h, &d[i].h);
        check(sz == 1064, "%s: ICDecompressGetFormatSize = %ld", cs[i].name, (long)sz);
    }
    check(r[0] == ICERR_OK && r[1] == ICERR_OK && !memcmp(&d[0], &d[1], sizeof d[0]),
          "ICDecompressGetFormat: header and palette as msrle32's (compression %lu, %u bpp sizeimage %lu; "
          "msrle32 compression %lu, %u bpp sizeimage %lu)",
          (unsigned long)d[0].h.biCompression, d[0].h.biBitCount, (unsigned long)d[0].h.biSizeImage,
          (unsigned long)d[1].h.biCompression, d[1].h.biBitCount, (unsigned long)d[1].h.biSizeImage);

    /* Queries both codecs should answer alike. */
    rgb_format(&rgb8, 64, 48, 8, pal);
    rgb_format(&rgb24, 64, 48, 24, pal);
    bad = rgb8;
    bad.h.biHeight = 24;
    {
        struct {
            const char *what;
            int decompress;
            BMI *a, *b;
            int must_match; /* 0: msrle32 answers otherwise by design (reported, not checked) */
        } q[] = {
            { "ICCompressQuery(8-bit RGB, NULL)", 0, &in, NULL, 1 },
            { "ICCompressQuery(8-bit RGB, RLE8)", 0, &in, &rle, 1 },
            { "ICCompressQuery(24-bit RGB, NULL)", 0, &rgb24, NULL, 1 },
            { "ICDecompressQuery(RLE8, NULL)", 1, &rle, NULL, 1 },
            { "ICDecompressQuery(RLE8, 8-bit RGB)", 1, &rle, &rgb8, 1 },
            { "ICDecompressQuery(RLE8, 24-bit RGB)", 1, &rle, &rgb24, 1 },
            /* Uncompressed 8-bit frames "decompress" too (copied). */
            { "ICDecompressQuery(8-bit RGB, NULL)", 1, &rgb8, NULL, 1 },
            { "ICDecompressQuery(RLE8 64x48, 8-bit RGB 64x24)", 1, &rle, &bad, 1 },
        };
        size_t j;
        for (j = 0; j < sizeof q / sizeof q[0]; j++) {
            for (i = 0; i < 2; i++) {
                HIC hic = q[j].decompress ? cs[i].decomp : cs[i].comp;
                UINT msg = q[j].decompress ? ICM_DECOMPRESS_QUERY : ICM_COMPRESS_QUERY;
                r[i] = ICSendMessage(hic, msg, (DWORD_PTR)&q[j].a->h, (DWORD_PTR)(q[j].b ? &q[j].b->h : NULL));
            }
            if (q[j].must_match)
                check((r[0] == ICERR_OK) == (r[1] == ICERR_OK), "%s = %ld (msrle32 %ld)", q[j].what, (long)r[0],
                      (long)r[1]);
            else
                printf("NOTE: %s = %ld (msrle32 %ld)\n", q[j].what, (long)r[0], (long)r[1]);
        }
    }
}

/* ICLocate for BI_RLE8 -> 8-bit RGB must find a codec that decodes our stream. */
static void locate(struct codec *cs, const RGBQUAD *pal)
{
    BMI in, rle, out;
    HIC hic;
    ICINFO ii;
    rgb_format(&in, 64, 48, 8, pal);
    memset(&rle, 0, sizeof rle);
    ICCompressGetFormat(cs[0].comp, &in.h, &rle.h);
    rle.h.biSizeImage = 100;
    rgb_format(&out, 64, 48, 8, pal);
    hic = ICLocate(ICTYPE_VIDEO, 0, &rle.h, &out.h, ICMODE_DECOMPRESS);
    memset(&ii, 0, sizeof ii);
    if (hic)
        ICGetInfo(hic, &ii, sizeof ii);
    check(hic != NULL && ii.fccHandler == mmioFOURCC('M', 'R', 'L', 'E'),
          "ICLocate(vidc, 0, RLE8, 8-bit RGB, DECOMPRESS) finds %s (\"%s\", driver \"%s\")", fourcc(ii.fccHandler),
          narrow(ii.szDescription), narrow(ii.szDriver));
    if (hic)
        ICClose(hic);
    hic = ICLocate(ICTYPE_VIDEO, cs[0].handler, &rle.h, &out.h, ICMODE_DECOMPRESS);
    check(hic != NULL, "ICLocate(vidc, %s, RLE8, 8-bit RGB, DECOMPRESS) opens the codec under test",
          fourcc(cs[0].handler));
    if (hic)
        ICClose(hic);
    hic = ICLocate(ICTYPE_VIDEO, 0, &in.h, NULL, ICMODE_COMPRESS);
    check(hic != NULL, "ICLocate(vidc, 0, 8-bit RGB, NULL, COMPRESS) finds a compressor");
    if (hic)
        ICClose(hic);
}

int main(int argc, char **argv)
{
    struct codec cs[2] = { { "ours", 0, NULL, NULL }, { "msrle32", 0, NULL, NULL } };
    RGBQUAD grey[256], random[256];
    DWORD seed = 12345;
    ICINFO ii;
    int i;

    cs[0].handler = fourcc_of(argc > 1 ? argv[1] : "xrle");
    cs[1].handler = fourcc_of(argc > 2 ? argv[2] : "mrle");

    printf("installed video codecs (ICInfo):\n");
    for (i = 0; ICInfo(ICTYPE_VIDEO, (DWORD)i, &ii); i++)
        printf("  %d: %s\n", i, fourcc(ii.fccHandler));

    for (i = 0; i < 2; i++) {
        cs[i].comp = ICOpen(ICTYPE_VIDEO, cs[i].handler, ICMODE_COMPRESS);
        cs[i].decomp = ICOpen(ICTYPE_VIDEO, cs[i].handler, ICMODE_DECOMPRESS);
        check(cs[i].comp && cs[i].decomp, "%s: ICOpen(vidc, %s) for compression and decompression", cs[i].name,
              fourcc(cs[i].handler));
    }
    if (!cs[0].comp || !cs[0].decomp || !cs[1].comp || !cs[1].decomp)
        goto done;

    for (i = 0; i < 256; i++) {
        grey[i].rgbBlue = grey[i].rgbGreen = grey[i].rgbRed = (BYTE)i;
        grey[i].rgbReserved = 0;
        random[i].rgbBlue = (BYTE)rng(&seed);
        random[i].rgbGreen = (BYTE)rng(&seed);
        random[i].rgbRed = (BYTE)rng(&seed);
        random[i].rgbReserved = 0;
    }

    info(cs);
    formats(cs, grey);
    {
        static const LONG sizes[][2] = { { 64, 48 }, { 37, 21 }, { 300, 4 }, { 1, 1 } };
        size_t s;
        int k;
        for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (k = 0; k < KINDS; k++) {
                sequence(cs, (enum kind)k, sizes[s][0], sizes[s][1], 6, grey, "grey", 1000 + 10 * (DWORD)s + k);
                sequence(cs, (enum kind)k, sizes[s][0], sizes[s][1], 6, random, "random", 2000 + 10 * (DWORD)s + k);
            }
    }
    locate(cs, grey);

done:
    for (i = 0; i < 2; i++) {
        if (cs[i].comp)
            ICClose(cs[i].comp);
        if (cs[i].decomp)
            ICClose(cs[i].decomp);
    }
    printf("\nvfw-codec-test: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
