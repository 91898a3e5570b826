//! The options of a load-generator run and their limits: loopback networks only, bounded
//! rates and durations.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::driver::split_url;
use crate::error::{LoadgenError, failed, usage};

/// Highest offered rate accepted (messages per second).
pub const MAX_RATE: f64 = 5000.0;
/// Longest run accepted (seconds, warm-up and measurement each).
pub const MAX_DURATION: f64 = 120.0;
/// Most pairs.
pub const MAX_PAIRS: usize = 500;
/// Most queues for `--create-queues`.
pub const MAX_QUEUES: usize = 100_000;

/// Options of `sotto-relay loadgen`.
#[derive(Clone, Debug)]
pub struct LoadgenOptions {
    /// `http://127.0.0.1:PORT/directory.json` of the network (loopback only).
    pub directory: String,
    /// Offered messages per second, in (0, [`MAX_RATE`]].
    pub rate: f64,
    /// Seconds of measurement, at most [`MAX_DURATION`].
    pub duration: f64,
    /// Seconds of warm-up before the measurement, at most [`MAX_DURATION`].
    pub warmup: f64,
    /// Conversations (two clients each), 1..=[`MAX_PAIRS`].
    pub pairs: usize,
    /// Characters per text message (at least the timestamp header).
    pub size: usize,
    /// Seconds to wait for stragglers after the last send.
    pub drain: f64,
    /// Leading zero bits of the proof of work a Create carries (what the relays ask).
    pub pow_bits: u8,
    /// Only measure the WebSocket ping→pong floor.
    pub echo: bool,
    /// Create and subscribe this many queues instead of sending messages.
    pub create_queues: Option<usize>,
    /// A process whose `VmRSS` `--create-queues` reads before and after.
    pub rss_pid: Option<u32>,
    /// Seed of the run's RNG (reproducible runs); from the system if `None`.
    pub seed: Option<u64>,
}

/// Whether `host` (as in a URL's authority, without the port) is a loopback name.
fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

/// Refuses anything but `http://` or `ws://` URLs on a loopback host.
pub(crate) fn require_loopback(url: &str, schemes: &[&str]) -> Result<(), LoadgenError> {
    let (scheme, host, _, _) = split_url(url)?;
    if !schemes.contains(&scheme) {
        return Err(usage(format!("{url}: expected {}", schemes.join(" or "))));
    }
    if !is_loopback_host(host) {
        return Err(usage(format!(
            "{url}: loadgen only drives networks on loopback (127.0.0.1, localhost, ::1)"
        )));
    }
    Ok(())
}

impl LoadgenOptions {
    /// The run's RNG: from `seed` (reproducible keys and routes) or seeded by the system.
    pub(crate) fn rng(&self) -> Result<ChaCha20Rng, LoadgenError> {
        match self.seed {
            Some(s) => Ok(ChaCha20Rng::seed_from_u64(s)),
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| failed(format!("random seed: {e}")))?;
                Ok(ChaCha20Rng::from_seed(seed))
            }
        }
    }

    /// Checks the limits above and that the directory is on loopback.
    pub fn validate(&self) -> Result<(), LoadgenError> {
        require_loopback(&self.directory, &["http"])?;
        if !(self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(usage(format!("--rate must be in (0, {MAX_RATE}]")));
        }
        for (name, v) in [
            ("--duration", self.duration),
            ("--warmup", self.warmup),
            ("--drain", self.drain),
        ] {
            if !(0.0..=MAX_DURATION).contains(&v) {
                return Err(usage(format!(
                    "{name} must be in [0, {MAX_DURATION}] seconds"
                )));
            }
        }
        if self.duration <= 0.0 {
            return Err(usage("--duration must be positive"));
        }
        if self.pairs == 0 || self.pairs > MAX_PAIRS {
            return Err(usage(format!("--pairs must be in 1..={MAX_PAIRS}")));
        }
        if self.size > 2048 {
            return Err(usage("--size must be at most 2048"));
        }
        if let Some(n) = self.create_queues
            && (n == 0 || n > MAX_QUEUES)
        {
            return Err(usage(format!(
                "--create-queues must be in 1..={MAX_QUEUES}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LoadgenOptions {
        LoadgenOptions {
            directory: "http://127.0.0.1:8080/directory.json".into(),
            rate: 100.0,
            duration: 10.0,
            warmup: 2.0,
            pairs: 10,
            size: 64,
            drain: 10.0,
            pow_bits: 16,
            echo: false,
            create_queues: None,
            rss_pid: None,
            seed: None,
        }
    }

    #[test]
    fn only_loopback_and_bounded_runs_are_accepted() {
        assert!(opts().validate().is_ok());
        for (url, accepted) in [
            ("http://localhost:8080/directory.json", true),
            ("http://[::1]:8080/directory.json", true),
            ("http://10.0.0.1:8080/directory.json", false),
            ("http://example.org/directory.json", false),
            ("https://127.0.0.1/directory.json", false),
            ("http://127.0.0.1.evil:80/", false),
        ] {
            let o = LoadgenOptions {
                directory: url.into(),
                ..opts()
            };
            assert_eq!(o.validate().is_ok(), accepted, "{url}");
        }
        let o = LoadgenOptions {
            rate: 5001.0,
            ..opts()
        };
        assert!(o.validate().is_err());
        let o = LoadgenOptions {
            duration: 121.0,
            ..opts()
        };
        assert!(o.validate().is_err());
        assert!(require_loopback("ws://203.0.113.9:9101", &["ws"]).is_err());
    }
}
