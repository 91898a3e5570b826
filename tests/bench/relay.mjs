// The relay half of `make bench`: `sotto-relay dev --ephemeral` on loopback ports of its own,
// driven by `sotto-relay loadgen` at bounded rates and durations, then relay memory with 10,000
// queues (rss.mjs); prints one JSON object ({ rows: [...] }) for report.mjs. Needs
// SOTTO_RELAY_BIN (a release build); BENCH_RSS_SECONDS bounds the queue creation (default 180).
//
//   SOTTO_RELAY_BIN=target/release/sotto-relay node bench/relay.mjs > relay.json
import { spawnSync } from 'node:child_process';
import { startDev } from '../e2e/harness.mjs';
import { queuesRss } from './rss.mjs';

const BIN = process.env.SOTTO_RELAY_BIN;
const HTTP = 18200;
const dev = await startDev({ httpPort: HTTP, wsBasePort: 19301, relays: 5 });
const directory = `http://127.0.0.1:${HTTP}/directory.json`;

// Each run gets a seed of its own: a seed fixes the clients' keys and queue ids, and queues
// already secured by an earlier run on the same network would refuse the next one.
let seed = 0;
function loadgen(args) {
  seed += 1;
  const r = spawnSync(BIN, ['loadgen', '--directory', directory, '--seed', String(seed), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = `${r.stdout}\n${r.stderr}`.split('\n').reverse().find((l) => l.startsWith('LOADGEN_JSON '));
  if (!line) throw new Error(`loadgen ${args.join(' ')} printed no LOADGEN_JSON (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  process.stderr.write(`${line}\n`);
  return JSON.parse(line.slice('LOADGEN_JSON '.length));
}

const ms = (v) => (typeof v === 'number' ? `${v.toFixed(2)} ms` : '—');
const pick = (o, ...keys) => keys.map((k) => o?.[k]).find((v) => v != null);
let rows = [];
try {
  const echo = loadgen(['--echo', '--duration', '3']);
  const floor = (o) => pick(o, 'p50', 'p50_ms');
  const runs = {};
  for (const rate of [100, 300, 500]) {
    runs[rate] = loadgen(['--rate', String(rate), '--duration', '6', '--warmup', '1', '--drain', '3', '--pairs', '10']);
  }
  const r500 = runs[500];
  const perCore = r500?.relay?.frames_per_s_per_core;
  rows.push({
    what: 'relay throughput at 500 msg/s offered, frames/s per core (relay process)',
    sotto: perCore == null ? '—' : Math.round(perCore).toLocaleString('en-US'),
    alternative: r500?.x25519_per_s ? `bare X25519 on this machine: ${Math.round(r500.x25519_per_s).toLocaleString('en-US')}/s` : '—',
    ratio: r500?.relay?.per_core_vs_x25519 != null ? `${r500.relay.per_core_vs_x25519.toFixed(2)}× the DH rate` : '—',
    goal: '—',
    verdict: '—',
  });
  // Issue 18's goals: at 300 msg/s offered p50 ≤ 5 ms and p99 ≤ 25 ms; at 500, ≥ 450 achieved.
  const per = runs[300]?.per_delivered_message;
  rows.push({
    what: 'per delivered message at 300 msg/s offered: packet-hops / relay state-machine CPU (all relays)',
    sotto: per ? `${per.packet_hops.toFixed(1)} hops / ${Math.round(per.relay_cpu_us)} µs` : '—',
    alternative: runs[300]?.x25519_per_s ? `one bare X25519: ${(1e6 / runs[300].x25519_per_s).toFixed(0)} µs` : '—',
    ratio: per && runs[300]?.x25519_per_s ? `${(per.relay_cpu_us * runs[300].x25519_per_s / 1e6).toFixed(1)} DH of CPU` : '—',
    goal: '—',
    verdict: '—',
  });
  for (const rate of [100, 300, 500]) {
    const r = runs[rate];
    const lat = r.latency_ms ?? {};
    const p50 = pick(lat, 'p50'); const p99 = pick(lat, 'p99');
    const e50 = floor(echo.rtt_ms ?? r.echo_floor_ms);
    const achieved = r.throughput_msgs_per_s;
    const goal = { 300: 'p50 ≤ 5 ms, p99 ≤ 25 ms', 500: '≥ 450 msg/s achieved' }[rate] ?? '—';
    const met = { 300: p50 != null && p99 != null && p50 <= 5 && p99 <= 25, 500: achieved != null && achieved >= 450 }[rate];
    const ok = met == null ? '—' : met ? '**met**' : '**missed**';
    rows.push({
      what: `3-hop latency p50 / p99 at ${rate} msg/s offered (${r.delivered ?? '?'} delivered, ${r.lost ?? '?'} lost, ${r.throughput_msgs_per_s?.toFixed?.(0) ?? '?'} msg/s achieved)`,
      sotto: `${ms(p50)} / ${ms(p99)}`,
      alternative: `bare WebSocket ping→pong through the same stack: p50 ${ms(e50)}`,
      ratio: p50 != null && e50 ? `${(p50 / e50).toFixed(1)}× the floor` : '—',
      goal,
      verdict: ok,
    });
  }
} finally {
  await dev.stop();
}
rows.push(await rssRow());

/// Relay memory with 10,000 queues; a row that says why when it could not be measured.
async function rssRow() {
  const QUEUES = 10_000;
  const row = { what: 'relay RSS with 10,000 queues', alternative: '—', ratio: '—', goal: '≤ 150 MB' };
  let r;
  try {
    r = await queuesRss({ bin: BIN, queues: QUEUES, deadlineMs: Number(process.env.BENCH_RSS_SECONDS ?? 180) * 1000 });
  } catch (e) {
    process.stderr.write(`relay RSS: ${e.stack ?? e}\n`);
    return { ...row, sotto: 'not measured', verdict: `not measured: ${String(e.message ?? e).split('\n')[0]}` };
  }
  const mb = (kib) => `${((kib * 1024) / 1e6).toFixed(1)} MB`;
  const total = (s) => s.rss_kib.reduce((a, b) => a + b, 0);
  const first = r.steps[0];
  const last = r.steps.at(-1);
  const perProcess = last.rss_kib.map(mb).join(' + ');
  const how = `${r.relays} \`sotto-relay run\` relays, queues created and subscribed with 8 SURBs each by \`loadgen --create-queues\` in ${r.steps.length - 1} step${r.steps.length > 2 ? 's' : ''}, ${last.seconds.toFixed(0)} s (proof of work ${r.pow_bits} bits); sum of the relays' VmRSS: ${perProcess}, ${mb(total(first))} before`;
  process.stderr.write(`relay RSS: ${last.queues} queues, ${mb(total(last))} (${perProcess}); ${JSON.stringify(r.steps)}\n`);
  if (last.queues < QUEUES) {
    const perQueue = (total(last) - total(first)) / last.queues;
    const estimate = total(first) + perQueue * QUEUES;
    return { ...row, what: `${row.what} (${how})`, sotto: `${mb(total(last))} with ${last.queues.toLocaleString('en-US')} queues; ~${mb(estimate)} at 10,000, extrapolated`, verdict: `not measured: only ${last.queues.toLocaleString('en-US')} queues in the time bound (BENCH_RSS_SECONDS)` };
  }
  const ok = (total(last) * 1024) / 1e6 <= 150;
  return { ...row, what: `${row.what} (${how})`, sotto: mb(total(last)), verdict: ok ? '**met**' : '**missed**' };
}
process.stdout.write(`${JSON.stringify({ rows }, null, 1)}\n`);
