// The browser half of `make bench`: every contender runs the same operation on the same inputs
// in this one page, in interleaved rounds, and the runner (run.mjs) takes the median per-op
// time over the rounds. Every library is called the way its users call it: from JavaScript,
// one operation per call, bytes in and bytes out (Sotto through the bench-only exports of
// crates/sotto-wasm/src/bench.rs, which run the same sotto-proto code paths as the app).
import sodium from 'libsodium-wrappers';
import { x25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';

const out = document.getElementById('out');
const log = (line) => { out.textContent += `\n${line}`; };

async function loadSotto() {
  try {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    if (typeof mod.benchX25519Dh !== 'function') return { error: 'pkg has no bench exports' };
    return { mod };
  } catch (e) {
    return { error: String(e && e.message || e) };
  }
}

function fill(n, seed) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/// Builds the table of operations × contenders. A contender is `{ run, async?, per? }`:
/// `run(n)` performs n operations (awaited when async); `per` > 1 means one call of run(1)
/// already performs `per` operations (in-wasm loops).
async function contenders(sotto) {
  await sodium.ready;
  const sk = fill(32, 7);
  const pk = sodium.crypto_scalarmult_base(fill(32, 9));
  const key = fill(32, 3);
  const nonce = fill(12, 5);
  const msg1k = fill(1024, 1);
  const msg64k = fill(65536, 2);

  // WebCrypto keys for the same DH (Chromium has X25519 in SubtleCrypto; it has no ChaCha20).
  let wc = null;
  try {
    const pair = await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
    const peer = await crypto.subtle.importKey('raw', pk, { name: 'X25519' }, true, []);
    wc = { priv: pair.privateKey, peer };
  } catch (e) {
    log(`WebCrypto X25519 unavailable: ${e}`);
  }

  let sink = 0;
  const ONE = [1];
  const ZERO = [0];
  const loop = (f) => (n) => { for (let i = 0; i < n; i++) sink ^= f()[0]; };
  const aloop = (f) => async (n) => { for (let i = 0; i < n; i++) await f(); };
  const ops = {};
  const s = sotto && sotto.mod;

  ops['x25519-keygen'] = {
    ...(s && { sotto: { run: loop(() => s.benchX25519Keygen()) } }),
    libsodium: { run: loop(() => sodium.crypto_box_keypair().publicKey) },
    noble: { run: loop(() => x25519.keygen().publicKey) },
    ...(wc && { webcrypto: { async: true, run: aloop(() => crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])) } }),
  };
  ops['x25519-dh'] = {
    // sotto-proto never hands a shared secret out: its export returns a bool (contributory);
    // benchX25519DhEquals cross-checks the bytes below.
    ...(s && { sotto: { run: loop(() => (s.benchX25519Dh(sk, pk) ? ONE : ZERO)) } }),
    libsodium: { run: loop(() => sodium.crypto_scalarmult(sk, pk)) },
    noble: { run: loop(() => x25519.getSharedSecret(sk, pk)) },
    ...(wc && { webcrypto: { async: true, run: aloop(() => crypto.subtle.deriveBits({ name: 'X25519', public: wc.peer }, wc.priv, 256)) } }),
  };
  for (const [name, msg] of [['chacha-seal-1k', msg1k], ['chacha-seal-64k', msg64k]]) {
    ops[name] = {
      ...(s && { sotto: { run: loop(() => s.benchChachaSeal(key, nonce, msg)) } }),
      libsodium: { run: loop(() => sodium.crypto_aead_chacha20poly1305_ietf_encrypt(msg, null, null, nonce, key)) },
      noble: { run: loop(() => chacha20poly1305(key, nonce).encrypt(msg)) },
    };
  }
  if (s) {
    // Onion packet cost in DH-equivalents: both loops run inside wasm, so the ratio holds
    // no JS-boundary cost.
    ops['build-3hop-packet'] = { sotto: { run: (n) => { sink ^= s.benchBuildPacket(n); } } };
    ops['x25519-dh-in-wasm'] = { sotto: { run: (n) => { sink ^= s.benchX25519DhLoop(n); } } };
    // The packet build's scalar multiplications alone (sphinx-packet's key derivation).
    if (s.benchSphinxKeyDerive) {
      ops['sphinx-key-derive-3hop'] = { sotto: { run: (n) => { sink ^= s.benchSphinxKeyDerive(n); } } };
    }
  }
  // Sanity: the same inputs give the same outputs across libraries.
  const ref = sodium.crypto_scalarmult(sk, pk);
  const eq = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const checks = { noble_dh: eq(x25519.getSharedSecret(sk, pk), ref) };
  const sealRef = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(msg1k, null, null, nonce, key);
  checks.noble_seal = eq(chacha20poly1305(key, nonce).encrypt(msg1k), sealRef);
  if (s) {
    checks.sotto_dh = s.benchX25519DhEquals(sk, pk, ref);
    checks.sotto_seal = eq(s.benchChachaSeal(key, nonce, msg1k), sealRef);
  }
  if (wc) {
    const wsk = await crypto.subtle.importKey('pkcs8', pkcs8(sk), { name: 'X25519' }, false, ['deriveBits']);
    const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: wc.peer }, wsk, 256));
    checks.webcrypto_dh = eq(bits, ref);
  }
  return { ops, checks, sinkRef: () => sink };
}

function pkcs8(sk) {
  // RFC 8410 PrivateKeyInfo for X25519: fixed 16-byte prefix, then the 32-byte key.
  const prefix = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];
  return new Uint8Array([...prefix, ...sk]);
}

async function timeBatch(c, n) {
  const t0 = performance.now();
  if (c.async) await c.run(n); else c.run(n);
  return performance.now() - t0;
}

/// Runs everything: calibrate each cell to ~targetMs per batch, then `rounds` interleaved
/// rounds (every op, every contender, rotating the contender order). Returns µs per op.
window.runBench = async ({ rounds = 7, targetMs = 120, only = null, who: whoOnly = null } = {}) => {
  const sotto = await loadSotto();
  const { ops, checks } = await contenders(sotto);
  const cells = [];
  for (const [op, cs] of Object.entries(ops)) {
    if (only && !only.includes(op)) continue;
    for (const [who, c] of Object.entries(cs)) {
      if (!whoOnly || whoOnly.includes(who)) cells.push({ op, who, c, samples: [] });
    }
  }
  for (const cell of cells) {
    // warm-up and calibration: grow n until a batch takes >= 30 ms
    let n = 1;
    let ms = await timeBatch(cell.c, n);
    while (ms < 30) { n *= 2; ms = await timeBatch(cell.c, n); }
    cell.n = Math.max(1, Math.round(n * targetMs / ms));
  }
  for (let r = 0; r < rounds; r++) {
    const byOp = new Map();
    for (const cell of cells) {
      if (!byOp.has(cell.op)) byOp.set(cell.op, []);
      byOp.get(cell.op).push(cell);
    }
    for (const group of byOp.values()) {
      for (let i = 0; i < group.length; i++) {
        const cell = group[(i + r) % group.length];
        const ms = await timeBatch(cell.c, cell.n);
        cell.samples.push((ms * 1000) / cell.n);
      }
    }
    log(`round ${r + 1}/${rounds} done`);
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const results = {};
  for (const cell of cells) {
    (results[cell.op] ??= {})[cell.who] = {
      us_per_op: median(cell.samples),
      samples_us: cell.samples,
      ops_per_batch: cell.n,
    };
  }
  return {
    results,
    checks,
    sotto_error: sotto.error ?? null,
    libsodium_version: sodium.SODIUM_VERSION_STRING ?? null,
    user_agent: navigator.userAgent,
    hardware_concurrency: navigator.hardwareConcurrency,
    rounds,
  };
};
out.textContent = 'ready';
window.benchReady = true;
