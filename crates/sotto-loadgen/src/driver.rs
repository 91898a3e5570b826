//! The native client driver: `sotto_proto::client::Client` over tokio-tungstenite WebSockets
//! to a Sotto network (plain `ws://` and `http://`, as on loopback).
//!
//! [`NativeClient`] carries a client's frames to and from its gateway; the caller decides when
//! to tick it and what to do with its events. [`fetch_directory`] and [`fetch_metrics`] read
//! the network's `/directory.json` and `/metrics` with a minimal HTTP/1.0 GET. The load
//! generator and the relay's integration tests both drive their clients through this module.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand_core::CryptoRng;
use sotto_proto::client::Client;
use sotto_proto::directory::{
    Directory, DirectoryError, DirectoryTrust, RelayDescriptor, SignedDirectory, Unusable,
};
use sotto_proto::onion::Hop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{LoadgenError, failed, usage};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Unix time in seconds (what the client's `now` arguments are).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Splits `scheme://host:port/path` into (scheme, host, port, path); the port defaults to 80
/// for `http`/`ws` and 443 otherwise, the path to `/`.
pub fn split_url(url: &str) -> Result<(&str, &str, u16, &str), LoadgenError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| usage(format!("not a URL: {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (
            h,
            p.parse::<u16>()
                .map_err(|_| usage(format!("bad port in {url}")))?,
        ),
        _ => (
            authority,
            match scheme {
                "http" | "ws" => 80,
                _ => 443,
            },
        ),
    };
    Ok((scheme, host, port, path))
}

/// The most bytes (head and body) [`http_get`] reads: 4 MiB, far above a directory, a
/// descriptor or a network's metrics, so a host that sends without end cannot fill memory.
pub const MAX_HTTP_BYTES: u64 = 4 << 20;

/// A minimal HTTP/1.0 GET of `url` (plain `http://`; the relay's endpoints answer with a
/// length). Returns the body of a `200` answer; gives up after 10 s, or when the answer is
/// longer than [`MAX_HTTP_BYTES`].
pub async fn http_get(url: &str) -> Result<String, LoadgenError> {
    let (_, host, port, path) = split_url(url)?;
    let io = |e: std::io::Error| failed(format!("GET {url}: {e}"));
    let addr = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    };
    let fut = async {
        let mut s = TcpStream::connect((addr.as_str(), port))
            .await
            .map_err(io)?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .map_err(io)?;
        let mut buf = Vec::new();
        // One byte past the cap tells "too long" from "exactly the cap".
        (&mut s)
            .take(MAX_HTTP_BYTES + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(io)?;
        if u64::try_from(buf.len()).unwrap_or(u64::MAX) > MAX_HTTP_BYTES {
            return Err(failed(format!(
                "GET {url}: longer than {MAX_HTTP_BYTES} bytes"
            )));
        }
        Ok::<_, LoadgenError>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| failed(format!("GET {url}: timed out")))??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| failed(format!("GET {url}: no HTTP response")))?;
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1) != Some("200") {
        return Err(failed(format!(
            "GET {url}: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(body.to_owned())
}

/// The relays of a directory document (`/directory.json`, read with
/// [`Directory::parse`], every entry required to be usable) as a client needs them: each
/// relay's hop (id and current Sphinx key) and WebSocket URL, in directory order.
pub fn parse_directory(text: &str) -> Result<Vec<(Hop, String)>, DirectoryError> {
    let dir = Directory::parse(text, Unusable::Refuse)?;
    Ok(dir.hops().map(|(hop, url)| (hop, url.to_owned())).collect())
}

/// Fetches and parses the directory at `url` (e.g. `http://127.0.0.1:8080/directory.json`).
pub async fn fetch_directory(url: &str) -> Result<Vec<(Hop, String)>, LoadgenError> {
    Ok(fetch_relays(url)
        .await?
        .iter()
        .map(|r| (r.hop(), r.url.clone()))
        .collect())
}

/// Fetches the signed directory at `url`, verifies it (now, by the device's clock) against
/// the authority keys its network publishes (see [`fetch_trust`]), and returns its relays in
/// full (key epochs and the proof-of-work difficulty each asks for included).
pub async fn fetch_relays(url: &str) -> Result<Vec<RelayDescriptor>, LoadgenError> {
    let trust = fetch_trust(url).await?;
    let text = http_get(url).await?;
    SignedDirectory::parse(&text)
        .and_then(|d| d.verify(&trust, now()))
        .map(|d| d.relays)
        .map_err(|e| failed(format!("{url}: {e}")))
}

/// The authority keys and threshold a loopback network publishes beside its directory
/// (`/config.json`'s `directoryKeys` and `directoryThreshold`, as `sotto-relay dev` serves
/// them): the load generator drives networks it runs itself, so it takes them from there.
pub async fn fetch_trust(directory_url: &str) -> Result<DirectoryTrust, LoadgenError> {
    let (scheme, host, port, _) = split_url(directory_url)?;
    let url = format!("{scheme}://{host}:{port}/config.json");
    let text = http_get(&url).await?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("{url}: {e}")))?;
    let keys: Vec<&str> = v["directoryKeys"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let threshold = v["directoryThreshold"]
        .as_u64()
        .and_then(|t| usize::try_from(t).ok());
    DirectoryTrust::from_base64(&keys, threshold).map_err(|e| failed(format!("{url}: {e}")))
}

/// Numeric samples of `{base}/metrics`, summed over relays, by metric name (labels are
/// dropped: `sotto_relay_dropped_total` sums every reason). Empty if the GET fails.
pub async fn fetch_metrics(base: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Ok(text) = http_get(&format!("{base}/metrics")).await else {
        return out;
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let name = key.split('{').next().unwrap_or(key).to_owned();
        *out.entry(name).or_insert(0.0) += v;
    }
    out
}

/// What a socket's reader task reports (see [`Frames::forward`]).
#[derive(Debug)]
pub enum Inbound {
    /// A binary frame from the gateway.
    Frame(Vec<u8>),
    /// The socket with this number (see [`NativeClient::socket`]) closed or failed. It may
    /// arrive after the client connected again: [`NativeClient::disconnected`] then ignores it.
    Closed(u64),
}

/// What several clients' sockets report, in one channel: (the index given to
/// [`Frames::forward`], what came).
pub type Inbox = mpsc::UnboundedReceiver<(usize, Inbound)>;
/// The sending side of an [`Inbox`].
pub type InboxTx = mpsc::UnboundedSender<(usize, Inbound)>;

/// The receiving half of a client's WebSocket to its gateway, and the socket's number.
pub struct Frames(SplitStream<Socket>, u64);

impl Frames {
    /// The next binary frame from the gateway (pings, pongs and text frames are skipped);
    /// `None` once the gateway closed the connection, an error if the socket failed.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, LoadgenError>> {
        loop {
            match self.0.next().await? {
                Ok(Message::Binary(b)) => return Some(Ok(b.to_vec())),
                Ok(_) => {}
                Err(e) => return Some(Err(failed(format!("websocket: {e}")))),
            }
        }
    }

    /// Reads the socket on a task of its own, sending `(index, Inbound::Frame(..))` to
    /// `inbox` for each frame and `(index, Inbound::Closed(socket))` when the socket closed
    /// or failed.
    pub fn forward(mut self, index: usize, inbox: InboxTx) {
        tokio::spawn(async move {
            while let Some(Ok(frame)) = self.next().await {
                if inbox.send((index, Inbound::Frame(frame))).is_err() {
                    return;
                }
            }
            let _ = inbox.send((index, Inbound::Closed(self.1)));
        });
    }
}

/// A client and the sending half of its WebSocket to its gateway.
pub struct NativeClient {
    /// The sans-IO client this drives (create invitations, send, poll events through it).
    pub client: Client,
    sink: Option<SplitSink<Socket, Message>>,
    /// The number of the latest socket (counted from 1 by [`NativeClient::connect`]).
    socket: u64,
}

impl NativeClient {
    /// A client that is not connected yet.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            sink: None,
            socket: 0,
        }
    }

    /// (Re)connects to the gateway at `url` and tells the client it is connected (it binds
    /// its connection tags; [`NativeClient::transmit`] sends that). Returns the socket's
    /// receiving half: read it with [`Frames::next`] or hand it to [`Frames::forward`].
    pub async fn connect<R: CryptoRng + ?Sized>(
        &mut self,
        url: &str,
        rng: &mut R,
    ) -> Result<Frames, LoadgenError> {
        // Nagle off, as browsers' WebSockets have it (Chromium sets TCP_NODELAY on every socket).
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .map_err(|e| failed(format!("connect {url}: {e}")))?;
        let (sink, stream) = ws.split();
        self.sink = Some(sink);
        self.socket += 1;
        self.client.connected(rng, now());
        Ok(Frames(stream, self.socket))
    }

    /// Whether the client has a socket to send on.
    pub fn is_connected(&self) -> bool {
        self.sink.is_some()
    }

    /// Closes the WebSocket (a Close frame, as a closing browser tab sends). Until the next
    /// [`NativeClient::connect`], frames the client wants to send are dropped (it retries
    /// its requests later).
    pub async fn go_offline(&mut self) {
        if let Some(mut sink) = self.sink.take() {
            let _ = sink.close().await;
        }
    }

    /// The number of the latest socket [`NativeClient::connect`] opened (0: none yet).
    pub fn socket(&self) -> u64 {
        self.socket
    }

    /// Socket number `socket` closed under us: forget it (as [`NativeClient::go_offline`],
    /// without a Close), unless we have connected again since (the report of an old socket's
    /// end must not cut the new one).
    pub fn disconnected(&mut self, socket: u64) {
        if socket == self.socket {
            self.sink = None;
        }
    }

    /// Sends every frame the client wants to send (one flush at the end). Without a socket
    /// the frames are dropped: the client retries its requests after reconnecting. A failed
    /// send forgets the socket, drops the rest and returns the error.
    pub async fn transmit(&mut self) -> Result<(), LoadgenError> {
        let mut result = Ok(());
        let mut fed = false;
        while let Some(frame) = self.client.poll_transmit() {
            let Some(sink) = self.sink.as_mut() else {
                continue;
            };
            if let Err(e) = sink.feed(Message::binary(frame)).await {
                self.sink = None;
                result = Err(failed(format!("websocket: {e}")));
            } else {
                fed = true;
            }
        }
        if fed
            && let Some(sink) = self.sink.as_mut()
            && let Err(e) = sink.flush().await
        {
            self.sink = None;
            result = Err(failed(format!("websocket: {e}")));
        }
        result
    }

    /// Hands a frame from the gateway to the client. Frames it refuses (e.g. replies through
    /// reply blocks whose opener was replaced) are ignored, as a browser ignores them.
    pub fn handle<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, frame: &[u8]) {
        let _ = self.client.handle_frame(rng, frame, now());
    }

    /// The client's time-driven work (retries, resubscription).
    pub fn tick<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.client.tick(rng, now());
    }

    /// How long to sleep before [`NativeClient::tick`] has work: until the client's
    /// [`Client::poll_timeout`] (seconds since the epoch), at least 50 ms (so a time already
    /// due is acted on without a busy loop) and at most 30 s when nothing is waiting.
    pub fn next_wake(&self) -> Duration {
        const IDLE: Duration = Duration::from_secs(30);
        const MIN: Duration = Duration::from_millis(50);
        let Some(due) = self.client.poll_timeout() else {
            return IDLE;
        };
        let due = UNIX_EPOCH + Duration::from_secs(due);
        due.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .clamp(MIN, IDLE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sotto_proto::ids::RelayId;

    use super::*;

    #[test]
    fn urls_split_with_default_ports_and_paths() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/directory.json").unwrap(),
            ("http", "127.0.0.1", 8080, "/directory.json")
        );
        assert_eq!(split_url("ws://[::1]").unwrap(), ("ws", "[::1]", 80, "/"));
        assert!(split_url("127.0.0.1:8080").is_err());
        assert!(split_url("http://127.0.0.1:http/").is_err());
    }

    #[test]
    fn directories_give_hops_and_urls() {
        let id = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let key = URL_SAFE_NO_PAD.encode([9u8; 32]);
        let doc = format!(
            r#"{{"version":1,"relays":[{{"id":"{id}","sphinx_key":"{key}","url":"ws://127.0.0.1:9101","key_epoch":1}}]}}"#
        );
        let dir = parse_directory(&doc).unwrap();
        assert_eq!(dir.len(), 1);
        assert_eq!(dir[0].0.id, RelayId::from_bytes([7u8; 32]));
        assert_eq!(dir[0].1, "ws://127.0.0.1:9101");
        assert!(parse_directory(&doc.replace("\"version\":1", "\"version\":2")).is_err());
        assert!(parse_directory(&doc.replace("ws://", "http://")).is_err());
    }
}
