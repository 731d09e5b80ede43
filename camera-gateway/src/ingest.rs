//! RTSP ingest: one pull per camera with `retina` (TCP interleaved, digest
//! or basic credentials, H.264 or H.265), repackaged into fMP4.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use retina::client::{
    Credentials, PlayOptions, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParameters};
use tokio::sync::mpsc;
use truevault_wire::gateway::{CameraId, CameraSpec, StreamErrorCode};
use url::Url;

use crate::backoff::Backoff;
use crate::fmp4::{self, DecodeClock};
use crate::GatewayError;

/// DESCRIBE/SETUP/PLAY must complete within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A camera that sends no video for this long is re-dialled.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to pull one camera.
#[derive(Clone)]
pub struct CameraSource {
    pub camera_id: CameraId,
    /// Without credentials: retina refuses them inside the URL.
    pub url: Url,
    pub creds: Option<Credentials>,
}

impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource")
            .field("camera_id", &self.camera_id)
            .field("url", &self.url.as_str())
            .field("user", &self.creds.as_ref().map(|c| c.username.as_str()))
            .finish()
    }
}

impl CameraSource {
    /// Moves credentials out of the URL; the spec's own username/password
    /// win over the URL's.
    pub fn from_spec(spec: &CameraSpec) -> Result<Self, GatewayError> {
        let mut url = Url::parse(&spec.rtsp_url).map_err(|e| {
            GatewayError::Url(format!(
                "{}: {e}",
                truevault_wire::gateway::redact_url(&spec.rtsp_url)
            ))
        })?;
        if url.scheme() != "rtsp" {
            return Err(GatewayError::Url(format!(
                "scheme {} is not rtsp",
                url.scheme()
            )));
        }
        if url.host_str().is_none() {
            return Err(GatewayError::Url("no host".into()));
        }
        let url_user = crate::percent_decode(url.username());
        let url_pass = url.password().map(crate::percent_decode);
        // Setting these cannot fail on an rtsp:// URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let username = spec
            .username
            .clone()
            .filter(|u| !u.is_empty())
            .or((!url_user.is_empty()).then_some(url_user));
        let password = spec.password.clone().or(url_pass);
        let creds = username.map(|username| Credentials {
            username,
            password: password.unwrap_or_default(),
        });
        Ok(Self {
            camera_id: spec.id,
            url,
            creds,
        })
    }
}

/// Tells a consumer which pull an event came from (a stopped pull's late
/// events are ignored by tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PullTag {
    pub camera_id: CameraId,
    pub pull: u64,
}

#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// A (new) stream: the init segment. Fragments that follow belong to it
    /// and the first one is a key frame.
    Started {
        codec: String,
        width: u32,
        height: u32,
        init: Bytes,
    },
    Fragment(MuxedFragment),
    /// The pull failed; it is retried after `retry_in`, unless `gave_up`
    /// (then the pull has ended).
    Error {
        message: String,
        code: StreamErrorCode,
        retry_in: Duration,
        gave_up: bool,
    },
}

#[derive(Debug, Clone)]
pub struct MuxedFragment {
    pub data: Bytes,
    pub keyframe: bool,
    /// Per pull, from 1.
    pub sequence: u64,
    pub decode_time: u64,
    /// The camera's timestamp for this frame was unusable (not advancing or
    /// jumping wildly) and one was synthesised.
    pub timestamp_repaired: bool,
    /// When retina had the frame's last packet.
    pub received_wall: SystemTime,
    pub received_at: Instant,
    pub muxed_wall: SystemTime,
    pub muxed_at: Instant,
}

type Sink = mpsc::Sender<(PullTag, IngestEvent)>;

fn rtsp_error(e: retina::Error) -> GatewayError {
    let text = e.to_string();
    // retina's messages run over several lines of connection context.
    let first = text.lines().next().unwrap_or("").to_string();
    match e.status_code() {
        Some(401) => GatewayError::AuthRefused(format!("RTSP 401 Unauthorized ({first})")),
        Some(403) => GatewayError::AuthRefused(format!("RTSP 403 Forbidden ({first})")),
        _ => GatewayError::Rtsp(first),
    }
}

/// How a pull re-dials.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// After most failures.
    pub backoff: Backoff,
    /// After the camera refused the credentials: slower, because many
    /// cameras lock the account after a few failures.
    pub auth_backoff: Backoff,
    /// Refusals in a row after which the pull gives up (until the camera
    /// is edited).
    pub max_auth_attempts: u32,
}

impl RetryPolicy {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            auth_backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(60)),
            max_auth_attempts: 3,
        }
    }
}

impl From<Backoff> for RetryPolicy {
    fn from(backoff: Backoff) -> Self {
        Self::new(backoff)
    }
}

/// Pulls a camera until `out` is closed, re-dialling with backoff and
/// reporting every failure as [`IngestEvent::Error`]; refused credentials
/// end it after `max_auth_attempts` tries.
pub async fn pull_forever(
    src: CameraSource,
    tag: PullTag,
    out: Sink,
    retry: impl Into<RetryPolicy>,
) {
    let mut retry: RetryPolicy = retry.into();
    let mut refusals = 0u32;
    loop {
        let started = Instant::now();
        let result = pull_once(&src, tag, &out).await;
        if out.is_closed() {
            return;
        }
        // A pull that ran a while was healthy: start the backoff over.
        if started.elapsed() > Duration::from_secs(30) {
            retry.backoff.reset();
        }
        let (message, code) = match result {
            Ok(()) => (
                "camera ended the stream".to_string(),
                StreamErrorCode::Unreachable,
            ),
            Err(e) => (e.to_string(), e.stream_code()),
        };
        let (retry_in, gave_up) = if code == StreamErrorCode::AuthRefused {
            refusals += 1;
            retry.backoff.reset();
            (
                retry.auth_backoff.next_delay(),
                refusals >= retry.max_auth_attempts,
            )
        } else {
            refusals = 0;
            retry.auth_backoff.reset();
            (retry.backoff.next_delay(), false)
        };
        let retry_in = if gave_up { Duration::ZERO } else { retry_in };
        if gave_up {
            tracing::warn!(camera = src.camera_id, error = %message, attempts = refusals, "camera refused the credentials; not retrying until it is edited");
        } else {
            tracing::warn!(camera = src.camera_id, error = %message, retry_in_ms = retry_in.as_millis() as u64, "camera pull failed");
        }
        let event = IngestEvent::Error {
            message,
            code,
            retry_in,
            gave_up,
        };
        if out.send((tag, event)).await.is_err() || gave_up {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

fn video_params(stream: &retina::client::Stream) -> Option<VideoParameters> {
    match stream.parameters() {
        Some(ParametersRef::Video(v)) => Some(v.clone()),
        _ => None,
    }
}

/// One RTSP session, until it fails (`Err`) or `out` closes (`Ok`).
pub async fn pull_once(src: &CameraSource, tag: PullTag, out: &Sink) -> Result<(), GatewayError> {
    let options = SessionOptions::default()
        .creds(src.creds.clone())
        .user_agent(crate::AGENT.to_string());
    let connect = async {
        let mut session = retina::client::Session::describe(src.url.clone(), options)
            .await
            .map_err(rtsp_error)?;
        let found: Vec<String> = session
            .streams()
            .iter()
            .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
            .collect();
        let stream_i = session
            .streams()
            .iter()
            .position(|s| {
                s.media() == "video"
                    && matches!(
                        s.encoding_name().to_ascii_lowercase().as_str(),
                        "h264" | "h265"
                    )
            })
            .ok_or_else(|| {
                GatewayError::Unsupported(format!(
                    "no H.264/H.265 video stream (offered: {})",
                    if found.is_empty() {
                        "nothing".into()
                    } else {
                        found.join(", ")
                    }
                ))
            })?;
        session
            .setup(
                stream_i,
                SetupOptions::default()
                    .transport(Transport::Tcp(TcpTransportOptions::default()))
                    .frame_format(FrameFormat::MP4),
            )
            .await
            .map_err(rtsp_error)?;
        let playing = session
            .play(PlayOptions::default())
            .await
            .map_err(rtsp_error)?;
        let demuxed = playing.demuxed().map_err(rtsp_error)?;
        Ok::<_, GatewayError>((demuxed, stream_i))
    };
    let (mut demuxed, stream_i) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| {
            GatewayError::Timeout(format!("RTSP setup took over {CONNECT_TIMEOUT:?}"))
        })??;
    let clock_rate = demuxed.streams()[stream_i].clock_rate_hz();
    tracing::info!(camera = src.camera_id, url = %src.url, "camera playing");

    let mut mux: Option<(DecodeClock, u32)> = None; // clock, mfhd sequence
    let mut sequence = 0u64;
    // When the consumer falls behind, drop frames up to the next key frame
    // rather than stall the camera connection.
    let mut skipping = false;
    loop {
        let item = match tokio::time::timeout(STALL_TIMEOUT, demuxed.next()).await {
            Err(_) => {
                return Err(GatewayError::Timeout(format!(
                    "no video from the camera for {STALL_TIMEOUT:?}"
                )))
            }
            Ok(None) => return Err(GatewayError::Rtsp("camera closed the connection".into())),
            Ok(Some(Err(e))) => return Err(rtsp_error(e)),
            Ok(Some(Ok(item))) => item,
        };
        let CodecItem::VideoFrame(frame) = item else {
            continue;
        };
        if frame.stream_id() != stream_i {
            continue;
        }
        let received_at = frame.end_ctx().received();
        let received_wall: SystemTime = frame.end_ctx().received_wall().into();
        if mux.is_none() || frame.has_new_parameters() {
            if !frame.is_random_access_point() {
                continue;
            }
            let Some(params) = video_params(&demuxed.streams()[stream_i]) else {
                continue;
            };
            let entry = params
                .mp4_sample_entry()
                .build()
                .map_err(|e| GatewayError::Unsupported(e.to_string()))?;
            let (width, height) = params.pixel_dimensions();
            let init = Bytes::from(fmp4::init_segment(&entry, width, height, clock_rate));
            tracing::info!(
                camera = src.camera_id,
                codec = params.rfc6381_codec(),
                width,
                height,
                "camera stream parameters"
            );
            if out
                .send((
                    tag,
                    IngestEvent::Started {
                        codec: params.rfc6381_codec().to_string(),
                        width,
                        height,
                        init,
                    },
                ))
                .await
                .is_err()
            {
                return Ok(());
            }
            mux = Some((DecodeClock::new(clock_rate, params.frame_rate()), 0));
            skipping = false;
        }
        let Some((clock, mfhd_seq)) = mux.as_mut() else {
            continue;
        };
        let keyframe = frame.is_random_access_point();
        let repaired_before = clock.repaired;
        let (dts, duration) = clock.next(frame.timestamp().timestamp(), received_at);
        let timestamp_repaired = clock.repaired != repaired_before;
        if skipping && !keyframe {
            continue;
        }
        *mfhd_seq = mfhd_seq.wrapping_add(1);
        sequence += 1;
        let data = Bytes::from(fmp4::fragment(
            *mfhd_seq,
            dts,
            duration,
            keyframe,
            frame.data(),
        ));
        let event = IngestEvent::Fragment(MuxedFragment {
            data,
            keyframe,
            sequence,
            decode_time: dts,
            timestamp_repaired,
            received_wall,
            received_at,
            muxed_wall: SystemTime::now(),
            muxed_at: Instant::now(),
        });
        match out.try_send((tag, event)) {
            Ok(()) => skipping = false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !skipping {
                    tracing::debug!(
                        camera = src.camera_id,
                        "consumer behind; skipping to the next key frame"
                    );
                }
                skipping = true;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, user: Option<&str>, pass: Option<&str>) -> CameraSpec {
        CameraSpec {
            id: 1,
            name: "c".into(),
            rtsp_url: url.into(),
            username: user.map(Into::into),
            password: pass.map(Into::into),
            snapshot_url: None,
            watch: false,
            onvif_url: None,
        }
    }

    #[test]
    fn strips_credentials_from_url() {
        let s = CameraSource::from_spec(&spec(
            "rtsp://ad%40min:p%3Ass+w@10.0.0.2:554/live?x=1",
            None,
            None,
        ))
        .unwrap();
        assert_eq!(s.url.as_str(), "rtsp://10.0.0.2:554/live?x=1");
        let c = s.creds.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("ad@min", "p:ss+w")
        );
        assert!(!format!(
            "{:?}",
            CameraSource::from_spec(&spec("rtsp://u:secret@h/", None, None)).unwrap()
        )
        .contains("secret"));
    }

    #[test]
    fn explicit_credentials_win_and_bad_urls_are_errors() {
        let s =
            CameraSource::from_spec(&spec("rtsp://u:p@h/x", Some("admin"), Some("pw"))).unwrap();
        let c = s.creds.unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("admin", "pw"));
        assert!(CameraSource::from_spec(&spec("rtsp://h/x", None, None))
            .unwrap()
            .creds
            .is_none());
        assert!(matches!(
            CameraSource::from_spec(&spec("http://h/x", None, None)),
            Err(GatewayError::Url(_))
        ));
        assert!(matches!(
            CameraSource::from_spec(&spec("not a url", None, None)),
            Err(GatewayError::Url(_))
        ));
    }
}
