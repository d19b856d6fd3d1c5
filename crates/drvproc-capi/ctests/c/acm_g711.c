/* A C client of an ACM codec through libdrvproc, as msacm32 drives one: opens the
 * driver named by argv[1] with an ACMDRVOPENDESCW, asks for its details, opens a
 * 16-bit PCM -> format-tag argv[2] stream (mono, 8000 Hz), converts all 65536 PCM
 * values in odd chunks (START first, END last) and writes the codes to argv[3]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drvproc.h>

static int fail(const char *what, LRESULT r) {
    fprintf(stderr, "%s: %ld (%s)\n", what, (long)r, drvproc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: acm_g711 DRIVER TAG OUT\n");
        return 2;
    }
    WORD tag = (WORD)strtoul(argv[2], NULL, 0);
    ACMDRVOPENDESCW desc;
    memset(&desc, 0, sizeof desc);
    desc.cbStruct = sizeof desc;
    desc.fccType = 0x63647561; /* 'audc' */
    HDRVR h = OpenDriverA(argv[1], NULL, (LPARAM)&desc);
    if (!h) return fail("OpenDriverA", 0);

    ACMDRIVERDETAILSW details;
    memset(&details, 0, sizeof details);
    details.cbStruct = sizeof details;
    LRESULT r = SendDriverMessage(h, ACMDM_DRIVER_DETAILS, (LPARAM)&details, 0);
    if (r != MMSYSERR_NOERROR) return fail("ACMDM_DRIVER_DETAILS", r);
    printf("format tags: %lu\n", (unsigned long)details.cFormatTags);

    WAVEFORMATEX pcm = {WAVE_FORMAT_PCM, 1, 8000, 16000, 2, 16, 0};
    WAVEFORMATEX g711 = {tag, 1, 8000, 8000, 1, 8, 0};
    ACMDRVSTREAMINSTANCE si;
    memset(&si, 0, sizeof si);
    si.cbStruct = sizeof si;
    si.pwfxSrc = &pcm;
    si.pwfxDst = &g711;
    r = SendDriverMessage(h, ACMDM_STREAM_OPEN, (LPARAM)&si, 0);
    if (r != MMSYSERR_NOERROR) return fail("ACMDM_STREAM_OPEN", r);

    ACMDRVSTREAMSIZE size = {sizeof size, ACM_STREAMSIZEF_SOURCE, 131072, 0};
    r = SendDriverMessage(h, ACMDM_STREAM_SIZE, (LPARAM)&si, (LPARAM)&size);
    if (r != MMSYSERR_NOERROR) return fail("ACMDM_STREAM_SIZE", r);
    printf("size of 131072 source bytes: %lu\n", (unsigned long)size.cbDstLength);

    static unsigned char src[131072], dst[65536];
    for (long v = -32768; v <= 32767; v++) {
        short s = (short)v;
        memcpy(src + 2 * (v + 32768), &s, 2);
    }
    size_t in = 0, out = 0;
    int calls = 0;
    while (in < sizeof src) {
        size_t chunk = 1001; /* odd: a sample is split between calls */
        if (chunk > sizeof src - in) chunk = sizeof src - in;
        ACMDRVSTREAMHEADER hdr;
        memset(&hdr, 0, sizeof hdr);
        hdr.cbStruct = sizeof hdr;
        hdr.pbSrc = src + in;
        hdr.cbSrcLength = (DWORD)chunk;
        hdr.pbDst = dst + out;
        hdr.cbDstLength = (DWORD)(sizeof dst - out);
        hdr.fdwConvert = (calls == 0 ? ACM_STREAMCONVERTF_START : 0) |
                         (in + chunk == sizeof src ? ACM_STREAMCONVERTF_END : 0);
        r = SendDriverMessage(h, ACMDM_STREAM_CONVERT, (LPARAM)&si, (LPARAM)&hdr);
        if (r != MMSYSERR_NOERROR) return fail("ACMDM_STREAM_CONVERT", r);
        if (hdr.cbSrcLengthUsed == 0) return fail("no progress", 0);
        in += hdr.cbSrcLengthUsed;
        out += hdr.cbDstLengthUsed;
        calls++;
    }
    printf("converted %lu bytes into %lu in %d calls\n", (unsigned long)in, (unsigned long)out, calls);
    r = SendDriverMessage(h, ACMDM_STREAM_CLOSE, (LPARAM)&si, 0);
    if (r != MMSYSERR_NOERROR) return fail("ACMDM_STREAM_CLOSE", r);
    if (CloseDriver(h, 0, 0) != 1) return fail("CloseDriver", 0);

    FILE *f = fopen(argv[3], "wb");
    if (!f || fwrite(dst, 1, out, f) != out || fclose(f) != 0) return fail("write", 0);
    return 0;
}
