//! Abuse limits: caps and the per-connection token bucket.

use std::time::Instant;

/// The relay's limits. Defaults suit a small public relay; `relay.toml` can change them.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Hard cap on one WebSocket message (and frame); above it the connection is closed (1009).
    pub max_frame_bytes: usize,
    /// Open WebSocket connections per relay; above it new ones are closed (1013).
    pub max_connections: usize,
    /// TCP connections still in the WebSocket handshake (5 s at most each); more are dropped.
    pub max_pending_handshakes: usize,
    /// Sustained binary frames per second per connection (token bucket rate).
    pub frames_per_second: f64,
    /// Token bucket size: frames a connection may send in a burst.
    pub frame_burst: f64,
    /// Rate-limited frames after which the connection is closed (1008). Each frame that
    /// passes the limit takes one strike off, so only a sustained flood gets there.
    pub rate_limit_strikes: u32,
    /// Frames waiting to go down one connection; when full, replies are dropped.
    pub client_queue: usize,
    /// Packets waiting on one relay-to-relay link; when full, packets are dropped.
    pub link_queue: usize,
    /// Connection tags one connection may bind.
    pub max_tags_per_connection: usize,
    /// Frames waiting for the relay's state machine; when full, connections wait.
    pub node_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            max_connections: 4096,
            max_pending_handshakes: 256,
            frames_per_second: 500.0,
            frame_burst: 2000.0,
            rate_limit_strikes: 2000,
            client_queue: 256,
            link_queue: 4096,
            max_tags_per_connection: 16,
            node_queue: 8192,
        }
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` stored.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        Self {
            rate: rate.max(0.0),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3.0, t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
    }
}
