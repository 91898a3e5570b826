//! Sotto's load generator, and the native client driver it shares with the relay's tests.
//!
//! [`run`] drives a running network (loopback only) with real clients built on `sotto-proto`;
//! `sotto-relay loadgen` is its command line.
//!
//! * **messages** (default): `--pairs` conversations set up through invitations, then text
//!   messages at the offered `--rate` for `--warmup` + `--duration` seconds, alternating
//!   direction and pair. Each text carries its send time (nanoseconds since the run started,
//!   read just before `Client::send_text`); the recipient's `Event::Message` closes the
//!   measurement. Prints offered rate, achieved throughput, latency percentiles, lost and
//!   duplicated messages, the relays' packet rate and per-frame processing time from
//!   `/metrics`, the bare X25519 rate of this machine, and a WebSocket ping→pong floor.
//! * **`--echo`**: only the floor: sequential WebSocket pings to every relay for `--duration`.
//! * **`--create-queues N`**: creates N queues (Create with proof of work, then Subscribe with
//!   8 SURBs, as a client does), for memory measurements; `--rss-pid` reads a process's
//!   `VmRSS` before and after.
//!
//! The last line of every mode is `LOADGEN_JSON {…}` for scripts.
//!
//! Modules: [`driver`] (a client over WebSockets, the directory and `/metrics`), [`options`],
//! `report` (percentiles, the JSON line), `echo`, `messages`, `queues` (the three modes).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use serde_json::json;

pub mod driver;
mod echo;
mod error;
mod messages;
pub mod options;
mod queues;
mod report;

pub use error::LoadgenError;
pub use options::LoadgenOptions;
pub use report::{Summary, summarize};

use crate::driver::fetch_relays;
use crate::error::failed;
use crate::options::require_loopback;
use crate::report::{json_line, print_summary};

/// Runs the load generator; prints its report on stdout.
pub async fn run(opts: LoadgenOptions) -> Result<(), LoadgenError> {
    opts.validate()?;
    let relays = fetch_relays(&opts.directory).await?;
    let dir: Vec<_> = relays.iter().map(|r| (r.hop(), r.url.clone())).collect();
    if dir.is_empty() {
        return Err(failed(format!("{}: no relays", opts.directory)));
    }
    for (_, url) in &dir {
        require_loopback(url, &["ws"])?;
    }
    let base = opts
        .directory
        .rsplit_once('/')
        .map_or(opts.directory.as_str(), |(b, _)| b)
        .to_owned();
    println!("loadgen: {} relays from {}", dir.len(), opts.directory);
    if opts.echo {
        let samples = echo::echo(&dir, opts.duration, 100_000).await?;
        let s = summarize(&mut samples.clone());
        print_summary("websocket ping->pong", &s);
        json_line(&json!({"mode": "echo", "relays": dir.len(), "rtt_ms": s}));
        return Ok(());
    }
    if let Some(n) = opts.create_queues {
        return queues::create_queues(&opts, &relays, n).await;
    }
    messages::messages(&opts, &relays, &base).await
}
