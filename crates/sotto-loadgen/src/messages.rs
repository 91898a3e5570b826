//! The messages mode: pairs of clients introduced through invitations exchange timestamped
//! texts at the offered rate; the report gives throughput, latency, losses and the relays' view.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::json;
use sotto_proto::client::{Client, ClientConfig, ContactId, Event};
use sotto_proto::directory::RelayDescriptor;
use sotto_proto::envelope::Content;
use sotto_proto::invitation::Invitation;
use sotto_proto::onion::Hop;
use tokio::sync::mpsc;

use crate::driver::{NativeClient, fetch_metrics, now};
use crate::echo::echo;
use crate::error::{LoadgenError, failed};
use crate::options::LoadgenOptions;
use crate::report::{json_line, print_summary, summarize, x25519_rate};

enum Cmd {
    CreateInvitation,
    Accept(Invitation),
    Send { contact: ContactId, seq: u64 },
}

enum Up {
    Invitation(usize, Invitation),
    Contact(usize, ContactId),
    Delivered { seq: u64, sent_ns: u64, at_ns: u64 },
    Sent,
    Failed(String),
    Gone(usize, String),
}

/// A text's header: `lg SEQ SENT_NS `; the rest is padding.
fn text_for(seq: u64, sent_ns: u64, size: usize) -> String {
    let mut t = format!("lg {seq} {sent_ns} ");
    while t.len() < size {
        t.push('.');
    }
    t
}

fn parse_text(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split(' ');
    (it.next()? == "lg").then_some(())?;
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

struct ClientTask {
    index: usize,
    driver: NativeClient,
    url: String,
    rng: ChaCha20Rng,
    epoch: Instant,
    size: usize,
}

impl ClientTask {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, up: mpsc::UnboundedSender<Up>) {
        let result = self.run_inner(&mut cmds, &up).await;
        if let Err(e) = result {
            let _ = up.send(Up::Gone(self.index, e));
        }
    }

    async fn run_inner(
        &mut self,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        up: &mpsc::UnboundedSender<Up>,
    ) -> Result<(), String> {
        let mut frames = self
            .driver
            .connect(&self.url, &mut self.rng)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            // Wake when the client has time-driven work (a retry, a renewal), not on a fixed tick.
            let wake = tokio::time::sleep(self.driver.next_wake());
            let client = &mut self.driver.client;
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => return Ok(()),
                    Some(Cmd::CreateInvitation) => {
                        client
                            .create_invitation(&mut self.rng, now())
                            .map_err(|e| e.to_string())?;
                    }
                    Some(Cmd::Accept(inv)) => {
                        client
                            .accept_invitation(&mut self.rng, inv, now())
                            .map_err(|e| e.to_string())?;
                    }
                    Some(Cmd::Send { contact, seq }) => {
                        let sent_ns = self.epoch.elapsed().as_nanos() as u64;
                        let text = text_for(seq, sent_ns, self.size);
                        client
                            .send_text(&mut self.rng, contact, &text, now())
                            .map_err(|e| e.to_string())?;
                    }
                },
                frame = frames.next() => match frame {
                    Some(Ok(frame)) => self.driver.handle(&mut self.rng, &frame),
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("the gateway closed the connection".into()),
                },
                _ = wake => self.driver.tick(&mut self.rng),
            }
            while let Some(event) = self.driver.client.poll_event() {
                let at_ns = self.epoch.elapsed().as_nanos() as u64;
                let msg = match event {
                    Event::InvitationReady { invitation, .. } => {
                        Up::Invitation(self.index, invitation)
                    }
                    Event::ContactAdded { contact, .. } => Up::Contact(self.index, contact),
                    Event::Message { envelope, .. } => match envelope.content {
                        Content::Text(t) => match parse_text(&t) {
                            Some((seq, sent_ns)) => Up::Delivered {
                                seq,
                                sent_ns,
                                at_ns,
                            },
                            None => continue,
                        },
                        _ => continue,
                    },
                    Event::Sent { .. } => Up::Sent,
                    other => match (other.what(), other.error()) {
                        (Some(what), Some(error)) => Up::Failed(format!("{what}: {error}")),
                        _ => continue,
                    },
                };
                let _ = up.send(msg);
            }
            self.driver.transmit().await.map_err(|e| e.to_string())?;
        }
    }
}

/// The default mode: pairs of clients exchange texts at the offered rate; prints the report.
pub(crate) async fn messages(
    opts: &LoadgenOptions,
    relays: &[RelayDescriptor],
    base: &str,
) -> Result<(), LoadgenError> {
    let dir: Vec<(Hop, String)> = relays.iter().map(|r| (r.hop(), r.url.clone())).collect();
    let dir = dir.as_slice();
    let mut rng = opts.rng()?;
    let x25519 = x25519_rate(&mut rng);
    println!("bare X25519: {x25519:.0} DH/s on one core");
    let mut floor = echo(dir, 2.0, 500).await?;
    let floor = summarize(&mut floor);
    print_summary("websocket ping->pong floor", &floor);

    let hops: Vec<Hop> = dir.iter().map(|(h, _)| *h).collect();
    let epoch = Instant::now();
    let (up_tx, mut up) = mpsc::unbounded_channel();
    let mut cmd_tx = Vec::new();
    let config = ClientConfig {
        pow_bits: opts.pow_bits,
        ..ClientConfig::default()
    };
    for i in 0..2 * opts.pairs {
        let g = i % dir.len();
        let (hop, url) = dir
            .get(g)
            .cloned()
            .ok_or_else(|| failed("empty directory"))?;
        let mut client = Client::new(
            &mut rng,
            hops.clone(),
            hop.id,
            &format!("lg{i}"),
            config.clone(),
        )
        .map_err(|e| failed(format!("client: {e}")))?;
        // Each relay's key epoch and difficulty, for the work our queues and blobs carry.
        client
            .update_directory(&mut rng, relays, crate::driver::now())
            .map_err(|e| failed(format!("client: {e}")))?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let (tx, rx) = mpsc::unbounded_channel();
        cmd_tx.push(tx);
        let task = ClientTask {
            index: i,
            driver: NativeClient::new(client),
            url,
            rng: ChaCha20Rng::from_seed(seed),
            epoch,
            size: opts.size,
        };
        tokio::spawn(task.run(rx, up_tx.clone()));
    }
    drop(up_tx);

    // Introductions: client 2k invites client 2k+1.
    let setup = Instant::now();
    for k in 0..opts.pairs {
        let _ = cmd_tx.get(2 * k).map(|t| t.send(Cmd::CreateInvitation));
    }
    let mut contacts: Vec<Option<ContactId>> = vec![None; 2 * opts.pairs];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while contacts.iter().any(Option::is_none) {
        let got = tokio::time::timeout_at(deadline, up.recv())
            .await
            .map_err(|_| {
                failed(format!(
                    "set-up timed out: {} of {} clients have their contact",
                    contacts.iter().flatten().count(),
                    contacts.len()
                ))
            })?;
        match got {
            Some(Up::Invitation(i, inv)) => {
                let _ = cmd_tx.get(i + 1).map(|t| t.send(Cmd::Accept(inv)));
            }
            Some(Up::Contact(i, c)) => {
                if let Some(slot) = contacts.get_mut(i) {
                    *slot = Some(c);
                }
            }
            Some(Up::Gone(i, e)) => return Err(failed(format!("client {i}: {e}"))),
            Some(Up::Failed(e)) => return Err(failed(format!("set-up failed: {e}"))),
            Some(_) => {}
            None => return Err(failed("all clients stopped")),
        }
    }
    let contacts: Vec<ContactId> = contacts.into_iter().flatten().collect();
    println!(
        "set up {} pairs in {:.1} s",
        opts.pairs,
        setup.elapsed().as_secs_f64()
    );

    let before = fetch_metrics(base).await;
    let warmup_msgs = (opts.warmup * opts.rate).round() as u64;
    let total_msgs = warmup_msgs + (opts.duration * opts.rate).round() as u64;
    let mut sent_at: Vec<Option<u64>> = vec![None; total_msgs as usize];
    let mut delivered = vec![false; total_msgs as usize];
    let mut latencies = Vec::new();
    let mut duplicates = 0u64;
    let mut failures = Vec::new();
    let mut confirmed = 0u64;
    let mut measure_start_ns = None;
    let mut last_delivery_ns = 0u64;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut drain_deadline: Option<Instant> = None;
    let mut handle = |msg: Up,
                      delivered: &mut Vec<bool>,
                      latencies: &mut Vec<f64>,
                      last: &mut u64|
     -> Result<(), LoadgenError> {
        match msg {
            Up::Delivered {
                seq,
                sent_ns,
                at_ns,
            } => {
                let Some(slot) = delivered.get_mut(seq as usize) else {
                    return Ok(());
                };
                if *slot {
                    duplicates += 1;
                    return Ok(());
                }
                *slot = true;
                if seq >= warmup_msgs {
                    latencies.push(at_ns.saturating_sub(sent_ns) as f64 / 1e6);
                    *last = (*last).max(at_ns);
                }
            }
            Up::Sent => confirmed += 1,
            Up::Failed(e) => failures.push(e),
            Up::Gone(i, e) => return Err(failed(format!("client {i}: {e}"))),
            _ => {}
        }
        Ok(())
    };
    loop {
        if seq >= total_msgs && drain_deadline.is_none() {
            drain_deadline = Some(Instant::now() + Duration::from_secs_f64(opts.drain));
        }
        if let Some(d) = drain_deadline {
            let measured_done = delivered.iter().skip(warmup_msgs as usize).all(|d| *d);
            if measured_done || Instant::now() >= d {
                break;
            }
        }
        tokio::select! {
            _ = ticker.tick(), if seq < total_msgs => {
                let due = ((start.elapsed().as_secs_f64() * opts.rate) as u64).min(total_msgs);
                while seq < due {
                    let k = (seq as usize) % opts.pairs;
                    let dir_bit = ((seq as usize) / opts.pairs) % 2;
                    let from = 2 * k + dir_bit;
                    if seq == warmup_msgs {
                        measure_start_ns = Some(epoch.elapsed().as_nanos() as u64);
                    }
                    if let (Some(tx), Some(contact)) = (cmd_tx.get(from), contacts.get(from)) {
                        let _ = tx.send(Cmd::Send { contact: *contact, seq });
                    }
                    if let Some(s) = sent_at.get_mut(seq as usize) {
                        *s = Some(epoch.elapsed().as_nanos() as u64);
                    }
                    seq += 1;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)), if seq >= total_msgs => {}
            got = up.recv() => match got {
                Some(msg) => handle(msg, &mut delivered, &mut latencies, &mut last_delivery_ns)?,
                None => return Err(failed("all clients stopped")),
            },
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(cmd_tx);
    let after = fetch_metrics(base).await;

    let measured = total_msgs.saturating_sub(warmup_msgs);
    let got = latencies.len() as u64;
    let lost = measured.saturating_sub(got);
    let window_ns = last_delivery_ns.saturating_sub(measure_start_ns.unwrap_or(0));
    let throughput = if window_ns > 0 {
        got as f64 / (window_ns as f64 / 1e9)
    } else {
        0.0
    };
    let lat = summarize(&mut latencies);
    let d = |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let received = d("sotto_relay_packets_received_total");
    let forwarded = d("sotto_relay_packets_forwarded_total");
    let proc_n = d("sotto_relay_process_seconds_count");
    let proc_s = d("sotto_relay_process_seconds_sum");
    let commit_n = d("sotto_relay_store_commit_seconds_count");
    let commit_s = d("sotto_relay_store_commit_seconds_sum");
    let dropped = d("sotto_relay_dropped_total");
    let per_core = if proc_s > 0.0 { proc_n / proc_s } else { 0.0 };
    // Everything the relays did between the two snapshots, per message delivered in that time
    // (the warm-up's too): packet-hops (frames a relay received: forwards, requests, replies and
    // deliveries alike) and the state machine's CPU time, over all relays.
    let delivered_all = delivered.iter().filter(|d| **d).count() as f64;
    let per_message = |v: f64| {
        if delivered_all > 0.0 {
            v / delivered_all
        } else {
            0.0
        }
    };
    let hops_per_msg = per_message(received);
    let cpu_us_per_msg = per_message(proc_s) * 1e6;
    let commit_us_per_msg = per_message(commit_s) * 1e6;
    let mean_proc_us = if proc_n > 0.0 {
        proc_s / proc_n * 1e6
    } else {
        0.0
    };
    let mean_commit_us = if commit_n > 0.0 {
        commit_s / commit_n * 1e6
    } else {
        0.0
    };

    let mut report = String::new();
    let _ = writeln!(
        report,
        "offered {:.0} msg/s for {:.0} s (+{:.0} s warm-up), {} pairs, {} chars per text",
        opts.rate, opts.duration, opts.warmup, opts.pairs, opts.size
    );
    let _ = writeln!(
        report,
        "delivered {got} of {measured} measured messages: throughput {throughput:.1} msg/s, lost {lost}, duplicates {duplicates}, relay-confirmed sends {confirmed}, failures {}",
        failures.len()
    );
    print!("{report}");
    print_summary("end-to-end latency (send_text -> Event::Message)", &lat);
    println!(
        "relays: {:.0} packets/s received, {:.0} forwarded/s, {dropped:.0} dropped; \
         {mean_proc_us:.1} µs per frame in the state machine ({per_core:.0} frames/s/core, \
         {:.2}x the bare X25519 rate); store commit {mean_commit_us:.0} µs mean over {commit_n:.0}",
        received / elapsed,
        forwarded / elapsed,
        if x25519 > 0.0 { per_core / x25519 } else { 0.0 },
    );
    println!(
        "per delivered message: {hops_per_msg:.1} packet-hops, {cpu_us_per_msg:.0} µs of relay \
         state-machine CPU, {commit_us_per_msg:.0} µs of store commit (over {delivered_all:.0} messages)"
    );
    for f in failures.iter().take(5) {
        println!("failure: {f}");
    }
    json_line(&json!({
        "mode": "messages",
        "relays": dir.len(),
        "offered_rate": opts.rate,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "pairs": opts.pairs,
        "size": opts.size,
        "measured": measured,
        "delivered": got,
        "lost": lost,
        "duplicates": duplicates,
        "failures": failures.len(),
        "throughput_msgs_per_s": throughput,
        "latency_ms": lat,
        "echo_floor_ms": floor,
        "x25519_per_s": x25519,
        "relay": {
            "packets_received_per_s": received / elapsed,
            "packets_forwarded_per_s": forwarded / elapsed,
            "dropped": dropped,
            "process_mean_us": mean_proc_us,
            "frames_per_s_per_core": per_core,
            "per_core_vs_x25519": if x25519 > 0.0 { per_core / x25519 } else { 0.0 },
            "store_commit_mean_us": mean_commit_us,
            "store_commits": commit_n,
        },
        "per_delivered_message": {
            "packet_hops": hops_per_msg,
            "relay_cpu_us": cpu_us_per_msg,
            "store_commit_us": commit_us_per_msg,
        },
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_carry_their_sequence_and_send_time() {
        assert_eq!(parse_text(&text_for(7, 123, 40)), Some((7, 123)));
        assert_eq!(text_for(7, 123, 40).len(), 40);
    }
}
