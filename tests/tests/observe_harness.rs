//! The observability harnesses against their real daemons, fed by plain
//! clients (raw statsd packets, Graphite lines, InfluxDB line protocol,
//! `logger`, an OTLP client built on opentelemetry-proto): what the kit
//! tests read back is what the daemons really aggregated and stored.

use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kit_tests::observe::carbon::Carbon;
use kit_tests::observe::influx::Influx;
use kit_tests::observe::otlp::OtlpReceiver;
use kit_tests::observe::rsyslog::Rsyslog;
use kit_tests::observe::statsd::Statsd;
use kit_tests::observe::{python, python_script, tool};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

#[test]
fn statsd_aggregates_counters_gauges_and_timers_over_flushes() {
    let mut statsd = Statsd::start(200);
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let to = statsd.addr();
    let send = |packet: &str| {
        udp.send_to(packet.as_bytes(), to).expect("send to statsd");
    };
    for _ in 0..5 {
        send("kit.req:1|c");
    }
    // Several metrics in one packet, as a client batching them sends.
    send("kit.req:2|c\nkit.mem:1024|g\nkit.lat:10|ms\nkit.lat:30|ms");
    statsd.wait_for(Duration::from_secs(5), "counter 7", |s| {
        s.counter("kit.req") == Some(7.0)
    });
    statsd.wait_for(Duration::from_secs(5), "two timer samples", |s| {
        s.timer_count("kit.lat") == Some(2.0)
    });
    let lat = statsd.timer("kit.lat").expect("timer");
    assert_eq!((lat.lower, lat.upper, lat.mean()), (10.0, 30.0, 20.0));
    assert_eq!(statsd.gauge("kit.mem"), Some(1024.0));
    assert_eq!(statsd.bad_lines(), 0.0);

    // Down, then back: what it flushed before stays readable.
    statsd.stop();
    statsd.resume();
    send("kit.req:3|c\nnot a metric");
    statsd.wait_for(Duration::from_secs(5), "counter 10", |s| {
        s.counter("kit.req") == Some(10.0)
    });
    statsd.wait_for(Duration::from_secs(5), "a bad line", |s| {
        s.bad_lines() == 1.0
    });
}

#[test]
fn carbon_stores_plaintext_points_at_one_second() {
    let mut carbon = Carbon::start();
    let t = now();
    carbon.send_lines(&format!(
        "kit.a.requests 41 {}\nkit.a.requests 42 {t}\nkit.b-c.p50 0.000125 {t}\n",
        t - 1
    ));
    let points = carbon.wait_for("kit.a.requests", Duration::from_secs(10), |p| p.len() == 2);
    assert_eq!(points, vec![(t - 1, 41.0), (t, 42.0)]);
    let p50 = carbon.wait_for("kit.b-c.p50", Duration::from_secs(10), |_| true);
    assert_eq!(p50, vec![(t, 0.000125)], "full precision");
    assert_eq!(carbon.metrics(), vec!["kit.a.requests", "kit.b-c.p50"]);
    assert_eq!(carbon.fetch("kit.not.there"), vec![]);

    // Down: nothing listens. Back: the same files take new points.
    carbon.stop();
    assert!(TcpStream::connect(carbon.line_addr()).is_err());
    carbon.resume();
    let t2 = now() + 1;
    carbon.send_lines(&format!("kit.a.requests 50 {t2}\n"));
    carbon.wait_for("kit.a.requests", Duration::from_secs(10), |p| {
        p.last() == Some(&(t2, 50.0))
    });
}

#[test]
fn influx_takes_line_protocol_and_answers_queries() {
    let mut influx = Influx::start();
    influx.create_db("kit");
    // Points of a series at the same timestamp overwrite each other: two
    // pushes must carry their own times (here, a second apart).
    let t = now() * 1_000_000_000;
    influx.write(
        "kit",
        &format!(
            "kit_server_requests_total,service=strings,endpoint=uppercase,transport=http,code=OK value=5i {}\n\
             kit_server_requests_total,service=strings,endpoint=uppercase,transport=http,code=OK value=7i {t}\n\
             process_resident_memory_bytes value=12345678.0 {t}",
            t - 1_000_000_000
        ),
    );
    let rows = influx.wait_for(
        "kit",
        "SELECT last(value) FROM kit_server_requests_total WHERE endpoint='uppercase' AND code='OK'",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(rows[0][1], 7);
    let rows = influx.rows("kit", "SELECT value FROM process_resident_memory_bytes");
    assert_eq!(rows[0][1], 12345678.0);
    let tags = influx.rows("kit", "SHOW TAG KEYS FROM kit_server_requests_total");
    let keys: Vec<&str> = tags.iter().filter_map(|r| r[0].as_str()).collect();
    assert_eq!(keys, ["code", "endpoint", "service", "transport"]);

    // Down and back on the same data.
    influx.stop();
    influx.resume();
    let rows = influx.rows("kit", "SELECT count(value) FROM kit_server_requests_total");
    assert_eq!(rows[0][1], 2);
}

#[test]
fn rsyslog_receives_rfc5424_over_udp_tcp_and_a_unix_socket() {
    let rsyslog = Rsyslog::start();
    let logger = |args: &[&str]| {
        let out = Command::new(tool("logger"))
            .args(args)
            .output()
            .expect("logger runs");
        assert!(
            out.status.success(),
            "logger {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let udp_port = rsyslog.udp_addr().port().to_string();
    let tcp_port = rsyslog.tcp_addr().port().to_string();
    logger(&[
        "--rfc5424",
        "-d",
        "-n",
        "127.0.0.1",
        "-P",
        &udp_port,
        "-t",
        "svc-udp",
        "-p",
        "user.warning",
        "--msgid",
        "access",
        "--sd-id",
        "kit@32473",
        "--sd-param",
        "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"",
        "over udp",
    ]);
    logger(&[
        "--rfc5424",
        "-T",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp_port,
        "-t",
        "svc-tcp",
        "over tcp",
    ]);
    let socket = rsyslog.socket_path();
    logger(&[
        "--rfc5424",
        "-u",
        socket.to_str().expect("utf-8 path"),
        "-t",
        "svc-unix",
        "over unix",
    ]);

    let messages = rsyslog.wait_for(Duration::from_secs(5), "three messages", |m| m.len() == 3);
    let by_app = |app: &str| {
        messages
            .iter()
            .find(|m| m.app_name == app)
            .unwrap_or_else(|| panic!("no message from {app}: {messages:?}"))
    };
    let udp = by_app("svc-udp");
    assert_eq!(udp.version, "1");
    assert_eq!(udp.input, "imudp");
    assert_eq!(udp.severity(), 4);
    assert_eq!(udp.msgid, "access");
    assert!(
        udp.structured_data
            .contains("[kit@32473 trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"]"),
        "{udp:?}"
    );
    assert_eq!(udp.msg, "over udp");
    assert!(udp.raw.starts_with("<12>1 "), "{udp:?}");
    let tcp = by_app("svc-tcp");
    assert_eq!((tcp.version.as_str(), tcp.input.as_str()), ("1", "imtcp"));
    let unix = by_app("svc-unix");
    assert_eq!(
        (unix.version.as_str(), unix.input.as_str()),
        ("1", "imuxsock")
    );
    assert_eq!(unix.msg.trim(), "over unix");
    // The same messages as RFC 5424 lines.
    let lines = rsyslog.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<12>1 ") && l.contains(" svc-udp - access [")),
        "{lines:?}"
    );
}

#[test]
fn otlp_receiver_records_what_an_otlp_client_exports() {
    let mut receiver = OtlpReceiver::start();
    let to = receiver.addr().to_string();
    let send = |trace: &str, span: &str, parent: &str| {
        let out = Command::new(python())
            .arg(python_script("otlp_send.py"))
            .arg(&to)
            .args([trace, span, parent, "POST /relay", "chain-a"])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "otlp_send.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    send(trace, "00f067aa0ba902b7", "-");
    let spans = receiver.wait_for_trace(trace, 1, Duration::from_secs(5));
    let s = &spans[0];
    assert_eq!(s["span_id"], "00f067aa0ba902b7");
    assert_eq!(s["parent_span_id"], "");
    assert_eq!(s["name"], "POST /relay");
    assert_eq!(
        (s["kind"].as_i64(), s["kind_name"].as_str()),
        (Some(2), Some("SERVER"))
    );
    assert_eq!(s["attributes"]["http.request.method"], "POST");
    assert_eq!(s["attributes"]["http.response.status_code"], 200);
    assert_eq!(s["attributes"]["sampled.ratio"], 0.25);
    assert_eq!(s["attributes"]["retry"], false);
    assert_eq!(s["status"]["code"], 2);
    assert_eq!(s["status"]["message"], "boom");
    assert_eq!(s["service_name"], "chain-a");
    assert_eq!(s["resource"]["service.name"], "chain-a");
    let (start, end) = (
        s["start_time_unix_nano"].as_u64().expect("start"),
        s["end_time_unix_nano"].as_u64().expect("end"),
    );
    assert_eq!(end - start, 1_500_000);

    // Down: the port refuses. Back on the same port, spans keep coming.
    receiver.stop();
    assert!(TcpStream::connect(receiver.addr()).is_err());
    receiver.resume();
    send(trace, "00f067aa0ba902b8", "00f067aa0ba902b7");
    let spans = receiver.wait_for_trace(trace, 2, Duration::from_secs(5));
    assert_eq!(spans[1]["parent_span_id"], "00f067aa0ba902b7");
}

/// Packets from bash's /dev/udp, as a shell script would send them.
#[test]
fn statsd_packets_sent_by_bash_count_the_same() {
    let statsd = Statsd::start(200);
    let port = statsd.addr().port();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "for i in 1 2 3; do echo -n 'bash.hits:1|c' > /dev/udp/127.0.0.1/{port}; done"
        ))
        .status()
        .expect("bash runs");
    assert!(status.success());
    statsd.wait_for(Duration::from_secs(5), "3 hits", |s| {
        s.counter("bash.hits") == Some(3.0)
    });
    assert_eq!(
        statsd.names().into_iter().collect::<Vec<_>>(),
        ["bash.hits"]
    );
}
