//! Fragmented MP4 for Media Source Extensions: one init segment (`ftyp` +
//! `moov` with the codec's sample entry and `mvex`/`trex`), then one
//! `moof` + `mdat` per frame so a frame leaves the gateway as soon as it is
//! complete. One video track (id 1), timescale = the RTP clock rate.
//!
//! Frames are written in decode order without composition offsets: cameras
//! stream H.264/H.265 without B-frames in practice, and the RTP timestamps
//! of such streams are decode times.

use std::time::Instant;

use crate::GatewayError;

const TRACK_ID: u32 = 1;

fn write_box(buf: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(kind);
    body(buf);
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn full_box(
    buf: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(buf, kind, |b| {
        b.extend_from_slice(&((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes());
        body(b);
    });
}

fn u16be(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn u32be(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn u64be(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// `ftyp` + `moov` for one video track. `sample_entry` is the whole
/// `avc1`/`hvc1` box (retina's `VideoParameters::mp4_sample_entry`).
pub fn init_segment(sample_entry: &[u8], width: u32, height: u32, timescale: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(sample_entry.len() + 700);
    write_box(&mut b, b"ftyp", |b| {
        b.extend_from_slice(b"iso5");
        u32be(b, 512);
        for brand in [b"iso5", b"iso6", b"mp41"] {
            b.extend_from_slice(brand);
        }
    });
    write_box(&mut b, b"moov", |b| {
        full_box(b, b"mvhd", 0, 0, |b| {
            u32be(b, 0); // creation
            u32be(b, 0); // modification
            u32be(b, 1000); // movie timescale
            u32be(b, 0); // duration: unknown (live)
            u32be(b, 0x0001_0000); // rate 1.0
            u16be(b, 0x0100); // volume 1.0
            b.extend_from_slice(&[0; 10]);
            MATRIX.iter().for_each(|m| u32be(b, *m));
            b.extend_from_slice(&[0; 24]);
            u32be(b, TRACK_ID + 1); // next_track_id
        });
        write_box(b, b"trak", |b| {
            // flags: enabled | in movie
            full_box(b, b"tkhd", 0, 3, |b| {
                u32be(b, 0);
                u32be(b, 0);
                u32be(b, TRACK_ID);
                u32be(b, 0);
                u32be(b, 0); // duration
                b.extend_from_slice(&[0; 8]);
                u16be(b, 0); // layer
                u16be(b, 0); // alternate group
                u16be(b, 0); // volume: video
                u16be(b, 0);
                MATRIX.iter().for_each(|m| u32be(b, *m));
                u32be(b, width << 16);
                u32be(b, height << 16);
            });
            write_box(b, b"mdia", |b| {
                full_box(b, b"mdhd", 0, 0, |b| {
                    u32be(b, 0);
                    u32be(b, 0);
                    u32be(b, timescale);
                    u32be(b, 0);
                    u16be(b, 0x55c4); // language "und"
                    u16be(b, 0);
                });
                full_box(b, b"hdlr", 0, 0, |b| {
                    u32be(b, 0);
                    b.extend_from_slice(b"vide");
                    b.extend_from_slice(&[0; 12]);
                    b.extend_from_slice(b"TrueVault\0");
                });
                write_box(b, b"minf", |b| {
                    full_box(b, b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
                    write_box(b, b"dinf", |b| {
                        full_box(b, b"dref", 0, 0, |b| {
                            u32be(b, 1);
                            // flags 1: media data is in this file
                            full_box(b, b"url ", 0, 1, |_| {});
                        });
                    });
                    write_box(b, b"stbl", |b| {
                        full_box(b, b"stsd", 0, 0, |b| {
                            u32be(b, 1);
                            b.extend_from_slice(sample_entry);
                        });
                        full_box(b, b"stts", 0, 0, |b| u32be(b, 0));
                        full_box(b, b"stsc", 0, 0, |b| u32be(b, 0));
                        full_box(b, b"stsz", 0, 0, |b| {
                            u32be(b, 0);
                            u32be(b, 0);
                        });
                        full_box(b, b"stco", 0, 0, |b| u32be(b, 0));
                    });
                });
            });
        });
        write_box(b, b"mvex", |b| {
            full_box(b, b"trex", 0, 0, |b| {
                u32be(b, TRACK_ID);
                u32be(b, 1); // default sample description index
                u32be(b, 0);
                u32be(b, 0);
                u32be(b, 0);
            });
        });
    });
    b
}

/// Sample flags (ISO/IEC 14496-12 8.8.3.1): a sync sample depends on nothing;
/// any other depends on others and is marked non-sync.
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// One `moof` + `mdat` holding one sample.
pub fn fragment(
    sequence: u32,
    base_decode_time: u64,
    duration: u32,
    keyframe: bool,
    sample: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(sample.len() + 120);
    let mut data_offset_at = 0;
    write_box(&mut b, b"moof", |b| {
        full_box(b, b"mfhd", 0, 0, |b| u32be(b, sequence));
        write_box(b, b"traf", |b| {
            // default-base-is-moof: data offsets count from this moof.
            full_box(b, b"tfhd", 0, 0x02_0000, |b| u32be(b, TRACK_ID));
            full_box(b, b"tfdt", 1, 0, |b| u64be(b, base_decode_time));
            // data-offset | sample-duration | sample-size | sample-flags
            full_box(b, b"trun", 0, 0x0001 | 0x0100 | 0x0200 | 0x0400, |b| {
                u32be(b, 1);
                data_offset_at = b.len();
                u32be(b, 0);
                u32be(b, duration);
                u32be(b, sample.len() as u32);
                u32be(
                    b,
                    if keyframe {
                        SYNC_SAMPLE_FLAGS
                    } else {
                        NON_SYNC_SAMPLE_FLAGS
                    },
                );
            });
        });
    });
    let data_offset = (b.len() + 8) as u32;
    b[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    write_box(&mut b, b"mdat", |b| b.extend_from_slice(sample));
    b
}

/// Turns camera timestamps into strictly increasing decode times.
///
/// Some servers (a raw elementary stream behind an RTSP server, cheap
/// cameras after a reboot) send the same timestamp for every frame, or jump
/// backwards or far ahead. A frame whose timestamp does not advance by a
/// plausible amount gets one frame duration (from the stream's frame rate,
/// else the wall clock, else the last good duration) instead.
#[derive(Debug)]
pub struct DecodeClock {
    clock_rate: u32,
    frame_duration: Option<u32>,
    last_raw: Option<i64>,
    last_wall: Option<Instant>,
    next_dts: u64,
    last_duration: u32,
    /// Frames whose timestamp had to be synthesised.
    pub repaired: u64,
}

impl DecodeClock {
    /// `frame_rate` as retina gives it: `(duration, timescale)` of one frame.
    pub fn new(clock_rate: u32, frame_rate: Option<(u32, u32)>) -> Self {
        let clock_rate = clock_rate.max(1);
        let frame_duration = frame_rate.filter(|(n, d)| *n > 0 && *d > 0).map(|(n, d)| {
            ((u64::from(clock_rate) * u64::from(n)) / u64::from(d)).clamp(1, u64::from(clock_rate))
                as u32
        });
        Self {
            clock_rate,
            frame_duration,
            last_raw: None,
            last_wall: None,
            next_dts: 0,
            last_duration: frame_duration.unwrap_or(clock_rate / 30).max(1),
            repaired: 0,
        }
    }

    /// Decode time for a frame and the duration to write for it (the
    /// previous frame's spacing: the next frame's time is not known yet).
    pub fn next(&mut self, raw: i64, wall: Instant) -> (u64, u32) {
        let max_jump = i64::from(self.clock_rate) * 10;
        let dts = match (self.last_raw, self.last_wall) {
            (Some(last_raw), Some(last_wall)) => {
                let delta = raw.wrapping_sub(last_raw);
                let step = if delta > 0 && delta <= max_jump {
                    delta as u32
                } else {
                    self.repaired += 1;
                    self.frame_duration.unwrap_or_else(|| {
                        let wall_ticks = wall.saturating_duration_since(last_wall).as_micros()
                            as u64
                            * u64::from(self.clock_rate)
                            / 1_000_000;
                        if wall_ticks > 0 && wall_ticks <= max_jump as u64 {
                            wall_ticks as u32
                        } else {
                            self.last_duration
                        }
                    })
                };
                self.last_duration = step.max(1);
                self.next_dts + u64::from(self.last_duration)
            }
            _ => 0,
        };
        self.last_raw = Some(raw);
        self.last_wall = Some(wall);
        self.next_dts = dts;
        (dts, self.last_duration)
    }
}

/// A minimal ISO BMFF reader, for tests and for checking what we send.
pub mod parse {
    use super::GatewayError;

    #[derive(Debug, Clone, Copy)]
    pub struct Mp4Box<'a> {
        pub kind: [u8; 4],
        pub body: &'a [u8],
    }

    /// The top-level boxes of `data`; errors on truncation or bad sizes.
    pub fn boxes(mut data: &[u8]) -> Result<Vec<Mp4Box<'_>>, GatewayError> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if data.len() < 8 {
                return Err(GatewayError::Mux(format!("{} trailing bytes", data.len())));
            }
            let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            if size < 8 || size > data.len() {
                return Err(GatewayError::Mux(format!("box size {size} out of range")));
            }
            out.push(Mp4Box {
                kind: [data[4], data[5], data[6], data[7]],
                body: &data[8..size],
            });
            data = &data[size..];
        }
        Ok(out)
    }

    /// The first box at `path` (e.g. `["moov", "trak", "tkhd"]`).
    pub fn find<'a>(data: &'a [u8], path: &[&str]) -> Result<&'a [u8], GatewayError> {
        let mut cur = data;
        for (i, name) in path.iter().enumerate() {
            let b = boxes(cur)?
                .into_iter()
                .find(|b| &b.kind[..] == name.as_bytes())
                .ok_or_else(|| GatewayError::Mux(format!("no {name} box")))?;
            cur = b.body;
            // stsd's children follow an entry count; skip it to descend.
            if *name == "stsd" && i + 1 < path.len() {
                cur = cur
                    .get(8..)
                    .ok_or_else(|| GatewayError::Mux("short stsd".into()))?;
            }
        }
        Ok(cur)
    }

    fn be32(b: &[u8], at: usize) -> Result<u32, GatewayError> {
        b.get(at..at + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| GatewayError::Mux("short box".into()))
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FragmentInfo {
        pub sequence: u32,
        pub base_decode_time: u64,
        pub duration: u32,
        pub sample_size: u32,
        pub sync: bool,
        pub sample: Vec<u8>,
    }

    /// Reads back one of our `moof` + `mdat` pairs and checks its offsets.
    pub fn fragment(data: &[u8]) -> Result<FragmentInfo, GatewayError> {
        let top = boxes(data)?;
        let (Some(moof), Some(mdat)) = (top.first(), top.get(1)) else {
            return Err(GatewayError::Mux("expected moof + mdat".into()));
        };
        if &moof.kind != b"moof" || &mdat.kind != b"mdat" {
            return Err(GatewayError::Mux("expected moof + mdat".into()));
        }
        let mfhd = find(moof.body, &["mfhd"])?;
        let tfdt = find(moof.body, &["traf", "tfdt"])?;
        let trun = find(moof.body, &["traf", "trun"])?;
        let base_decode_time = match tfdt.first() {
            Some(1) => (u64::from(be32(tfdt, 4)?) << 32) | u64::from(be32(tfdt, 8)?),
            _ => u64::from(be32(tfdt, 4)?),
        };
        if be32(trun, 4)? != 1 {
            return Err(GatewayError::Mux("expected one sample".into()));
        }
        let data_offset = be32(trun, 8)? as usize;
        let sample_size = be32(trun, 16)?;
        let moof_len = moof.body.len() + 8;
        if data_offset != moof_len + 8 || sample_size as usize != mdat.body.len() {
            return Err(GatewayError::Mux(
                "data offset or sample size does not match mdat".into(),
            ));
        }
        Ok(FragmentInfo {
            sequence: be32(mfhd, 4)?,
            base_decode_time,
            duration: be32(trun, 12)?,
            sample_size,
            sync: be32(trun, 20)? & 0x0001_0000 == 0,
            sample: mdat.body.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fake_avc1() -> Vec<u8> {
        let mut b = Vec::new();
        write_box(&mut b, b"avc1", |b| {
            b.extend_from_slice(&[0; 78]);
            write_box(b, b"avcC", |b| {
                b.extend_from_slice(&[1, 0x42, 0xc0, 0x1e, 0xff, 0xe0])
            });
        });
        b
    }

    #[test]
    fn init_segment_parses_back() {
        let init = init_segment(&fake_avc1(), 640, 480, 90_000);
        let top: Vec<_> = parse::boxes(&init)
            .unwrap()
            .iter()
            .map(|b| b.kind)
            .collect();
        assert_eq!(top, vec![*b"ftyp", *b"moov"]);
        let mdhd = parse::find(&init, &["moov", "trak", "mdia", "mdhd"]).unwrap();
        assert_eq!(u32::from_be_bytes(mdhd[12..16].try_into().unwrap()), 90_000);
        let tkhd = parse::find(&init, &["moov", "trak", "tkhd"]).unwrap();
        assert_eq!(
            u32::from_be_bytes(tkhd[76..80].try_into().unwrap()),
            640 << 16
        );
        assert_eq!(
            u32::from_be_bytes(tkhd[80..84].try_into().unwrap()),
            480 << 16
        );
        let avcc = parse::find(
            &init,
            &["moov", "trak", "mdia", "minf", "stbl", "stsd", "avc1"],
        )
        .unwrap();
        assert_eq!(parse::boxes(&avcc[78..]).unwrap()[0].kind, *b"avcC");
        let trex = parse::find(&init, &["moov", "mvex", "trex"]).unwrap();
        assert_eq!(u32::from_be_bytes(trex[4..8].try_into().unwrap()), 1);
        let hdlr = parse::find(&init, &["moov", "trak", "mdia", "hdlr"]).unwrap();
        assert_eq!(&hdlr[8..12], b"vide");
    }

    #[test]
    fn fragments_parse_back() {
        let sample = vec![0, 0, 0, 3, 0x65, 1, 2];
        let f = fragment(7, (1 << 33) + 5, 3000, true, &sample);
        let info = parse::fragment(&f).unwrap();
        assert_eq!(info.sequence, 7);
        assert_eq!(info.base_decode_time, (1 << 33) + 5);
        assert_eq!(info.duration, 3000);
        assert!(info.sync);
        assert_eq!(info.sample, sample);
        let p = parse::fragment(&fragment(8, 3000, 3000, false, &[9; 100])).unwrap();
        assert!(!p.sync);
        assert_eq!(p.sample_size, 100);
    }

    #[test]
    fn parser_rejects_garbage() {
        assert!(parse::fragment(b"garbage!").is_err());
        assert!(parse::fragment(&[0, 0, 0, 200, b'm', b'o', b'o', b'f']).is_err());
        let mut f = fragment(1, 0, 1, true, &[1, 2, 3]);
        f.truncate(f.len() - 1);
        assert!(parse::fragment(&f).is_err());
        assert!(parse::boxes(&[0, 0, 0, 4, 1, 2, 3, 4]).is_err());
    }

    #[test]
    fn clock_passes_good_timestamps_through() {
        let t0 = Instant::now();
        let mut c = DecodeClock::new(90_000, None);
        assert_eq!(c.next(1000, t0).0, 0);
        assert_eq!(c.next(4000, t0), (3000, 3000));
        assert_eq!(c.next(7003, t0), (6003, 3003));
        assert_eq!(c.repaired, 0);
    }

    #[test]
    fn clock_repairs_zero_and_backward_timestamps() {
        let t0 = Instant::now();
        let mut c = DecodeClock::new(90_000, Some((1, 25)));
        let mut last = None;
        for i in 0..50 {
            let raw = if i == 20 { -5_000_000 } else { 0 };
            let (dts, dur) = c.next(raw, t0 + Duration::from_millis(i * 40));
            if let Some(l) = last {
                assert!(dts > l, "{dts} after {l}");
                assert_eq!(dur, 3600);
            }
            last = Some(dts);
        }
        assert_eq!(c.repaired, 49);
        // Without a frame rate the wall clock paces it.
        let mut c = DecodeClock::new(90_000, None);
        c.next(0, t0);
        assert_eq!(c.next(0, t0 + Duration::from_millis(100)).0, 9000);
        // A burst (no wall time elapsed) still advances.
        let (d, _) = c.next(0, t0 + Duration::from_millis(100));
        assert!(d > 9000);
        // A ten-hour jump forward is not believed either.
        let (d2, _) = c.next(90_000 * 36_000, t0 + Duration::from_millis(140));
        assert!(d2 > d && d2 - d < 90_000);
    }
}
