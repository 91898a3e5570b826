#!/usr/bin/env python3
"""Splits the CPU of relay-profile.sh runs per delivered message (BENCHMARKS.md §3–5, "Where the
CPU goes"). Usage: relay-profile.py OUT... (directories written by relay-profile.sh, PERF=1 for
the split by kind of work). Prints, averaged over the runs: each process's CPU (ms per delivered
message, from /proc), the thread-seconds it spent runnable but waiting for a CPU, the machine's
busy cores, and with perf data the split of each process's CPU by the leaf symbol's kind."""
import collections
import json
import re
import subprocess
import sys

KINDS = [
    ('X25519 (curve25519-dalek)', r'curve25519|x25519'),
    ('Sphinx symmetric: Lioness/ChaCha20, SHA-256, BLAKE2, HMAC',
     r'chacha|lioness|Lioness|poly1305|stream_cipher|sha2|sha256|Sha256|hmac|hkdf|blake|digest'),
    ('redb (queue store, replay cache)', r'redb'),
    ('malloc/free, memcpy/memset', r'mem(cpy|move|set)|malloc|free|realloc|_int_|tcache'),
    ('WebSocket (tungstenite), tokio, channels', r'tungstenite|tokio|futures|mio|std::sync'),
]


def kind(sym, dso):
    if 'kernel' in dso:
        if re.search(r'fsync|ext4|jbd2|blk|virtio|vp_notify|iowrite|file_write|filemap|writeback', sym):
            return 'kernel: fsync, file writes'
        if re.search(r'futex|schedule|switch|sched|wake|hrtimer|epoll|ep_|eventfd|ipi|irqentry|raw_spin', sym):
            return 'kernel: wakeups, context switches, futex/epoll/eventfd'
        return 'kernel: TCP over loopback, other syscalls'
    for name, rx in KINDS:
        if re.search(rx, sym):
            return name
    return 'other (sotto-proto, sphinx-packet, serde, std)'


def threads(path):
    rows = {}
    for line in open(path):
        f = line.split()
        if len(f) == 6:
            rows[(f[0], f[1], len(rows))] = (f[0], int(f[2]) + int(f[3]), int(f[5]))
    by = collections.Counter()
    wait = collections.Counter()
    for pid, ticks, waited in rows.values():
        by[pid] += ticks / 100
        wait[pid] += waited / 1e9
    return by, wait


def perf_kinds(d):
    out = subprocess.run(['perf', 'script', '-i', f'{d}/perf.data', '-F', 'pid,comm,ip,sym,dso'],
                         capture_output=True, text=True).stdout
    counts, pid, leaf = collections.Counter(), None, False
    for line in out.split('\n'):
        if not line.strip():
            pid = None
        elif not line.startswith((' ', '\t')):
            pid, leaf = line.split()[1], True
        elif pid and leaf:
            m = re.match(r'\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$', line)
            counts[(pid, kind(*(m.groups() if m else ('?', '?'))))] += 1
            leaf = False
    return counts


total = collections.defaultdict(list)
split = collections.defaultdict(float)
runs = sys.argv[1:]
for d in runs:
    res = json.load(open(f'{d}/result.json'))
    rate = res['throughput_msgs_per_s']
    dev, lg = open(f'{d}/pids').read().split()
    secs = float(open(f'{d}/t1').read()) - float(open(f'{d}/t0').read())
    (c0, w0), (c1, w1) = threads(f'{d}/cpu0'), threads(f'{d}/cpu1')
    s0 = [int(x) for x in open(f'{d}/sys0').read().split()[1:]]
    s1 = [int(x) for x in open(f'{d}/sys1').read().split()[1:]]
    busy = (sum(s1) - sum(s0) - (s1[3] - s0[3]) - (s1[4] - s0[4])) / 100 / secs
    ms = {p: (c1[p] - c0[p]) / secs / rate * 1000 for p in (dev, lg)}
    cores = {p: (c1[p] - c0[p]) / secs for p in (dev, lg)}
    waited = {p: (w1[p] - w0[p]) / secs for p in (dev, lg)}
    print(f'{d}: {rate:.1f} msg/s delivered, p50 {res["latency_ms"]["p50"]:.0f} ms, '
          f'p99 {res["latency_ms"]["p99"]:.0f} ms, '
          f'{res["per_delivered_message"]["packet_hops"]:.2f} packet-hops; machine busy {busy:.2f} cores; '
          f'relays {cores[dev]:.2f} cores ({ms[dev]:.2f} ms/msg, runnable-waiting {waited[dev]:.2f}), '
          f'loadgen {cores[lg]:.2f} cores ({ms[lg]:.2f} ms/msg, runnable-waiting {waited[lg]:.2f})')
    for p, name in ((dev, 'relays'), (lg, 'clients (loadgen)')):
        total[name].append(ms[p])
    try:
        counts = perf_kinds(d)
    except (OSError, ValueError):
        counts = {}
    for p, name in ((dev, 'relays'), (lg, 'clients (loadgen)')):
        n = sum(v for (pp, _), v in counts.items() if pp == p)
        for (pp, k), v in counts.items():
            if pp == p and n:
                split[(name, k)] += ms[p] * v / n / len(runs)
for name, values in total.items():
    mean = sum(values) / len(values)
    print(f'{name}: {mean:.2f} ms CPU per delivered message')
    for (nm, k), v in sorted(split.items(), key=lambda x: -x[1]):
        if nm == name:
            print(f'  {k:60s} {v:.3f} ms  {100 * v / mean:3.0f}%')
