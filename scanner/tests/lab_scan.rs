//! The scanner against a lab LAN of network namespaces: a Hikvision camera
//! (oxvif's mock ONVIF device: WS-Discovery + SOAP, plus RTSP), a Dahua
//! camera, a Raspberry Pi, an HP printer and a phone with a randomised MAC,
//! each announcing what such a device announces. Needs root; skips without.

mod lab;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use lab::Lab;
use truevault_wire::inventory::{DeviceType, ScannedHost};

const HOST_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/host.py");
const PORTAL_STUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/portal_stub.py");

struct Expect {
    last: u8,
    mac: &'static str,
    vendor: Option<&'static str>,
    kind: DeviceType,
    services: &'static [&'static str],
    ports: &'static [u16],
}

const HOSTS: &[Expect] = &[
    Expect {
        last: 2,
        mac: "44:19:b6:77:00:02",
        vendor: Some("Hikvision"),
        kind: DeviceType::Camera,
        services: &["onvif"],
        ports: &[80, 554],
    },
    Expect {
        last: 3,
        mac: "3c:ef:8c:77:00:03",
        vendor: Some("Dahua"),
        kind: DeviceType::Camera,
        services: &["_rtsp._tcp"],
        ports: &[80, 554, 37777],
    },
    Expect {
        last: 4,
        mac: "b8:27:eb:77:00:04",
        vendor: Some("Raspberry Pi Foundation"),
        kind: DeviceType::Computer,
        services: &["_http._tcp", "_workstation._tcp", "_octoprint._tcp"],
        ports: &[22, 8080],
    },
    Expect {
        last: 5,
        mac: "3c:d9:2b:77:00:05",
        vendor: Some("Hewlett Packard"),
        kind: DeviceType::Printer,
        services: &["_ipp._tcp"],
        ports: &[631, 9100],
    },
    Expect {
        last: 6,
        mac: "6a:1f:00:77:00:06",
        vendor: None,
        kind: DeviceType::Phone,
        services: &["_companion-link._tcp"],
        ports: &[62078],
    },
];

fn py(lab: &mut Lab, idx: usize, args: &[&str]) {
    let ns = lab.hosts[idx].ns.clone();
    let ip = lab.hosts[idx].ip.to_string();
    let mut argv = vec!["python3", HOST_PY, "--ip", &ip];
    argv.extend_from_slice(args);
    lab.spawn_in(&ns, &argv, Some("READY"));
}

/// The Hikvision camera: oxvif's mock device on port 80 answering
/// WS-Discovery, in a thread that entered the camera's namespace.
fn mock_camera(lab: &mut Lab, idx: usize) {
    let ns = lab.hosts[idx].ns.clone();
    let ip = lab.hosts[idx].ip;
    let ready = lab.thread_in(&ns, move |stop, ready| {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            let server = oxvif::mock::MockServer::builder()
                .bind_ip(ip)
                .port(80)
                .enforce_auth(true)
                .discoverable(vec![
                    "onvif://www.onvif.org/type/video_encoder".into(),
                    "onvif://www.onvif.org/hardware/DS-2CD2143G2-I".into(),
                    "onvif://www.onvif.org/name/Front%20door".into(),
                ])
                .start()
                .await;
            match server {
                Ok(s) => {
                    let _ = ready.send(Ok(()));
                    // Serve until the lab says stop.
                    let _ = tokio::task::spawn_blocking(move || stop.recv()).await;
                    let _ = s.shutdown().await;
                }
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                }
            }
        });
    });
    match ready.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        other => panic!("mock camera did not start: {other:?}"),
    }
}

fn build_lab() -> Lab {
    let mut lab = Lab::new();
    for e in HOSTS {
        lab.add_host(e.last, e.mac);
    }
    lab.wait_forwarding(Duration::from_secs(10));

    mock_camera(&mut lab, 0);
    py(&mut lab, 0, &["--tcp", "554"]);
    py(
        &mut lab,
        1,
        &[
            "--tcp",
            "554",
            "--tcp",
            "37777",
            "--http",
            "80",
            "--mdns",
            "_rtsp._tcp|IPC-HDW2431T|554|dahua-cam",
        ],
    );
    py(
        &mut lab,
        2,
        &[
            "--tcp",
            "22",
            "--http",
            "8080",
            "--mdns",
            "_http._tcp|Pi-hole admin|8080|pihole|path=/admin",
            "--mdns",
            "_workstation._tcp|pihole [b8:27:eb:77:00:04]|9|pihole",
            // Not in the browse list: found only through the meta-query.
            "--mdns",
            "_octoprint._tcp|OctoPrint|5000|pihole|model=Prusa MK3",
        ],
    );
    py(
        &mut lab,
        3,
        &[
            "--tcp",
            "631",
            "--tcp",
            "9100",
            "--mdns",
            "_ipp._tcp|HP LaserJet M404|631|hp-printer|ty=HP LaserJet M404,usb_MFG=HP,rp=ipp/print",
        ],
    );
    py(
        &mut lab,
        4,
        &[
            "--tcp",
            "62078",
            "--mdns",
            "_companion-link._tcp|Annas iPhone|49152|Annas-iPhone|rpBA=x",
        ],
    );
    lab
}

fn hosts_of(stdout: &[u8]) -> (serde_json::Value, BTreeMap<Ipv4Addr, ScannedHost>) {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("scanner JSON");
    let hosts: Vec<ScannedHost> =
        serde_json::from_value(v["hosts"].clone()).expect("hosts are ScannedHost");
    let map = hosts
        .into_iter()
        .map(|h| (h.ip.parse().expect("ip"), h))
        .collect();
    (v, map)
}

fn check_identity(lab: &Lab, found: &BTreeMap<Ipv4Addr, ScannedHost>) {
    let want: Vec<Ipv4Addr> = lab.hosts.iter().map(|h| h.ip).collect();
    let got: Vec<Ipv4Addr> = found.keys().copied().collect();
    assert_eq!(got, want, "exactly the lab's hosts, not the scanner itself");
    for (h, e) in lab.hosts.iter().zip(HOSTS) {
        let f = &found[&h.ip];
        assert_eq!(f.mac, e.mac, "{}", h.ip);
        assert_eq!(f.vendor.as_deref(), e.vendor, "{}", h.ip);
        assert_eq!(f.randomized_mac, e.vendor.is_none(), "{}", h.ip);
    }
}

#[test]
fn lab_scan_finds_every_host_and_names_it() {
    if !lab::is_root() {
        eprintln!("SKIPPED lab_scan: building network namespaces needs root");
        return;
    }
    let zc = std::process::Command::new("python3")
        .args(["-c", "import zeroconf"])
        .status();
    assert!(
        zc.is_ok_and(|s| s.success()),
        "the lab needs python3 with zeroconf: app/scripts/setup.sh --test installs it"
    );
    let mut lab = build_lab();

    // Privileged: the raw ARP sweep, with ONVIF credentials for the camera.
    let out = lab.run_scanner(
        &[
            "scan",
            "--json",
            "--no-progress",
            "--iface",
            "eth0",
            "--camera-user",
            "admin",
            "--camera-pass",
            "admin",
            // Margin over the 1.6 s default for a loaded CI machine.
            "--mdns-ms",
            "2500",
        ],
        false,
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scan failed: {stderr}");
    assert!(!stderr.contains("admin\""), "no credentials in logs");
    let (report, found) = hosts_of(&out.stdout);
    assert_eq!(report["method"], "arp", "{report}");
    assert_eq!(report["full_scan"], true);
    assert_eq!(report["network"], "10.77.0.0/24");
    check_identity(&lab, &found);

    for (h, e) in lab.hosts.iter().zip(HOSTS) {
        let f = &found[&h.ip];
        assert_eq!(f.device_type, e.kind, "{}: {f:?}", h.ip);
        assert_eq!(f.is_camera, e.kind == DeviceType::Camera, "{}", h.ip);
        for s in e.services {
            assert!(
                f.services.iter().any(|x| x.kind == *s),
                "{}: no {s} in {:?}",
                h.ip,
                f.services
            );
        }
        for p in e.ports {
            assert!(
                f.open_ports.contains(p),
                "{}: port {p} not in {:?}",
                h.ip,
                f.open_ports
            );
        }
    }
    let hik = &found[&lab.hosts[0].ip];
    // From GetDeviceInformation (credentials given), not the scope.
    assert_eq!(hik.model.as_deref(), Some("MockCam-1080p"));
    assert_eq!(hik.hostname.as_deref(), Some("Front door"));
    // The mock reports 127.0.0.1, as some real cameras do; we put its address.
    assert_eq!(
        hik.stream_url.as_deref(),
        Some("rtsp://10.77.0.2:554/mock/stream")
    );
    let dahua = &found[&lab.hosts[1].ip];
    assert_eq!(
        dahua.stream_url.as_deref(),
        Some("rtsp://10.77.0.3:554/cam/realmonitor?channel=1&subtype=0")
    );
    let pi = &found[&lab.hosts[2].ip];
    assert_eq!(pi.hostname.as_deref(), Some("pihole"));
    let printer = &found[&lab.hosts[3].ip];
    assert_eq!(printer.model.as_deref(), Some("HP LaserJet M404"));
    assert!(printer.stream_url.is_none());

    // Unprivileged: no CAP_NET_RAW, so the neighbour-table fallback, from a
    // cold neighbour cache.
    lab.flush_scanner_neighbours();
    let out = lab.run_scanner(
        &[
            "scan",
            "--json",
            "--no-progress",
            "--iface",
            "eth0",
            "--no-onvif",
            "--mdns-ms",
            "1500",
        ],
        true,
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fallback scan failed: {stderr}");
    assert!(
        stderr.contains("CAP_NET_RAW"),
        "says why it falls back: {stderr}"
    );
    let (report, found) = hosts_of(&out.stdout);
    assert_eq!(report["method"], "neighbour_table");
    assert_eq!(
        report["full_scan"], false,
        "a fallback scan can't mark devices offline"
    );
    check_identity(&lab, &found);

    check_sync(&mut lab);
}

/// `sync` end to end through the binary, against a stand-in portal in the
/// scanner's namespace: the body that arrives is the scan, within the
/// wire types; a refused token is exit code 4.
fn check_sync(lab: &mut Lab) {
    let dir = std::env::temp_dir().join(format!("tvs-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let body = dir.join("body.json");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "tvs_lab_token\n").expect("token");
    let ns = lab.scanner_ns().to_string();
    let body_s = body.to_string_lossy().to_string();
    lab.spawn_in(
        &ns,
        &[
            "python3",
            PORTAL_STUB,
            "--port",
            "18080",
            "--token",
            "tvs_lab_token",
            "--out",
            &body_s,
        ],
        Some("READY"),
    );
    let tf = token_file.to_string_lossy().to_string();
    let out = lab.run_scanner(
        &[
            "sync",
            "--no-progress",
            "--iface",
            "eth0",
            "--portal",
            "http://127.0.0.1:18080",
            "--token-file",
            &tf,
        ],
        false,
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "sync failed: {stderr}");
    assert!(!stderr.contains("tvs_lab_token"), "token in the logs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("synced 5 hosts: 5 new"), "{stdout}");
    let req: truevault_wire::inventory::SyncRequest =
        serde_json::from_slice(&std::fs::read(&body).expect("body")).expect("SyncRequest");
    assert!(req.full_scan);
    assert_eq!(req.network, "10.77.0.0/24");
    assert!(req.agent.starts_with("truevault-scanner/"));
    let macs: Vec<&str> = req.hosts.iter().map(|h| h.mac.as_str()).collect();
    let want: Vec<&str> = HOSTS.iter().map(|e| e.mac).collect();
    assert_eq!(macs, want);
    assert_eq!(req.hosts.iter().filter(|h| h.is_camera).count(), 2);

    let out = lab.run_scanner(
        &[
            "sync",
            "--no-progress",
            "--iface",
            "eth0",
            "--no-mdns",
            "--no-onvif",
            "--no-ports",
            "--portal",
            "http://127.0.0.1:18080",
            "--token",
            "tvs_wrong",
        ],
        false,
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(4), "refused token: {stderr}");
    assert!(stderr.contains("INVALID_TOKEN"), "{stderr}");
    assert!(!stderr.contains("tvs_wrong"), "token in the logs");
    let _ = std::fs::remove_dir_all(&dir);
}
