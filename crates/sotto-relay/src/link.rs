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
        // Nagle off (`set_nodelay`), as on the accepting side (`relay.rs`): a link carries many
        // small frames in flight, and Nagle holding one back for the peer's delayed ACK (40 ms on
        // Linux) stalls every packet behind it.
        let connect = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true);
        let ws = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            r = tokio::time::timeout(Duration::from_secs(5), connect) => r,
        };
        let ws = match ws {
            Ok(Ok((ws, _))) => ws,
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
