// The ChaCha20-Poly1305 seal in node's V8, for comparing bench builds of sotto-wasm with one
// another and with libsodium.js in one process (issue 18, BENCHMARKS.md §1 "Poly1305 with wasm
// SIMD"): every build and libsodium.js take turns, batch after batch (~2 MB sealed per batch,
// rotating order), and the fastest batch of each is printed (on a loaded shared machine it is the
// batch least disturbed by other work), with the median beside it. Outputs are checked equal
// to libsodium's first. A hand-run tool, not part of `make bench`.
//
//   node bench/seal-node.mjs SIZE BATCHES PKG...   (PKG: a bench build's wasm-bindgen --target web dir)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import sodium from 'libsodium-wrappers';

await sodium.ready;
const [size, batches] = process.argv.slice(2, 4).map(Number);
const builds = [];
for (const dir of process.argv.slice(4).map((d) => resolve(d))) {
  const build = await import(`${dir}/sotto.js`);
  build.initSync({ module: readFileSync(`${dir}/sotto_bg.wasm`) });
  builds.push([dir, build]);
}
const key = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(12).fill(9);
const msg = new Uint8Array(size).map((_, i) => i * 31);
const seal = () => sodium.crypto_aead_chacha20poly1305_ietf_encrypt(msg, null, null, nonce, key);
const expected = seal();
for (const [dir, build] of builds) {
  const out = build.benchChachaSeal(key, nonce, msg);
  if (out.length !== expected.length || out.some((v, i) => v !== expected[i])) {
    throw new Error(`${dir}: not libsodium's ciphertext`);
  }
}
const perBatch = Math.max(1, Math.round(2e6 / size));
const contenders = [['libsodium.js', seal], ...builds.map(([dir, b]) => [dir, () => b.benchChachaSeal(key, nonce, msg)])];
const times = contenders.map(() => []);
for (let batch = 0; batch < batches; batch++) {
  for (let k = 0; k < contenders.length; k++) {
    const i = (batch + k) % contenders.length;
    const start = performance.now();
    for (let n = 0; n < perBatch; n++) contenders[i][1]();
    times[i].push(((performance.now() - start) * 1000) / perBatch);
  }
}
const fastest = times.map((t) => Math.min(...t));
const median = (t) => t.slice().sort((a, b) => a - b)[t.length >> 1];
contenders.forEach(([name], i) => {
  console.log(`${name}: fastest ${fastest[i].toFixed(1)} µs (median ${median(times[i]).toFixed(1)}), ` +
    `libsodium.js / this ${(fastest[0] / fastest[i]).toFixed(2)}×`);
});
