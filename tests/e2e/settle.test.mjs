// Every call settles (issue 14, cases 2 and 8, through the public API of pkg/sotto.js): a used
// one-time link rejects INVALID_INVITATION and adds nothing, for a stranger and for the one who
// used it; retry() of a message that is not waiting rejects INVALID_ARGUMENT and adds nothing.
// The relay-side refusals (a queue past its quota, the back-off that follows) are exercised by
// crates/sotto-proto/tests/settle.rs in virtual time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, person as open, call } from './harness.mjs';

const net = useNetwork({ httpPort: 18170, wsBasePort: 20201 });

/// A person with a memory profile named `displayName`.
const person = (displayName) => open(net, { storage: 'memory', displayName });

test('a used one-time link rejects INVALID_INVITATION and adds no contact', async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');
  const carol = await person('Carol');
  const { value: link } = await call(alice.page, 'createInvitation');
  assert.match(link, /#\/invite\//);

  const first = await call(bob.page, 'acceptInvitation', [link]);
  assert.ok(first.value, `Bob's first use is accepted: ${JSON.stringify(first)}`);

  // Carol, a stranger, uses the same link: refused, and nothing of it remains.
  const carols = await call(carol.page, 'acceptInvitation', [link]);
  assert.equal(carols.error?.name, 'SottoError');
  assert.equal(carols.error?.code, 'INVALID_INVITATION');
  assert.match(carols.error?.message, /already used/);
  assert.deepEqual((await call(carol.page, 'contacts')).value, []);
  assert.deepEqual(await carol.page.evaluate(() => window.__contactEvents), []);

  // Bob using it a second time: refused too, and he keeps exactly one contact.
  const again = await call(bob.page, 'acceptInvitation', [link]);
  assert.equal(again.error?.code, 'INVALID_INVITATION');
  assert.equal((await call(bob.page, 'contacts')).value.length, 1);

  // The conversation made by the first use works.
  const sent = await call(bob.page, 'send', [first.value.id, 'hello Alice']);
  assert.ok(sent.value?.id, `the first contact sends: ${JSON.stringify(sent)}`);
  for (const p of [alice, bob, carol]) await p.context.close();
});

test('retry of a message that is not waiting rejects INVALID_ARGUMENT and adds nothing', async () => {
  const alice = await person('Alice');
  const bob = await person('Bob');
  const { value: link } = await call(alice.page, 'createInvitation');
  const { value: contact } = await call(bob.page, 'acceptInvitation', [link]);
  const sent = await call(bob.page, 'send', [contact.id, 'once']);
  assert.ok(sent.value?.id);
  const before = (await call(bob.page, 'messages', [contact.id])).value;
  const retried = await call(bob.page, 'retry', [sent.value.id]);
  assert.equal(retried.error?.code, 'INVALID_ARGUMENT');
  const afterRetry = (await call(bob.page, 'messages', [contact.id])).value;
  assert.equal(afterRetry.length, before.length, 'no duplicate record');
  assert.deepEqual(afterRetry.map((m) => m.id), before.map((m) => m.id));
  for (const p of [alice, bob]) await p.context.close();
});
