// Key rotation never strands an open page (issue 13, "Rotation and clocks"): relays rotate
// their Sphinx keys every 40 s and keep the previous one for 10 s (the least they may:
// sotto_proto::directory::KEY_REREAD_MARGIN_SECS). Two pages stay open for two minutes (three
// rotations) while one sends a message every 8 s: every send resolves and every message
// arrives, because the library reads the directory again just after each announced rotation
// and subscribes its queues again with reply blocks for the new keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, person as open, call } from './harness.mjs';

const net = useNetwork({
  httpPort: 18190,
  wsBasePort: 20401,
  extraArgs: ['--key-epoch-secs', '40', '--key-overlap-secs', '10'],
});

const person = (displayName) => open(net, { storage: 'memory', displayName });

async function epoch() {
  const dir = await (await fetch(`${net.url.replace(/\/$/, '')}/directory.json`)).json();
  return Math.max(...dir.relays.map((r) => r.key_epoch));
}

test('an open page sends a message every 8 s across three key rotations, all delivered', async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');
  const { value: link, error } = await call(alice.page, 'createInvitation');
  assert.ok(link, JSON.stringify(error));
  const accepted = await call(bob.page, 'acceptInvitation', [link]);
  assert.ok(accepted.value, JSON.stringify(accepted));
  let contact;
  for (let i = 0; i < 60 && !contact; i += 1) {
    contact = await alice.page.evaluate(async () => (await window.__me.contacts())[0]?.id);
    if (!contact) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(contact, 'Alice has Bob as a contact');
  const firstEpoch = await epoch();

  const texts = [];
  const failures = [];
  const started = Date.now();
  for (let i = 0; Date.now() - started < 120_000; i += 1) {
    const text = `message ${i}`;
    texts.push(text);
    const sent = await call(alice.page, 'send', [contact, text]);
    if (!sent.value) failures.push(`${text}: ${JSON.stringify(sent.error)}`);
    const wait = 8_000 - ((Date.now() - started) % 8_000);
    await new Promise((r) => setTimeout(r, wait));
  }
  assert.ok(await epoch() >= firstEpoch + 2, 'the relays rotated their keys meanwhile');
  assert.deepEqual(failures, [], 'every send was acknowledged within its bound');
  assert.ok(texts.length >= 14, `${texts.length} messages`);
  await bob.page.waitForFunction(
    (n) => window.__received.length >= n, texts.length, { timeout: 60_000 }).catch(() => {});
  assert.deepEqual(await bob.page.evaluate(() => window.__received.map((m) => m.text)), texts);
  for (const p of [alice, bob]) await p.context.close();
});
