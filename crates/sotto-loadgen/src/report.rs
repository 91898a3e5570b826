//! Measurements and their report: nearest-rank percentiles, the bare X25519 rate of this
//! machine, and the `LOADGEN_JSON {…}` line scripts read.

use std::io::Write as _;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use sotto_proto::keys::SecretKey;

/// Percentiles of a sample (milliseconds).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles of `samples` (any unit; not sorted yet).
pub fn summarize(samples: &mut [f64]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let rank = |q: f64| {
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        samples.get(i).copied().unwrap_or(0.0)
    };
    Summary {
        n,
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max: samples.last().copied().unwrap_or(0.0),
        mean: samples.iter().sum::<f64>() / n as f64,
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn print_summary(label: &str, s: &Summary) {
    println!(
        "{label}: n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms mean={:.3} ms",
        s.n, s.p50, s.p90, s.p99, s.max, s.mean
    );
}

pub(crate) fn json_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "LOADGEN_JSON {v}");
    let _ = out.flush();
}

/// X25519 Diffie-Hellman operations per second on one core of this machine.
pub(crate) fn x25519_rate(rng: &mut ChaCha20Rng) -> f64 {
    let a = SecretKey::generate(rng);
    let b = SecretKey::generate(rng).public_key();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..100 {
            let s = a.diffie_hellman(&b);
            std::hint::black_box(&s);
        }
        n += 100;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&mut v);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(summarize(&mut []).n, 0);
    }
}
