/*
 * The edges of an IMA ADPCM ACM codec driven through the system's msacm32, next to a
 * reference IMA ADPCM codec (under Wine: Wine's own imaadp32.acm).
 *
 * Usage: acm-ima-edge-test [OURS [REFERENCE]]
 *   OURS       text in the long name of the codec under test (default "drvproc IMA");
 *   REFERENCE  text in the short or long name of the reference (default "IMA ADPCM",
 *              any other driver).
 * Checks: the ACMDRIVERDETAILS fields; decoding of crafted blocks (every step index
 * 0..88 with extreme headers and codes that saturate) and random blocks, mono and
 * stereo, 8- and 16-bit output, in one buffer, block-aligned chunks, odd source
 * chunks and odd destination sizes: the PCM must be byte-identical to the
 * reference's and every call must use the same bytes as the reference's (whole
 * blocks); a block header with a step index past 88; ACM_STREAMCONVERTF_START
 * resetting the encoder of one open stream; acmStreamOpen of malformed formats.
 * One PASS/FAIL line per check (NOTE lines describe deliberate differences); the
 * exit status is 1 if any check failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <mmsystem.h>
#include <mmreg.h>
#include <msacm.h>

#include "check.h"

#ifndef WAVE_FORMAT_IMA_ADPCM
#  define WAVE_FORMAT_IMA_ADPCM 0x0011
#endif

/* A deterministic pseudo-random sequence (the same on every run). */
static DWORD next_random(DWORD *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 16;
}

/* ------------------------------------------------------------------------ */

/* A format with room for IMA's extra bytes (wSamplesPerBlock). */
typedef struct {
    WAVEFORMATEX wfx;
    WORD extra[4];
} fmtbuf;

static fmtbuf pcm(WORD channels, DWORD rate, WORD bits)
{
    fmtbuf f;
    memset(&f, 0, sizeof f);
    f.wfx.wFormatTag = WAVE_FORMAT_PCM;
    f.wfx.nChannels = channels;
    f.wfx.nSamplesPerSec = rate;
    f.wfx.wBitsPerSample = bits;
    f.wfx.nBlockAlign = (WORD)(channels * bits / 8);
    f.wfx.nAvgBytesPerSec = rate * f.wfx.nBlockAlign;
    return f;
}

/* An IMA ADPCM format with the given fields, consistent or not. */
static fmtbuf ima(WORD channels, DWORD rate, WORD align, WORD spb, WORD cb_size)
{
    fmtbuf f;
    memset(&f, 0, sizeof f);
    f.wfx.wFormatTag = WAVE_FORMAT_IMA_ADPCM;
    f.wfx.nChannels = channels;
    f.wfx.nSamplesPerSec = rate;
    f.wfx.nBlockAlign = align;
    f.wfx.wBitsPerSample = 4;
    f.wfx.cbSize = cb_size;
    f.extra[0] = spb;
    f.wfx.nAvgBytesPerSec = spb ? (DWORD)((double)rate * align / spb) : 0;
    return f;
}

/* ------------------------------------------------------------------------ */

struct driver {
    HACMDRIVERID id;
    HACMDRIVER had;
    ACMDRIVERDETAILSW details;
};

struct search {
    const char *ours, *reference;
    struct driver *a, *b;
};

static BOOL CALLBACK driver_cb(HACMDRIVERID id, DWORD_PTR inst, DWORD support)
{
    struct search *s = (struct search *)inst;
    ACMDRIVERDETAILSW d;
    const char *shortname, *longname;
    (void)support;

    memset(&d, 0, sizeof d);
    d.cbStruct = sizeof d;
    if (acmDriverDetailsW(id, &d, 0))
        return TRUE;
    shortname = narrow(d.szShortName);
    longname = narrow(d.szLongName);
    if (strstr(longname, s->ours)) {
        if (!s->a->id) {
            s->a->id = id;
            s->a->details = d;
        }
    } else if (!s->b->id && (strstr(longname, s->reference) || strstr(shortname, s->reference))) {
        s->b->id = id;
        s->b->details = d;
    }
    return TRUE;
}

/*
 * ACMDRIVERDETAILS: what programs show and use must agree; the identity fields
 * differ on purpose. imaadp32 gives Microsoft's manufacturer and product ids and
 * names; this codec is not Microsoft's, so it gives 0 ids (MM_UNMAPPED) and names
 * of its own, and its version numbers are its own.
 */
static void details(const struct driver *ours, const struct driver *ref)
{
    const ACMDRIVERDETAILSW *a = &ours->details, *b = &ref->details;

    printf("\n--- acmDriverDetails\n");
    printf("  ours:      fccType %#lx fccComp %#lx wMid %u wPid %u vdwACM %#lx vdwDriver %#lx support %#lx tags %lu "
           "filters %lu hicon %p\n",
           (unsigned long)a->fccType, (unsigned long)a->fccComp, a->wMid, a->wPid, (unsigned long)a->vdwACM,
           (unsigned long)a->vdwDriver, (unsigned long)a->fdwSupport, (unsigned long)a->cFormatTags,
           (unsigned long)a->cFilterTags, (void *)a->hicon);
    printf("  reference: fccType %#lx fccComp %#lx wMid %u wPid %u vdwACM %#lx vdwDriver %#lx support %#lx tags %lu "
           "filters %lu hicon %p\n",
           (unsigned long)b->fccType, (unsigned long)b->fccComp, b->wMid, b->wPid, (unsigned long)b->vdwACM,
           (unsigned long)b->vdwDriver, (unsigned long)b->fdwSupport, (unsigned long)b->cFormatTags,
           (unsigned long)b->cFilterTags, (void *)b->hicon);
    printf("  ours:      \"%s\" / \"%s\" / \"%s\"", narrow(a->szShortName), narrow(a->szLongName),
           narrow(a->szCopyright));
    printf(" / \"%s\" / \"%s\"\n", narrow(a->szLicensing), narrow(a->szFeatures));
    printf("  reference: \"%s\" / \"%s\" / \"%s\"", narrow(b->szShortName), narrow(b->szLongName),
           narrow(b->szCopyright));
    printf(" / \"%s\" / \"%s\"\n", narrow(b->szLicensing), narrow(b->szFeatures));
    check(a->cbStruct == b->cbStruct && a->fccType == b->fccType && a->fccComp == b->fccComp,
          "details: cbStruct %lu, fccType %#lx, fccComp %#lx as the reference's", (unsigned long)a->cbStruct,
          (unsigned long)a->fccType, (unsigned long)a->fccComp);
    check(a->fdwSupport == b->fdwSupport && a->cFormatTags == b->cFormatTags && a->cFilterTags == b->cFilterTags,
          "details: fdwSupport %#lx, cFormatTags %lu, cFilterTags %lu as the reference's", (unsigned long)a->fdwSupport,
          (unsigned long)a->cFormatTags, (unsigned long)a->cFilterTags);
    check(a->hicon == NULL && b->hicon == NULL, "details: no icon, as the reference");
    check(a->vdwACM >= 0x03320000 && a->szShortName[0] && a->szLongName[0] && a->szFeatures[0],
          "details: vdwACM %#lx (>= 3.50, the ACM of every current msacm32) and non-empty names", (unsigned long)a->vdwACM);
    printf("NOTE: wMid/wPid (%u/%u, reference %u/%u), vdwDriver and the names differ on purpose: this codec does not "
           "claim to be Microsoft's\n",
           a->wMid, a->wPid, b->wMid, b->wPid);
}

/* ------------------------------------------------------------------------ */
/* Conversions with the calls they took */

enum mode { WHOLE, BLOCKS, ODD_SOURCE, ODD_DEST, MODES };
static const char *const mode_name[MODES] = { "whole buffer", "block-aligned chunks", "odd source chunks",
                                              "odd destination sizes" };

struct call {
    DWORD src_len, dst_len, flags, src_used, dst_used;
    MMRESULT rc;
};

struct run {
    MMRESULT open_rc;
    const char *error;
    BYTE *out;
    DWORD out_len;
    struct call calls[4096];
    int ncalls;
};

/*
 * Converts `in` as a streaming client does: one prepared header, each call's
 * source = what the last one left plus new input; START on the first call, END
 * once all input is in the buffer. src_block and dst_block are the bytes of one
 * codec block on either side. Stops when a call converts nothing and no input is
 * left (a corrupt block stays unconverted).
 */
static void convert(HACMDRIVER had, const fmtbuf *src, const fmtbuf *dst, DWORD src_block, DWORD dst_block,
                    const BYTE *in, DWORD in_len, enum mode mode, struct run *r)
{
    fmtbuf s = *src, d = *dst;
    HACMSTREAM has = NULL;
    ACMSTREAMHEADER h;
    DWORD src_cap, dst_cap, pos = 0, carry = 0, seed = 0x9E3779B9u + (DWORD)mode;
    BYTE *sbuf;
    BYTE *dbuf;
    MMRESULT rc;
    int first = 1;

    r->ncalls = 0;
    r->out_len = 0;
    r->error = NULL;
    r->open_rc = acmStreamOpen(&has, had, &s.wfx, &d.wfx, NULL, 0, 0, ACM_STREAMOPENF_NONREALTIME);
    if (r->open_rc) {
        r->error = "acmStreamOpen";
        return;
    }
    switch (mode) {
    case WHOLE: src_cap = in_len; break;
    case BLOCKS: src_cap = 3 * src_block; break;
    case ODD_SOURCE: src_cap = 3 * src_block; break;
    default: src_cap = 5 * src_block + 3; break;
    }
    dst_cap = (src_cap / src_block + 1) * dst_block;
    sbuf = malloc(src_cap);
    dbuf = malloc(dst_cap);
    if (!sbuf || !dbuf) {
        r->error = "out of memory";
        goto close;
    }
    memset(&h, 0, sizeof h);
    h.cbStruct = sizeof h;
    h.pbSrc = sbuf;
    h.cbSrcLength = src_cap;
    h.pbDst = dbuf;
    h.cbDstLength = dst_cap;
    if (acmStreamPrepareHeader(has, &h, 0)) {
        r->error = "acmStreamPrepareHeader";
        goto close;
    }
    for (;;) {
        DWORD room = src_cap - carry, want = room, n, dst_len = dst_cap, flags = 0;
        struct call *c;

        if (mode == ODD_SOURCE)
            want = 2 * (next_random(&seed) % src_block) + 1;
        if (want > room)
            want = room;
        n = in_len - pos < want ? in_len - pos : want;
        memcpy(sbuf + carry, in + pos, n);
        pos += n;
        if (mode == ODD_DEST)
            dst_len = dst_block + 2 * (next_random(&seed) % dst_block) + 1;
        if (dst_len > dst_cap)
            dst_len = dst_cap;
        if (first)
            flags |= ACM_STREAMCONVERTF_START;
        if (pos == in_len)
            flags |= ACM_STREAMCONVERTF_END;
        if (mode == BLOCKS)
            flags |= ACM_STREAMCONVERTF_BLOCKALIGN;
        h.cbSrcLength = carry + n;
        h.cbDstLength = dst_len;
        h.cbSrcLengthUsed = h.cbDstLengthUsed = 0;
        rc = acmStreamConvert(has, &h, flags);
        if (r->ncalls == (int)(sizeof r->calls / sizeof r->calls[0])) {
            r->error = "too many calls";
            break;
        }
        c = &r->calls[r->ncalls++];
        c->src_len = carry + n;
        c->dst_len = dst_len;
        c->flags = flags;
        c->src_used = h.cbSrcLengthUsed;
        c->dst_used = h.cbDstLengthUsed;
        c->rc = rc;
        first = 0;
        if (rc || h.cbSrcLengthUsed > c->src_len || h.cbDstLengthUsed > dst_len) {
            r->error = rc ? "acmStreamConvert failed" : "the codec used more than the buffers hold";
            break;
        }
        memcpy(r->out + r->out_len, dbuf, h.cbDstLengthUsed);
        r->out_len += h.cbDstLengthUsed;
        carry = c->src_len - h.cbSrcLengthUsed;
        memmove(sbuf, sbuf + h.cbSrcLengthUsed, carry);
        /* Done when all input is in and a call with room for a whole block converted nothing. */
        if (pos == in_len && h.cbSrcLengthUsed == 0 && dst_len >= dst_block)
            break;
    }
    h.cbSrcLength = src_cap;
    h.cbDstLength = dst_cap;
    acmStreamUnprepareHeader(has, &h, 0);
close:
    acmStreamClose(has, 0);
    free(sbuf);
    free(dbuf);
}

static int same_calls(const struct run *a, const struct run *b, int *at)
{
    int k;
    for (k = 0; k < a->ncalls && k < b->ncalls && !memcmp(&a->calls[k], &b->calls[k], sizeof a->calls[k]); k++)
        ;
    *at = k;
    return a->ncalls == b->ncalls && k == a->ncalls;
}

/* Decodes `blocks` with both codecs in every mode and compares PCM and calls. */
static void decode_case(const char *what, const struct driver *ours, const struct driver *ref, const fmtbuf *src,
                        WORD bits, const BYTE *blocks, DWORD nblocks, struct run *a, struct run *b)
{
    fmtbuf dst = pcm(src->wfx.nChannels, src->wfx.nSamplesPerSec, bits);
    DWORD align = src->wfx.nBlockAlign, pcm_block = src->extra[0] * dst.wfx.nBlockAlign, i;
    int m, k;

    for (m = 0; m < MODES; m++) {
        convert(ours->had, src, &dst, align, pcm_block, blocks, nblocks * align, (enum mode)m, a);
        convert(ref->had, src, &dst, align, pcm_block, blocks, nblocks * align, (enum mode)m, b);
        if (a->error || b->error) {
            check(0, "decode %s, %d-bit, %s: ours: %s (open %u), reference: %s (open %u)", what, bits, mode_name[m],
                  a->error ? a->error : "ok", a->open_rc, b->error ? b->error : "ok", b->open_rc);
            continue;
        }
        for (i = 0; i < a->out_len && i < b->out_len && a->out[i] == b->out[i]; i++)
            ;
        check(a->out_len == nblocks * pcm_block && a->out_len == b->out_len && i == a->out_len,
              "decode %s, %d-bit, %s: PCM byte-identical to the reference's (%lu bytes, %lu blocks%s)", what, bits,
              mode_name[m], (unsigned long)a->out_len, (unsigned long)nblocks,
              i == a->out_len && a->out_len == b->out_len ? "" : ", differs");
        if (i < a->out_len || i < b->out_len)
            printf("  first difference at byte %lu (block %lu); lengths ours %lu, reference %lu\n", (unsigned long)i,
                   (unsigned long)(i / pcm_block), (unsigned long)a->out_len, (unsigned long)b->out_len);
        if (same_calls(a, b, &k)) {
            check(1, "decode %s, %d-bit, %s: same bytes used in each of %d calls as the reference", what, bits,
                  mode_name[m], a->ncalls);
        } else {
            const struct call *x = &a->calls[k < a->ncalls ? k : a->ncalls - 1];
            const struct call *y = &b->calls[k < b->ncalls ? k : b->ncalls - 1];
            check(0,
                  "decode %s, %d-bit, %s: call %d differs: ours src %lu dst %lu flags %#lx -> rc %u used %lu/%lu; "
                  "reference src %lu dst %lu flags %#lx -> rc %u used %lu/%lu",
                  what, bits, mode_name[m], k, (unsigned long)x->src_len, (unsigned long)x->dst_len,
                  (unsigned long)x->flags, x->rc, (unsigned long)x->src_used, (unsigned long)x->dst_used,
                  (unsigned long)y->src_len, (unsigned long)y->dst_len, (unsigned long)y->flags, y->rc,
                  (unsigned long)y->src_used, (unsigned long)y->dst_used);
        }
    }
}

/* Code bytes of crafted blocks: each drives the decoder to an edge. */
static const BYTE patterns[] = {
    0x00, /* smallest steps up: the index falls to 0 */
    0x77, /* largest steps up: saturates at 32767, the index climbs to 88 */
    0xFF, /* largest steps down: saturates at -32768 */
    0x88, /* smallest steps down */
    0x7F, /* up and down by the largest step, alternately */
    0x4C, /* the middle codes */
};

/*
 * Crafted blocks: for every step index 0..88 (the other channel's index is
 * 88 - index) and every pattern, headers at the extremes and in between; then
 * random blocks with valid step indexes and random reserved bytes.
 */
static DWORD make_blocks(BYTE *out, WORD channels, DWORD align, int random_blocks, DWORD *seed)
{
    static const short firsts[] = { 32767, -32768, 0, 1234, -20000 };
    DWORD n = 0, j;
    int idx, p, c;

    if (!random_blocks) {
        for (idx = 0; idx <= 88; idx++) {
            for (p = 0; p < (int)sizeof patterns; p++, n++) {
                BYTE *b = out + n * align;
                memset(b, patterns[p], align);
                for (c = 0; c < channels; c++) {
                    short first = firsts[(idx + p + c) % 5];
                    b[4 * c] = (BYTE)first;
                    b[4 * c + 1] = (BYTE)((unsigned short)first >> 8);
                    b[4 * c + 2] = (BYTE)(c ? 88 - idx : idx);
                    b[4 * c + 3] = 0;
                }
            }
        }
        return n;
    }
    for (n = 0; n < 300; n++) {
        BYTE *b = out + n * align;
        for (j = 0; j < align; j++)
            b[j] = (BYTE)next_random(seed);
        for (c = 0; c < channels; c++)
            b[4 * c + 2] = (BYTE)(next_random(seed) % 89);
    }
    return n;
}

static void decoding(const struct driver *ours, const struct driver *ref)
{
    static const struct {
        WORD channels;
        DWORD rate;
        WORD align, spb;
    } fmts[] = { { 1, 8000, 256, 505 }, { 2, 8000, 512, 505 }, { 1, 22050, 512, 1017 }, { 2, 44100, 2048, 2041 } };
    static struct run a, b;
    size_t f;
    DWORD seed = 20261130;

    printf("\n--- decoding crafted and random blocks\n");
    a.out = malloc(89 * sizeof patterns * 2041 * 2 * 2 + 65536);
    b.out = malloc(89 * sizeof patterns * 2041 * 2 * 2 + 65536);
    if (!a.out || !b.out) {
        check(0, "out of memory");
        return;
    }
    for (f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        fmtbuf src = ima(fmts[f].channels, fmts[f].rate, fmts[f].align, fmts[f].spb, 2);
        BYTE *blocks = malloc(89 * sizeof patterns * (size_t)fmts[f].align);
        int random_blocks;
        if (!blocks) {
            check(0, "out of memory");
            break;
        }
        for (random_blocks = 0; random_blocks < 2; random_blocks++) {
            char what[120];
            DWORD n = make_blocks(blocks, fmts[f].channels, fmts[f].align, random_blocks, &seed);
            snprintf(what, sizeof what, "%s blocks, %lu Hz %u ch, align %u",
                     random_blocks ? "random" : "every step index x crafted", (unsigned long)fmts[f].rate,
                     fmts[f].channels, fmts[f].align);
            decode_case(what, ours, ref, &src, 16, blocks, n, &a, &b);
            /* The reference decodes to 8-bit PCM in mono only (its stereo 8-bit convert fails). */
            if (fmts[f].channels == 1)
                decode_case(what, ours, ref, &src, 8, blocks, n, &a, &b);
        }
        free(blocks);
    }
    free(a.out);
    free(b.out);
}

/*
 * A step index past 88 in a block header is corrupt input. Both codecs clamp it to
 * 88 and decode the block, so a stream never stalls on a block no call would
 * consume: the same PCM, every block used.
 */
static void corrupt_index(const struct driver *ours, const struct driver *ref)
{
    static const BYTE bad[] = { 89, 255 };
    fmtbuf src = ima(1, 8000, 256, 505, 2), dst = pcm(1, 8000, 16);
    static BYTE blocks[3 * 256];
    static struct run a, b;
    size_t i;
    DWORD seed = 7;

    printf("\n--- a step index past 88\n");
    a.out = malloc(3 * 1010 + 8192);
    b.out = malloc(3 * 1010 + 8192);
    if (!a.out || !b.out) {
        check(0, "out of memory");
        goto out;
    }
    for (i = 0; i < sizeof bad; i++) {
        DWORD j;
        for (j = 0; j < sizeof blocks; j++)
            blocks[j] = (BYTE)next_random(&seed);
        blocks[2] = 10;
        blocks[256 + 2] = bad[i];
        blocks[512 + 2] = 20;
        convert(ours->had, &src, &dst, 256, 1010, blocks, sizeof blocks, WHOLE, &a);
        convert(ref->had, &src, &dst, 256, 1010, blocks, sizeof blocks, WHOLE, &b);
        printf("  index %u in block 2 of 3: ours %s, %lu PCM bytes in %d calls (first used %lu/%lu); reference %s, "
               "%lu bytes\n",
               bad[i], a.error ? a.error : "ok", (unsigned long)a.out_len, a.ncalls,
               a.ncalls ? (unsigned long)a.calls[0].src_used : 0ul, a.ncalls ? (unsigned long)a.calls[0].dst_used : 0ul,
               b.error ? b.error : "ok", (unsigned long)b.out_len);
        check(!a.error && !b.error && a.out_len == 3 * 1010 && b.out_len == 3 * 1010 &&
                  memcmp(a.out, b.out, 3 * 1010) == 0,
              "step index %u in block 2: ours decodes all three blocks as the reference does (clamped to 88)",
              bad[i]);
    }
out:
    free(a.out);
    free(b.out);
}

/* ------------------------------------------------------------------------ */

/* One open stream: START makes a second conversion give the first one's blocks. */
static void start_resets(const char *who, HACMDRIVER had, int must_reset)
{
    fmtbuf src = pcm(1, 8000, 16), dst = ima(1, 8000, 256, 505, 2);
    static short in[505 * 4];
    static BYTE first[1024], again[1024], carried[1024], buf[1024];
    HACMSTREAM has = NULL;
    ACMSTREAMHEADER h;
    MMRESULT rc;
    DWORD i, used[3];
    BYTE *outs[3] = { first, carried, again };
    DWORD flags[3] = { ACM_STREAMCONVERTF_START, 0, ACM_STREAMCONVERTF_START };
    int k;

    /* A loud start raises the step index; a quiet end leaves it somewhere in the middle. */
    for (i = 0; i < sizeof in / sizeof in[0]; i++)
        in[i] = (short)((i % 37 < 18 ? 1 : -1) * (i < 1200 ? 20000 : 300));
    rc = acmStreamOpen(&has, had, &src.wfx, &dst.wfx, NULL, 0, 0, 0);
    if (rc) {
        check(0, "%s: START: acmStreamOpen -> %u", who, rc);
        return;
    }
    memset(&h, 0, sizeof h);
    h.cbStruct = sizeof h;
    h.pbSrc = (BYTE *)in;
    h.cbSrcLength = sizeof in;
    h.pbDst = buf;
    h.cbDstLength = sizeof buf;
    /* msacm32 refuses a header whose buffers moved since it was prepared. */
    rc = acmStreamPrepareHeader(has, &h, 0);
    for (k = 0; k < 3 && !rc; k++) {
        h.cbSrcLengthUsed = h.cbDstLengthUsed = 0;
        rc = acmStreamConvert(has, &h, flags[k]);
        used[k] = h.cbDstLengthUsed;
        memcpy(outs[k], buf, sizeof buf);
    }
    acmStreamUnprepareHeader(has, &h, 0);
    acmStreamClose(has, 0);
    if (rc) {
        check(0, "%s: START: acmStreamConvert -> %u", who, rc);
        return;
    }
    printf("  %s: first block's step index: with START %u, then without START %u, then with START %u\n", who, first[2],
           carried[2], again[2]);
    if (must_reset)
        check(used[0] == 1024 && used[2] == 1024 && memcmp(first, again, 1024) == 0 && first[2] == 0 && carried[2] != 0,
              "%s: START on the same stream gives the first conversion's blocks again (the index carries over without it)",
              who);
    else
        check(memcmp(first, again, 1024) == 0 && carried[2] != 0,
              "%s: START on the same stream gives the first conversion's blocks again", who);
}

/* ------------------------------------------------------------------------ */

/*
 * Malformed formats: ours must refuse them. The reference accepts several of
 * them and then converts with whatever the fields say (with a wSamplesPerBlock
 * that does not fit nBlockAlign it reads past blocks or writes the wrong amount
 * of PCM), so refusing where it accepts is stricter, not a difference to fix.
 */
static void bad_formats(const struct driver *ours, const struct driver *ref)
{
    static const struct {
        const char *what;
        int decode; /* IMA -> PCM, else PCM -> IMA */
        WORD channels;
        DWORD rate;
        WORD align, spb, cb_size, bits;
    } cases[] = {
        { "wSamplesPerBlock 504 in a 256-byte block", 0, 1, 8000, 256, 504, 2, 4 },
        { "wSamplesPerBlock 506 in a 256-byte block", 0, 1, 8000, 256, 506, 2, 4 },
        { "wSamplesPerBlock 1017 in a 256-byte block", 0, 1, 8000, 256, 1017, 2, 4 },
        { "nBlockAlign 512 with wSamplesPerBlock 505", 0, 1, 8000, 512, 505, 2, 4 },
        { "nBlockAlign 255", 0, 1, 8000, 255, 505, 2, 4 },
        { "nBlockAlign 0", 0, 1, 8000, 0, 505, 2, 4 },
        { "nBlockAlign 4 (headers only)", 0, 1, 8000, 4, 1, 2, 4 },
        { "stereo nBlockAlign 260", 0, 2, 8000, 260, 505, 2, 4 },
        { "cbSize 0", 0, 1, 8000, 256, 505, 0, 4 },
        { "cbSize 1", 0, 1, 8000, 256, 505, 1, 4 },
        { "0 channels", 0, 0, 8000, 256, 505, 2, 4 },
        { "3 channels", 0, 3, 8000, 768, 505, 2, 4 },
        { "0 Hz", 0, 1, 0, 256, 505, 2, 4 },
        { "1 Hz", 0, 1, 1, 256, 505, 2, 4 },
        { "4000 Hz", 0, 1, 4000, 256, 505, 2, 4 },
        { "96000 Hz", 0, 1, 96000, 1024, 2041, 2, 4 },
        { "4000000000 Hz", 0, 1, 4000000000u, 1024, 2041, 2, 4 },
        { "3 bits per sample", 0, 1, 8000, 256, 505, 2, 3 },
        { "decoding: wSamplesPerBlock 504", 1, 1, 8000, 256, 504, 2, 4 },
        { "decoding: wSamplesPerBlock 1017 in a 256-byte block", 1, 1, 8000, 256, 1017, 2, 4 },
        { "decoding: nBlockAlign 255", 1, 1, 8000, 255, 505, 2, 4 },
        { "decoding: cbSize 0", 1, 1, 8000, 256, 505, 0, 4 },
        { "decoding: 0 channels", 1, 0, 8000, 256, 505, 2, 4 },
        { "decoding: 0 Hz", 1, 1, 0, 256, 505, 2, 4 },
        { "decoding: 4000000000 Hz", 1, 1, 4000000000u, 1024, 2041, 2, 4 },
    };
    size_t i;
    int stricter = 0;

    printf("\n--- acmStreamOpen of malformed formats\n");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fmtbuf p = pcm(cases[i].channels, cases[i].rate, 16);
        fmtbuf q = ima(cases[i].channels, cases[i].rate, cases[i].align, cases[i].spb, cases[i].cb_size);
        MMRESULT r[2];
        int k;
        q.wfx.wBitsPerSample = cases[i].bits;
        for (k = 0; k < 2; k++) {
            HACMSTREAM has = NULL;
            fmtbuf s = cases[i].decode ? q : p, d = cases[i].decode ? p : q;
            r[k] = acmStreamOpen(&has, k ? ref->had : ours->had, &s.wfx, &d.wfx, NULL, 0, 0, 0);
            if (r[k] == 0)
                acmStreamClose(has, 0);
        }
        if (r[0] && !r[1])
            stricter++;
        check(r[0] != 0, "acmStreamOpen, %s: ours -> %u, the reference -> %u%s", cases[i].what, r[0], r[1],
              r[0] && !r[1] ? " (ours is stricter)" : "");
    }
    printf("NOTE: ours refuses %d malformed formats that the reference accepts\n", stricter);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct driver ours, ref;
    struct search s;
    MMRESULT rc;

    memset(&ours, 0, sizeof ours);
    memset(&ref, 0, sizeof ref);
    s.ours = argc > 1 ? argv[1] : "drvproc IMA";
    s.reference = argc > 2 ? argv[2] : "IMA ADPCM";
    s.a = &ours;
    s.b = &ref;
    setvbuf(stdout, NULL, _IONBF, 0);
    rc = acmDriverEnum(driver_cb, (DWORD_PTR)&s, 0);
    check(rc == 0 && ours.id && ref.id, "acmDriverEnum -> %u; found ours (\"%s\"): %s, the reference (\"%s\"): %s", rc,
          s.ours, ours.id ? "yes" : "no", s.reference, ref.id ? "yes" : "no");
    if (!ours.id || !ref.id)
        goto done;
    rc = acmDriverOpen(&ours.had, ours.id, 0);
    check(rc == 0, "acmDriverOpen(ours) -> %u", rc);
    rc = acmDriverOpen(&ref.had, ref.id, 0);
    check(rc == 0, "acmDriverOpen(reference) -> %u", rc);
    if (!ours.had || !ref.had)
        goto done;

    details(&ours, &ref);
    decoding(&ours, &ref);
    corrupt_index(&ours, &ref);
    printf("\n--- ACM_STREAMCONVERTF_START on one open stream\n");
    start_resets("ours", ours.had, 1);
    start_resets("reference", ref.had, 0);
    bad_formats(&ours, &ref);

done:
    if (ours.had)
        acmDriverClose(ours.had, 0);
    if (ref.had)
        acmDriverClose(ref.had, 0);
    printf("\nacm-ima-edge-test: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
