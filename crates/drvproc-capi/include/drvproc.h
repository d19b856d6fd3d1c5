/*
 * drvproc.h - the Windows installable-driver API (winmm's driver manager) for
 * libdrvproc.
 *
 * One self-contained header, C99 and C++. Code written against the Windows
 * documentation (mmsystem.h / mmiscapi.h / mmddk.h) compiles unchanged with
 * `#include <drvproc.h>` in place of <windows.h> + <mmsystem.h>:
 *
 *   cc -c client.c $(pkg-config --cflags drvproc)
 *   cc client.o -o client $(pkg-config --libs drvproc)
 *
 * Types follow the Windows widths: DWORD, UINT, LONG and BOOL are 32-bit; LPARAM,
 * LRESULT, DWORD_PTR and handles are pointer-sized; WCHAR is UTF-16 (char16_t),
 * so u"..." literals can be passed where LPCWSTR is expected (C11 or C++11).
 *
 * Manager configuration (read when the first function is called):
 *   DRVPROC_CONFIG  the system.ini-format registry file
 *                   (default: $XDG_CONFIG_HOME/drvproc/system.ini)
 *   DRVPROC_PATH    directories searched for bare driver file names, ':'-separated (';' on Windows)
 *   DRVPROC_ISOLATE 1: host every driver file in a process of its own (Linux), so
 *                   that a driver that crashes or hangs fails its calls instead of
 *                   ending the program. Without it, only the aliases marked in the
 *                   registry file are hosted: a section [drvproc.isolate] with
 *                   ALIAS=1 (what `drvctl isolate ALIAS on` writes; Windows and
 *                   Wine ignore the section).
 *   DRVPROC_HOSTD   the host program of isolated drivers (default: drvproc-hostd
 *                   beside the running program, else on PATH)
 *
 * Isolated drivers: the same functions, the same messages in the same order, and
 * the same answers, carried to the host process and back; a message whose
 * parameters cannot be carried (a custom message with pointers) is not sent. When
 * the host process dies (crash, abort, exit) or is killed for hanging, the call
 * that found it returns 0, drvproc_last_error() names the driver, the message and
 * the death ("driver /x/libcodec.so died on DRV_USER+0: host process 4242 was
 * killed by SIGSEGV; ..."), every handle of that driver becomes invalid, and the
 * next OpenDriver starts a new host. Other drivers and the program go on.
 *
 * Threads: every function may be called from any thread, concurrently, and from
 * inside a driver's DriverProc. No function holds a lock while a driver runs.
 *
 * Errors: like winmm, failures return 0 / FALSE / NULL, never crash, and set no
 * errno. drvproc_last_error() tells why the calling thread's last call failed.
 *
 * When the real Windows headers are included first, their types, constants and
 * prototypes are used and this header adds only what they lack.
 */
#ifndef DRVPROC_H
#define DRVPROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Calling conventions -------------------------------------------------- */
/* __stdcall on 32-bit x86 Windows; the platform's single convention elsewhere. */
#if defined(_WIN32) && (defined(_M_IX86) || defined(__i386__))
#  define DRVPROC_STDCALL __stdcall
#else
#  define DRVPROC_STDCALL
#endif
#ifndef WINAPI
#  define WINAPI DRVPROC_STDCALL
#endif
#ifndef CALLBACK
#  define CALLBACK DRVPROC_STDCALL
#endif
#ifndef APIENTRY
#  define APIENTRY WINAPI
#endif
#ifndef PASCAL
#  define PASCAL DRVPROC_STDCALL
#endif
#ifndef FAR
#  define FAR
#endif

/* ---- Windows base types (windef.h / winnt.h) --------------------------------- */
#if !defined(_WINDEF_) && !defined(_MINWINDEF_) && !defined(__WINE_WINDEF_H)
typedef int BOOL;
typedef unsigned char BYTE;
typedef unsigned short WORD;
typedef uint32_t DWORD;
typedef unsigned int UINT;
typedef int32_t LONG;
typedef int INT;
typedef intptr_t LONG_PTR;
typedef uintptr_t UINT_PTR;
typedef uintptr_t DWORD_PTR;
typedef UINT_PTR WPARAM;
typedef LONG_PTR LPARAM;
typedef LONG_PTR LRESULT;
typedef void *LPVOID;
typedef void *HANDLE;
typedef struct HINSTANCE__ *HINSTANCE;
typedef HINSTANCE HMODULE;
typedef struct HWND__ *HWND;
#  ifdef __cplusplus
typedef char16_t WCHAR;
#  else
typedef uint_least16_t WCHAR; /* the type of char16_t in <uchar.h> */
#  endif
typedef const WCHAR *LPCWSTR;
typedef WCHAR *LPWSTR;
typedef const char *LPCSTR;
typedef char *LPSTR;
#endif
#ifndef TRUE
#  define TRUE 1
#endif
#ifndef FALSE
#  define FALSE 0
#endif

/* ---- Driver types and constants (mmsystem.h / mmiscapi.h / mmddk.h) -------- */
#if !defined(_INC_MMSYSTEM) && !defined(__WINE_MMSYSTEM_H) && !defined(_MMISCAPI_H_)

/* A driver instance handle: opaque, pointer-sized, never NULL when valid. */
typedef struct HDRVR__ *HDRVR;

/* The driver entry point every driver exports as "DriverProc". */
typedef LRESULT (CALLBACK *DRIVERPROC)(DWORD_PTR dwDriverId, HDRVR hdrvr, UINT msg,
                                       LPARAM lParam1, LPARAM lParam2);

/* A client function notified through DriverCallback with DCB_FUNCTION. */
typedef void (CALLBACK *LPDRVCALLBACK)(HDRVR hdrvr, UINT uMsg, DWORD_PTR dwUser,
                                       DWORD_PTR dw1, DWORD_PTR dw2);

/* lParam2 of DRV_INSTALL and DRV_CONFIGURE. Byte-packed as in mmsystem.h:
 * 20 bytes on 64-bit targets (offsets 0, 4, 12), 12 on 32-bit ones. */
#pragma pack(push, 1)
typedef struct tagDRVCONFIGINFO {
    DWORD dwDCISize;            /* sizeof(DRVCONFIGINFO), set by the sender */
    LPCWSTR lpszDCISectionName; /* registry section, e.g. u"Drivers32" (may be NULL) */
    LPCWSTR lpszDCIAliasName;   /* the driver's alias (may be NULL) */
} DRVCONFIGINFO, *PDRVCONFIGINFO, *NPDRVCONFIGINFO, *LPDRVCONFIGINFO;
#pragma pack(pop)

/* Standard driver messages. */
#define DRV_LOAD                0x0001
#define DRV_ENABLE              0x0002
#define DRV_OPEN                0x0003
#define DRV_CLOSE               0x0004
#define DRV_DISABLE             0x0005
#define DRV_FREE                0x0006
#define DRV_CONFIGURE           0x0007
#define DRV_QUERYCONFIGURE      0x0008
#define DRV_INSTALL             0x0009
#define DRV_REMOVE              0x000A
#define DRV_EXITSESSION         0x000B
#define DRV_EXITAPPLICATION     0x000C
#define DRV_POWER               0x000F
#define DRV_RESERVED            0x0800
#define DRV_MCI_FIRST           DRV_RESERVED
#define DRV_MCI_LAST            (DRV_RESERVED + 0xFFF)
#define DRV_USER                0x4000

/* Answers to DRV_INSTALL, DRV_CONFIGURE, DRV_REMOVE (and obsolete aliases). */
#define DRVCNF_CANCEL           0x0000
#define DRVCNF_OK               0x0001
#define DRVCNF_RESTART          0x0002
#define DRV_CANCEL              DRVCNF_CANCEL
#define DRV_OK                  DRVCNF_OK
#define DRV_RESTART             DRVCNF_RESTART
#define DRV_SUCCESS             0x0001
#define DRV_FAILURE             0x0000
#define DRVEA_NORMALEXIT        0x0001
#define DRVEA_ABNORMALEXIT      0x0002
#define GND_FIRSTINSTANCEONLY   0x00000001
#define GND_FORWARD             0x00000000
#define GND_REVERSE             0x00000002

/* DriverCallback types (dwFlags & DCB_TYPEMASK) and the open-flag twins. */
#define DCB_NULL                0x0000
#define DCB_WINDOW              0x0001
#define DCB_TASK                0x0002
#define DCB_FUNCTION            0x0003
#define DCB_EVENT               0x0005
#define DCB_TYPEMASK            0x0007
#define DCB_NOSWITCH            0x0008
#define CALLBACK_NULL           0x00000000L
#define CALLBACK_WINDOW         0x00010000L
#define CALLBACK_TASK           0x00020000L
#define CALLBACK_THREAD         CALLBACK_TASK
#define CALLBACK_FUNCTION       0x00030000L
#define CALLBACK_EVENT          0x00050000L
#define CALLBACK_TYPEMASK       0x00070000L

/* System messages in the reserved range (their meaning depends on the class). */
#define DRV_QUERYDRVENTRY            (DRV_RESERVED + 1)
#define DRV_QUERYDEVNODE             (DRV_RESERVED + 2)
#define DRV_QUERYNAME                (DRV_RESERVED + 3)
#define DRV_QUERYDRIVERIDS           (DRV_RESERVED + 4)
#define DRV_QUERYMAPPABLE            (DRV_RESERVED + 5)
#define DRV_QUERYMODULE              (DRV_RESERVED + 9)
#define DRV_PNPINSTALL               (DRV_RESERVED + 11)
#define DRV_QUERYDEVICEINTERFACE     (DRV_RESERVED + 12)
#define DRV_QUERYDEVICEINTERFACESIZE (DRV_RESERVED + 13)
#define DRV_QUERYSTRINGID            (DRV_RESERVED + 14)
#define DRV_QUERYSTRINGIDSIZE        (DRV_RESERVED + 15)
#define DRV_QUERYIDFROMSTRINGID      (DRV_RESERVED + 16)
#define MCI_OPEN_DRIVER         0x0801
#define MCI_CLOSE_DRIVER        0x0802
#define MCI_OPEN                0x0803
#define MCI_CLOSE               0x0804
#define MCI_ESCAPE              0x0805
#define MCI_PLAY                0x0806
#define MCI_SEEK                0x0807
#define MCI_STOP                0x0808
#define MCI_PAUSE               0x0809
#define JDD_GETNUMDEVS          0x0801
#define JDD_GETDEVCAPS          0x0802
#define JDD_GETPOS              0x0901
#define JDD_SETCALIBRATION      0x0902
#define JDD_CONFIGCHANGED       0x0903
#define JDD_GETPOSEX            0x0904

/* Class message bases. */
#define ACMDM_USER              (DRV_USER + 0x0000)
#define ACMDM_RESERVED_LOW      (DRV_USER + 0x2000)
#define ACMDM_RESERVED_HIGH     (DRV_USER + 0x2FFF)
#define ACMDM_BASE              ACMDM_RESERVED_LOW
#define ICM_USER                (DRV_USER + 0x0000)
#define ICM_RESERVED            (DRV_USER + 0x1000)
#define ICM_RESERVED_LOW        ICM_RESERVED
#define ICM_RESERVED_HIGH       (DRV_USER + 0x2000)

/* ---- ACM codec messages, errors and flags (msacm.h, msacmdrv.h, mmreg.h) ---- *
 * For C codecs and clients; each is defined only if the system headers did not.
 * drvproc::acm::consts holds the same values (checked by the tests). */
#ifndef MMSYSERR_NOERROR
#  define MMSYSERR_NOERROR 0
#endif
#ifndef MMSYSERR_ERROR
#  define MMSYSERR_ERROR 1
#endif
#ifndef MMSYSERR_INVALHANDLE
#  define MMSYSERR_INVALHANDLE 5
#endif
#ifndef MMSYSERR_NOMEM
#  define MMSYSERR_NOMEM 7
#endif
#ifndef MMSYSERR_NOTSUPPORTED
#  define MMSYSERR_NOTSUPPORTED 8
#endif
#ifndef MMSYSERR_INVALFLAG
#  define MMSYSERR_INVALFLAG 10
#endif
#ifndef MMSYSERR_INVALPARAM
#  define MMSYSERR_INVALPARAM 11
#endif
#ifndef ACMERR_NOTPOSSIBLE
#  define ACMERR_NOTPOSSIBLE 512
#endif
#ifndef ACMERR_BUSY
#  define ACMERR_BUSY 513
#endif
#ifndef ACMERR_UNPREPARED
#  define ACMERR_UNPREPARED 514
#endif
#ifndef ACMERR_CANCELED
#  define ACMERR_CANCELED 515
#endif
#ifndef ACMDM_DRIVER_NOTIFY
#  define ACMDM_DRIVER_NOTIFY 0x6001
#endif
#ifndef ACMDM_DRIVER_DETAILS
#  define ACMDM_DRIVER_DETAILS 0x600A
#endif
#ifndef ACMDM_HARDWARE_WAVE_CAPS_INPUT
#  define ACMDM_HARDWARE_WAVE_CAPS_INPUT 0x6014
#endif
#ifndef ACMDM_HARDWARE_WAVE_CAPS_OUTPUT
#  define ACMDM_HARDWARE_WAVE_CAPS_OUTPUT 0x6015
#endif
#ifndef ACMDM_FORMATTAG_DETAILS
#  define ACMDM_FORMATTAG_DETAILS 0x6019
#endif
#ifndef ACMDM_FORMAT_DETAILS
#  define ACMDM_FORMAT_DETAILS 0x601A
#endif
#ifndef ACMDM_FORMAT_SUGGEST
#  define ACMDM_FORMAT_SUGGEST 0x601B
#endif
#ifndef ACMDM_FILTERTAG_DETAILS
#  define ACMDM_FILTERTAG_DETAILS 0x6032
#endif
#ifndef ACMDM_FILTER_DETAILS
#  define ACMDM_FILTER_DETAILS 0x6033
#endif
#ifndef ACMDM_STREAM_OPEN
#  define ACMDM_STREAM_OPEN 0x604C
#endif
#ifndef ACMDM_STREAM_CLOSE
#  define ACMDM_STREAM_CLOSE 0x604D
#endif
#ifndef ACMDM_STREAM_SIZE
#  define ACMDM_STREAM_SIZE 0x604E
#endif
#ifndef ACMDM_STREAM_CONVERT
#  define ACMDM_STREAM_CONVERT 0x604F
#endif
#ifndef ACMDM_STREAM_RESET
#  define ACMDM_STREAM_RESET 0x6050
#endif
#ifndef ACMDM_STREAM_PREPARE
#  define ACMDM_STREAM_PREPARE 0x6051
#endif
#ifndef ACMDM_STREAM_UNPREPARE
#  define ACMDM_STREAM_UNPREPARE 0x6052
#endif
#ifndef ACMDM_STREAM_UPDATE
#  define ACMDM_STREAM_UPDATE 0x6053
#endif
#ifndef WAVE_FORMAT_PCM
#  define WAVE_FORMAT_PCM 1
#endif
#ifndef WAVE_FORMAT_ADPCM
#  define WAVE_FORMAT_ADPCM 2
#endif
#ifndef WAVE_FORMAT_ALAW
#  define WAVE_FORMAT_ALAW 6
#endif
#ifndef WAVE_FORMAT_MULAW
#  define WAVE_FORMAT_MULAW 7
#endif
#ifndef WAVE_FORMAT_IMA_ADPCM
#  define WAVE_FORMAT_IMA_ADPCM 17
#endif
#ifndef ACMDRIVERDETAILS_SUPPORTF_CODEC
#  define ACMDRIVERDETAILS_SUPPORTF_CODEC 1
#endif
#ifndef ACMDRIVERDETAILS_SUPPORTF_CONVERTER
#  define ACMDRIVERDETAILS_SUPPORTF_CONVERTER 2
#endif
#ifndef ACMDRIVERDETAILS_SUPPORTF_FILTER
#  define ACMDRIVERDETAILS_SUPPORTF_FILTER 4
#endif
#ifndef ACMDRIVERDETAILS_SUPPORTF_HARDWARE
#  define ACMDRIVERDETAILS_SUPPORTF_HARDWARE 8
#endif
#ifndef ACMDRIVERDETAILS_SUPPORTF_ASYNC
#  define ACMDRIVERDETAILS_SUPPORTF_ASYNC 16
#endif
#ifndef ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC
#  define ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC 0x63647561
#endif
#ifndef ACM_FORMATTAGDETAILSF_INDEX
#  define ACM_FORMATTAGDETAILSF_INDEX 0
#endif
#ifndef ACM_FORMATTAGDETAILSF_FORMATTAG
#  define ACM_FORMATTAGDETAILSF_FORMATTAG 1
#endif
#ifndef ACM_FORMATTAGDETAILSF_LARGESTSIZE
#  define ACM_FORMATTAGDETAILSF_LARGESTSIZE 2
#endif
#ifndef ACM_FORMATDETAILSF_INDEX
#  define ACM_FORMATDETAILSF_INDEX 0
#endif
#ifndef ACM_FORMATDETAILSF_FORMAT
#  define ACM_FORMATDETAILSF_FORMAT 1
#endif
#ifndef ACM_FORMATSUGGESTF_WFORMATTAG
#  define ACM_FORMATSUGGESTF_WFORMATTAG 0x00010000
#endif
#ifndef ACM_FORMATSUGGESTF_NCHANNELS
#  define ACM_FORMATSUGGESTF_NCHANNELS 0x00020000
#endif
#ifndef ACM_FORMATSUGGESTF_NSAMPLESPERSEC
#  define ACM_FORMATSUGGESTF_NSAMPLESPERSEC 0x00040000
#endif
#ifndef ACM_FORMATSUGGESTF_WBITSPERSAMPLE
#  define ACM_FORMATSUGGESTF_WBITSPERSAMPLE 0x00080000
#endif
#ifndef ACM_FORMATSUGGESTF_TYPEMASK
#  define ACM_FORMATSUGGESTF_TYPEMASK 0x00FF0000
#endif
#ifndef ACM_STREAMOPENF_QUERY
#  define ACM_STREAMOPENF_QUERY 1
#endif
#ifndef ACM_STREAMOPENF_ASYNC
#  define ACM_STREAMOPENF_ASYNC 2
#endif
#ifndef ACM_STREAMOPENF_NONREALTIME
#  define ACM_STREAMOPENF_NONREALTIME 4
#endif
#ifndef ACM_STREAMSIZEF_SOURCE
#  define ACM_STREAMSIZEF_SOURCE 0
#endif
#ifndef ACM_STREAMSIZEF_DESTINATION
#  define ACM_STREAMSIZEF_DESTINATION 1
#endif
#ifndef ACM_STREAMCONVERTF_BLOCKALIGN
#  define ACM_STREAMCONVERTF_BLOCKALIGN 4
#endif
#ifndef ACM_STREAMCONVERTF_START
#  define ACM_STREAMCONVERTF_START 16
#endif
#ifndef ACM_STREAMCONVERTF_END
#  define ACM_STREAMCONVERTF_END 32
#endif
#ifndef ACMSTREAMHEADER_STATUSF_DONE
#  define ACMSTREAMHEADER_STATUSF_DONE 0x00010000
#endif
#ifndef ACMSTREAMHEADER_STATUSF_PREPARED
#  define ACMSTREAMHEADER_STATUSF_PREPARED 0x00020000
#endif
#ifndef ACMSTREAMHEADER_STATUSF_INQUEUE
#  define ACMSTREAMHEADER_STATUSF_INQUEUE 0x00100000
#endif

/* ---- ACM structures, as msacm32 hands them to a codec (msacmdrv.h) --------- *
 * Layouts as on Windows: WAVEFORMATEX, ACMDRVSTREAMHEADER and the details
 * structures are byte-packed; the others have natural alignment (sizes on 64-bit
 * targets: 18, 48, 72, 124, 16, 40, 1804, 120, 284). drvproc::acm::layout holds the
 * same declarations (checked by the tests). */
#if !defined(_WAVEFORMATEX_)
#define _WAVEFORMATEX_
#pragma pack(push, 1)
typedef struct tWAVEFORMATEX {
    WORD  wFormatTag;
    WORD  nChannels;
    DWORD nSamplesPerSec;
    DWORD nAvgBytesPerSec;
    WORD  nBlockAlign;
    WORD  wBitsPerSample;
    WORD  cbSize;             /* bytes of format-specific data that follow */
} WAVEFORMATEX, *PWAVEFORMATEX, *LPWAVEFORMATEX;
#pragma pack(pop)
#endif
#if !defined(_INC_ACMDRV) && !defined(__WINE_MSACMDRV_H)
typedef struct {
    DWORD   cbStruct;
    DWORD   fccType;          /* 'audc' */
    DWORD   fccComp;
    DWORD   dwVersion;
    DWORD   dwFlags;
    DWORD   dwError;          /* set by a driver that refuses the open */
    LPCWSTR pszSectionName;
    LPCWSTR pszAliasName;
    DWORD   dnDevNode;
} ACMDRVOPENDESCW, *PACMDRVOPENDESCW, *LPACMDRVOPENDESCW;
typedef struct {
    DWORD          cbStruct;
    LPWAVEFORMATEX pwfxSrc;
    LPWAVEFORMATEX pwfxDst;
    void          *pwfltr;
    DWORD_PTR      dwCallback;
    DWORD_PTR      dwInstance;
    DWORD          fdwOpen;
    DWORD          fdwDriver;  /* the driver's, kept across the stream's messages */
    DWORD_PTR      dwDriver;   /* likewise */
    void          *has;
} ACMDRVSTREAMINSTANCE, *PACMDRVSTREAMINSTANCE, *LPACMDRVSTREAMINSTANCE;
#pragma pack(push, 1)
typedef struct tACMDRVSTREAMHEADER {
    DWORD     cbStruct;
    DWORD     fdwStatus;
    DWORD_PTR dwUser;
    BYTE     *pbSrc;
    DWORD     cbSrcLength;
    DWORD     cbSrcLengthUsed;
    DWORD_PTR dwSrcUser;
    BYTE     *pbDst;
    DWORD     cbDstLength;
    DWORD     cbDstLengthUsed;
    DWORD_PTR dwDstUser;
    DWORD     fdwConvert;
    struct tACMDRVSTREAMHEADER *padshNext;
    DWORD     fdwDriver;
    DWORD_PTR dwDriver;
    DWORD     fdwPrepared;
    DWORD_PTR dwPrepared;
    BYTE     *pbPreparedSrc;
    DWORD     cbPreparedSrcLength;
    BYTE     *pbPreparedDst;
    DWORD     cbPreparedDstLength;
} ACMDRVSTREAMHEADER, *PACMDRVSTREAMHEADER, *LPACMDRVSTREAMHEADER;
#pragma pack(pop)
typedef struct {
    DWORD cbStruct;
    DWORD fdwSize;
    DWORD cbSrcLength;
    DWORD cbDstLength;
} ACMDRVSTREAMSIZE, *PACMDRVSTREAMSIZE, *LPACMDRVSTREAMSIZE;
typedef struct {
    DWORD          cbStruct;
    DWORD          fdwSuggest;
    LPWAVEFORMATEX pwfxSrc;
    DWORD          cbwfxSrc;
    LPWAVEFORMATEX pwfxDst;
    DWORD          cbwfxDst;
} ACMDRVFORMATSUGGEST, *PACMDRVFORMATSUGGEST, *LPACMDRVFORMATSUGGEST;
#endif
#if !defined(_INC_ACM) && !defined(__WINE_MSACM_H)
#pragma pack(push, 1)
typedef struct {
    DWORD cbStruct;
    DWORD fccType;
    DWORD fccComp;
    WORD  wMid;
    WORD  wPid;
    DWORD vdwACM;
    DWORD vdwDriver;
    DWORD fdwSupport;
    DWORD cFormatTags;
    DWORD cFilterTags;
    void *hicon;
    WCHAR szShortName[32];
    WCHAR szLongName[128];
    WCHAR szCopyright[80];
    WCHAR szLicensing[128];
    WCHAR szFeatures[512];
} ACMDRIVERDETAILSW, *PACMDRIVERDETAILSW, *LPACMDRIVERDETAILSW;
typedef struct {
    DWORD cbStruct;
    DWORD dwFormatTagIndex;
    DWORD dwFormatTag;
    DWORD cbFormatSize;
    DWORD fdwSupport;
    DWORD cStandardFormats;
    WCHAR szFormatTag[48];
} ACMFORMATTAGDETAILSW, *PACMFORMATTAGDETAILSW, *LPACMFORMATTAGDETAILSW;
typedef struct {
    DWORD          cbStruct;
    DWORD          dwFormatIndex;
    DWORD          dwFormatTag;
    DWORD          fdwSupport;
    LPWAVEFORMATEX pwfx;
    DWORD          cbwfx;
    WCHAR          szFormat[128];
} ACMFORMATDETAILSW, *PACMFORMATDETAILSW, *LPACMFORMATDETAILSW;
#pragma pack(pop)
#endif

/* ---- VfW codec messages, errors and flags (vfw.h, aviriff.h, wingdi.h) ------ *
 * For C video codecs and clients; each is defined only if the system headers did
 * not. drvproc::vfw::consts holds the same values (checked by the tests). */
#ifndef ICM_GETSTATE
#  define ICM_GETSTATE 0x5000
#endif
#ifndef ICM_SETSTATE
#  define ICM_SETSTATE 0x5001
#endif
#ifndef ICM_GETINFO
#  define ICM_GETINFO 0x5002
#endif
#ifndef ICM_CONFIGURE
#  define ICM_CONFIGURE 0x500A
#endif
#ifndef ICM_ABOUT
#  define ICM_ABOUT 0x500B
#endif
#ifndef ICM_GETDEFAULTQUALITY
#  define ICM_GETDEFAULTQUALITY 0x501E
#endif
#ifndef ICM_GETQUALITY
#  define ICM_GETQUALITY 0x501F
#endif
#ifndef ICM_SETQUALITY
#  define ICM_SETQUALITY 0x5020
#endif
#ifndef ICM_COMPRESS_GET_FORMAT
#  define ICM_COMPRESS_GET_FORMAT 0x4004
#endif
#ifndef ICM_COMPRESS_GET_SIZE
#  define ICM_COMPRESS_GET_SIZE 0x4005
#endif
#ifndef ICM_COMPRESS_QUERY
#  define ICM_COMPRESS_QUERY 0x4006
#endif
#ifndef ICM_COMPRESS_BEGIN
#  define ICM_COMPRESS_BEGIN 0x4007
#endif
#ifndef ICM_COMPRESS
#  define ICM_COMPRESS 0x4008
#endif
#ifndef ICM_COMPRESS_END
#  define ICM_COMPRESS_END 0x4009
#endif
#ifndef ICM_DECOMPRESS_GET_FORMAT
#  define ICM_DECOMPRESS_GET_FORMAT 0x400A
#endif
#ifndef ICM_DECOMPRESS_QUERY
#  define ICM_DECOMPRESS_QUERY 0x400B
#endif
#ifndef ICM_DECOMPRESS_BEGIN
#  define ICM_DECOMPRESS_BEGIN 0x400C
#endif
#ifndef ICM_DECOMPRESS
#  define ICM_DECOMPRESS 0x400D
#endif
#ifndef ICM_DECOMPRESS_END
#  define ICM_DECOMPRESS_END 0x400E
#endif
#ifndef ICERR_OK
#  define ICERR_OK 0
#endif
#ifndef ICERR_DONTDRAW
#  define ICERR_DONTDRAW 1
#endif
#ifndef ICERR_NEWPALETTE
#  define ICERR_NEWPALETTE 2
#endif
#ifndef ICERR_GOTOKEYFRAME
#  define ICERR_GOTOKEYFRAME 3
#endif
#ifndef ICERR_STOPDRAWING
#  define ICERR_STOPDRAWING 4
#endif
#ifndef ICERR_UNSUPPORTED
#  define ICERR_UNSUPPORTED (-1)
#endif
#ifndef ICERR_BADFORMAT
#  define ICERR_BADFORMAT (-2)
#endif
#ifndef ICERR_MEMORY
#  define ICERR_MEMORY (-3)
#endif
#ifndef ICERR_INTERNAL
#  define ICERR_INTERNAL (-4)
#endif
#ifndef ICERR_BADFLAGS
#  define ICERR_BADFLAGS (-5)
#endif
#ifndef ICERR_BADPARAM
#  define ICERR_BADPARAM (-6)
#endif
#ifndef ICERR_BADSIZE
#  define ICERR_BADSIZE (-7)
#endif
#ifndef ICERR_BADHANDLE
#  define ICERR_BADHANDLE (-8)
#endif
#ifndef ICERR_CANTUPDATE
#  define ICERR_CANTUPDATE (-9)
#endif
#ifndef ICERR_ABORT
#  define ICERR_ABORT (-10)
#endif
#ifndef ICERR_ERROR
#  define ICERR_ERROR (-100)
#endif
#ifndef ICERR_BADBITDEPTH
#  define ICERR_BADBITDEPTH (-200)
#endif
#ifndef ICERR_BADIMAGESIZE
#  define ICERR_BADIMAGESIZE (-201)
#endif
#ifndef ICTYPE_VIDEO
#  define ICTYPE_VIDEO 0x63646976
#endif
#ifndef ICMODE_COMPRESS
#  define ICMODE_COMPRESS 1
#endif
#ifndef ICMODE_DECOMPRESS
#  define ICMODE_DECOMPRESS 2
#endif
#ifndef ICMODE_FASTDECOMPRESS
#  define ICMODE_FASTDECOMPRESS 3
#endif
#ifndef ICMODE_QUERY
#  define ICMODE_QUERY 4
#endif
#ifndef ICMODE_FASTCOMPRESS
#  define ICMODE_FASTCOMPRESS 5
#endif
#ifndef ICMODE_DRAW
#  define ICMODE_DRAW 8
#endif
#ifndef VIDCF_QUALITY
#  define VIDCF_QUALITY 1
#endif
#ifndef VIDCF_CRUNCH
#  define VIDCF_CRUNCH 2
#endif
#ifndef VIDCF_TEMPORAL
#  define VIDCF_TEMPORAL 4
#endif
#ifndef VIDCF_COMPRESSFRAMES
#  define VIDCF_COMPRESSFRAMES 8
#endif
#ifndef VIDCF_DRAW
#  define VIDCF_DRAW 16
#endif
#ifndef VIDCF_FASTTEMPORALC
#  define VIDCF_FASTTEMPORALC 32
#endif
#ifndef VIDCF_FASTTEMPORALD
#  define VIDCF_FASTTEMPORALD 128
#endif
#ifndef ICVERSION
#  define ICVERSION 260
#endif
#ifndef ICCOMPRESS_KEYFRAME
#  define ICCOMPRESS_KEYFRAME 1
#endif
#ifndef ICDECOMPRESS_HURRYUP
#  define ICDECOMPRESS_HURRYUP 0x80000000
#endif
#ifndef ICDECOMPRESS_UPDATE
#  define ICDECOMPRESS_UPDATE 0x40000000
#endif
#ifndef ICDECOMPRESS_PREROLL
#  define ICDECOMPRESS_PREROLL 0x20000000
#endif
#ifndef ICDECOMPRESS_NULLFRAME
#  define ICDECOMPRESS_NULLFRAME 0x10000000
#endif
#ifndef ICDECOMPRESS_NOTKEYFRAME
#  define ICDECOMPRESS_NOTKEYFRAME 0x08000000
#endif
#ifndef AVIIF_LIST
#  define AVIIF_LIST 1
#endif
#ifndef AVIIF_TWOCC
#  define AVIIF_TWOCC 2
#endif
#ifndef AVIIF_KEYFRAME
#  define AVIIF_KEYFRAME 16
#endif
#ifndef BI_RGB
#  define BI_RGB 0
#endif
#ifndef BI_RLE8
#  define BI_RLE8 1
#endif
#ifndef BI_RLE4
#  define BI_RLE4 2
#endif
#ifndef BI_BITFIELDS
#  define BI_BITFIELDS 3
#endif

/* ---- VfW structures, as msvfw32 hands them to a codec (vfw.h, wingdi.h) ------ *
 * Natural alignment (sizes on 64-bit targets: 40, 56, 568, 88, 48).
 * drvproc::vfw::layout holds the same declarations (checked by the tests). */
#if !defined(_WINGDI_) && !defined(__WINE_WINGDI_H)
typedef struct tagBITMAPINFOHEADER {
    DWORD biSize;
    LONG  biWidth;
    LONG  biHeight;          /* positive: bottom-up rows */
    WORD  biPlanes;
    WORD  biBitCount;
    DWORD biCompression;
    DWORD biSizeImage;
    LONG  biXPelsPerMeter;
    LONG  biYPelsPerMeter;
    DWORD biClrUsed;
    DWORD biClrImportant;
} BITMAPINFOHEADER, *PBITMAPINFOHEADER, *LPBITMAPINFOHEADER;
#endif
#if !defined(_INC_VFW) && !defined(__WINE_VFW_H)
typedef struct {
    DWORD   dwSize;
    DWORD   fccType;         /* 'vidc' */
    DWORD   fccHandler;
    DWORD   dwVersion;
    DWORD   dwFlags;         /* ICMODE_* */
    LRESULT dwError;         /* set by a driver that refuses the open */
    void   *pV1Reserved;
    void   *pV2Reserved;
    DWORD   dnDevNode;
} ICOPEN;
typedef struct {
    DWORD dwSize;
    DWORD fccType;
    DWORD fccHandler;
    DWORD dwFlags;
    DWORD dwVersion;
    DWORD dwVersionICM;
    WCHAR szName[16];
    WCHAR szDescription[128];
    WCHAR szDriver[128];
} ICINFO;
typedef struct {
    DWORD              dwFlags;
    LPBITMAPINFOHEADER lpbiOutput;
    void              *lpOutput;
    LPBITMAPINFOHEADER lpbiInput;
    void              *lpInput;
    DWORD             *lpckid;
    DWORD             *lpdwFlags;
    LONG               lFrameNum;
    DWORD              dwFrameSize;
    DWORD              dwQuality;
    LPBITMAPINFOHEADER lpbiPrev;
    void              *lpPrev;
} ICCOMPRESS;
typedef struct {
    DWORD              dwFlags;
    LPBITMAPINFOHEADER lpbiInput;
    void              *lpInput;
    LPBITMAPINFOHEADER lpbiOutput;
    void              *lpOutput;
    DWORD              ckid;
} ICDECOMPRESS;
#endif

/* ---- The manager ---------------------------------------------------------- */

/* OpenDriver: opens an instance of a driver (spec §7, §8).
 *   szDriverName  a driver file name or path, or an alias; UTF-16, NUL-terminated.
 *                 With szSectionName NULL it is tried as a file (whole, then split
 *                 at its first space into "file args"), then as an alias in
 *                 [Drivers32]. Bare file names are searched in DRVPROC_PATH, then
 *                 the config file's directory, then the system library path.
 *   szSectionName NULL, or the section to look the alias up in (only there).
 *   lParam2       passed to the driver's DRV_OPEN (0, or a class structure such as
 *                 ACMDRVOPENDESCW*); must stay valid during the call.
 * Returns the new instance's handle, which the caller owns and must close with
 * CloseDriver; NULL on failure (NULL or invalid-UTF-16 name, not found, not
 * loadable, no DriverProc export, DRV_LOAD or DRV_OPEN refused). The first open of
 * a module sends DRV_LOAD, DRV_ENABLE, DRV_OPEN; later opens DRV_OPEN only.
 * Thread rules: any thread; concurrent first opens of one module send one DRV_LOAD.
 * Isolated drivers (DRVPROC_ISOLATE=1, or the alias marked in [drvproc.isolate]):
 * the first open of a module starts its host process; NULL when it cannot be
 * started or dies during DRV_LOAD/DRV_OPEN (drvproc_last_error() says which), or
 * when a marked alias cannot be hosted (a function driver; a bare file name found
 * by the system loader only). A module is hosted or not: a file may be loaded both
 * in the process (by a name not marked) and in a host (by a marked alias), as two
 * modules with a DRV_LOAD each. GetDriverModuleHandle is NULL for a hosted one. */
HDRVR WINAPI OpenDriver(LPCWSTR szDriverName, LPCWSTR szSectionName, LPARAM lParam2);

/* CloseDriver: closes an instance: DRV_CLOSE(lParam1, lParam2), whose answer is
 * ignored, then for a module's last instance DRV_DISABLE, DRV_FREE and unload.
 * Returns 1; 0 for a NULL, invalid or already closed handle (nothing is sent), and
 * 0 for a close that would deadlock (below; the instance stays open).
 * Thread rules: any thread, also from inside any DriverProc and from thread-exit
 * destructors (pthread_key, C++ thread_local). From the moment it is called, no new
 * message reaches the instance, and none reaches the driver after DRV_CLOSE:
 * messages other threads have in progress on it finish first. How long it waits:
 *   - from inside a message to the same instance (a driver closing itself): not at
 *     all; DRV_CLOSE is sent now, the instance's memory released when the message
 *     returns;
 *   - CloseDriver(h, 0, 0): up to 0.1 s, asleep. If messages are still running then
 *     (a modal dialog, a DriverProc waiting for a thread that closes its instance,
 *     two threads closing each other's instances from inside messages), it returns
 *     1 and the close is finished (DRV_CLOSE, and the unload if it was the last
 *     instance) on the thread whose message returns last. It never waits without
 *     end;
 *   - with non-zero lParam1/lParam2 (which may point to the caller's memory, so
 *     DRV_CLOSE cannot be sent after CloseDriver returns): until those messages
 *     return; if one of them is itself waiting in CloseDriver for a message this
 *     thread is inside, the close fails at once, returns 0 and drvproc_last_error()
 *     says "would deadlock"; close again after the message returns.
 * Cost: closing an instance that was ever sent a message issues one process-wide
 * memory barrier (Linux membarrier, Windows FlushProcessWriteBuffers): an
 * interrupt to every CPU running a thread of the process, about 0.25 us for the
 * closer, and tens to hundreds of ns taken from each thread it interrupts
 * (BENCHMARKS.md).
 * It is what lets every SendDriverMessage go without a fence or any shared write.
 * Isolated drivers: 0 also when the host process died in DRV_CLOSE, DRV_DISABLE or
 * DRV_FREE; the instance is closed all the same (its handle is invalid) and
 * drvproc_last_error() names the driver, the message and the death. A handle
 * already invalidated by its host's death is a bad handle: 0, and
 * drvproc_last_error() adds the death ("bad driver handle 0x...; driver ... died
 * on ..."). */
LRESULT WINAPI CloseDriver(HDRVR hdrvr, LPARAM lParam1, LPARAM lParam2);

/* Handles are process-wide, as in Windows: SendDriverMessage, CloseDriver,
 * GetDriverModuleHandle and GetDriverFlags accept a handle issued by any driver
 * manager in the process, also one of another copy of drvproc (a program's own
 * manager, drvctl's), so a driver can always pass its own hdrvr here. */

/* SendDriverMessage: passes a message to the instance's DriverProc unchanged and
 * returns its answer unchanged. The manager gives no message a meaning of its own
 * (sending DRV_CLOSE does not close). Returns 0 for a NULL, invalid or closed handle
 * without calling any driver. lParam1/lParam2 must be what the driver expects.
 * Thread rules: any thread, concurrently, also to the same handle. A send writes
 * nothing another thread writes, so threads sending at once do not slow each other.
 * Cost: the handle is fully checked and a concurrent CloseDriver waits for the send,
 * for about 40 instructions over a direct call of the DriverProc (x86-64 Linux; a
 * thread's first send, and a handle's first, take a longer path once). On Linux
 * x86-64 libdrvproc keeps 8 bytes in the initial-exec TLS model for this: a
 * dlopen() of it fails ("cannot allocate memory in static TLS block") only in a
 * process whose libraries have used up the C library's reserve for that.
 * Isolated drivers: a round trip to the host process instead of a call. 0 is then
 * either the driver's answer or a failure: the host died or hung in this message
 * (every handle of the driver is invalid afterwards: GetDriverFlags(h) == 0, and
 * a later call with one of them is a bad handle whose last error adds the death), or
 * the message could not be carried; drvproc_last_error() then says which driver,
 * which message and what happened. A successful send does not clear
 * drvproc_last_error() (that would cost every send), so read it only after a 0.
 * Several threads may send to an isolated driver at once; its host serves one
 * message at a time. */
LRESULT WINAPI SendDriverMessage(HDRVR hdrvr, UINT msg, LPARAM lParam1, LPARAM lParam2);

/* DefDriverProc: the default answers: 1 to DRV_LOAD, DRV_FREE, DRV_ENABLE,
 * DRV_DISABLE, DRV_INSTALL and DRV_REMOVE; 0 to everything else (so a driver that
 * passes DRV_OPEN here cannot be opened). Never validates the handle.
 * Thread rules: a pure function. */
LRESULT WINAPI DefDriverProc(DWORD_PTR dwDriverId, HDRVR hdrvr, UINT msg,
                             LPARAM lParam1, LPARAM lParam2);

/* DriverCallback: notifies a client. dwFlags & DCB_TYPEMASK chooses how:
 *   DCB_FUNCTION  calls ((LPDRVCALLBACK)dwCallback)(hDevice, dwMsg, dwUser,
 *                 dwParam1, dwParam2) on the calling thread; returns TRUE.
 *   DCB_EVENT     sets the event whose id is dwCallback (events are created through
 *                 the Rust API, drvproc_host::Event).
 *   DCB_WINDOW, DCB_TASK  post (hDevice, dwMsg, dwParam1) to the message queue whose
 *                 id is dwCallback (drvproc_host::MessageQueue); FALSE if full.
 *   DCB_NULL, unknown types, dwCallback == 0, or an id naming no live target: FALSE.
 * DCB_NOSWITCH is ignored. Thread rules: any thread (drivers call it from worker
 * threads); a DCB_FUNCTION target runs on the caller's thread. */
BOOL APIENTRY DriverCallback(DWORD_PTR dwCallback, DWORD dwFlags, HDRVR hDevice,
                             DWORD dwMsg, DWORD_PTR dwUser, DWORD_PTR dwParam1,
                             DWORD_PTR dwParam2);

/* GetDriverModuleHandle: the platform handle of the instance's driver library -
 * on Linux the dlopen() handle (the value dlopen(path, RTLD_NOLOAD) returns while
 * the driver is loaded), usable with dlsym() to find the driver's other exports
 * (e.g. modMessage); on Windows its HMODULE. The library keeps the reference: do
 * not dlclose() it. NULL for an invalid handle or a driver registered as a
 * function. Thread rules: any thread; valid while the instance is open. */
HMODULE WINAPI GetDriverModuleHandle(HDRVR hdrvr);

#endif /* driver types, constants and the documented manager functions */

/* ---- Names winmm exports beyond the SDK headers ------------------------------ */

/* OpenDriverA: OpenDriver with UTF-8 names (NULL on invalid UTF-8). */
HDRVR WINAPI OpenDriverA(LPCSTR szDriverName, LPCSTR szSectionName, LPARAM lParam2);

/* GetDriverFlags (undocumented): 0x80000000 for an open instance, 0 for an invalid
 * handle. Thread rules: any thread. */
DWORD WINAPI GetDriverFlags(HDRVR hdrvr);

/* DrvDefDriverProc: the same function as DefDriverProc. */
LRESULT WINAPI DrvDefDriverProc(DWORD_PTR dwDriverId, HDRVR hdrvr, UINT msg,
                                LPARAM lParam1, LPARAM lParam2);

/* DrvGetModuleHandle: the same function as GetDriverModuleHandle. */
HMODULE WINAPI DrvGetModuleHandle(HDRVR hdrvr);

/* Aliases exported by winmm: the same functions under their old names. */
HDRVR WINAPI DrvOpen(LPCWSTR szDriverName, LPCWSTR szSectionName, LPARAM lParam2);
HDRVR WINAPI DrvOpenA(LPCSTR szDriverName, LPCSTR szSectionName, LPARAM lParam2);
LRESULT WINAPI DrvClose(HDRVR hdrvr, LPARAM lParam1, LPARAM lParam2);
LRESULT WINAPI DrvSendMessage(HDRVR hdrvr, UINT msg, LPARAM lParam1, LPARAM lParam2);

/* ---- drvproc extensions ---------------------------------------------------- */

/* drvproc_last_error: why the calling thread's last failed call failed, in one
 * line of UTF-8 (e.g. "imaadp32.acm: not found in /a:/b (searched DRVPROC_PATH,
 * config dir, system library path)"); "" after a successful open or close.
 * For an isolated driver whose host died, or a message that could not be carried
 * to it, the call that answered 0 sets it to the driver, the message and what
 * happened (see "Isolated drivers" at the top); set on the failing thread only.
 * A successful SendDriverMessage leaves it unchanged.
 * The string belongs to the library and stays valid until this thread's next call
 * into it. Thread rules: per thread. */
const char *drvproc_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DRVPROC_H */
