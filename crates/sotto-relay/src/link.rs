//! Relay-to-relay links: one persistent outgoing WebSocket per next hop, fed by a bounded
//! queue, reconnecting with exponential backoff. Packets go as `0x01 || packet` frames, the
//! same framing browsers use.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sotto_proto::ids::RelayId;
use sotto_proto::onion::{ClientFrame, Packet};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::metrics::RelayMetrics;
use crate::shutdown::stopped;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What a link needs from the relay that owns it.
pub(crate) trait LinkOwner: Send + Sync + 'static {
    /// A short local name for logs.
    fn name(&self) -> &str;
    /// The relay's counters (the link counts its (re)connections).
    fn metrics(&self) -> &RelayMetrics;
    /// The relay's shutdown flag.
    fn shutdown_signal(&self) -> watch::Receiver<bool>;
}

type LinkSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a link's WebSocket to `url` with Nagle's algorithm off (`TCP_NODELAY`), as the accepting
/// side (`relay.rs`) and browsers have it: a link carries many small frames in flight, and Nagle
/// holding one back until the peer ACKs the last (Linux delays that ACK up to 40 ms) capped the
/// whole network at about 3,000 packets/s with the CPU two-thirds idle (issue 18, BENCHMARKS.md
/// §3–5 "Nagle on the relay links").
async fn connect(url: &str) -> Result<LinkSocket, tokio_tungstenite::tungstenite::Error> {
    Ok(
        tokio_tungstenite::connect_async_with_config(url, None, true)
            .await?
            .0,
    )
}

/// Runs the link to relay `peer` at `url` until the relay shuts down or every sender is gone.
pub(crate) async fn run<O: LinkOwner>(
    relay: Arc<O>,
    peer: RelayId,
    url: String,
    mut rx: mpsc::Receiver<Packet>,
) {
    let mut shutdown = relay.shutdown_signal();
    let mut backoff = BACKOFF_START;
    let mut pending: Option<Packet> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let connect = connect(&url);
        let ws = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            r = tokio::time::timeout(Duration::from_secs(5), connect) => r,
        };
        let ws = match ws {
            Ok(Ok(ws)) => ws,
            _ => {
                tracing::debug!(relay = %relay.name(), peer = ?peer, "link connect failed");
                tokio::select! {
                    _ = stopped(&mut shutdown) => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        RelayMetrics::inc(&relay.metrics().link_reconnects);
        backoff = BACKOFF_START;
        let (mut sink, mut stream) = ws.split();
        loop {
            let packet = match pending.take() {
                Some(p) => p,
                None => tokio::select! {
                    _ = stopped(&mut shutdown) => {
                        let _ = sink.close().await;
                        return;
                    }
                    // The peer never sends packets on a link; reading keeps pings answered and
                    // notices a close.
                    incoming = stream.next() => match incoming {
                        Some(Ok(_)) => continue,
                        _ => break,
                    },
                    p = rx.recv() => match p {
                        Some(p) => p,
                        None => {
                            let _ = sink.close().await;
                            return;
                        }
                    },
                },
            };
            let frame = ClientFrame::Packet(packet.clone()).encode();
            if sink.send(Message::binary(frame)).await.is_err() {
                // Keep the packet and retry it on the next connection.
                pending = Some(packet);
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link's socket has Nagle off (the cause of the ~3,000 packets/s ceiling of issue 18).
    #[tokio::test]
    async fn a_link_connects_with_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio_tungstenite::accept_async(tcp).await.unwrap()
        });
        let ws = connect(&format!("ws://{addr}/")).await.unwrap();
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() else {
            panic!("a loopback link is plain TCP");
        };
        assert!(tcp.nodelay().unwrap());
        drop(server.await.unwrap());
    }
}
