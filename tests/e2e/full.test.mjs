// A full relay says so (issue 13, "Quotas with clear answers"): with relays that hold no more
// queues, createInvitation() rejects RELAY_FULL at once (not at its deadline) and the `error`
// event names the relay's code, Quota. The floods themselves, their counts and the relay's
// memory are in crates/sotto-relay/tests/hostile.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useNetwork, openPage, serviceConfig } from './harness.mjs';

const net = useNetwork({
  httpPort: 18210, wsBasePort: 20601, extraArgs: ['--service-config', serviceConfig('max_queues = 0\n')],
});

test('a relay with no room for queues: createInvitation rejects RELAY_FULL', async () => {
  const context = await net.browser.newContext({ serviceWorkers: 'block' });
  const page = await openPage(net, context);
  const result = await page.evaluate(async () => {
    const mod = await import('/pkg/sotto.js');
    await mod.default();
    const me = await mod.Sotto.open({
      storage: 'memory', displayName: 'Alice', directoryUrl: `${location.origin}/directory.json`, ...(await (await fetch('/config.json')).json()),
    });
    const errors = [];
    me.addEventListener('error', (e) => errors.push(e.detail));
    try {
      await me.createInvitation();
      return { resolved: true };
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message, errors };
    }
  });
  assert.equal(result.name, 'SottoError', JSON.stringify(result));
  // RELAY_FULL, not TIMEOUT: it settled on the relay's answer, not at the 30 s deadline.
  assert.equal(result.code, 'RELAY_FULL');
  assert.match(result.message, /no room/);
  assert.ok(result.errors.some((e) => e.what === 'create queue' && e.code === 'Quota'), JSON.stringify(result.errors));
  await context.close();
});
