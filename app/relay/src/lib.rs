//! Per-camera fan-out of fMP4 fragments from one gateway pull to many viewers.
//!
//! The portal embeds one [`Hub`]. Media from the gateway tunnel goes in
//! through [`Hub::publish_init`] / [`Hub::publish_fragment`]; each viewer
//! WebSocket holds a [`Subscription`] from [`Hub::subscribe`] and forwards
//! what [`Subscription::recv`] yields. The hub reports demand changes on the
//! [`HubEvent`] receiver returned by [`Hub::new`]:
//! [`HubEvent::FirstViewer`] → send `StartStream`;
//! [`HubEvent::LastViewerLeft`] → wait a linger (say 10 s), and if
//! [`Hub::viewer_count`] is still 0, send `StopStream`.
//!
//! Per camera the hub keeps the init segment and the fragments since the
//! last key frame (the GOP), so a new viewer starts with init + GOP and then
//! follows live. Every viewer has its own bounded queue; when it is full the
//! viewer's queued media is dropped and it skips to the next key frame, so a
//! slow viewer never delays the publisher or the other viewers, and memory
//! stays bounded. Payloads are [`Bytes`]: shared, never copied per viewer.
//!
//! # How the portal drives it
//!
//! - gateway binary frame → `truevault_wire::gateway::decode_media`; init →
//!   [`Hub::publish_init`], fragment → [`Hub::publish_fragment`] with its
//!   key-frame flag (`Bytes::slice_ref` shares the payload with the frame);
//! - gateway `stream_error` (or the gateway going offline) →
//!   [`Hub::interrupt`]: viewers see [`ViewerItem::Interrupted`] and, when
//!   the camera comes back, a fresh `Init`;
//! - camera deleted or access revoked → [`Hub::close`]: viewers' `recv`
//!   returns `None`.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use truevault_relay::{Hub, HubConfig, HubEvent, ViewerItem};
//!
//! let (hub, mut events) = Hub::new(HubConfig::default());
//! let demand = hub.clone();
//! tokio::spawn(async move {
//!     while let Some(ev) = events.recv().await {
//!         match ev {
//!             HubEvent::FirstViewer(cam) => { /* send StartStream { camera_id: cam } */ }
//!             HubEvent::LastViewerLeft(cam) => {
//!                 let hub = demand.clone();
//!                 tokio::spawn(async move {
//!                     tokio::time::sleep(Duration::from_secs(10)).await;
//!                     if hub.remove_if_idle(cam) { /* send StopStream { camera_id: cam } */ }
//!                 });
//!             }
//!         }
//!     }
//! });
//! // In a viewer's WebSocket handler:
//! let mut sub = hub.subscribe(7);
//! while let Some(item) = sub.recv().await {
//!     match item {
//!         ViewerItem::Init(b) | ViewerItem::Fragment { data: b, .. } => { /* ws.send(Binary(b)) */ let _ = b; }
//!         ViewerItem::Interrupted(why) => { /* tell the player: reconnecting */ let _ = why; }
//!     }
//! }
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

pub type CameraId = i64;

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Fragments a viewer may have queued before it is considered slow.
    pub viewer_queue_fragments: usize,
    /// Bytes a viewer may have queued before it is considered slow.
    pub viewer_queue_bytes: usize,
    /// The GOP cache is dropped (new viewers wait for the next key frame)
    /// rather than grow past this.
    pub max_gop_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            viewer_queue_fragments: 256,
            viewer_queue_bytes: 8 * 1024 * 1024,
            max_gop_bytes: 4 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubEvent {
    /// A camera went from 0 to 1 viewer.
    FirstViewer(CameraId),
    /// A camera went from 1 to 0 viewers.
    LastViewerLeft(CameraId),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelayError {
    #[error("fragment for camera {0} before its init segment")]
    NoInit(CameraId),
    #[error("empty segment for camera {0}")]
    Empty(CameraId),
}

/// What a viewer receives, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerItem {
    /// An init segment: (re)initialise the decoder. Always followed by a key frame.
    Init(Bytes),
    /// One `moof`+`mdat`.
    Fragment { data: Bytes, keyframe: bool },
    /// The stream was interrupted (camera dropped, gateway gone): the player
    /// should show "reconnecting"; an `Init` follows if it comes back.
    Interrupted(Interruption),
}

/// Why a stream stopped, as the viewer is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub reason: Arc<str>,
    /// A stable code for the cause (the portal maps it to words), when known.
    pub code: Option<&'static str>,
    /// False when nobody will retry (e.g. the camera refused the password):
    /// viewers who join later are told straight away.
    pub retrying: bool,
}

impl Interruption {
    pub fn retrying(reason: &str) -> Self {
        Self {
            reason: reason.into(),
            code: None,
            retrying: true,
        }
    }
}

impl From<&str> for Interruption {
    fn from(reason: &str) -> Self {
        Self::retrying(reason)
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} ({code})", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Per-viewer counters, for the portal's logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerStats {
    pub delivered: u64,
    /// Fragments this viewer missed because it was too slow.
    pub skipped: u64,
    /// Times it was set back to the next key frame.
    pub resyncs: u64,
}

struct ViewerQueue {
    items: VecDeque<ViewerItem>,
    queued_fragments: usize,
    queued_bytes: usize,
    /// Dropping media until the next key frame.
    skipping: bool,
    closed: bool,
    stats: ViewerStats,
}

struct Viewer {
    id: u64,
    queue: Mutex<ViewerQueue>,
    notify: Notify,
}

impl Viewer {
    fn lock(&self) -> MutexGuard<'_, ViewerQueue> {
        lock(&self.queue)
    }
}

#[derive(Default)]
struct Channel {
    init: Option<Bytes>,
    /// A failure nobody retries, for viewers who join after it.
    failed: Option<Interruption>,
    gop: Vec<(Bytes, bool)>,
    gop_bytes: usize,
    viewers: Vec<Arc<Viewer>>,
}

struct Inner {
    config: HubConfig,
    channels: Mutex<HashMap<CameraId, Channel>>,
    events: mpsc::UnboundedSender<HubEvent>,
    next_viewer: std::sync::atomic::AtomicU64,
}

/// Cheap to clone; all clones share the same cameras.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

// A poisoned lock only means another thread panicked mid-update of plain
// queues; carrying on is better than taking every viewer down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    pub fn new(config: HubConfig) -> (Self, mpsc::UnboundedReceiver<HubEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                inner: Arc::new(Inner {
                    config,
                    channels: Mutex::new(HashMap::new()),
                    events: tx,
                    next_viewer: 0.into(),
                }),
            },
            rx,
        )
    }

    /// A new (or re-dialled) stream: replaces the init segment, forgets the
    /// GOP, and sends the init to every viewer (who then skip to the next
    /// key frame).
    ///
    /// The same init again while the stream runs is the gateway re-announcing
    /// a running pull (a viewer joined within the linger): it changes nothing,
    /// so viewers keep the GOP they were given instead of resetting their
    /// players and waiting for the next key frame. A real re-dial always
    /// comes after [`Hub::interrupt`], which forgets the init.
    pub fn publish_init(&self, camera: CameraId, init: Bytes) -> Result<(), RelayError> {
        if init.is_empty() {
            return Err(RelayError::Empty(camera));
        }
        let mut channels = lock(&self.inner.channels);
        let ch = channels.entry(camera).or_default();
        if ch.init.as_ref() == Some(&init) {
            return Ok(());
        }
        ch.failed = None;
        ch.init = Some(init.clone());
        ch.gop.clear();
        ch.gop_bytes = 0;
        for v in &ch.viewers {
            let mut q = v.lock();
            q.items.clear();
            q.queued_fragments = 0;
            q.queued_bytes = 0;
            q.items.push_back(ViewerItem::Init(init.clone()));
            q.skipping = true;
            drop(q);
            v.notify.notify_one();
        }
        Ok(())
    }

    /// One fragment; `keyframe` when it starts with a sync sample.
    pub fn publish_fragment(
        &self,
        camera: CameraId,
        data: Bytes,
        keyframe: bool,
    ) -> Result<(), RelayError> {
        if data.is_empty() {
            return Err(RelayError::Empty(camera));
        }
        let cfg = &self.inner.config;
        let mut channels = lock(&self.inner.channels);
        let Some(ch) = channels.get_mut(&camera).filter(|c| c.init.is_some()) else {
            return Err(RelayError::NoInit(camera));
        };
        if keyframe {
            ch.gop.clear();
            ch.gop_bytes = 0;
        }
        // A GOP cache that would start with a non-key frame is useless.
        if keyframe || !ch.gop.is_empty() {
            if ch.gop_bytes + data.len() <= cfg.max_gop_bytes {
                ch.gop_bytes += data.len();
                ch.gop.push((data.clone(), keyframe));
            } else {
                ch.gop.clear();
                ch.gop_bytes = 0;
            }
        }
        for v in &ch.viewers {
            let mut q = v.lock();
            if q.skipping && !keyframe {
                q.stats.skipped += 1;
                continue;
            }
            if q.queued_fragments >= cfg.viewer_queue_fragments
                || q.queued_bytes + data.len() > cfg.viewer_queue_bytes
            {
                // Too slow: drop its backlog (keeping any pending init or
                // notice) and resume at a key frame.
                let dropped = q.queued_fragments as u64;
                q.items
                    .retain(|i| !matches!(i, ViewerItem::Fragment { .. }));
                q.queued_fragments = 0;
                q.queued_bytes = 0;
                q.stats.skipped += dropped;
                q.stats.resyncs += 1;
                if !keyframe {
                    q.skipping = true;
                    q.stats.skipped += 1;
                    continue;
                }
            }
            q.skipping = false;
            q.queued_fragments += 1;
            q.queued_bytes += data.len();
            q.items.push_back(ViewerItem::Fragment {
                data: data.clone(),
                keyframe,
            });
            drop(q);
            v.notify.notify_one();
        }
        Ok(())
    }

    /// The pull stopped or failed: viewers are told, the caches dropped.
    pub fn interrupt(&self, camera: CameraId, reason: &str) {
        self.interrupt_with(camera, Interruption::retrying(reason));
    }

    /// [`Hub::interrupt`] with a code; a failure that is not retried is
    /// also kept for viewers who join later (until the next init).
    pub fn interrupt_with(&self, camera: CameraId, reason: Interruption) {
        let mut channels = lock(&self.inner.channels);
        let Some(ch) = channels.get_mut(&camera) else {
            return;
        };
        ch.failed = (!reason.retrying).then(|| reason.clone());
        ch.init = None;
        ch.gop.clear();
        ch.gop_bytes = 0;
        for v in &ch.viewers {
            let mut q = v.lock();
            q.items.clear();
            q.queued_fragments = 0;
            q.queued_bytes = 0;
            q.skipping = true;
            q.items.push_back(ViewerItem::Interrupted(reason.clone()));
            drop(q);
            v.notify.notify_one();
        }
    }

    /// Ends every viewer of a camera (deleted, access revoked) and forgets
    /// it: their `recv` returns what is queued, then `None`.
    pub fn close(&self, camera: CameraId) {
        let Some(ch) = lock(&self.inner.channels).remove(&camera) else {
            return;
        };
        for v in &ch.viewers {
            v.lock().closed = true;
            v.notify.notify_one();
        }
        if !ch.viewers.is_empty() {
            let _ = self.inner.events.send(HubEvent::LastViewerLeft(camera));
        }
    }

    /// A new viewer: it first gets the init segment and the current GOP
    /// (when there is a stream), then live fragments.
    pub fn subscribe(&self, camera: CameraId) -> Subscription {
        let id = self
            .inner
            .next_viewer
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut q = ViewerQueue {
            items: VecDeque::new(),
            queued_fragments: 0,
            queued_bytes: 0,
            skipping: true,
            closed: false,
            stats: ViewerStats::default(),
        };
        let mut channels = lock(&self.inner.channels);
        let ch = channels.entry(camera).or_default();
        if let Some(init) = &ch.init {
            q.items.push_back(ViewerItem::Init(init.clone()));
            for (data, keyframe) in &ch.gop {
                q.items.push_back(ViewerItem::Fragment {
                    data: data.clone(),
                    keyframe: *keyframe,
                });
                q.queued_fragments += 1;
                q.queued_bytes += data.len();
            }
            q.skipping = ch.gop.is_empty();
        } else if let Some(failed) = &ch.failed {
            q.items.push_back(ViewerItem::Interrupted(failed.clone()));
        }
        let viewer = Arc::new(Viewer {
            id,
            queue: Mutex::new(q),
            notify: Notify::new(),
        });
        ch.viewers.push(viewer.clone());
        if ch.viewers.len() == 1 {
            let _ = self.inner.events.send(HubEvent::FirstViewer(camera));
        }
        Subscription {
            hub: self.clone(),
            camera,
            viewer,
        }
    }

    pub fn viewer_count(&self, camera: CameraId) -> usize {
        lock(&self.inner.channels)
            .get(&camera)
            .map_or(0, |c| c.viewers.len())
    }

    /// Forgets a camera with no viewers (after `StopStream`): its caches go.
    /// Returns false (and keeps it) if a viewer came back meanwhile.
    pub fn remove_if_idle(&self, camera: CameraId) -> bool {
        let mut channels = lock(&self.inner.channels);
        match channels.get(&camera) {
            Some(c) if !c.viewers.is_empty() => false,
            _ => {
                channels.remove(&camera);
                true
            }
        }
    }

    /// Cameras the hub holds state for.
    pub fn cameras(&self) -> Vec<CameraId> {
        lock(&self.inner.channels).keys().copied().collect()
    }

    fn unsubscribe(&self, camera: CameraId, viewer_id: u64) {
        let mut channels = lock(&self.inner.channels);
        let Some(ch) = channels.get_mut(&camera) else {
            return;
        };
        let before = ch.viewers.len();
        ch.viewers.retain(|v| v.id != viewer_id);
        if before > 0 && ch.viewers.is_empty() {
            let _ = self.inner.events.send(HubEvent::LastViewerLeft(camera));
        }
    }
}

/// One viewer. Dropping it unsubscribes.
pub struct Subscription {
    hub: Hub,
    camera: CameraId,
    viewer: Arc<Viewer>,
}

impl Subscription {
    pub fn camera(&self) -> CameraId {
        self.camera
    }

    /// The next item, waiting for one. Cancel-safe.
    pub async fn recv(&mut self) -> Option<ViewerItem> {
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.viewer.lock().closed {
                return None;
            }
            // notify_one stores a permit, so a push between the check above
            // and this await is not lost.
            self.viewer.notify.notified().await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<ViewerItem> {
        let mut q = self.viewer.lock();
        let item = q.items.pop_front()?;
        if let ViewerItem::Fragment { data, .. } = &item {
            q.queued_fragments = q.queued_fragments.saturating_sub(1);
            q.queued_bytes = q.queued_bytes.saturating_sub(data.len());
            q.stats.delivered += 1;
        }
        Some(item)
    }

    pub fn stats(&self) -> ViewerStats {
        self.viewer.lock().stats
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.viewer.lock().closed = true;
        self.hub.unsubscribe(self.camera, self.viewer.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frag(n: u32, key: bool) -> Bytes {
        let mut v = n.to_be_bytes().to_vec();
        v.push(key as u8);
        Bytes::from(v)
    }

    fn drain(sub: &mut Subscription) -> Vec<ViewerItem> {
        std::iter::from_fn(|| sub.try_recv()).collect()
    }

    fn frag_ids(items: &[ViewerItem]) -> Vec<u32> {
        items
            .iter()
            .filter_map(|i| match i {
                ViewerItem::Fragment { data, .. } => {
                    Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]]))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn new_viewer_gets_init_and_gop_then_live() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        hub.publish_init(1, Bytes::from_static(b"init")).unwrap();
        for n in 0..10 {
            hub.publish_fragment(1, frag(n, n % 4 == 0), n % 4 == 0)
                .unwrap();
        }
        let mut sub = hub.subscribe(1);
        let items = drain(&mut sub);
        assert_eq!(items[0], ViewerItem::Init(Bytes::from_static(b"init")));
        assert_eq!(frag_ids(&items), vec![8, 9]);
        hub.publish_fragment(1, frag(10, false), false).unwrap();
        assert_eq!(frag_ids(&drain(&mut sub)), vec![10]);
    }

    #[test]
    fn viewer_before_stream_starts_at_first_keyframe() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        let mut sub = hub.subscribe(5);
        assert!(sub.try_recv().is_none());
        assert_eq!(
            hub.publish_fragment(5, frag(0, true), true),
            Err(RelayError::NoInit(5))
        );
        hub.publish_init(5, Bytes::from_static(b"i")).unwrap();
        hub.publish_fragment(5, frag(1, false), false).unwrap();
        hub.publish_fragment(5, frag(2, true), true).unwrap();
        let items = drain(&mut sub);
        assert!(matches!(items[0], ViewerItem::Init(_)));
        assert_eq!(frag_ids(&items), vec![2]);
    }

    #[test]
    fn fragments_are_shared_not_copied() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        hub.publish_init(1, Bytes::from_static(b"i")).unwrap();
        let mut a = hub.subscribe(1);
        let mut b = hub.subscribe(1);
        let data = Bytes::from(vec![7u8; 1000]);
        hub.publish_fragment(1, data.clone(), true).unwrap();
        for s in [&mut a, &mut b] {
            let items = drain(s);
            let ViewerItem::Fragment { data: got, .. } = &items[1] else {
                panic!("no fragment")
            };
            assert_eq!(got.as_ptr(), data.as_ptr());
        }
    }

    #[test]
    fn slow_viewer_skips_to_next_keyframe_without_delaying_fast_one() {
        let cfg = HubConfig {
            viewer_queue_fragments: 8,
            ..HubConfig::default()
        };
        let (hub, _ev) = Hub::new(cfg);
        hub.publish_init(1, Bytes::from_static(b"i")).unwrap();
        let mut fast = hub.subscribe(1);
        let mut slow = hub.subscribe(1);
        let mut fast_got = Vec::new();
        // GOP of 5: key frames at 0, 5, 10, ...
        for n in 0..42u32 {
            hub.publish_fragment(1, frag(n, n % 5 == 0), n % 5 == 0)
                .unwrap();
            fast_got.extend(frag_ids(&drain(&mut fast)));
        }
        assert_eq!(fast_got, (0..42).collect::<Vec<_>>());
        // The slow one never held more than its bound.
        assert!(slow.viewer.lock().queued_fragments <= 8);
        let slow_ids = frag_ids(&drain(&mut slow));
        // Whatever it got starts at a key frame and is contiguous from there.
        assert_eq!(slow_ids[0] % 5, 0, "{slow_ids:?}");
        for w in slow_ids.windows(2) {
            assert!(w[1] == w[0] + 1 || w[1] % 5 == 0, "{slow_ids:?}");
        }
        assert!(slow.stats().skipped > 0 && slow.stats().resyncs > 0);
        assert_eq!(fast.stats().skipped, 0);
    }

    #[test]
    fn byte_bound_also_applies() {
        let cfg = HubConfig {
            viewer_queue_bytes: 3000,
            ..HubConfig::default()
        };
        let (hub, _ev) = Hub::new(cfg);
        hub.publish_init(1, Bytes::from_static(b"i")).unwrap();
        let slow = hub.subscribe(1);
        for n in 0..100u8 {
            hub.publish_fragment(1, Bytes::from(vec![n; 1000]), n % 10 == 0)
                .unwrap();
            assert!(slow.viewer.lock().queued_bytes <= 3000);
        }
    }

    #[test]
    fn gop_cache_is_bounded() {
        let cfg = HubConfig {
            max_gop_bytes: 5000,
            ..HubConfig::default()
        };
        let (hub, _ev) = Hub::new(cfg);
        hub.publish_init(1, Bytes::from_static(b"i")).unwrap();
        hub.publish_fragment(1, Bytes::from(vec![0; 1000]), true)
            .unwrap();
        for _ in 0..10 {
            hub.publish_fragment(1, Bytes::from(vec![0; 1000]), false)
                .unwrap();
        }
        let mut late = hub.subscribe(1);
        let items = drain(&mut late);
        // Over the bound the cache is dropped: init only, live from the next key.
        assert_eq!(items.len(), 1);
        hub.publish_fragment(1, Bytes::from(vec![1; 10]), false)
            .unwrap();
        assert!(late.try_recv().is_none());
        hub.publish_fragment(1, Bytes::from(vec![2; 10]), true)
            .unwrap();
        assert!(matches!(
            late.try_recv(),
            Some(ViewerItem::Fragment { keyframe: true, .. })
        ));
    }

    #[test]
    fn reinit_and_interrupt_reach_viewers() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        hub.publish_init(1, Bytes::from_static(b"a")).unwrap();
        hub.publish_fragment(1, frag(0, true), true).unwrap();
        let mut sub = hub.subscribe(1);
        drain(&mut sub);
        hub.interrupt(1, "camera dropped");
        assert_eq!(
            drain(&mut sub),
            vec![ViewerItem::Interrupted("camera dropped".into())]
        );
        // A late viewer gets nothing stale.
        let mut late = hub.subscribe(1);
        assert!(late.try_recv().is_none());
        hub.publish_init(1, Bytes::from_static(b"b")).unwrap();
        hub.publish_fragment(1, frag(1, false), false).unwrap();
        hub.publish_fragment(1, frag(2, true), true).unwrap();
        for s in [&mut sub, &mut late] {
            let items = drain(s);
            assert_eq!(items[0], ViewerItem::Init(Bytes::from_static(b"b")));
            assert_eq!(frag_ids(&items), vec![2]);
        }
    }

    #[test]
    fn same_init_again_keeps_the_gop_and_the_viewers() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        hub.publish_init(1, Bytes::from_static(b"init")).unwrap();
        for n in 0..6 {
            hub.publish_fragment(1, frag(n, n == 3), n == 3).unwrap();
        }
        let mut joined = hub.subscribe(1);
        // The gateway re-announces the running pull for the joining viewer.
        hub.publish_init(1, Bytes::from_static(b"init")).unwrap();
        hub.publish_fragment(1, frag(6, false), false).unwrap();
        let items = drain(&mut joined);
        let inits = items
            .iter()
            .filter(|i| matches!(i, ViewerItem::Init(_)))
            .count();
        assert_eq!(inits, 1, "{items:?}");
        assert_eq!(frag_ids(&items), vec![3, 4, 5, 6]);
        // A different init is a new stream: it does reach viewers.
        hub.publish_init(1, Bytes::from_static(b"other")).unwrap();
        assert_eq!(
            drain(&mut joined),
            vec![ViewerItem::Init(Bytes::from_static(b"other"))]
        );
    }

    #[test]
    fn a_failure_nobody_retries_is_told_to_late_viewers_until_the_next_init() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        let mut early = hub.subscribe(2);
        let refused = Interruption {
            reason: "refused".into(),
            code: Some("CAMERA_AUTH_REFUSED"),
            retrying: false,
        };
        hub.interrupt_with(2, refused.clone());
        assert_eq!(
            drain(&mut early),
            vec![ViewerItem::Interrupted(refused.clone())]
        );
        let mut late = hub.subscribe(2);
        assert_eq!(drain(&mut late), vec![ViewerItem::Interrupted(refused)]);
        hub.publish_init(2, Bytes::from_static(b"i")).unwrap();
        let mut later = hub.subscribe(2);
        assert_eq!(
            drain(&mut later),
            vec![ViewerItem::Init(Bytes::from_static(b"i"))]
        );
    }

    #[tokio::test]
    async fn close_ends_viewers() {
        let (hub, mut ev) = Hub::new(HubConfig::default());
        hub.publish_init(4, Bytes::from_static(b"i")).unwrap();
        let mut a = hub.subscribe(4);
        assert_eq!(ev.recv().await, Some(HubEvent::FirstViewer(4)));
        let waiter = tokio::spawn(async move {
            let mut n = 0;
            while a.recv().await.is_some() {
                n += 1;
            }
            n
        });
        hub.close(4);
        let n = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("recv ends")
            .expect("joined");
        assert_eq!(n, 1, "the queued init, then None");
        assert_eq!(ev.recv().await, Some(HubEvent::LastViewerLeft(4)));
        assert!(hub.cameras().is_empty());
    }

    #[tokio::test]
    async fn reports_first_and_last_viewer() {
        let (hub, mut ev) = Hub::new(HubConfig::default());
        let a = hub.subscribe(3);
        let b = hub.subscribe(3);
        assert_eq!(ev.recv().await, Some(HubEvent::FirstViewer(3)));
        drop(a);
        assert!(ev.try_recv().is_err());
        assert_eq!(hub.viewer_count(3), 1);
        drop(b);
        assert_eq!(ev.recv().await, Some(HubEvent::LastViewerLeft(3)));
        assert_eq!(hub.viewer_count(3), 0);
        assert!(hub.remove_if_idle(3));
        assert!(hub.cameras().is_empty());
    }

    #[tokio::test]
    async fn recv_wakes_on_publish_and_ends_on_drop_of_hub_side() {
        let (hub, _ev) = Hub::new(HubConfig::default());
        hub.publish_init(9, Bytes::from_static(b"i")).unwrap();
        let mut sub = hub.subscribe(9);
        assert!(matches!(sub.recv().await, Some(ViewerItem::Init(_))));
        let h2 = hub.clone();
        let waiter = tokio::spawn(async move { sub.recv().await });
        // Let the waiter run until it parks on the empty queue: it must be
        // the publish that wakes it.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished(), "nothing to receive yet");
        h2.publish_fragment(9, frag(0, true), true).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        assert!(matches!(
            got,
            Some(ViewerItem::Fragment { keyframe: true, .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_fan_out_with_a_stalled_viewer() {
        let cfg = HubConfig {
            viewer_queue_fragments: 1024,
            ..HubConfig::default()
        };
        let (hub, _ev) = Hub::new(cfg);
        hub.publish_init(1, Bytes::from_static(b"i")).unwrap();
        let mut viewers: Vec<_> = (0..8).map(|_| hub.subscribe(1)).collect();
        let _stalled = hub.subscribe(1);
        let tasks: Vec<_> = viewers
            .drain(..)
            .map(|mut s| {
                tokio::spawn(async move {
                    let mut n = 0;
                    while let Some(item) = s.recv().await {
                        if let ViewerItem::Fragment { .. } = item {
                            n += 1;
                            if n == 300 {
                                break;
                            }
                        }
                    }
                    (n, s.stats().skipped)
                })
            })
            .collect();
        for n in 0..300u32 {
            hub.publish_fragment(1, frag(n, n % 30 == 0), n % 30 == 0)
                .unwrap();
            if n % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
        for t in tasks {
            let (n, _) = tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("viewer finished")
                .expect("joined");
            assert_eq!(n, 300);
        }
    }
}
