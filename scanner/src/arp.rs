//! ARP sweep over a raw datalink socket, arp-scan style: every request is
//! sent at a fixed pace, the silent addresses get one more try, and a reader
//! thread collects replies until a quiet window has passed.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, Config, MacAddr};
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::{MutablePacket, Packet};

use crate::error::{Result, ScanError};
use crate::net::{Mac, ScanTarget};

#[derive(Debug, Clone)]
pub struct ArpConfig {
    /// Gap between two requests. 1 ms sends a /24 in a quarter second,
    /// gentle enough for home Wi-Fi.
    pub interval: Duration,
    /// How long to wait for late replies after a round's last request.
    pub wait: Duration,
    /// Extra rounds for the addresses that stayed silent.
    pub retries: u32,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            interval: Duration::from_millis(1),
            wait: Duration::from_millis(300),
            retries: 1,
        }
    }
}

/// True when the error means "no raw-socket privilege".
pub fn is_permission_error(e: &ScanError) -> bool {
    matches!(e, ScanError::Datalink(_, io) if io.kind() == io::ErrorKind::PermissionDenied)
}

/// Builds one broadcast ARP request frame (42 bytes).
pub fn request_frame(src_mac: Mac, src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
    let mut buf = [0u8; 42];
    let src = MacAddr::from(src_mac.0);
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(src);
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(eth.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(src);
            arp.set_sender_proto_addr(src_ip);
            arp.set_target_hw_addr(MacAddr::zero());
            arp.set_target_proto_addr(target);
        }
    }
    buf
}

/// The `(ip, mac)` a frame announces if it is an ARP reply to us.
/// Requests (our own included: the socket sees what it sends) are ignored.
pub fn parse_reply(frame: &[u8], our_ip: Ipv4Addr, our_mac: Mac) -> Option<(Ipv4Addr, Mac)> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    if arp.get_operation() != ArpOperations::Reply
        || arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
        || arp.get_target_proto_addr() != our_ip
    {
        return None;
    }
    let mac = Mac(arp.get_sender_hw_addr().octets());
    if mac == our_mac || mac.is_zero() || mac.is_multicast() {
        return None;
    }
    Some((arp.get_sender_proto_addr(), mac))
}

/// Sweeps `targets` on the target interface. `on_progress` is told how many
/// requests of the first round went out.
pub fn sweep(
    target: &ScanTarget,
    targets: &[Ipv4Addr],
    cfg: &ArpConfig,
    on_progress: &(dyn Fn(u64) + Sync),
) -> Result<HashMap<Ipv4Addr, Mac>> {
    let name = target.name().to_string();
    let our_mac = target.our_mac.ok_or_else(|| {
        ScanError::Datalink(
            name.clone(),
            io::Error::other("interface has no MAC address"),
        )
    })?;
    let dl_cfg = Config {
        // Without a timeout the reader blocks forever on a quiet LAN and the
        // thread could never see the stop flag.
        read_timeout: Some(Duration::from_millis(20)),
        ..Config::default()
    };
    let (mut tx, mut rx) = match pnet_datalink::channel(&target.iface, dl_cfg) {
        Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
        Ok(_) => {
            return Err(ScanError::Datalink(
                name,
                io::Error::other("not an Ethernet channel"),
            ))
        }
        Err(e) => return Err(ScanError::Datalink(name, e)),
    };

    let wanted: Arc<HashSet<Ipv4Addr>> = Arc::new(targets.iter().copied().collect());
    let found: Arc<Mutex<HashMap<Ipv4Addr, Mac>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let our_ip = target.our_ip;
    let reader = {
        let (wanted, found, stop) = (wanted.clone(), found.clone(), stop.clone());
        thread::Builder::new()
            .name("arp-reader".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match rx.next() {
                        Ok(frame) => {
                            if let Some((ip, mac)) = parse_reply(frame, our_ip, our_mac) {
                                if wanted.contains(&ip) {
                                    if let Ok(mut f) = found.lock() {
                                        f.entry(ip).or_insert(mac);
                                    }
                                }
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::TimedOut
                                    | io::ErrorKind::WouldBlock
                                    | io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => {
                            tracing::warn!("ARP reader stopped: {e}");
                            break;
                        }
                    }
                }
            })?
    };

    let answered = |ip: &Ipv4Addr| found.lock().map(|f| f.contains_key(ip)).unwrap_or(false);
    let mut send_error = None;
    'rounds: for round in 0..=cfg.retries {
        let todo: Vec<Ipv4Addr> = targets.iter().filter(|ip| !answered(ip)).copied().collect();
        if todo.is_empty() {
            break;
        }
        tracing::debug!(round, count = todo.len(), "ARP requests");
        let start = Instant::now();
        for (i, ip) in todo.iter().enumerate() {
            // Pace against the round's start so sleep overshoot doesn't add up.
            let due = start + cfg.interval * i as u32;
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                thread::sleep(d);
            }
            let frame = request_frame(our_mac, our_ip, *ip);
            if let Some(Err(e)) = tx.send_to(&frame, None) {
                send_error = Some(e);
                break 'rounds;
            }
            if round == 0 {
                on_progress(i as u64 + 1);
            }
        }
        let until = Instant::now() + cfg.wait;
        while Instant::now() < until {
            if targets.iter().all(&answered) {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, Ordering::Relaxed);
    if reader.join().is_err() {
        tracing::warn!("ARP reader panicked");
    }
    if let Some(e) = send_error {
        return Err(ScanError::Datalink(target.name().to_string(), e));
    }
    let found = found.lock().map(|f| f.clone()).unwrap_or_default();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_then_reply_round_trip() {
        let me = Mac([0x02, 0, 0, 0, 0, 1]);
        let my_ip = Ipv4Addr::new(10, 0, 0, 1);
        let req = request_frame(me, my_ip, Ipv4Addr::new(10, 0, 0, 2));
        // Our own request is seen by the reader and must be ignored.
        assert_eq!(parse_reply(&req, my_ip, me), None);

        let cam = Mac([0x44, 0x19, 0xb6, 0, 0, 2]);
        let mut reply = request_frame(cam, Ipv4Addr::new(10, 0, 0, 2), my_ip);
        {
            let mut eth = MutableEthernetPacket::new(&mut reply).expect("frame");
            let mut arp = MutableArpPacket::new(eth.payload_mut()).expect("arp");
            arp.set_operation(ArpOperations::Reply);
        }
        assert_eq!(
            parse_reply(&reply, my_ip, me),
            Some((Ipv4Addr::new(10, 0, 0, 2), cam))
        );
        assert_eq!(parse_reply(&reply[..20], my_ip, me), None);
        assert_eq!(parse_reply(&[], my_ip, me), None);
    }
}
