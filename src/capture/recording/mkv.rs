//! A minimal streaming Matroska writer for the pipe into ffmpeg: one MJPEG
//! track, one frame per cluster, each with its grid timestamp. It lets ffmpeg
//! decode each distinct screencast frame once; its `fps` filter repeats
//! frames onto the constant-rate grid after decoding, which costs far less
//! than decoding the same JPEG again for every slot.

/// Timestamps are in microseconds.
const TIMECODE_SCALE_NS: u64 = 1_000;

/// An EBML element with a known size (sizes always take 8 bytes).
fn element(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    push_id(&mut out, id);
    push_size(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

fn push_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

fn push_size(out: &mut Vec<u8>, size: u64) {
    debug_assert!(size < (1 << 56) - 1);
    out.push(0x01);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    element(id, &bytes[skip..])
}

fn string(id: u32, s: &str) -> Vec<u8> {
    element(id, s.as_bytes())
}

/// The stream header: EBML header, a Segment of unknown size, Info and one
/// MJPEG video track of `width`×`height`. The track's default frame duration
/// is one slot: it gives the last frame its length, so ffmpeg's `fps` filter
/// shows it for exactly one slot.
pub(super) fn header(width: u32, height: u32, fps: u32) -> Vec<u8> {
    let ebml = element(
        0x1A45_DFA3,
        &[
            uint(0x4286, 1),            // EBMLVersion
            uint(0x42F7, 1),            // EBMLReadVersion
            uint(0x42F2, 4),            // EBMLMaxIDLength
            uint(0x42F3, 8),            // EBMLMaxSizeLength
            string(0x4282, "matroska"), // DocType
            uint(0x4287, 4),            // DocTypeVersion
            uint(0x4285, 2),            // DocTypeReadVersion
        ]
        .concat(),
    );
    let info = element(
        0x1549_A966,
        &[
            uint(0x2A_D7B1, TIMECODE_SCALE_NS), // TimestampScale
            string(0x4D80, "bevara"),           // MuxingApp
            string(0x5741, "bevara"),           // WritingApp
        ]
        .concat(),
    );
    let video = element(
        0xE0,
        &[uint(0xB0, width as u64), uint(0xBA, height as u64)].concat(),
    );
    let track = element(
        0xAE,
        &[
            uint(0xD7, 1),           // TrackNumber
            uint(0x73C5, 1),         // TrackUID
            uint(0x83, 1),           // TrackType: video
            uint(0x9C, 0),           // FlagLacing
            string(0x86, "V_MJPEG"), // CodecID
            // DefaultDuration (ns): one slot.
            uint(0x23_E383, (1e9 / fps as f64).round() as u64),
            video,
        ]
        .concat(),
    );
    let tracks = element(0x1654_AE6B, &track);
    let mut out = ebml;
    push_id(&mut out, 0x1853_8067); // Segment, size unknown: it streams
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend(info);
    out.extend(tracks);
    out
}

/// The start of a cluster holding one keyframe of `frame_len` bytes at grid
/// slot `slot`; the JPEG bytes follow it.
pub(super) fn cluster_head(slot: u64, fps: u32, frame_len: usize) -> Vec<u8> {
    let micros = (slot as u128 * 1_000_000 / fps as u128) as u64;
    let timestamp = uint(0xE7, micros);
    // SimpleBlock: track number 1 (vint), relative timestamp 0, keyframe flag.
    let block_head = [0x81u8, 0x00, 0x00, 0x80];
    let block_len = block_head.len() + frame_len;
    let mut out = Vec::with_capacity(40);
    push_id(&mut out, 0x1F43_B675);
    push_size(&mut out, (timestamp.len() + 1 + 8 + block_len) as u64);
    out.extend(timestamp);
    push_id(&mut out, 0xA3);
    push_size(&mut out, block_len as u64);
    out.extend_from_slice(&block_head);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_encoded_as_ebml() {
        assert_eq!(uint(0x83, 1), vec![0x83, 0x01, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(uint(0xE7, 0), vec![0xE7, 0x01, 0, 0, 0, 0, 0, 0, 1, 0]);
        let h = header(1280, 900, 25);
        assert_eq!(&h[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
        assert!(h.windows(7).any(|w| w == b"V_MJPEG"));
        // slot 25 at 25 fps is 1 s = 1,000,000 µs = 0x0F4240.
        let c = cluster_head(25, 25, 100);
        assert_eq!(&c[..4], &[0x1F, 0x43, 0xB6, 0x75]);
        assert_eq!(&c[21..24], &[0x0F, 0x42, 0x40]);
        let cluster_size = u64::from_be_bytes([0, c[5], c[6], c[7], c[8], c[9], c[10], c[11]]);
        assert_eq!(cluster_size as usize, c.len() - 12 + 100);
    }
}
