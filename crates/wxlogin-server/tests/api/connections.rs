//! Connections on the wire: every connection must send its first request within the read
//! timeout (HTTP/2 too), idle keep-alive connections close, a body must arrive whole
//! within the read timeout, silent sockets cannot crowd out other clients, and shutdown
//! ends within its drain period.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with, TestApp};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wxlogin_sim::SimConfig;

const SECOND: Duration = Duration::from_secs(1);

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Read until the server closes (or resets) the connection; how long that took, or
/// `None` if it was still open after `limit`. What was read goes to `received`.
async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
    received: &mut Vec<u8>,
) -> Option<Duration> {
    let started = Instant::now();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .ok()
        .map(|()| started.elapsed())
}

/// Read one HTTP/1.1 answer with a Content-Length, leaving the connection open.
async fn read_one_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(5 * SECOND, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .expect("the connection stays open");
        assert!(n > 0, "closed before the answer was whole");
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_within_the_read_timeout() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = SECOND;
    })
    .await;
    let mut silent = TcpStream::connect(host(&app)).await.unwrap();
    let elapsed = closed_within(&mut silent, 5 * SECOND, &mut Vec::new())
        .await
        .expect("a silent connection is closed");
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < 3 * SECOND,
        "closed after {elapsed:?}"
    );
    app.get("/healthz", None).await.assert_ok();
}

#[tokio::test]
async fn an_http2_client_that_sends_only_the_preface_is_closed() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = SECOND;
    })
    .await;
    let mut client = TcpStream::connect(host(&app)).await.unwrap();
    // The prior-knowledge preface and an empty SETTINGS frame, then nothing.
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    client
        .write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut received = Vec::new();
    let elapsed = closed_within(&mut client, 5 * SECOND, &mut received)
        .await
        .expect("an HTTP/2 connection without a request is closed");
    assert!(elapsed < 3 * SECOND, "closed after {elapsed:?}");
    // The server did speak HTTP/2 (its SETTINGS frame) before hanging up.
    assert!(received.len() >= 9 && received[3] == 0x4, "{received:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = 10 * SECOND;
        settings.idle_timeout = SECOND;
    })
    .await;
    let mut client = TcpStream::connect(host(&app)).await.unwrap();
    for _ in 0..2 {
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_one_answer(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Kept alive between requests, closed once idle for the idle timeout (well before
    // the 10 s head timeout).
    let elapsed = closed_within(&mut client, 5 * SECOND, &mut Vec::new())
        .await
        .expect("an idle connection is closed");
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < 3 * SECOND,
        "closed after {elapsed:?}"
    );
}

/// One HTTP/2 frame: its type, flags, stream and payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = payload.len() as u32;
    let mut frame = length.to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Read HTTP/2 frames until one of `kind` arrives; how long that took.
async fn h2_wait_for_frame(stream: &mut TcpStream, kind: u8, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut header = [0u8; 9];
        tokio::time::timeout(limit, stream.read_exact(&mut header))
            .await
            .unwrap_or_else(|_| panic!("no frame of type {kind} within {limit:?}"))
            .expect("the connection stays open until then");
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.unwrap();
        if header[3] == kind {
            return started.elapsed();
        }
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_sent_away_after_the_idle_timeout() {
    const HEADERS: u8 = 0x1;
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = 10 * SECOND;
        settings.idle_timeout = SECOND;
    })
    .await;
    let mut client = TcpStream::connect(host(&app)).await.unwrap();
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    client
        .write_all(&h2_frame(SETTINGS, 0, 0, &[]))
        .await
        .unwrap();
    // GET /healthz, HPACK without Huffman: :method GET, :scheme http (static table),
    // :path and :authority as literals with indexed names.
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x01, 1, b'x']);
    client
        .write_all(&h2_frame(HEADERS, 0x4 | 0x1, 1, &block))
        .await
        .unwrap();
    h2_wait_for_frame(&mut client, HEADERS, 5 * SECOND).await;
    // The answer is out; the connection now idles until the server sends it away.
    let elapsed = h2_wait_for_frame(&mut client, GOAWAY, 5 * SECOND).await;
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < 3 * SECOND,
        "GOAWAY after {elapsed:?}"
    );
}

/// A login whose 100-byte body comes one byte per `gap`, on its own task.
async fn trickling_login(app: &TestApp, gap: Duration) -> tokio::net::tcp::OwnedReadHalf {
    let stream = TcpStream::connect(host(app)).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    writer
        .write_all(
            b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(gap).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    reader
}

#[tokio::test]
async fn a_body_trickling_within_every_gap_is_cut_off_at_the_read_timeout() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = 2 * SECOND;
    })
    .await;
    // One byte every 1.5 s: each gap is inside the 2 s timeout, the body is not.
    let mut reader = trickling_login(&app, Duration::from_millis(1500)).await;
    let mut answer = Vec::new();
    let elapsed = closed_within(&mut reader, 10 * SECOND, &mut answer)
        .await
        .expect("the connection is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed < Duration::from_millis(3500),
        "answered and closed after {elapsed:?}"
    );
}

/// The server's log lines, for the tests that look for one.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .try_init()
            .expect("the only subscriber of this test binary");
        log
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn silent_sockets_beyond_the_connection_cap_make_room_and_healthz_answers() {
    let log = captured_log();
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = 30 * SECOND;
        settings.max_connections = 20;
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..60 {
        silent.push(TcpStream::connect(host(&app)).await.unwrap());
        // Let the accept loop take each in turn, oldest first.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    app.get("/healthz", None).await.assert_ok();
    assert!(started.elapsed() < 2 * SECOND, "{:?}", started.elapsed());

    let mut closed = 0;
    for stream in &mut silent {
        if closed_within(stream, Duration::from_millis(50), &mut Vec::new())
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    // At most 20 open at once: the oldest silent ones made room for the rest.
    assert!(
        closed >= 40,
        "only {closed} of 60 silent sockets were closed"
    );
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(log.contains("connection limit reached"), "{log}");
    assert!(log.contains("limit=20"), "{log}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_ends_within_the_drain_period() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.request_read_timeout = 30 * SECOND;
        settings.shutdown_timeout = SECOND;
    })
    .await;
    let mut idle = TcpStream::connect(host(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_one_answer(&mut idle).await;
    // A request in flight whose body would take minutes.
    let _in_flight = trickling_login(&app, Duration::from_millis(500)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(app.stop());
    let idle_closed = closed_within(&mut idle, 5 * SECOND, &mut Vec::new())
        .await
        .expect("the idle connection is closed at once");
    assert!(idle_closed < Duration::from_millis(500), "{idle_closed:?}");
    tokio::time::timeout(5 * SECOND, stopping)
        .await
        .expect("shutdown ends within the drain period")
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "stopped after {elapsed:?}"
    );
}
