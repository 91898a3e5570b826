// Issue 12's goal: a second tab follows the tab that holds the profile (pkg/follow.js). Two
// pages of one browser context are two tabs of Alice's saved profile; Bob is in another
// context. Tab 2 follows tab 1: it reads the history and sends through it, hears Bob's
// messages, is refused what would end the profile or show its secrets; when tab 1 closes, its
// pending call rejects CLOSED, the lock passes to tab 2, which opens the profile and goes on
// with Bob, with no key used twice (Bob sees no decryption failure or resync). Then the PWA:
// "Open here too" shows the conversation in the second tab and sends through the first; with a
// passphrase, it is offered before one is typed, and the passphrase is asked for when the first
// tab locks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useNetwork, person, openPage, openSotto, call, acquaint, contactsOf, untilReceived, until,
  chatInOrder, pwaPerson, meetInPwa, directoryTrust,
} from './harness.mjs';

const net = useNetwork({ httpPort: 18520, wsBasePort: 32000 });

/** Makes `window.__me` of `page` a follower of `profile` (its events collected as openSotto
 *  does, and its `leader` events in `__leaderEvents`); `{ok, state}` or the rejection. */
const follow = (page, profile) => page.evaluate(async (profile) => {
  const { followProfile } = await import('/pkg/follow.js');
  window.__received = [];
  window.__errors = [];
  window.__leaderEvents = [];
  try {
    const f = await followProfile({ profile });
    f.addEventListener('message', (e) => window.__received.push(e.detail));
    f.addEventListener('error', (e) => window.__errors.push({ what: e.detail.what, code: e.detail.code }));
    f.addEventListener('leader', (e) => window.__leaderEvents.push(e.detail.state));
    window.__me = f;
    return { ok: true, state: { connection: f.connection, displayName: f.displayName, moved: f.moved } };
  } catch (e) {
    return { name: e.name, code: e.code, message: e.message };
  }
}, profile);

test('a second tab follows the first: history, sends, events, refusals; then the lock passes on', async () => {
  const profile = { storage: 'indexeddb', profile: 'follow', displayName: 'Alice' };
  const alice = await person(net, profile);
  const bob = await person(net, { storage: 'memory', displayName: 'Bob' });
  const { alicesBob, bobsAlice } = await acquaint(alice, bob);
  const tab1 = alice.page;

  // Nobody leads yet: a follower finds the profile held but unanswered.
  const tab2 = await openPage(net, alice.context, alice.errors);
  const unanswered = await follow(tab2, 'follow');
  assert.equal(unanswered.code, 'PROFILE_IN_USE', JSON.stringify(unanswered));

  // Tab 1 leads; the name JS derives is the one of the lock Sotto.open took.
  const names = await tab1.evaluate(async () => {
    const { lead, profileLockName } = await import('/pkg/follow.js');
    window.__leader = await lead(window.__me, { profile: 'follow' });
    const { held } = await navigator.locks.query();
    return { name: await profileLockName('follow'), held: held.map((l) => l.name) };
  });
  assert.ok(names.held.includes(names.name), JSON.stringify(names));
  assert.ok((await call(tab1, 'send', [alicesBob.id, 'from tab 1'])).value);
  await untilReceived(bob.page, ['from tab 1']);

  // Tab 2 follows: the same state, contacts and history, read through tab 1.
  const followed = await follow(tab2, 'follow');
  assert.deepEqual(followed, { ok: true, state: { connection: 'online', displayName: 'Alice', moved: false } });
  assert.deepEqual(await contactsOf(tab2), await contactsOf(tab1));
  const history = await call(tab2, 'messages', [alicesBob.id, { limit: 50 }]);
  assert.deepEqual(history.value.map((m) => [m.text, m.outgoing]), [['from tab 1', true]]);

  // Five texts sent through tab 1: Bob gets each once, in order.
  const five = Array.from({ length: 5 }, (_, i) => `from tab 2 #${i}`);
  for (const t of five) {
    const sent = await call(tab2, 'send', [alicesBob.id, t]);
    assert.ok(sent.value?.id, JSON.stringify(sent));
  }
  await untilReceived(bob.page, ['from tab 1', ...five]);

  // Bob's reply reaches both tabs' message events.
  assert.ok((await call(bob.page, 'send', [bobsAlice.id, 'to both tabs'])).value);
  await untilReceived(tab1, ['to both tabs']);
  await untilReceived(tab2, ['to both tabs']);

  // What ends or deletes the profile, or shows its secrets, is refused, and changes nothing.
  for (const [method, args] of [['wipe', []], ['revealMnemonic', ['']], ['exportBackup', []], ['changePassphrase', ['', 'x']]]) {
    const refused = await call(tab2, method, args);
    assert.equal(refused.error?.code, 'INVALID_ARGUMENT', `${method}: ${JSON.stringify(refused)}`);
  }
  assert.deepEqual(await contactsOf(tab1), await contactsOf(tab2), 'tab 1 still has the profile');
  assert.ok(await tab1.evaluate(async () => (await import('/pkg/sotto.js')).Sotto.savedProfile('follow')), 'not wiped');
  assert.ok((await call(tab2, 'send', [alicesBob.id, 'after the refusals'])).value);
  await untilReceived(bob.page, ['from tab 1', ...five, 'after the refusals']);

  // Tab 1 holds a call (it never answers it), then closes: the call rejects CLOSED, tab 2 is
  // told the leader went, then that the lock is free.
  await tab1.evaluate(() => { window.__me.invitationQr = () => { window.__held = true; return new Promise(() => {}); }; });
  await tab2.evaluate(() => {
    window.__pending = window.__me.invitationQr('held').then(() => 'resolved', (e) => e.code);
  });
  await tab1.waitForFunction(() => window.__held === true);
  await tab1.close();
  assert.equal(await tab2.evaluate(() => window.__pending), 'CLOSED');
  await tab2.waitForFunction(() => window.__leaderEvents.length >= 2, null, { timeout: 10_000 });
  assert.deepEqual(await tab2.evaluate(() => window.__leaderEvents), ['gone', 'free']);
  assert.equal((await call(tab2, 'send', [alicesBob.id, 'to nobody'])).error?.code, 'CLOSED');

  // Tab 2 opens the profile itself and the conversation goes on both ways.
  assert.deepEqual(await openSotto(tab2, profile), { ok: true });
  assert.deepEqual(await contactsOf(tab2), [alicesBob]);
  await chatInOrder(tab2, bob, bobsAlice, 3, 'after tab 1');

  // No key was used twice: Bob never failed to decrypt, nor had to resync.
  const warnings = await bob.page.evaluate(() => window.__contactEvents.filter((c) => c.warning || c.sync === 'resyncing' || c.resynced));
  assert.deepEqual(warnings, []);
  assert.deepEqual(await bob.page.evaluate(() => window.__errors), []);
  assert.deepEqual(await tab2.evaluate(() => window.__errors), []);
  assert.deepEqual(alice.errors, []);
  await tab2.evaluate(() => window.__me.wipe());
  await alice.context.close();
  await bob.context.close();
});

test('a leader that holds the profile but stops answering: the follower\'s call rejects TIMEOUT (CALL_MS), and the next is answered', async () => {
  const profile = { storage: 'indexeddb', profile: 'stuck', displayName: 'Dora' };
  const dora = await person(net, profile);
  const tab1 = dora.page;
  await tab1.evaluate(async () => {
    const { lead } = await import('/pkg/follow.js');
    window.__leader = await lead(window.__me, { profile: 'stuck' });
  });
  const tab2 = await openPage(net, dora.context, dora.errors);
  assert.equal((await follow(tab2, 'stuck')).ok, true);
  // Tab 1 still holds the profile and answers hellos, but one of its calls never settles (a
  // stuck tab): the follower's call settles anyway, at its deadline.
  await tab1.evaluate(() => {
    const contacts = window.__me.contacts.bind(window.__me);
    window.__me.contacts = () => { window.__me.contacts = contacts; return new Promise(() => {}); };
  });
  const stuck = await tab2.evaluate(async () => {
    const { CALL_MS } = await import('/pkg/follow.js');
    const t0 = performance.now();
    const code = await window.__me.contacts().then(() => 'answered', (e) => e.code);
    return { code, waited: performance.now() - t0, bound: CALL_MS.local };
  });
  assert.equal(stuck.code, 'TIMEOUT', JSON.stringify(stuck));
  assert.ok(stuck.waited >= stuck.bound - 50, JSON.stringify(stuck)); // not before its bound
  // The channel goes on: the next call is answered.
  assert.deepEqual(await contactsOf(tab2), []);

  // The deadline of an upload restarts at each of its own `progress` events (the channel's
  // rule with the follower's own `uploadProgress`, and a short bound): a call whose upload
  // progresses outlives its bound; another call, or an upload whose progress is someone
  // else's (a download, another contact's upload, another message's retry), does not; and an
  // answer after a timeout finds nothing waiting.
  const rule = await tab2.evaluate(async () => {
    const { Channel } = await import('/pkg/rpc.js');
    const { uploadProgress } = await import('/pkg/follow.js');
    const sent = [];
    const channel = new Channel({ post: (m) => sent.push(m), stop: () => {}, deadline: () => 300, progressed: uploadProgress, holder: 'the test' });
    const settled = {};
    const track = (name, p) => p.then((v) => { settled[name] = v; }, (e) => { settled[name] = e.code; });
    track('upload', channel.call('sendFile', ['c1']));
    track('other', channel.call('contacts'));
    track('elsewhere', channel.call('sendFile', ['c2']));
    track('retried', channel.call('retry', ['m1']));
    track('retriedElsewhere', channel.call('retry', ['m2']));
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 150));
      channel.receive({ event: 'progress', detail: { id: 'm1', contactId: 'c1', direction: 'upload' } });
      channel.receive({ event: 'progress', detail: { id: 'm2', contactId: 'c2', direction: 'download' } });
    }
    const during = { ...settled };
    channel.receive({ id: sent[0].id, value: 'stored' });
    channel.receive({ id: sent[3].id, value: 'stored again' });
    channel.receive({ id: sent[1].id, value: 'late' });
    await new Promise((r) => setTimeout(r, 400));
    return { during, after: settled, waiting: channel.waiting.size };
  });
  const timedOut = { other: 'TIMEOUT', elsewhere: 'TIMEOUT', retriedElsewhere: 'TIMEOUT' };
  assert.deepEqual(rule, {
    during: timedOut,
    after: { ...timedOut, upload: 'stored', retried: 'stored again' },
    waiting: 0,
  });
  assert.deepEqual(dora.errors, []);
  await tab1.evaluate(async () => { window.__leader.stop(); await window.__me.wipe(); });
  await dora.context.close();
});

test('openInWorker leads by itself; a take-over ends its followers, who can follow the new holder', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const errors = [];
  const [tab1, tab2, tab3] = [
    await openPage(net, context, errors), await openPage(net, context, errors), await openPage(net, context, errors)];
  const trust = await directoryTrust(net.url);
  const options = { ...trust, directoryUrl: `${net.url}/directory.json`, storage: 'indexeddb', profile: 'moving', displayName: 'Carol' };
  await tab1.evaluate(async (options) => {
    const { openInWorker } = await import('/pkg/worker.js');
    window.__me = await openInWorker(options);
  }, options);
  // Each follower keeps its own `leader` events, by name.
  const followAs = (page, key) => page.evaluate(async (key) => {
    const { followProfile } = await import('/pkg/follow.js');
    const f = await followProfile({ profile: 'moving' });
    window.__followers = { ...window.__followers, [key]: { f, events: [] } };
    f.addEventListener('leader', (e) => window.__followers[key].events.push(e.detail.state));
    return (await f.contacts()).length;
  }, key);
  const eventsOf = (page, key) => page.evaluate((key) => window.__followers[key].events, key);
  assert.equal(await followAs(tab2, 'first'), 0, 'the worker-held profile answers a follower');

  // Tab 3 takes the profile over (an on-page Sotto that does not lead): tab 1's leader says
  // goodbye; the follower's calls reject CLOSED; the lock is not free (tab 3 holds it).
  assert.deepEqual(await openSotto(tab3, { ...options, takeOver: true }), { ok: true });
  await tab2.waitForFunction(() => window.__followers.first.events.includes('gone'), null, { timeout: 10_000 });
  assert.equal(await tab2.evaluate(() => window.__followers.first.f.contacts().then(() => 'answered', (e) => e.code)), 'CLOSED');
  assert.deepEqual(await eventsOf(tab2, 'first'), ['gone']);

  // Tab 3 leads from now on: tab 2 follows it; when tab 3 closes, the lock passes on.
  await tab3.evaluate(async () => {
    const { lead } = await import('/pkg/follow.js');
    window.__leader = await lead(window.__me, { profile: 'moving' });
  });
  assert.equal(await followAs(tab2, 'second'), 0);
  await tab3.evaluate(async () => { window.__leader.stop(); await window.__me.close(); });
  await tab2.waitForFunction(() => window.__followers.second.events.length >= 2, null, { timeout: 10_000 });
  assert.deepEqual(await eventsOf(tab2, 'second'), ['gone', 'free']);
  await tab2.evaluate(() => { window.__followers.first.f.close(); });
  assert.deepEqual(await openSotto(tab2, options), { ok: true });
  await tab2.evaluate(() => window.__me.wipe());
  assert.deepEqual(errors, []);
  await context.close();
});

test('the PWA: "Open here too" follows the tab that has the profile, and takes over when it closes', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const errors = [];
  const tab1 = await openPage(net, context, errors);
  await tab1.getByRole('textbox', { name: 'Display name' }).fill('Alice');
  await tab1.getByRole('button', { name: 'Save on this device' }).click();
  await tab1.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  const bob = await pwaPerson(net, 'Bob');
  await meetInPwa({ page: tab1 }, bob);
  const say = async (page, text) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  };
  const bubbles = (page) => page.getByRole('log').locator('.bubble .text');
  await say(tab1, 'hello from the first tab');
  await bob.page.getByRole('log').getByText('hello from the first tab').waitFor({ timeout: 30_000 });

  // The second tab finds the profile in use and follows the first.
  const tab2 = await openPage(net, context, errors);
  await tab2.getByRole('alert').filter({ hasText: 'This profile is open in another tab or window.' })
    .waitFor({ timeout: 30_000 });
  await tab2.getByRole('button', { name: 'Open here too' }).click();
  await tab2.getByText('Open in another tab — this tab follows it').waitFor({ timeout: 15_000 });
  await tab2.getByRole('button').filter({ has: tab2.locator('.chat-name', { hasText: 'Bob' }) }).click();
  await tab2.getByRole('log').getByText('hello from the first tab').waitFor({ timeout: 15_000 });
  await say(tab2, 'hello from the second tab');
  await bob.page.getByRole('log').getByText('hello from the second tab').waitFor({ timeout: 30_000 });
  // Bob's answer shows in both tabs.
  await say(bob.page, 'hi both');
  await tab1.getByRole('log').getByText('hi both').waitFor({ timeout: 30_000 });
  await tab2.getByRole('log').getByText('hi both').waitFor({ timeout: 30_000 });

  // The first tab closes: the second opens the profile itself (no passphrase) and goes on.
  await tab1.close();
  await tab2.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 });
  await until(() => tab2.locator('body').getAttribute('data-following'), (v) => v === null, 30_000);
  assert.equal(await tab2.locator('#follow-banner').isHidden(), true, 'no longer following');
  await tab2.getByRole('button').filter({ has: tab2.locator('.chat-name', { hasText: 'Bob' }) }).click();
  await tab2.getByRole('log').getByText('hi both').waitFor({ timeout: 15_000 });
  await say(tab2, 'the second tab has it now');
  await bob.page.getByRole('log').getByText('the second tab has it now').waitFor({ timeout: 30_000 });
  assert.deepEqual(await bubbles(bob.page).allTextContents(), [
    'hello from the first tab', 'hello from the second tab', 'hi both', 'the second tab has it now',
  ]);
  assert.deepEqual(errors, []);
  await context.close();
  await bob.context.close();
});

test('the PWA, a profile with a passphrase: a second tab offers "Open here too" at once, and asks for the passphrase when the first locks', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const errors = [];
  const tab1 = await openPage(net, context, errors);
  await tab1.getByRole('textbox', { name: 'Display name' }).fill('Pat');
  await tab1.getByRole('textbox', { name: 'Passphrase (optional)' }).fill('pat passphrase');
  await tab1.getByRole('button', { name: 'Save on this device' }).click();
  await tab1.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });

  // No passphrase typed: the second tab already says the profile is open elsewhere.
  const tab2 = await openPage(net, context, errors);
  await tab2.getByRole('alert').filter({ hasText: 'This profile is open in another tab or window.' })
    .waitFor({ timeout: 15_000 });
  await tab2.getByRole('button', { name: 'Open here too' }).click();
  await tab2.getByText('Open in another tab — this tab follows it').waitFor({ timeout: 15_000 });
  assert.equal(await tab2.locator('#me-name').textContent(), 'Pat');

  // The first tab locks: the second stops following and asks for the passphrase.
  await tab1.getByRole('button', { name: 'Lock' }).click();
  const passphrase = tab2.getByRole('textbox', { name: 'Passphrase', exact: true });
  await passphrase.waitFor({ timeout: 15_000 });
  await tab2.getByText('The tab this one followed no longer has the profile open.').waitFor();
  await passphrase.fill('pat passphrase');
  await tab2.getByRole('button', { name: 'Unlock' }).click();
  await tab2.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });
  assert.equal(await tab2.locator('#follow-banner').isHidden(), true);
  assert.deepEqual(errors, []);
  await context.close();
});
