//! The echo floor: sequential WebSocket pings to every relay.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sotto_proto::onion::Hop;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{LoadgenError, failed};
use crate::report::ms;

/// Sequential WebSocket ping→pong round trips, round robin over the relays, for `secs` or
/// `max` samples. Returns milliseconds.
pub(crate) async fn echo(
    dir: &[(Hop, String)],
    secs: f64,
    max: usize,
) -> Result<Vec<f64>, LoadgenError> {
    let mut sockets = Vec::new();
    for (_, url) in dir {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| failed(format!("connect {url}: {e}")))?;
        sockets.push(ws);
    }
    let mut samples = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut i = 0u64;
    while Instant::now() < end && samples.len() < max {
        let n = sockets.len();
        let Some(ws) = sockets.get_mut((i as usize) % n) else {
            break;
        };
        i += 1;
        let payload = i.to_be_bytes().to_vec();
        let started = Instant::now();
        ws.send(Message::Ping(payload.clone().into()))
            .await
            .map_err(|e| failed(format!("ping: {e}")))?;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Pong(p)))) if p.as_ref() == payload.as_slice() => break,
                Ok(Some(Ok(_))) => {}
                _ => return Err(failed("a relay did not answer a ping")),
            }
        }
        samples.push(ms(started.elapsed()));
    }
    for mut ws in sockets {
        let _ = ws.close(None).await;
    }
    Ok(samples)
}
