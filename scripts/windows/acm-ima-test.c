/*
 * An IMA ADPCM ACM codec driven through the system's msacm32 and compared with a
 * reference IMA ADPCM codec (under Wine: Wine's own imaadp32.acm).
 *
 * Usage: acm-ima-test [OURS [REFERENCE]]
 *   OURS       text in the long name of the codec under test (default "drvproc IMA");
 *   REFERENCE  text in the short or long name of the reference (default "IMA ADPCM",
 *              any other driver).
 * Checks: the format tags and formats both list; acmFormatSuggest both ways;
 * acmStreamSize SOURCE and DESTINATION for many sizes (with less than one block);
 * decoding of the reference's blocks (IMA decoding is deterministic, so the PCM must
 * be byte-identical) in one buffer, block-aligned chunks, odd source chunks and odd
 * destination sizes; encoding of a speech-like signal at 8000 Hz mono and 22050 Hz
 * stereo by both codecs, with the SNR of each, and our blocks decoded by both
 * decoders; 8-bit PCM (listed by both, converted by ours only) against the
 * reference's 16-bit results. One PASS/FAIL line per check; the exit status is 1
 * if any failed.
 */
#include <math.h>
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

/* A format with room for IMA's extra bytes (wSamplesPerBlock). */
typedef struct {
    WAVEFORMATEX wfx;
    WORD extra[3];
} fmtbuf;

static WORD samples_per_block(const fmtbuf *f)
{
    return f->wfx.wFormatTag == WAVE_FORMAT_IMA_ADPCM && f->wfx.cbSize >= 2 ? f->extra[0] : 0;
}

static void describe(char *out, size_t n, const fmtbuf *f)
{
    snprintf(out, n, "tag %#x ch %u rate %lu avg %lu align %u bits %u cbSize %u spb %u", f->wfx.wFormatTag,
             f->wfx.nChannels, (unsigned long)f->wfx.nSamplesPerSec, (unsigned long)f->wfx.nAvgBytesPerSec,
             f->wfx.nBlockAlign, f->wfx.wBitsPerSample, f->wfx.wFormatTag == WAVE_FORMAT_PCM ? 0 : f->wfx.cbSize,
             samples_per_block(f));
}

/* ------------------------------------------------------------------------ */

struct driver {
    const char *label;
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
    MMRESULT rc;

    memset(&d, 0, sizeof d);
    d.cbStruct = sizeof d;
    rc = acmDriverDetailsW(id, &d, 0);
    if (rc)
        return TRUE;
    shortname = narrow(d.szShortName);
    longname = narrow(d.szLongName);
    printf("driver: \"%s\" / \"%s\" support %#lx tags %lu\n", shortname, longname, (unsigned long)support,
           (unsigned long)d.cFormatTags);
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

/* ------------------------------------------------------------------------ */
/* Format tags and formats, compared with the reference's */

struct tags {
    int n;
    ACMFORMATTAGDETAILSW tag[16];
};

static BOOL CALLBACK tag_cb(HACMDRIVERID id, LPACMFORMATTAGDETAILSW t, DWORD_PTR inst, DWORD support)
{
    struct tags *tags = (struct tags *)inst;
    (void)id;
    (void)support;
    if (tags->n < 16)
        tags->tag[tags->n++] = *t;
    return TRUE;
}

struct formats {
    int n;
    fmtbuf fmt[128];
};

static BOOL CALLBACK format_cb(HACMDRIVERID id, LPACMFORMATDETAILSW d, DWORD_PTR inst, DWORD support)
{
    struct formats *fs = (struct formats *)inst;
    (void)id;
    (void)support;
    if (fs->n < 128) {
        memset(&fs->fmt[fs->n], 0, sizeof(fmtbuf));
        memcpy(&fs->fmt[fs->n], d->pwfx, d->cbwfx < sizeof(fmtbuf) ? d->cbwfx : sizeof(fmtbuf));
        fs->n++;
    }
    return TRUE;
}

static void enum_formats(struct driver *drv, DWORD tag, struct formats *fs, MMRESULT *rc)
{
    ACMFORMATDETAILSW d;
    fmtbuf buf;
    memset(fs, 0, sizeof *fs);
    memset(&d, 0, sizeof d);
    memset(&buf, 0, sizeof buf);
    d.cbStruct = sizeof d;
    d.dwFormatTag = tag;
    d.pwfx = &buf.wfx;
    d.pwfx->wFormatTag = (WORD)tag;
    d.cbwfx = sizeof buf;
    *rc = acmFormatEnumW(drv->had, &d, format_cb, (DWORD_PTR)fs, ACM_FORMATENUMF_WFORMATTAG);
}

static int same_format(const fmtbuf *a, const fmtbuf *b)
{
    size_t n = sizeof(WAVEFORMATEX) - sizeof(WORD); /* without cbSize */
    if (memcmp(a, b, n))
        return 0;
    if (a->wfx.wFormatTag == WAVE_FORMAT_PCM)
        return 1;
    return a->wfx.cbSize == b->wfx.cbSize && samples_per_block(a) == samples_per_block(b);
}

static void compare_formats(struct driver *ours, struct driver *ref)
{
    struct tags ta, tb;
    ACMFORMATTAGDETAILSW t;
    MMRESULT ra, rb;
    int i, j, ima = -1, same;

    printf("\n--- format tags\n");
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    memset(&t, 0, sizeof t);
    t.cbStruct = sizeof t;
    ra = acmFormatTagEnumW(ours->had, &t, tag_cb, (DWORD_PTR)&ta, 0);
    memset(&t, 0, sizeof t);
    t.cbStruct = sizeof t;
    rb = acmFormatTagEnumW(ref->had, &t, tag_cb, (DWORD_PTR)&tb, 0);
    for (i = 0; i < ta.n || i < tb.n; i++) {
        if (i < ta.n)
            printf("  ours %d: tag %#lx \"%s\" cbFormatSize %lu support %#lx formats %lu\n", i,
                   (unsigned long)ta.tag[i].dwFormatTag, narrow(ta.tag[i].szFormatTag),
                   (unsigned long)ta.tag[i].cbFormatSize, (unsigned long)ta.tag[i].fdwSupport,
                   (unsigned long)ta.tag[i].cStandardFormats);
        if (i < tb.n)
            printf("  ref  %d: tag %#lx \"%s\" cbFormatSize %lu support %#lx formats %lu\n", i,
                   (unsigned long)tb.tag[i].dwFormatTag, narrow(tb.tag[i].szFormatTag),
                   (unsigned long)tb.tag[i].cbFormatSize, (unsigned long)tb.tag[i].fdwSupport,
                   (unsigned long)tb.tag[i].cStandardFormats);
    }
    for (i = 0; i < ta.n; i++)
        if (ta.tag[i].dwFormatTag == WAVE_FORMAT_IMA_ADPCM)
            ima = i;
    check(ra == 0 && ima >= 0 && ta.tag[ima].cbFormatSize == 20,
          "ours: acmFormatTagEnum -> %u, lists tag 0x11 with cbFormatSize %lu", ra,
          ima >= 0 ? (unsigned long)ta.tag[ima].cbFormatSize : 0ul);
    same = ra == 0 && rb == 0 && ta.n == tb.n;
    for (i = 0; same && i < ta.n; i++)
        same = ta.tag[i].dwFormatTag == tb.tag[i].dwFormatTag && ta.tag[i].cbFormatSize == tb.tag[i].cbFormatSize &&
               ta.tag[i].fdwSupport == tb.tag[i].fdwSupport &&
               ta.tag[i].cStandardFormats == tb.tag[i].cStandardFormats;
    check(same, "format tags (tag, cbFormatSize, fdwSupport, cStandardFormats) as the reference's (%d, %d tags)",
          ta.n, tb.n);

    for (i = 0; i < ta.n; i++) {
        static struct formats fa, fb;
        DWORD tag = ta.tag[i].dwFormatTag;
        enum_formats(ours, tag, &fa, &ra);
        enum_formats(ref, tag, &fb, &rb);
        printf("--- formats of tag %#lx: ours %d (rc %u), reference %d (rc %u)\n", (unsigned long)tag, fa.n, ra, fb.n,
               rb);
        same = ra == 0 && rb == 0 && fa.n == fb.n;
        for (j = 0; j < fa.n || j < fb.n; j++) {
            char sa[200] = "-", sb[200] = "-";
            int eq;
            if (j < fa.n)
                describe(sa, sizeof sa, &fa.fmt[j]);
            if (j < fb.n)
                describe(sb, sizeof sb, &fb.fmt[j]);
            eq = j < fa.n && j < fb.n && same_format(&fa.fmt[j], &fb.fmt[j]);
            if (eq)
                printf("    %2d: %s\n", j, sa);
            else
                printf("    %2d: ours {%s} reference {%s}\n", j, sa, sb);
            if (!eq)
                same = 0;
        }
        check(same, "formats of tag %#lx: the same list as the reference's, in the same order", (unsigned long)tag);
    }
}

/* ------------------------------------------------------------------------ */

static fmtbuf pcm16(WORD channels, DWORD rate)
{
    fmtbuf f;
    memset(&f, 0, sizeof f);
    f.wfx.wFormatTag = WAVE_FORMAT_PCM;
    f.wfx.nChannels = channels;
    f.wfx.nSamplesPerSec = rate;
    f.wfx.wBitsPerSample = 16;
    f.wfx.nBlockAlign = (WORD)(2 * channels);
    f.wfx.nAvgBytesPerSec = rate * f.wfx.nBlockAlign;
    return f;
}

/* The reference's own format for (channels, rate), from its suggestion. */
static int ima_of(struct driver *ref, WORD channels, DWORD rate, fmtbuf *out)
{
    fmtbuf src = pcm16(channels, rate);
    memset(out, 0, sizeof *out);
    out->wfx.wFormatTag = WAVE_FORMAT_IMA_ADPCM;
    return acmFormatSuggest(ref->had, &src.wfx, &out->wfx, sizeof *out, ACM_FORMATSUGGESTF_WFORMATTAG) == 0;
}

static void suggestions(struct driver *ours, struct driver *ref)
{
    static const struct {
        WORD channels;
        DWORD rate;
        DWORD flags;
    } cases[] = {
        { 1, 8000, ACM_FORMATSUGGESTF_WFORMATTAG },
        { 2, 22050, ACM_FORMATSUGGESTF_WFORMATTAG },
        { 1, 11025, ACM_FORMATSUGGESTF_WFORMATTAG },
        { 2, 44100, ACM_FORMATSUGGESTF_WFORMATTAG },
        { 1, 8000, ACM_FORMATSUGGESTF_WFORMATTAG | ACM_FORMATSUGGESTF_NCHANNELS | ACM_FORMATSUGGESTF_NSAMPLESPERSEC },
    };
    size_t i;
    int dir;

    printf("\n--- acmFormatSuggest\n");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (dir = 0; dir < 2; dir++) {
            fmtbuf src, a, b;
            MMRESULT ra, rb;
            char sa[200], sb[200], what[100];
            WORD to = dir ? WAVE_FORMAT_PCM : WAVE_FORMAT_IMA_ADPCM;
            if (dir == 0)
                src = pcm16(cases[i].channels, cases[i].rate);
            else if (!ima_of(ref, cases[i].channels, cases[i].rate, &src)) {
                check(0, "suggest: the reference has no IMA format for %u ch %lu Hz", cases[i].channels,
                      (unsigned long)cases[i].rate);
                continue;
            }
            snprintf(what, sizeof what, "%s %lu Hz %u ch -> %s (flags %#lx)", dir ? "IMA" : "PCM",
                     (unsigned long)cases[i].rate, cases[i].channels, dir ? "PCM" : "IMA",
                     (unsigned long)cases[i].flags);
            memset(&a, 0, sizeof a);
            a.wfx.wFormatTag = to;
            a.wfx.nChannels = cases[i].channels;
            a.wfx.nSamplesPerSec = cases[i].rate;
            b = a;
            ra = acmFormatSuggest(ours->had, &src.wfx, &a.wfx, sizeof a, cases[i].flags);
            rb = acmFormatSuggest(ref->had, &src.wfx, &b.wfx, sizeof b, cases[i].flags);
            describe(sa, sizeof sa, &a);
            describe(sb, sizeof sb, &b);
            printf("  %s: ours %u {%s}\n  %*s reference %u {%s}\n", what, ra, sa, (int)strlen(what), "", rb, sb);
            check(ra == rb && (ra != 0 || same_format(&a, &b)), "suggest %s: as the reference", what);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* acmStreamSize */

static void sizes(const char *what, struct driver *ours, struct driver *ref, const fmtbuf *src, const fmtbuf *dst)
{
    WAVEFORMATEX *s = (WAVEFORMATEX *)&src->wfx, *d = (WAVEFORMATEX *)&dst->wfx;
    HACMSTREAM ha = NULL, hb = NULL;
    MMRESULT ra, rb;
    int kind, same = 1, below = 0;
    DWORD pcm_block, ima_block;
    const fmtbuf *ima = src->wfx.wFormatTag == WAVE_FORMAT_IMA_ADPCM ? src : dst;

    ima_block = ima->wfx.nBlockAlign;
    pcm_block = 2u * samples_per_block(ima) * ima->wfx.nChannels;
    ra = acmStreamOpen(&ha, ours->had, s, d, NULL, 0, 0, 0);
    rb = acmStreamOpen(&hb, ref->had, s, d, NULL, 0, 0, 0);
    if (ra || rb) {
        check(0, "%s: acmStreamSize not tried: acmStreamOpen -> ours %u, reference %u", what, ra, rb);
        if (!ra)
            acmStreamClose(ha, 0);
        if (!rb)
            acmStreamClose(hb, 0);
        return;
    }
    for (kind = 0; kind < 2; kind++) {
        DWORD flag = kind ? ACM_STREAMSIZEF_DESTINATION : ACM_STREAMSIZEF_SOURCE;
        DWORD blk[2] = { pcm_block, ima_block }, lengths[64];
        int n = 0, k, m;
        /* Around 0, 1, 2 and 7 blocks of either side, and some plain numbers. */
        for (k = 0; k < 2; k++) {
            static const DWORD mult[] = { 1, 2, 7 };
            for (m = 0; m < 3; m++) {
                lengths[n++] = blk[k] * mult[m] - 1;
                lengths[n++] = blk[k] * mult[m];
                lengths[n++] = blk[k] * mult[m] + 1;
            }
        }
        lengths[n++] = 0;
        lengths[n++] = 1;
        lengths[n++] = 2;
        lengths[n++] = 4;
        lengths[n++] = 1000;
        lengths[n++] = 65536;
        lengths[n++] = 1000000;
        printf("  %s %s:", what, kind ? "DESTINATION" : "SOURCE");
        for (k = 0; k < n; k++) {
            DWORD a = 0xdeadbeef, b = 0xdeadbeef;
            ra = acmStreamSize(ha, lengths[k], &a, flag);
            rb = acmStreamSize(hb, lengths[k], &b, flag);
            if (ra)
                printf(" %lu->rc%u", (unsigned long)lengths[k], ra);
            else
                printf(" %lu->%lu", (unsigned long)lengths[k], (unsigned long)a);
            if (ra != rb || (ra == 0 && a != b)) {
                same = 0;
                printf("(reference: rc%u %lu)", rb, (unsigned long)b);
            }
            if (lengths[k] < ((kind ? d : s)->wFormatTag == WAVE_FORMAT_PCM ? pcm_block : ima_block) &&
                ra != ACMERR_NOTPOSSIBLE)
                below++;
        }
        printf("\n");
    }
    check(same, "%s: acmStreamSize SOURCE and DESTINATION answers identical to the reference's", what);
    check(below == 0, "%s: acmStreamSize of less than one block -> ACMERR_NOTPOSSIBLE (%d other answers)", what,
          below);
    acmStreamClose(ha, 0);
    acmStreamClose(hb, 0);
}

/* ------------------------------------------------------------------------ */
/* Streams */

enum mode { WHOLE, BLOCKS, ODD_SOURCE, ODD_DEST, MODES };
static const char *const mode_name[MODES] = { "whole buffer", "block-aligned chunks", "odd source chunks",
                                              "odd destination sizes" };

struct call {
    DWORD src_len, dst_len, flags, src_used, dst_used;
    MMRESULT rc;
};

struct run {
    const char *error;
    MMRESULT error_rc;
    BYTE *out;
    DWORD out_len;
    struct call *calls;
    int ncalls;
};

static void free_run(struct run *r)
{
    free(r->out);
    free(r->calls);
    memset(r, 0, sizeof *r);
}

static DWORD next_odd(DWORD *seed, DWORD range)
{
    *seed = *seed * 1103515245u + 12345u;
    return 2 * ((*seed >> 16) % range) + 1;
}

/*
 * Converts `in` as a streaming client does: one prepared header; each call's source
 * is what the last call left plus new input; START on the first call, END on the
 * call that holds the rest of the input and room for its output. src_block and
 * dst_block are the bytes of one codec block on either side.
 */
static void convert(HACMDRIVER had, const fmtbuf *src, const fmtbuf *dst, DWORD src_block, DWORD dst_block,
                    const BYTE *in, DWORD in_len, enum mode mode, struct run *r)
{
    fmtbuf s = *src, d = *dst;
    HACMSTREAM has = NULL;
    ACMSTREAMHEADER h;
    DWORD src_cap, dst_cap, out_cap, pos = 0, carry = 0, seed = 0x2545F491u + (DWORD)mode;
    BYTE *sbuf = NULL, *dbuf = NULL;
    MMRESULT rc;
    int cap_calls = 8192, stalls = 0, first = 1;

    memset(r, 0, sizeof *r);
    rc = acmStreamOpen(&has, had, &s.wfx, &d.wfx, NULL, 0, 0, ACM_STREAMOPENF_NONREALTIME);
    if (rc) {
        r->error = "acmStreamOpen";
        r->error_rc = rc;
        return;
    }
    switch (mode) {
    case WHOLE: src_cap = in_len; break;
    case BLOCKS: src_cap = 3 * src_block; break;
    case ODD_SOURCE: src_cap = 3 * src_block; break;
    default: src_cap = 5 * src_block + 3; break;
    }
    dst_cap = (src_cap / src_block + 1) * dst_block;
    out_cap = (in_len / src_block + 1) * dst_block;
    sbuf = malloc(src_cap);
    dbuf = malloc(dst_cap);
    r->out = malloc(out_cap + dst_cap);
    r->calls = malloc(cap_calls * sizeof *r->calls);
    if (!sbuf || !dbuf || !r->out || !r->calls) {
        r->error = "out of memory";
        goto close;
    }
    memset(&h, 0, sizeof h);
    h.cbStruct = sizeof h;
    h.pbSrc = sbuf;
    h.cbSrcLength = src_cap;
    h.pbDst = dbuf;
    h.cbDstLength = dst_cap;
    rc = acmStreamPrepareHeader(has, &h, 0);
    if (rc) {
        r->error = "acmStreamPrepareHeader";
        r->error_rc = rc;
        goto close;
    }
    for (;;) {
        DWORD room = src_cap - carry, want, n, dst_len, flags = 0;
        struct call *c;
        int last;

        want = mode == ODD_SOURCE ? next_odd(&seed, src_block) : room;
        if (want > room)
            want = room;
        n = in_len - pos < want ? in_len - pos : want;
        memcpy(sbuf + carry, in + pos, n);
        pos += n;
        /* Odd destination sizes: 1 to 3 blocks and an odd remainder. */
        dst_len = mode == ODD_DEST ? dst_block + next_odd(&seed, dst_block) : dst_cap;
        if (dst_len > dst_cap)
            dst_len = dst_cap;
        last = pos == in_len && (carry + n) / src_block <= dst_len / dst_block;
        if (first)
            flags |= ACM_STREAMCONVERTF_START;
        if (last)
            flags |= ACM_STREAMCONVERTF_END;
        if (mode == BLOCKS)
            flags |= ACM_STREAMCONVERTF_BLOCKALIGN;
        h.cbSrcLength = carry + n;
        h.cbDstLength = dst_len;
        h.cbSrcLengthUsed = h.cbDstLengthUsed = 0;
        rc = acmStreamConvert(has, &h, flags);
        if (r->ncalls == cap_calls) {
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
        if (rc) {
            r->error = "acmStreamConvert";
            r->error_rc = rc;
            break;
        }
        if (h.cbSrcLengthUsed > c->src_len || h.cbDstLengthUsed > dst_len) {
            r->error = "the codec used more than the buffers hold";
            break;
        }
        memcpy(r->out + r->out_len, dbuf, h.cbDstLengthUsed);
        r->out_len += h.cbDstLengthUsed;
        carry = c->src_len - h.cbSrcLengthUsed;
        memmove(sbuf, sbuf + h.cbSrcLengthUsed, carry);
        if (last)
            break;
        if (h.cbSrcLengthUsed == 0 && n == 0 && ++stalls > 2) {
            r->error = "no progress";
            break;
        }
    }
    h.cbSrcLength = src_cap;
    h.cbDstLength = dst_cap;
    rc = acmStreamUnprepareHeader(has, &h, 0);
    if (rc && !r->error) {
        r->error = "acmStreamUnprepareHeader";
        r->error_rc = rc;
    }
close:
    rc = acmStreamClose(has, 0);
    if (rc && !r->error) {
        r->error = "acmStreamClose";
        r->error_rc = rc;
    }
    free(sbuf);
    free(dbuf);
}

static int run_ok(const char *what, const char *who, const struct run *r)
{
    if (r->error) {
        check(0, "%s: %s: %s -> %u (after %d calls)", what, who, r->error, r->error_rc, r->ncalls);
        return 0;
    }
    return 1;
}

static int same_bytes(const struct run *a, const struct run *b, DWORD *at)
{
    DWORD i;
    for (i = 0; i < a->out_len && i < b->out_len && a->out[i] == b->out[i]; i++)
        ;
    *at = i;
    return a->out_len == b->out_len && i == a->out_len;
}

static int same_calls(const struct run *a, const struct run *b, int *at)
{
    int k;
    for (k = 0; k < a->ncalls && k < b->ncalls && !memcmp(&a->calls[k], &b->calls[k], sizeof a->calls[k]); k++)
        ;
    *at = k;
    return a->ncalls == b->ncalls && k == a->ncalls;
}

static void report_calls(const char *what, const struct run *a, const struct run *b)
{
    int k;
    if (same_calls(a, b, &k)) {
        check(1, "%s: same bytes used per call as the reference (%d calls)", what, a->ncalls);
    } else {
        const struct call *x = &a->calls[k < a->ncalls ? k : a->ncalls - 1];
        const struct call *y = &b->calls[k < b->ncalls ? k : b->ncalls - 1];
        check(0,
              "%s: call %d differs: ours src %lu dst %lu flags %#lx -> rc %u used %lu/%lu; reference src %lu dst %lu "
              "flags %#lx -> rc %u used %lu/%lu (calls %d, %d)",
              what, k, (unsigned long)x->src_len, (unsigned long)x->dst_len, (unsigned long)x->flags, x->rc,
              (unsigned long)x->src_used, (unsigned long)x->dst_used, (unsigned long)y->src_len,
              (unsigned long)y->dst_len, (unsigned long)y->flags, y->rc, (unsigned long)y->src_used,
              (unsigned long)y->dst_used, a->ncalls, b->ncalls);
    }
}

/* ------------------------------------------------------------------------ */

/*
 * A speech-like signal: a voiced source with a wandering pitch, harmonics shaped by
 * two moving formants, syllable-rate loudness, pauses and a little noise.
 */
static void speech(short *out, DWORD frames, WORD channels, DWORD rate)
{
    const double pi = 3.14159265358979323846;
    DWORD i, seed = 12345;
    WORD c;
    double phase[2] = { 0, 0.3 };
    for (i = 0; i < frames; i++) {
        double t = (double)i / rate;
        double env = sin(2 * pi * 3.1 * t);
        env = env * env * (0.3 + 0.7 * (0.5 + 0.5 * sin(2 * pi * 0.37 * t)));
        if (fmod(t, 1.3) > 1.1)
            env *= 0.02; /* a pause */
        for (c = 0; c < channels; c++) {
            double f0 = (c ? 180 : 120) + 30 * sin(2 * pi * 0.8 * t + c);
            double f1 = 500 + 300 * sin(2 * pi * 1.7 * t), f2 = 1500 + 700 * sin(2 * pi * 1.1 * t + 1);
            double v = 0, noise;
            int k;
            phase[c] += 2 * pi * f0 / rate;
            for (k = 1; k * f0 < rate / 2.0 && k <= 40; k++) {
                double fk = k * f0;
                double g = 1.0 / (1 + pow((fk - f1) / 150, 2)) + 0.5 / (1 + pow((fk - f2) / 250, 2));
                v += g * sin(k * phase[c]) / k;
            }
            seed = seed * 1664525u + 1013904223u;
            noise = ((double)(seed >> 16) / 65536.0 - 0.5) * 0.02;
            v = 9000 * env * v + 3000 * noise;
            if (v > 32767)
                v = 32767;
            if (v < -32768)
                v = -32768;
            out[(size_t)i * channels + c] = (short)lrint(v);
        }
    }
}

static double snr(const short *x, const BYTE *y, DWORD samples)
{
    double sig = 0, err = 0;
    DWORD i;
    for (i = 0; i < samples; i++) {
        short v = (short)(y[2 * i] | (y[2 * i + 1] << 8));
        double e = (double)x[i] - v;
        sig += (double)x[i] * x[i];
        err += e * e;
    }
    return err > 0 ? 10 * log10(sig / err) : 999;
}

/*
 * 8-bit PCM, which both list: ours converts it as the high byte of a 16-bit sample
 * (unsigned, 0x80 = 0); Wine's imaadp32 lists it but refuses the stream. Ours is
 * checked against the reference's 16-bit results: the reference's blocks decode to
 * the high bytes of its 16-bit decoding, and 8-bit input encodes to the same blocks
 * as that input widened to 16 bits.
 */
static void pcm8(struct driver *ours, struct driver *ref, const fmtbuf *ima, const struct run *enc_ref,
                 const struct run *dec_ref, const short *signal, DWORD frames)
{
    fmtbuf p8 = pcm16(ima->wfx.nChannels, ima->wfx.nSamplesPerSec), p16 = p8;
    DWORD spb = samples_per_block(ima), n = frames * ima->wfx.nChannels, i, at;
    HACMSTREAM has = NULL;
    MMRESULT rb;
    BYTE *in8 = malloc(n), *want8 = malloc(n);
    short *in16 = malloc(2 * n);
    struct run dec8, enc8, enc16;
    char what[100];

    snprintf(what, sizeof what, "8-bit PCM %lu Hz %u ch", (unsigned long)p8.wfx.nSamplesPerSec, p8.wfx.nChannels);
    p8.wfx.wBitsPerSample = 8;
    p8.wfx.nBlockAlign = p8.wfx.nChannels;
    p8.wfx.nAvgBytesPerSec = p8.wfx.nSamplesPerSec * p8.wfx.nBlockAlign;
    if (!in8 || !want8 || !in16) {
        check(0, "out of memory");
        goto out;
    }
    rb = acmStreamOpen(&has, ref->had, &p8.wfx, (WAVEFORMATEX *)&ima->wfx, NULL, 0, 0, ACM_STREAMOPENF_QUERY);
    printf("  NOTE: %s -> IMA: the reference's acmStreamOpen(QUERY) -> %u\n", what, rb);
    for (i = 0; i < n; i++) {
        in8[i] = (BYTE)(((unsigned short)signal[i] >> 8) ^ 0x80);
        in16[i] = (short)(unsigned short)((in8[i] ^ 0x80) << 8);
        want8[i] = (BYTE)(dec_ref->out[2 * i + 1] ^ 0x80);
    }
    convert(ours->had, ima, &p8, ima->wfx.nBlockAlign, spb * p8.wfx.nChannels, enc_ref->out, enc_ref->out_len, WHOLE,
            &dec8);
    if (run_ok(what, "ours, decoding", &dec8))
        check(dec8.out_len == n && memcmp(dec8.out, want8, n) == 0,
              "%s: ours decodes the reference's blocks to the high bytes of the reference's 16-bit PCM (%lu bytes)",
              what, (unsigned long)dec8.out_len);
    convert(ours->had, &p8, ima, spb * p8.wfx.nChannels, ima->wfx.nBlockAlign, in8, n, WHOLE, &enc8);
    convert(ours->had, &p16, ima, 2 * spb * p16.wfx.nChannels, ima->wfx.nBlockAlign, (BYTE *)in16, 2 * n, WHOLE,
            &enc16);
    if (run_ok(what, "ours, encoding", &enc8) && run_ok(what, "ours, encoding 16-bit", &enc16))
        check(enc8.out_len > 0 && same_bytes(&enc8, &enc16, &at),
              "%s: ours encodes 8-bit input as the same input widened to 16 bits (%lu bytes)", what,
              (unsigned long)enc8.out_len);
    free_run(&dec8);
    free_run(&enc8);
    free_run(&enc16);
out:
    free(in8);
    free(want8);
    free(in16);
}

static void codec_case(struct driver *ours, struct driver *ref, WORD channels, DWORD rate, double seconds)
{
    fmtbuf pcm = pcm16(channels, rate), ima;
    DWORD spb, pcm_block, ima_block, blocks, frames, in_len;
    short *signal;
    struct run enc_ref, enc_ours, dec_ref_of_ref, dec_ref_of_ours, dec_ours_of_ours, dec_whole, r;
    char what[200];
    double snr_ref, snr_ours;
    DWORD at;
    int m;

    printf("\n--- IMA ADPCM %lu Hz, %u channel(s)\n", (unsigned long)rate, channels);
    if (!ima_of(ref, channels, rate, &ima)) {
        check(0, "%lu Hz %u ch: the reference suggests no IMA format", (unsigned long)rate, channels);
        return;
    }
    spb = samples_per_block(&ima);
    ima_block = ima.wfx.nBlockAlign;
    pcm_block = 2 * spb * channels;
    blocks = (DWORD)(seconds * rate / spb);
    frames = blocks * spb;
    in_len = frames * 2 * channels;
    snprintf(what, sizeof what, "%lu Hz %u ch", (unsigned long)rate, channels);
    printf("  format: align %lu, %lu samples per block; %lu blocks\n", (unsigned long)ima_block, (unsigned long)spb,
           (unsigned long)blocks);

    snprintf(what, sizeof what, "PCM -> IMA %lu Hz %u ch", (unsigned long)rate, channels);
    sizes(what, ours, ref, &pcm, &ima);
    snprintf(what, sizeof what, "IMA -> PCM %lu Hz %u ch", (unsigned long)rate, channels);
    sizes(what, ours, ref, &ima, &pcm);

    signal = malloc(in_len);
    if (!signal) {
        check(0, "out of memory");
        return;
    }
    speech(signal, frames, channels, rate);

    /* Encoding: both codecs, whole buffer. */
    convert(ref->had, &pcm, &ima, pcm_block, ima_block, (BYTE *)signal, in_len, WHOLE, &enc_ref);
    convert(ours->had, &pcm, &ima, pcm_block, ima_block, (BYTE *)signal, in_len, WHOLE, &enc_ours);
    snprintf(what, sizeof what, "encode %lu Hz %u ch", (unsigned long)rate, channels);
    if (!run_ok(what, "reference", &enc_ref) || !run_ok(what, "ours", &enc_ours))
        goto out;
    check(enc_ours.out_len == blocks * ima_block, "%s: ours made %lu bytes (%lu blocks of %lu)", what,
          (unsigned long)enc_ours.out_len, (unsigned long)blocks, (unsigned long)ima_block);

    /* Decoding of the reference's blocks: byte-identical in every buffering. */
    convert(ref->had, &ima, &pcm, ima_block, pcm_block, enc_ref.out, enc_ref.out_len, WHOLE, &dec_ref_of_ref);
    snprintf(what, sizeof what, "decode the reference's blocks %lu Hz %u ch", (unsigned long)rate, channels);
    if (!run_ok(what, "reference", &dec_ref_of_ref))
        goto out;
    for (m = 0; m < MODES; m++) {
        struct run ref_m;
        char w[300];
        snprintf(w, sizeof w, "%s, %s", what, mode_name[m]);
        convert(ours->had, &ima, &pcm, ima_block, pcm_block, enc_ref.out, enc_ref.out_len, (enum mode)m, &r);
        convert(ref->had, &ima, &pcm, ima_block, pcm_block, enc_ref.out, enc_ref.out_len, (enum mode)m, &ref_m);
        if (run_ok(w, "ours", &r) && run_ok(w, "reference", &ref_m)) {
            int ok = same_bytes(&r, &dec_ref_of_ref, &at);
            check(ok, "%s: PCM byte-identical to the reference's (%lu bytes%s)", w, (unsigned long)r.out_len,
                  ok ? "" : ", differs");
            if (!ok)
                printf("  first difference at byte %lu of %lu/%lu\n", (unsigned long)at, (unsigned long)r.out_len,
                       (unsigned long)dec_ref_of_ref.out_len);
            report_calls(w, &r, &ref_m);
        }
        free_run(&r);
        free_run(&ref_m);
    }

    pcm8(ours, ref, &ima, &enc_ref, &dec_ref_of_ref, signal, frames);

    /* Our blocks: the same PCM through either decoder; the SNR of both encoders. */
    convert(ref->had, &ima, &pcm, ima_block, pcm_block, enc_ours.out, enc_ours.out_len, WHOLE, &dec_ref_of_ours);
    convert(ours->had, &ima, &pcm, ima_block, pcm_block, enc_ours.out, enc_ours.out_len, WHOLE, &dec_ours_of_ours);
    snprintf(what, sizeof what, "decode our blocks %lu Hz %u ch", (unsigned long)rate, channels);
    if (run_ok(what, "reference", &dec_ref_of_ours) && run_ok(what, "ours", &dec_ours_of_ours)) {
        check(dec_ref_of_ours.out_len == in_len && same_bytes(&dec_ref_of_ours, &dec_ours_of_ours, &at),
              "%s: the reference's decoder and ours give the same PCM (%lu bytes)", what,
              (unsigned long)dec_ref_of_ours.out_len);
        if (dec_ref_of_ref.out_len == in_len && dec_ref_of_ours.out_len == in_len) {
            snr_ref = snr(signal, dec_ref_of_ref.out, frames * channels);
            snr_ours = snr(signal, dec_ref_of_ours.out, frames * channels);
            printf("  SNR %lu Hz %u ch: reference encoder %.2f dB, ours %.2f dB\n", (unsigned long)rate, channels,
                   snr_ref, snr_ours);
            check(snr_ours >= snr_ref, "encode %lu Hz %u ch: our SNR %.2f dB >= the reference's %.2f dB",
                  (unsigned long)rate, channels, snr_ours, snr_ref);
            if (rate == 8000 && channels == 1)
                check(snr_ours >= 18.9, "encode 8000 Hz mono: our SNR %.2f dB >= 18.9 dB", snr_ours);
        } else {
            check(0, "%s: decoded lengths %lu, %lu, not %lu", what, (unsigned long)dec_ref_of_ref.out_len,
                  (unsigned long)dec_ref_of_ours.out_len, (unsigned long)in_len);
        }
    }

    /* Our encoder in chunks: the same blocks as in one buffer (START resets), the same calls as the reference. */
    dec_whole = enc_ours;
    for (m = BLOCKS; m < MODES; m++) {
        struct run ref_m;
        char w[300];
        snprintf(w, sizeof w, "encode %lu Hz %u ch, %s", (unsigned long)rate, channels, mode_name[m]);
        convert(ours->had, &pcm, &ima, pcm_block, ima_block, (BYTE *)signal, in_len, (enum mode)m, &r);
        convert(ref->had, &pcm, &ima, pcm_block, ima_block, (BYTE *)signal, in_len, (enum mode)m, &ref_m);
        if (run_ok(w, "ours", &r) && run_ok(w, "reference", &ref_m)) {
            check(same_bytes(&r, &dec_whole, &at), "%s: our blocks identical to our whole-buffer encoding", w);
            report_calls(w, &r, &ref_m);
        }
        free_run(&r);
        free_run(&ref_m);
    }
    free_run(&dec_ref_of_ours);
    free_run(&dec_ours_of_ours);
    free_run(&dec_ref_of_ref);
out:
    free_run(&enc_ref);
    free_run(&enc_ours);
    free(signal);
}

int main(int argc, char **argv)
{
    struct driver ours = { "ours", NULL, NULL, { 0 } }, ref = { "reference", NULL, NULL, { 0 } };
    struct search s = { argc > 1 ? argv[1] : "drvproc IMA", argc > 2 ? argv[2] : "IMA ADPCM", &ours, &ref };
    MMRESULT rc;

    setvbuf(stdout, NULL, _IONBF, 0);
    rc = acmDriverEnum(driver_cb, (DWORD_PTR)&s, 0);
    check(rc == 0, "acmDriverEnum -> %u", rc);
    check(ours.id != NULL, "the codec under test (long name with \"%s\") is registered", s.ours);
    check(ref.id != NULL, "the reference codec (\"%s\") is registered", s.reference);
    if (!ours.id || !ref.id)
        goto done;
    printf("ours: \"%s\" / \"%s\"\nreference: \"%s\" / \"%s\"\n", narrow(ours.details.szShortName),
           narrow(ours.details.szLongName), narrow(ref.details.szShortName), narrow(ref.details.szLongName));
    rc = acmDriverOpen(&ours.had, ours.id, 0);
    check(rc == 0, "acmDriverOpen(ours) -> %u", rc);
    rc = acmDriverOpen(&ref.had, ref.id, 0);
    check(rc == 0, "acmDriverOpen(reference) -> %u", rc);
    if (!ours.had || !ref.had)
        goto done;

    compare_formats(&ours, &ref);
    suggestions(&ours, &ref);
    codec_case(&ours, &ref, 1, 8000, 3.0);
    codec_case(&ours, &ref, 2, 22050, 2.0);

done:
    if (ours.had)
        acmDriverClose(ours.had, 0);
    if (ref.had)
        acmDriverClose(ref.had, 0);
    printf("\nacm-ima-test: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
