/*
 * An ACM codec driven through the system's msacm32 and compared with a reference
 * codec of the same formats (under Wine: Wine's own msg711.acm).
 *
 * Usage: acm-codec-test [OURS [REFERENCE]]
 *   OURS       text in the long name (ACMDRIVERDETAILS.szLongName) of the codec
 *              under test (default "drvproc");
 *   REFERENCE  text in the long name of the reference codec (default "G.711"
 *              in any other driver's long or short name).
 * The codec under test must already be registered (a Drivers32 `msacm.*` value or
 * system.ini [drivers32]). The program lists what the codec answers (details,
 * format tags, formats, suggestions, sizes), then converts, with each codec
 * opened explicitly: all 65536 16-bit PCM values to A-law and µ-law, and every
 * code of both laws back to PCM, mono and stereo, in one whole buffer,
 * block-aligned chunks, odd source chunks and odd destination sizes. The outputs
 * and the bytes each call consumed and produced must be identical for both
 * codecs. One PASS/FAIL line per check; the exit status is 1 if any failed.
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

#ifndef WAVE_FORMAT_ALAW
#  define WAVE_FORMAT_ALAW 0x0006
#endif
#ifndef WAVE_FORMAT_MULAW
#  define WAVE_FORMAT_MULAW 0x0007
#endif

static const char *tag_name(DWORD tag)
{
    switch (tag) {
    case WAVE_FORMAT_PCM: return "PCM";
    case WAVE_FORMAT_ALAW: return "A-law";
    case WAVE_FORMAT_MULAW: return "mu-law";
    default: return "?";
    }
}

static void describe(char *out, size_t n, const WAVEFORMATEX *f)
{
    snprintf(out, n, "tag %u (%s) ch %u rate %lu avg %lu align %u bits %u", f->wFormatTag,
             tag_name(f->wFormatTag), f->nChannels, (unsigned long)f->nSamplesPerSec,
             (unsigned long)f->nAvgBytesPerSec, f->nBlockAlign, f->wBitsPerSample);
}

/* ------------------------------------------------------------------------ */
/* Finding the two drivers */

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
    MMRESULT rc;
    const char *shortname, *longname;

    memset(&d, 0, sizeof d);
    d.cbStruct = sizeof d;
    rc = acmDriverDetailsW(id, &d, 0);
    if (rc) {
        printf("driver %p: acmDriverDetails -> %u\n", (void *)id, rc);
        return TRUE;
    }
    shortname = narrow(d.szShortName);
    longname = narrow(d.szLongName);
    printf("driver: \"%s\" / \"%s\" support %#lx tags %lu\n", shortname, longname, (unsigned long)support,
           (unsigned long)d.cFormatTags);
    if (!s->a->id && strstr(longname, s->ours)) {
        s->a->id = id;
        s->a->details = d;
    } else if (!s->b->id && (strstr(longname, s->reference) || strstr(shortname, s->reference))) {
        s->b->id = id;
        s->b->details = d;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Format tags and formats */

struct tags {
    int n;
    ACMFORMATTAGDETAILSW tag[16];
};

static BOOL CALLBACK tag_cb(HACMDRIVERID id, LPACMFORMATTAGDETAILSW t, DWORD_PTR inst, DWORD support)
{
    struct tags *tags = (struct tags *)inst;
    (void)id;
    (void)support;
    printf("  tag %lu: %#lx \"%s\" cbFormatSize %lu support %#lx formats %lu\n", (unsigned long)t->dwFormatTagIndex,
           (unsigned long)t->dwFormatTag, narrow(t->szFormatTag), (unsigned long)t->cbFormatSize,
           (unsigned long)t->fdwSupport, (unsigned long)t->cStandardFormats);
    if (tags->n < 16)
        tags->tag[tags->n++] = *t;
    return TRUE;
}

struct formats {
    int n;
    int bad;
    DWORD tag;
    WAVEFORMATEX fmt[64];
};

static BOOL CALLBACK format_cb(HACMDRIVERID id, LPACMFORMATDETAILSW d, DWORD_PTR inst, DWORD support)
{
    struct formats *fs = (struct formats *)inst;
    char text[200];
    (void)id;
    (void)support;
    describe(text, sizeof text, d->pwfx);
    printf("    format %lu: %s \"%s\"\n", (unsigned long)d->dwFormatIndex, text, narrow(d->szFormat));
    if (d->pwfx->wFormatTag != fs->tag)
        fs->bad++;
    if (fs->n < 64)
        fs->fmt[fs->n++] = *d->pwfx;
    return TRUE;
}

static void list_formats(struct driver *drv)
{
    struct tags tags;
    ACMFORMATTAGDETAILSW t;
    DWORD max_size = 0;
    MMRESULT rc;
    int i, j, total = 0;

    printf("\n--- %s: format tags\n", drv->label);
    memset(&tags, 0, sizeof tags);
    memset(&t, 0, sizeof t);
    t.cbStruct = sizeof t;
    rc = acmFormatTagEnumW(drv->had, &t, tag_cb, (DWORD_PTR)&tags, 0);
    check(rc == 0 && (DWORD)tags.n == drv->details.cFormatTags, "%s: acmFormatTagEnum -> %u, %d tags (details: %lu)",
          drv->label, rc, tags.n, (unsigned long)drv->details.cFormatTags);

    rc = acmMetrics((HACMOBJ)drv->had, ACM_METRIC_MAX_SIZE_FORMAT, &max_size);
    check(rc == 0 && max_size >= sizeof(WAVEFORMATEX), "%s: acmMetrics(MAX_SIZE_FORMAT) -> %u, %lu", drv->label, rc,
          (unsigned long)max_size);
    if (rc || max_size < sizeof(WAVEFORMATEX) || max_size > 1024)
        return;

    for (i = 0; i < tags.n; i++) {
        struct formats fs;
        ACMFORMATDETAILSW d;
        BYTE buf[1024];

        printf("--- %s: formats of tag %#lx\n", drv->label, (unsigned long)tags.tag[i].dwFormatTag);
        memset(&fs, 0, sizeof fs);
        fs.tag = tags.tag[i].dwFormatTag;
        memset(&d, 0, sizeof d);
        memset(buf, 0, sizeof buf);
        d.cbStruct = sizeof d;
        d.dwFormatTag = tags.tag[i].dwFormatTag;
        d.pwfx = (LPWAVEFORMATEX)buf;
        d.pwfx->wFormatTag = (WORD)tags.tag[i].dwFormatTag;
        d.cbwfx = max_size;
        rc = acmFormatEnumW(drv->had, &d, format_cb, (DWORD_PTR)&fs, ACM_FORMATENUMF_WFORMATTAG);
        check(rc == 0 && (DWORD)fs.n == tags.tag[i].cStandardFormats && !fs.bad,
              "%s: acmFormatEnum(tag %#lx) -> %u, %d formats of that tag (cStandardFormats %lu)", drv->label,
              (unsigned long)fs.tag, rc, fs.n - fs.bad, (unsigned long)tags.tag[i].cStandardFormats);
        total += fs.n;
        /* Each listed format is one the codec says it supports. */
        for (j = 0; j < fs.n; j++) {
            ACMFORMATDETAILSW q;
            WAVEFORMATEX f = fs.fmt[j];
            memset(&q, 0, sizeof q);
            q.cbStruct = sizeof q;
            q.dwFormatTag = f.wFormatTag;
            q.pwfx = &f;
            q.cbwfx = sizeof f;
            rc = acmFormatDetailsW(drv->had, &q, ACM_FORMATDETAILSF_FORMAT);
            if (rc) {
                char text[200];
                describe(text, sizeof text, &fs.fmt[j]);
                check(0, "%s: acmFormatDetails(FORMAT) of its own format %s -> %u", drv->label, text, rc);
            }
        }
    }
    printf("--- %s: %d formats in all\n", drv->label, total);
}

/* ------------------------------------------------------------------------ */
/* Formats used below */

static WAVEFORMATEX pcm16(WORD channels, DWORD rate)
{
    WAVEFORMATEX f;
    memset(&f, 0, sizeof f);
    f.wFormatTag = WAVE_FORMAT_PCM;
    f.nChannels = channels;
    f.nSamplesPerSec = rate;
    f.wBitsPerSample = 16;
    f.nBlockAlign = (WORD)(2 * channels);
    f.nAvgBytesPerSec = rate * f.nBlockAlign;
    return f;
}

static WAVEFORMATEX g711(WORD tag, WORD channels, DWORD rate)
{
    WAVEFORMATEX f;
    memset(&f, 0, sizeof f);
    f.wFormatTag = tag;
    f.nChannels = channels;
    f.nSamplesPerSec = rate;
    f.wBitsPerSample = 8;
    f.nBlockAlign = channels;
    f.nAvgBytesPerSec = rate * channels;
    return f;
}

/* ------------------------------------------------------------------------ */
/* acmFormatSuggest */

static MMRESULT suggest(HACMDRIVER had, const WAVEFORMATEX *src, WORD tag, DWORD flags, WAVEFORMATEX *out)
{
    WAVEFORMATEX s = *src;
    memset(out, 0, sizeof *out);
    out->wFormatTag = tag;
    return acmFormatSuggest(had, &s, out, sizeof *out, flags);
}

static void suggestions(struct driver *ours, struct driver *ref)
{
    static const struct {
        WORD from;
        WORD tag;
        DWORD flags;
    } cases[] = {
        { WAVE_FORMAT_PCM, WAVE_FORMAT_MULAW, ACM_FORMATSUGGESTF_WFORMATTAG },
        { WAVE_FORMAT_PCM, WAVE_FORMAT_ALAW, ACM_FORMATSUGGESTF_WFORMATTAG },
        { WAVE_FORMAT_MULAW, WAVE_FORMAT_PCM, ACM_FORMATSUGGESTF_WFORMATTAG },
        { WAVE_FORMAT_ALAW, WAVE_FORMAT_PCM, ACM_FORMATSUGGESTF_WFORMATTAG },
    };
    size_t i;

    printf("\n--- acmFormatSuggest\n");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        WAVEFORMATEX src = cases[i].from == WAVE_FORMAT_PCM ? pcm16(1, 8000) : g711(cases[i].from, 1, 8000);
        WAVEFORMATEX a, b;
        MMRESULT ra = suggest(ours->had, &src, cases[i].tag, cases[i].flags, &a);
        MMRESULT rb = suggest(ref->had, &src, cases[i].tag, cases[i].flags, &b);
        char sa[200], sb[200];
        describe(sa, sizeof sa, &a);
        describe(sb, sizeof sb, &b);
        printf("  %s 8000 mono -> %s: ours %u {%s cbSize %u}\n", tag_name(cases[i].from), tag_name(cases[i].tag), ra, sa,
               a.cbSize);
        printf("  %*s reference %u {%s cbSize %u}\n", (int)(strlen(tag_name(cases[i].from)) + strlen(tag_name(cases[i].tag)) + 14), "",
               rb, sb, b.cbSize);
        check(ra == 0 && a.wFormatTag == cases[i].tag, "suggest %s -> %s: ours answers the wanted tag",
              tag_name(cases[i].from), tag_name(cases[i].tag));
        check(ra == rb && memcmp(&a, &b, sizeof a) == 0, "suggest %s -> %s: same WAVEFORMATEX as the reference",
              tag_name(cases[i].from), tag_name(cases[i].tag));
    }
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
    MMRESULT open_rc;
    const char *error; /* what went wrong outside the conversions, or NULL */
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

/* A deterministic sequence of odd numbers in 1..2*range-1. */
static DWORD next_odd(DWORD *seed, DWORD range)
{
    *seed = *seed * 1103515245u + 12345u;
    return 2 * ((*seed >> 16) % range) + 1;
}

/*
 * Converts `in` with `had` the way a streaming client does: one prepared header,
 * each call's source = what the last call left over plus new input, START on the
 * first call, END on the call that holds the rest of the input and room for all
 * of its output.
 */
static void convert(HACMDRIVER had, const WAVEFORMATEX *src, const WAVEFORMATEX *dst, const BYTE *in, DWORD in_len,
                    enum mode mode, struct run *r)
{
    WAVEFORMATEX s = *src, d = *dst;
    HACMSTREAM has = NULL;
    ACMSTREAMHEADER h;
    DWORD src_cap, dst_cap, out_cap, pos = 0, carry = 0, seed = 0x2545F491u + (DWORD)mode;
    BYTE *sbuf = NULL, *dbuf = NULL;
    MMRESULT rc;
    int cap_calls = 4096, stalls = 0, first = 1;

    memset(r, 0, sizeof *r);
    r->open_rc = acmStreamOpen(&has, had, &s, &d, NULL, 0, 0, ACM_STREAMOPENF_NONREALTIME);
    if (r->open_rc) {
        r->error = "acmStreamOpen";
        r->error_rc = r->open_rc;
        return;
    }
    switch (mode) {
    case WHOLE: src_cap = in_len; break;
    case BLOCKS: src_cap = 1024 * src->nBlockAlign; break;
    case ODD_SOURCE: src_cap = 2 * 512 + 64; break;
    default: src_cap = 4097; break;
    }
    rc = acmStreamSize(has, src_cap, &dst_cap, ACM_STREAMSIZEF_SOURCE);
    if (rc) {
        r->error = "acmStreamSize(SOURCE) of the source buffer";
        r->error_rc = rc;
        goto close;
    }
    rc = acmStreamSize(has, in_len, &out_cap, ACM_STREAMSIZEF_SOURCE);
    if (rc) {
        r->error = "acmStreamSize(SOURCE) of the input";
        r->error_rc = rc;
        goto close;
    }
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
        DWORD room = src_cap - carry, want, n, dst_len, need = 0, flags = 0;
        struct call *c;
        int last;

        switch (mode) {
        case ODD_SOURCE: want = next_odd(&seed, 512); break;
        default: want = room; break;
        }
        if (want > room)
            want = room;
        n = in_len - pos < want ? in_len - pos : want;
        memcpy(sbuf + carry, in + pos, n);
        pos += n;
        dst_len = mode == ODD_DEST ? next_odd(&seed, 150) : dst_cap;
        if (dst_len > dst_cap)
            dst_len = dst_cap;
        /* The last call: all input is in the buffer and its output fits (or no whole block is left). */
        rc = acmStreamSize(has, carry + n, &need, ACM_STREAMSIZEF_SOURCE);
        last = pos == in_len && (rc == ACMERR_NOTPOSSIBLE || (rc == 0 && need <= dst_len));
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
        if (!(h.fdwStatus & ACMSTREAMHEADER_STATUSF_DONE)) {
            r->error = "acmStreamConvert left the header without DONE";
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

/*
 * Ours must convert whole blocks, as many as both buffers hold, in every call. msg711
 * counts single samples, so with two channels it splits frames (443 bytes of stereo
 * PCM: it uses 442); there the two sequences may differ, and only the bytes out must
 * not. With one channel a block is a sample and the sequences must be identical.
 */
static void compare_runs(const char *what, const char *mode, struct run *a, struct run *b, DWORD expected_len,
                         const struct run *whole, DWORD src_align, DWORD dst_align, int channels)
{
    DWORD i;
    int k, whole_blocks = 1;

    if (a->error) {
        check(0, "%s, %s: ours: %s -> %u", what, mode, a->error, a->error_rc);
        return;
    }
    if (b->error) {
        check(0, "%s, %s: reference: %s -> %u", what, mode, b->error, b->error_rc);
        return;
    }
    check(a->out_len == expected_len, "%s, %s: ours converted all of it (%lu bytes out in %d calls)", what, mode,
          (unsigned long)a->out_len, a->ncalls);
    for (k = 0; k < a->ncalls; k++) {
        struct call *x = &a->calls[k];
        DWORD blocks = x->src_len / src_align < x->dst_len / dst_align ? x->src_len / src_align : x->dst_len / dst_align;
        if (x->src_used != blocks * src_align || x->dst_used != blocks * dst_align) {
            check(0, "%s, %s: call %d: ours used %lu/%lu of %lu/%lu, not %lu whole blocks", what, mode, k,
                  (unsigned long)x->src_used, (unsigned long)x->dst_used, (unsigned long)x->src_len,
                  (unsigned long)x->dst_len, (unsigned long)blocks);
            whole_blocks = 0;
            break;
        }
    }
    if (whole_blocks)
        check(1, "%s, %s: ours converted whole blocks, as many as both buffers held, in each of %d calls", what, mode,
              a->ncalls);
    for (k = 0; k < a->ncalls && k < b->ncalls; k++) {
        struct call *x = &a->calls[k], *y = &b->calls[k];
        if (memcmp(x, y, sizeof *x))
            break;
    }
    if (k < a->ncalls || k < b->ncalls) {
        struct call *x = &a->calls[k < a->ncalls ? k : a->ncalls - 1], *y = &b->calls[k < b->ncalls ? k : b->ncalls - 1];
        printf("%s: "
              "%s, %s: call %d differs: ours src %lu dst %lu flags %#lx -> rc %u used %lu/%lu; reference src %lu dst "
              "%lu flags %#lx -> rc %u used %lu/%lu (calls: ours %d, reference %d)\n",
              channels == 1 ? "FAIL" : "NOTE (the reference splits frames)", what, mode, k, (unsigned long)x->src_len, (unsigned long)x->dst_len, (unsigned long)x->flags, x->rc,
              (unsigned long)x->src_used, (unsigned long)x->dst_used, (unsigned long)y->src_len,
              (unsigned long)y->dst_len, (unsigned long)y->flags, y->rc, (unsigned long)y->src_used,
              (unsigned long)y->dst_used, a->ncalls, b->ncalls);
        if (channels == 1)
            failed++;
    } else {
        check(1, "%s, %s: same bytes used per call as the reference (%d calls)", what, mode, a->ncalls);
    }
    for (i = 0; i < a->out_len && i < b->out_len && a->out[i] == b->out[i]; i++)
        ;
    if (i < a->out_len || i < b->out_len)
        check(0, "%s, %s: output differs from the reference at byte %lu (ours %02x, reference %02x; lengths %lu, %lu)",
              what, mode, (unsigned long)i, i < a->out_len ? a->out[i] : 0, i < b->out_len ? b->out[i] : 0,
              (unsigned long)a->out_len, (unsigned long)b->out_len);
    else
        check(1, "%s, %s: output byte-identical to the reference (%lu bytes)", what, mode, (unsigned long)a->out_len);
    if (whole && whole != a) {
        check(a->out_len == whole->out_len && memcmp(a->out, whole->out, a->out_len) == 0,
              "%s, %s: output identical to the whole-buffer conversion", what, mode);
    }
}

static void sizes(const char *what, HACMDRIVER ours, HACMDRIVER ref, const WAVEFORMATEX *src, const WAVEFORMATEX *dst)
{
    static const DWORD lengths[] = { 0, 1, 2, 3, 4, 5, 7, 255, 256, 257, 1000, 1001, 65535, 65536, 131072 };
    WAVEFORMATEX s = *src, d = *dst;
    HACMSTREAM ha = NULL, hb = NULL;
    MMRESULT ra, rb;
    size_t i;
    int kind, same = 1;
    char line[4096];
    size_t used = 0;

    ra = acmStreamOpen(&ha, ours, &s, &d, NULL, 0, 0, 0);
    rb = acmStreamOpen(&hb, ref, &s, &d, NULL, 0, 0, 0);
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
        used += snprintf(line + used, sizeof line - used, "  %s %s:", what, kind ? "DESTINATION" : "SOURCE");
        /* The reference sizes in single samples; a codec may keep to whole blocks (frames). */
        WORD align = kind ? dst->nBlockAlign : src->nBlockAlign;
        for (i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
            DWORD a = 0xdeadbeef, b = 0xdeadbeef, whole = lengths[i] - lengths[i] % align;
            ra = acmStreamSize(ha, lengths[i], &a, flag);
            rb = acmStreamSize(hb, whole, &b, flag);
            if (ra)
                used += snprintf(line + used, sizeof line - used, " %lu->rc%u", (unsigned long)lengths[i], ra);
            else
                used += snprintf(line + used, sizeof line - used, " %lu->%lu", (unsigned long)lengths[i], (unsigned long)a);
            if (ra != rb || (ra == 0 && a != b)) {
                same = 0;
                used += snprintf(line + used, sizeof line - used, "(reference for %lu: rc%u %lu)", (unsigned long)whole,
                                 rb, (unsigned long)b);
            }
        }
        used += snprintf(line + used, sizeof line - used, "\n");
    }
    fputs(line, stdout);
    check(same, "%s: acmStreamSize answers as the reference does for the same whole blocks, SOURCE and DESTINATION",
          what);
    acmStreamClose(ha, 0);
    acmStreamClose(hb, 0);
}

static void stream_case(struct driver *ours, struct driver *ref, const char *what, const WAVEFORMATEX *src,
                        const WAVEFORMATEX *dst, const BYTE *in, DWORD in_len, DWORD out_len)
{
    WAVEFORMATEX s = *src, d = *dst;
    HACMSTREAM has = NULL;
    struct run whole_ours, a, b;
    MMRESULT rc;
    int m;

    printf("\n--- %s\n", what);
    rc = acmStreamOpen(&has, ours->had, &s, &d, NULL, 0, 0, ACM_STREAMOPENF_QUERY);
    check(rc == 0, "%s: acmStreamOpen(QUERY) with ours -> %u", what, rc);
    sizes(what, ours->had, ref->had, src, dst);

    convert(ours->had, src, dst, in, in_len, WHOLE, &whole_ours);
    for (m = 0; m < MODES; m++) {
        if (m == WHOLE)
            a = whole_ours;
        else
            convert(ours->had, src, dst, in, in_len, (enum mode)m, &a);
        convert(ref->had, src, dst, in, in_len, (enum mode)m, &b);
        compare_runs(what, mode_name[m], &a, &b, out_len, whole_ours.error ? NULL : &whole_ours, src->nBlockAlign,
                     dst->nBlockAlign, src->nChannels);
        if (m != WHOLE)
            free_run(&a);
        free_run(&b);
    }
    free_run(&whole_ours);
}

/*
 * Streams the codec refuses with ACMERR_NOTPOSSIBLE. msg711 answers the channel
 * change with MMSYSERR_NOTSUPPORTED and converts between the two laws directly
 * (with G.711's conversion tables), which this codec does not.
 */
static void refusals(struct driver *ours, struct driver *ref)
{
    static const struct {
        const char *what;
        WAVEFORMATEX src, dst;
    } *c, cases[] = {
        { "PCM 8000 -> mu-law 16000 (a rate change)", { WAVE_FORMAT_PCM, 1, 8000, 16000, 2, 16, 0 },
          { WAVE_FORMAT_MULAW, 1, 16000, 16000, 1, 8, 0 } },
        { "PCM mono -> A-law stereo (a channel change)", { WAVE_FORMAT_PCM, 1, 8000, 16000, 2, 16, 0 },
          { WAVE_FORMAT_ALAW, 2, 8000, 16000, 2, 8, 0 } },
        { "mu-law -> A-law", { WAVE_FORMAT_MULAW, 1, 8000, 8000, 1, 8, 0 }, { WAVE_FORMAT_ALAW, 1, 8000, 8000, 1, 8, 0 } },
    };
    size_t i;

    printf("\n--- refused streams\n");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        WAVEFORMATEX s, d;
        HACMSTREAM has = NULL;
        MMRESULT ra, rb;
        c = &cases[i];
        s = c->src;
        d = c->dst;
        ra = acmStreamOpen(&has, ours->had, &s, &d, NULL, 0, 0, ACM_STREAMOPENF_QUERY);
        s = c->src;
        d = c->dst;
        rb = acmStreamOpen(&has, ref->had, &s, &d, NULL, 0, 0, ACM_STREAMOPENF_QUERY);
        check(ra == ACMERR_NOTPOSSIBLE, "%s: acmStreamOpen(QUERY) with ours -> %u (the reference: %u)", c->what, ra,
              rb);
    }
}

/*
 * With the reference disabled (acmDriverPriority), the codec is the one msacm32
 * finds for a PCM <-> G.711 pair when the caller names no driver: acmFormatSuggest
 * and acmStreamOpen with NULL, as ordinary programs call them.
 */
static void any_driver(struct driver *ours, struct driver *ref, const BYTE *pcm, DWORD pcm_len)
{
    WAVEFORMATEX p = pcm16(1, 8000), g, mu = g711(WAVE_FORMAT_MULAW, 1, 8000);
    struct run mine, any;
    MMRESULT rc;

    printf("\n--- any driver (NULL), the reference disabled\n");
    rc = acmDriverPriority(ref->id, 0, ACM_DRIVERPRIORITYF_DISABLE);
    check(rc == 0, "acmDriverPriority(reference, DISABLE) -> %u", rc);
    if (rc)
        return;
    rc = suggest(NULL, &p, WAVE_FORMAT_MULAW, ACM_FORMATSUGGESTF_WFORMATTAG, &g);
    check(rc == 0 && memcmp(&g, &mu, sizeof g) == 0, "acmFormatSuggest(NULL, PCM -> mu-law) -> %u, tag %u align %u",
          rc, g.wFormatTag, g.nBlockAlign);
    {
        HACMSTREAM has = NULL;
        HACMDRIVERID id = NULL;
        WAVEFORMATEX s = p, d = mu;
        rc = acmStreamOpen(&has, NULL, &s, &d, NULL, 0, 0, 0);
        if (rc == 0) {
            rc = acmDriverID((HACMOBJ)has, &id, 0);
            acmStreamClose(has, 0);
        }
        check(rc == 0 && id == ours->id, "acmStreamOpen(NULL, PCM -> mu-law) opens ours -> %u", rc);
    }
    convert(NULL, &p, &mu, pcm, pcm_len, WHOLE, &any);
    convert(ours->had, &p, &mu, pcm, pcm_len, WHOLE, &mine);
    if (any.error)
        check(0, "acmStreamOpen(NULL) and convert: %s -> %u", any.error, any.error_rc);
    else
        check(any.out_len == mine.out_len && memcmp(any.out, mine.out, any.out_len) == 0,
              "acmStreamOpen(NULL, PCM -> mu-law): converted as with ours named (%lu bytes)",
              (unsigned long)any.out_len);
    free_run(&any);
    free_run(&mine);
    rc = acmDriverPriority(ref->id, 0, ACM_DRIVERPRIORITYF_ENABLE);
    check(rc == 0, "acmDriverPriority(reference, ENABLE) -> %u", rc);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct driver ours = { "ours", NULL, NULL, { 0 } }, ref = { "reference", NULL, NULL, { 0 } };
    struct search s = { argc > 1 ? argv[1] : "drvproc", argc > 2 ? argv[2] : "G.711", &ours, &ref };
    static BYTE pcm[65536 * 2], codes[2048];
    WAVEFORMATEX p1 = pcm16(1, 8000), p2 = pcm16(2, 44100);
    MMRESULT rc;
    int i, law;

    setvbuf(stdout, NULL, _IONBF, 0);
    rc = acmDriverEnum(driver_cb, (DWORD_PTR)&s, 0);
    check(rc == 0, "acmDriverEnum -> %u", rc);
    check(ours.id != NULL, "the codec under test (long name with \"%s\") is registered", s.ours);
    check(ref.id != NULL, "the reference codec (\"%s\") is registered", s.reference);
    if (!ours.id || !ref.id)
        goto done;
    printf("ours: \"%s\" / \"%s\" / \"%s\"\n", narrow(ours.details.szShortName), narrow(ours.details.szLongName),
           narrow(ours.details.szFeatures));
    printf("reference: \"%s\" / \"%s\"\n", narrow(ref.details.szShortName), narrow(ref.details.szLongName));
    check(ours.details.fccType == ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC &&
              (ours.details.fdwSupport & ACMDRIVERDETAILS_SUPPORTF_CODEC),
          "ours: fccType 'audc', fdwSupport %#lx has CODEC", (unsigned long)ours.details.fdwSupport);

    rc = acmDriverOpen(&ours.had, ours.id, 0);
    check(rc == 0, "acmDriverOpen(ours) -> %u", rc);
    rc = acmDriverOpen(&ref.had, ref.id, 0);
    check(rc == 0, "acmDriverOpen(reference) -> %u", rc);
    if (!ours.had || !ref.had)
        goto done;

    list_formats(&ours);
    suggestions(&ours, &ref);
    refusals(&ours, &ref);

    /* Every 16-bit value once, little-endian, in an order that is not monotonic. */
    for (i = 0; i < 65536; i++) {
        unsigned v = (unsigned)(i * 40503u) & 0xFFFF;
        pcm[2 * i] = (BYTE)v;
        pcm[2 * i + 1] = (BYTE)(v >> 8);
    }
    /* Every code eight times, each run of 256 in another order. */
    for (i = 0; i < 2048; i++)
        codes[i] = (BYTE)(i * 7 + i / 256);

    for (law = 0; law < 2; law++) {
        WORD tag = law ? WAVE_FORMAT_ALAW : WAVE_FORMAT_MULAW;
        WAVEFORMATEX g1 = g711(tag, 1, 8000), g2 = g711(tag, 2, 44100);
        char what[128];
        snprintf(what, sizeof what, "PCM -> %s, 8000 Hz mono, all 65536 values", tag_name(tag));
        stream_case(&ours, &ref, what, &p1, &g1, pcm, sizeof pcm, 65536);
        snprintf(what, sizeof what, "PCM -> %s, 44100 Hz stereo, all 65536 values", tag_name(tag));
        stream_case(&ours, &ref, what, &p2, &g2, pcm, sizeof pcm, 65536);
        snprintf(what, sizeof what, "%s -> PCM, 8000 Hz mono, all 256 codes", tag_name(tag));
        stream_case(&ours, &ref, what, &g1, &p1, codes, sizeof codes, 2 * sizeof codes);
        snprintf(what, sizeof what, "%s -> PCM, 44100 Hz stereo, all 256 codes", tag_name(tag));
        stream_case(&ours, &ref, what, &g2, &p2, codes, sizeof codes, 2 * sizeof codes);
    }

    any_driver(&ours, &ref, pcm, sizeof pcm);

done:
    if (ours.had)
        acmDriverClose(ours.had, 0);
    if (ref.had)
        acmDriverClose(ref.had, 0);
    printf("\nacm-codec-test: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
