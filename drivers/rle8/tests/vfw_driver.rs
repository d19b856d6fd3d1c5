//! drvrle8 as msvfw32 drives it: loaded by the manager from the built library,
//! opened with an ICOPEN, asked for its info and formats, and compressing and
//! decompressing frames through drvproc-host's VfW client.

use std::path::PathBuf;

use drvproc::vfw::BitmapFormat;
use drvproc::vfw::consts::*;
use drvproc_host::{DriverManager, FrameOptions, ManagerOptions, VfwCodec, VfwError};
use drvrle8::codec::{frame_size, max_compressed_size};

/// The library cargo built for this package, beside this test binary.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}drvrle8{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn open(mode: u32) -> (DriverManager, VfwCodec) {
    let manager =
        DriverManager::new(ManagerOptions::new().config_path("/nonexistent/drvproc-test/system.ini"));
    let path = built_library();
    let codec = VfwCodec::open(&manager, path.to_str().unwrap(), u32::from_le_bytes(*b"mrle"), mode)
        .expect("open drvrle8");
    (manager, codec)
}

/// A palette whose entries differ, so that a copied palette can be told apart.
fn palette() -> Vec<u8> {
    (0..=255u8).flat_map(|i| [i, 255 - i, i / 2, 0]).collect()
}

fn rgb8(width: i32, height: i32) -> BitmapFormat {
    let mut f = BitmapFormat::paletted(width, height, BI_RGB, &palette());
    f.header.x_pels_per_meter = 2835;
    f
}

fn driver_error(e: VfwError) -> isize {
    match e {
        VfwError::Driver { code, .. } => code,
        other => panic!("not a driver error: {other}"),
    }
}

#[test]
fn info_and_default_quality_as_msrle32() {
    let (_m, codec) = open(ICMODE_DECOMPRESS);
    let info = codec.info().unwrap();
    assert_eq!(
        (info.fcc_type, info.fcc_handler, info.version_icm, info.name.as_str()),
        (ICTYPE_VIDEO, u32::from_le_bytes(*b"MRLE"), ICVERSION, "RLE8")
    );
    assert_eq!(codec.default_quality().unwrap(), 8500);
}

#[test]
fn formats_sizes_and_refusals() {
    let (_m, codec) = open(ICMODE_COMPRESS);
    let input = rgb8(64, 48);
    codec.compress_query(&input, None).unwrap();
    let rle = codec.compress_get_format(&input).unwrap();
    assert_eq!(rle.size(), 1064);
    assert_eq!(
        (
            rle.header.compression,
            rle.header.bit_count,
            rle.header.size_image as usize,
            rle.header.x_pels_per_meter
        ),
        (BI_RLE8, 8, max_compressed_size(64, 48).unwrap(), 2835)
    );
    assert_eq!(rle.palette(), &palette()[..], "the palette is copied");
    assert_eq!(codec.compress_get_size(&input, &rle).unwrap(), (2 * 64 + 2) * 48 + 2);
    codec.compress_query(&input, Some(&rle)).unwrap();

    codec.decompress_query(&rle, None).unwrap();
    let back = codec.decompress_get_format(&rle).unwrap();
    assert_eq!(back, input, "decompressing gives back the input format, biSizeImage = stride * height");

    // What the codec does not do.
    let mut deep = input.clone();
    (deep.header.bit_count, deep.header.clr_used) = (24, 0);
    deep.extra.clear();
    assert_eq!(driver_error(codec.compress_query(&deep, None).unwrap_err()), ICERR_BADFORMAT);
    let top_down = rgb8(64, -48);
    assert_eq!(driver_error(codec.compress_query(&top_down, None).unwrap_err()), ICERR_BADFORMAT);
    let other_size = codec.compress_get_format(&rgb8(32, 48)).unwrap();
    assert_eq!(driver_error(codec.compress_query(&input, Some(&other_size)).unwrap_err()), ICERR_BADFORMAT);
    assert_eq!(driver_error(codec.decompress_query(&deep, None).unwrap_err()), ICERR_BADFORMAT);
    // A format whose header promises more colours than it carries never reaches
    // the driver, which would read the table by the header.
    let mut cut = input.clone();
    cut.extra.truncate(100);
    let err = codec.compress_query(&cut, None).unwrap_err();
    assert!(matches!(err, VfwError::Format { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "ICM_COMPRESS_QUERY: bad format: the format needs 1064 bytes (header and colour table), 140 given"
    );
    let err = codec.compress_get_format(&deep).unwrap_err();
    assert_eq!(err.to_string(), "ICM_COMPRESS_GET_FORMAT failed: ICERR_BADFORMAT (-2)");
}

/// A `width` x `height` frame (stride-padded rows filled with `pad`) of a
/// background stripe pattern and a square at `(x, y)`.
fn scene(width: usize, height: usize, x: usize, y: usize, pad: u8) -> Vec<u8> {
    let stride = frame_size(width, 1).unwrap();
    let mut f = vec![pad; stride * height];
    for row in 0..height {
        for col in 0..width {
            let inside = (x..x + 5).contains(&col) && (y..y + 4).contains(&row);
            f[row * stride + col] = if inside { 200 } else { (col / 3 % 4) as u8 };
        }
    }
    f
}

fn pixels(frame: &[u8], width: usize, height: usize) -> Vec<u8> {
    let stride = frame_size(width, 1).unwrap();
    (0..height).flat_map(|r| frame[r * stride..r * stride + width].to_vec()).collect()
}

/// Keyframes and delta frames round-trip through one persistent buffer, never
/// past the frame; delta frames are smaller.
#[test]
fn keyframes_and_delta_frames_round_trip() {
    let (width, height) = (23, 9); // stride 24: one padding byte a row
    let (_m, codec) = open(ICMODE_COMPRESS);
    let input = rgb8(width as i32, height as i32);
    let mut rle = codec.compress_get_format(&input).unwrap();
    let rgb = codec.decompress_get_format(&rle).unwrap();
    codec.compress_begin(&input, &rle).unwrap();
    codec.decompress_begin(&rle, &rgb).unwrap();
    let size = frame_size(width, height).unwrap();
    let mut shown = vec![0xEEu8; size + 16];
    let mut previous: Option<Vec<u8>> = None;
    for n in 0..8 {
        let frame = scene(width, height, n * 2, n % 5, 0xA5);
        let keyframe = n % 4 == 0;
        let c = codec
            .compress(
                &input,
                &frame,
                &mut rle,
                FrameOptions {
                    previous: previous.as_deref(),
                    keyframe,
                    quality: 8500,
                    frame_number: n as i32,
                },
            )
            .unwrap();
        assert_eq!(c.is_keyframe(), keyframe, "frame {n}");
        assert_eq!(rle.header.size_image as usize, c.data.len());
        codec.decompress(&rle, &c.data, !keyframe, &rgb, &mut shown).unwrap();
        assert_eq!(pixels(&shown, width, height), pixels(&frame, width, height), "frame {n}");
        assert_eq!(&shown[size..], &[0xEE; 16], "nothing past stride * height");
        assert!((0..height).all(|r| shown[r * 24 + 23] == 0xEE), "row padding untouched");
        if !keyframe {
            let mut key = rle.clone();
            let k = codec.compress(&input, &frame, &mut key, FrameOptions::default()).unwrap();
            assert!(k.is_keyframe(), "no previous frame: a keyframe");
            assert!(c.data.len() < k.data.len(), "frame {n}: delta {} >= key {}", c.data.len(), k.data.len());
        }
        previous = Some(frame);
    }
    codec.compress_end().unwrap();
    codec.decompress_end().unwrap();
}

/// A delta frame draws what it codes and leaves the skipped pixels as they were;
/// a stream that leaves the frame is ICERR_ERROR and draws nothing; an empty one
/// changes nothing.
#[test]
fn delta_frames_leave_skipped_pixels_and_bad_streams_draw_nothing() {
    let (_m, codec) = open(ICMODE_DECOMPRESS);
    let (width, height) = (8usize, 2usize);
    let input = rgb8(width as i32, height as i32);
    let rle = {
        let mut f = input.clone();
        f.header.compression = BI_RLE8;
        f
    };
    let rgb = codec.decompress_get_format(&rle).unwrap();
    let before: Vec<u8> = (0..16).collect();
    let mut shown = before.clone();
    // Skip 3 right and 1 up, draw 2 pixels of 9, end of bitmap.
    codec.decompress(&rle, &[0, 2, 3, 1, 2, 9, 0, 1], true, &rgb, &mut shown).unwrap();
    let mut expected = before.clone();
    expected[8 + 3] = 9;
    expected[8 + 4] = 9;
    assert_eq!(shown, expected);

    let run_past_row_end = [9, 7, 0, 1];
    let err = codec.decompress(&rle, &run_past_row_end, true, &rgb, &mut shown).unwrap_err();
    assert_eq!(driver_error(err), ICERR_ERROR);
    assert_eq!(shown, expected, "untouched");
    codec.decompress(&rle, &[], true, &rgb, &mut shown).unwrap();
    assert_eq!(shown, expected, "an empty frame changes nothing");

    let short = &mut shown[..15];
    let err = codec.decompress(&rle, &[0, 1], false, &rgb, short).unwrap_err();
    assert!(matches!(err, VfwError::BufferTooSmall { needed: 16, len: 15, .. }), "{err}");
}

/// Decompressing into 24 bits draws the palette's colours, and a delta frame
/// leaves the pixels it skips as they were.
#[test]
fn decompresses_into_24_bits_with_the_palette() {
    let (width, height) = (5usize, 2usize);
    let (_m, codec) = open(ICMODE_DECOMPRESS);
    let input = rgb8(width as i32, height as i32);
    let mut rle = codec.compress_get_format(&input).unwrap();
    let mut rgb24 = input.clone();
    (rgb24.header.bit_count, rgb24.header.clr_used, rgb24.header.size_image) = (24, 0, 0);
    rgb24.extra.clear();
    codec.decompress_query(&rle, Some(&rgb24)).unwrap();
    let mut rgb16 = rgb24.clone();
    rgb16.header.bit_count = 16;
    assert_eq!(driver_error(codec.decompress_query(&rle, Some(&rgb16)).unwrap_err()), ICERR_BADFORMAT);

    let first = [1, 2, 3, 4, 5, 0, 0, 0, 250, 251, 252, 253, 254, 0, 0, 0];
    let key = codec.compress(&input, &first, &mut rle, FrameOptions::default()).unwrap();
    let stride24 = 16; // 15 bytes rounded up to 4
    let mut shown = vec![0xEEu8; stride24 * height + 8];
    codec.decompress(&rle, &key.data, false, &rgb24, &mut shown).unwrap();
    let colour = |v: u8| [v, 255 - v, v / 2];
    for y in 0..height {
        for x in 0..width {
            assert_eq!(shown[y * stride24 + 3 * x..][..3], colour(first[y * 8 + x]), "pixel ({x}, {y})");
        }
        assert_eq!(shown[y * stride24 + 15], 0xEE, "row padding untouched");
    }
    assert_eq!(&shown[stride24 * height..], &[0xEE; 8], "nothing past the frame");

    // Skip to (1, 1), draw two pixels of 7; nothing else changes.
    let before = shown.clone();
    codec.decompress(&rle, &[0, 2, 1, 1, 2, 7, 0, 1], true, &rgb24, &mut shown).unwrap();
    let mut expected = before;
    expected[stride24 + 3..stride24 + 6].copy_from_slice(&colour(7));
    expected[stride24 + 6..stride24 + 9].copy_from_slice(&colour(7));
    assert_eq!(shown, expected);
}

/// Uncompressed 8-bit frames decompress too, as msrle32 does (players hand a
/// paletted BI_RGB stream to the same codec): copied into 8 bits, or drawn with the
/// palette into 24 bits.
#[test]
fn uncompressed_8bit_frames_are_copied_or_drawn() {
    let (width, height) = (5usize, 2usize);
    let (_m, codec) = open(ICMODE_DECOMPRESS);
    let input = rgb8(width as i32, height as i32);
    codec.decompress_query(&input, None).unwrap();
    codec.decompress_query(&input, Some(&input)).unwrap();
    assert_eq!(codec.decompress_get_format(&input).unwrap(), input);

    let frame = [1, 2, 3, 4, 5, 0xAA, 0xAA, 0xAA, 250, 251, 252, 253, 254, 0xAA, 0xAA, 0xAA];
    let mut shown = vec![0xEEu8; frame.len() + 4];
    codec.decompress(&input, &frame, false, &input, &mut shown).unwrap();
    for y in 0..height {
        assert_eq!(shown[y * 8..][..width], frame[y * 8..][..width], "row {y}");
    }
    assert_eq!(&shown[frame.len()..], &[0xEE; 4], "nothing past the frame");

    let mut rgb24 = input.clone();
    (rgb24.header.bit_count, rgb24.header.clr_used, rgb24.header.size_image) = (24, 0, 0);
    rgb24.extra.clear();
    let mut shown = vec![0xEEu8; 16 * height];
    codec.decompress(&input, &frame, false, &rgb24, &mut shown).unwrap();
    assert_eq!(shown[16 + 3..16 + 6], [251, 4, 125], "pixel (1, 1) has palette entry 251's colour");

    // A frame shorter than stride * height is refused before the driver would read
    // past it, the output untouched.
    let mut shown = vec![0xEEu8; frame.len()];
    let err = codec.decompress(&input, &frame[..15], false, &input, &mut shown).unwrap_err();
    assert!(matches!(err, VfwError::BufferTooSmall { needed: 16, len: 15, .. }), "{err}");
    assert_eq!(shown, vec![0xEE; frame.len()]);
}
