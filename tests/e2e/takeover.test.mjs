// The take-over race (issue 12, part 1: one writer per profile): two tabs of one saved
// profile; the second takes it over while the first is sending a burst of 20 messages. Every
// send of the first tab settles (resolved, or rejected with a code); the contact receives each
// message at most once and in order, and every one that resolved; the second tab then sends and
// is received; after both close and the profile opens again, messages flow both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person, openPage, openSotto, call, acquaint, receivedTexts, untilReceived, until,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18361, wsBasePort: 24100 });
const BURST = 20;

test('a take-over in the middle of a burst: every send settles, none is sent twice', async (t) => {
  const profile = { storage: 'indexeddb', profile: 'race', displayName: 'Alice' };
  const alice = await person(net, profile);
  const bob = await person(net, { storage: 'memory', displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  const tab1 = alice.page;

  // Tab 1 hands 20 messages to send() at once; their outcomes are collected as they settle.
  const burst = Array.from({ length: BURST }, (_, i) => `burst #${i}`);
  await tab1.evaluate(({ id, burst }) => {
    window.__outcomes = burst.map(() => null);
    burst.forEach((t, i) => window.__me.send(id, t).then(
      (v) => { window.__outcomes[i] = { value: v.id }; },
      (e) => { window.__outcomes[i] = { code: e.code ?? `not a SottoError: ${e}` }; },
    ));
  }, { id: alicesBob.id, burst });

  // Meanwhile tab 2 takes the profile over.
  const tab2 = await openPage(net, alice.context, alice.errors);
  assert.deepEqual(await openSotto(tab2, { ...profile, takeOver: true }), { ok: true });

  // Every one of tab 1's sends settles within the bound.
  const outcomes = await until(() => tab1.evaluate(() => window.__outcomes),
    (os) => os.every((o) => o !== null), 45_000);
  for (const o of outcomes) assert.ok(o.value || typeof o.code === 'string', JSON.stringify(o));
  const resolved = burst.filter((_, i) => outcomes[i].value);

  // Bob gets each message at most once, in order, and every one that resolved. Tab 2 sends
  // what tab 1 left in the stored outbox; give it time to arrive.
  await new Promise((r) => setTimeout(r, 8_000));
  const got = await receivedTexts(bob.page);
  t.diagnostic(`tab 1: ${resolved.length} resolved, others ${JSON.stringify(outcomes.filter((o) => !o.value))}; Bob got ${got.length}`);
  assert.equal(new Set(got).size, got.length, `no duplicate: ${JSON.stringify(got)}`);
  const order = got.map((t) => burst.indexOf(t));
  assert.ok(order.every((i) => i >= 0), JSON.stringify(got));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `in order: ${JSON.stringify(got)}`);
  for (const t of resolved) assert.ok(got.includes(t), `${t} resolved, so it arrives: ${JSON.stringify(got)}`);

  // Tab 2 sends, Bob receives.
  assert.ok((await call(tab2, 'send', [alicesBob.id, 'from tab 2'])).value);
  await untilReceived(bob.page, [...got, 'from tab 2']);
  assert.ok((await call(bob.page, 'send', [bobsAlice.id, 'to tab 2'])).value);
  await untilReceived(tab2, ['to tab 2']);

  // Both close; the profile opens again and the conversation goes on both ways.
  await tab2.evaluate(() => window.__me.close());
  await tab1.evaluate(() => window.__me.close());
  await tab1.reload();
  assert.deepEqual(await openSotto(tab1, profile), { ok: true });
  await bob.page.evaluate(() => { window.__received = []; });
  for (const t of ['after reopening #1', 'after reopening #2']) {
    assert.ok((await call(tab1, 'send', [alicesBob.id, t])).value, t);
  }
  for (const t of ['to Alice again #1', 'to Alice again #2']) {
    assert.ok((await call(bob.page, 'send', [bobsAlice.id, t])).value, t);
  }
  await untilReceived(bob.page, ['after reopening #1', 'after reopening #2']);
  await untilReceived(tab1, ['to Alice again #1', 'to Alice again #2']);
  assert.deepEqual(await tab1.evaluate(() => window.__errors), []);
  assert.deepEqual(await bob.page.evaluate(() => window.__errors), []);
  assert.deepEqual(alice.errors, []);
  await tab1.evaluate(() => window.__me.wipe());
  await alice.context.close();
  await bob.context.close();
});
