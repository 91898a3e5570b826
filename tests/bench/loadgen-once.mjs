// One bounded loadgen run against a fresh `sotto-relay dev --ephemeral` (5 relays) of the same
// binary, for hand-run A/B comparisons of two relay builds (BENCHMARKS.md §3, "hand-run").
// Prints loadgen's LOADGEN_JSON line. Run it under `flock /tmp/bench.lock`:
//
//   SOTTO_RELAY_BIN=/path/to/sotto-relay node bench/loadgen-once.mjs RATE [SEED]
import { spawnSync } from 'node:child_process';
import { startDev } from '../e2e/harness.mjs';

const BIN = process.env.SOTTO_RELAY_BIN;
const [rate = '300', seed = '1'] = process.argv.slice(2);
const HTTP = 18270;
const dev = await startDev({ httpPort: HTTP, wsBasePort: 19371, relays: 5 });
try {
  const r = spawnSync(BIN, ['loadgen', '--directory', `http://127.0.0.1:${HTTP}/directory.json`,
    '--seed', seed, '--rate', rate, '--duration', '6', '--warmup', '1', '--drain', '3', '--pairs', '10'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = `${r.stdout}\n${r.stderr}`.split('\n').reverse().find((l) => l.startsWith('LOADGEN_JSON '));
  if (!line) throw new Error(`loadgen printed no LOADGEN_JSON (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  process.stderr.write(r.stdout);
  console.log(line);
} finally {
  await dev.stop();
}
