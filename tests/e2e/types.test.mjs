// pkg/sotto.d.ts is precise: no `any` in the public API, and code using it type-checks with
// `tsc --strict` (npm typescript): the examples of pkg/README.md and a small app; mistakes a
// caller can make (a wrong event detail, a number for a contact id, an unknown option, an
// unknown error code) do not.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, artifactPath } from './harness.mjs';

const TSC = join(ROOT, 'tests', 'node_modules', 'typescript', 'bin', 'tsc');
const DTS = join(ROOT, 'pkg', 'sotto.d.ts');
const dir = artifactPath('types');

before(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
});

/// Compiles `files` ({name: source}) with `tsc --strict` against pkg/; resolves with tsc's
/// output ('' when it compiles).
function tsc(files) {
  const names = Object.entries(files).map(([name, source]) => {
    writeFileSync(join(dir, name), source
      .replaceAll("'/pkg/sotto.js'", `'${join(ROOT, 'pkg', 'sotto.js')}'`)
      .replaceAll("'/pkg/worker.js'", `'${join(ROOT, 'pkg', 'worker.js')}'`)
      .replaceAll("'/pkg/follow.js'", `'${join(ROOT, 'pkg', 'follow.js')}'`));
    return join(dir, name);
  });
  try {
    execFileSync(process.execPath, [TSC, '--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext',
      '--moduleResolution', 'bundler', '--lib', 'esnext,dom', '--skipLibCheck', 'false', ...names],
    { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (e) {
    return `${e.stdout}${e.stderr}`;
  }
}

test('the public API of pkg/sotto.d.ts has no any', () => {
  const dts = readFileSync(DTS, 'utf8');
  // InitOutput (the raw wasm exports) is wasm-bindgen's own, typed `any` by design.
  const api = dts.slice(0, dts.indexOf('export type InitInput'));
  const anys = api.split('\n').filter((l) => !/^\s*(\*|\/\*\*)/.test(l) && /\bany\b/.test(l));
  assert.deepEqual(anys, []);
  for (const name of ['OpenOptions', 'Contact', 'Message', 'Attachment', 'SottoErrorCode', 'SottoEventMap']) {
    assert.match(dts, new RegExp(`export (interface|type) ${name}\\b`));
  }
});

const APP = `import init, { Sotto, version } from '/pkg/sotto.js';
import type { Contact, Message, SottoError, SottoErrorCode, OpenOptions } from '/pkg/sotto.js';

await init();
const options: OpenOptions = { directoryKeys: ['k1', 'k2'], storage: 'indexeddb', profile: 'work', passphrase: 'pw', displayName: 'Ann' };
const saved = await Sotto.savedProfile('work');
const me = await Sotto.open(saved?.passphrase ? options : { ...options, passphrase: undefined });
const shown: string[] = [version(), me.displayName];
me.addEventListener('message', (e) => shown.push(e.detail.text, e.detail.status));
me.addEventListener('contact', (e) => shown.push(e.detail.displayName));
me.addEventListener('progress', (e) => shown.push(\`\${e.detail.direction} \${e.detail.done}/\${e.detail.total}\`));
me.addEventListener('attachment', (e) => { if (!e.detail.ready) shown.push(e.detail.error ?? ''); });
me.addEventListener('expired', (e) => shown.push(...e.detail.ids));
me.addEventListener('error', (e) => shown.push(e.detail.what, e.detail.code));
const contacts: Contact[] = await me.contacts();
for (const c of contacts) {
  const page: Message[] = await me.messages(c.id, { limit: 20 });
  const first = page[0];
  if (first?.attachment?.thumbnail) shown.push(String(first.attachment.thumbnail.byteLength));
  const sent = await me.send(c.id, 'hi');
  const file = await me.sendFile(c.id, new Blob(['x']), { name: 'x.txt' });
  const blob: Blob | null = await me.attachment(file.id);
  shown.push(sent.id, String(sent.sentAt), String(blob?.size));
  await me.setDisappearing(c.id, 3600);
}
try {
  const link: string = await me.createInvitation();
  const svg: string = await me.invitationQr(link);
  const contact: Contact = await me.acceptInvitation(link);
  shown.push(svg, contact.id, await me.revealMnemonic('pass'));
  await me.changePassphrase('pass', 'new pass');
  await me.retry('00112233445566778899aabbccddeeff').catch(() => undefined);
  const backup: Uint8Array = await me.exportBackup();
  shown.push(String(backup.length));
} catch (err) {
  const code: SottoErrorCode = (err as SottoError).code;
  if (code === 'WRONG_PASSPHRASE' || code === 'RELAY_UNREACHABLE') shown.push(code);
}
await me.setDisplayName('Ann B.');
await me.close();
export {};
`;

test('the README example and a small app compile with tsc --strict', () => {
  const readme = readFileSync(join(ROOT, 'pkg', 'README.md'), 'utf8');
  const example = /```html\n<script type="module">\n([\s\S]*?)<\/script>\n```/.exec(readme)?.[1];
  assert.ok(example, 'pkg/README.md has the html example');
  const typed = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(typed, 'pkg/README.md has the TypeScript example');
  assert.equal(tsc({
    'readme.ts': `${example}\nexport {};\n`,
    'readme-typed.ts': `${typed.replace("from 'sotto'", "from '/pkg/sotto.js'")}\nexport {};\n`,
    'app.ts': APP,
  }), '');
});

const WORKER_APP = `import { openInWorker, savedProfileInWorker } from '/pkg/worker.js';
import type { SottoInWorker } from '/pkg/worker.js';
import type { Contact, Message } from '/pkg/sotto.js';

const saved = await savedProfileInWorker('work');
const me: SottoInWorker = await openInWorker({ directoryKeys: ['k1'], storage: 'indexeddb', profile: 'work', passphrase: saved?.passphrase ? 'pw' : undefined },
  { workerUrl: new URL('/assets/sotto-worker.js', location.href) });
const shown: string[] = [me.displayName, me.connection];
me.addEventListener('message', (e) => shown.push(e.detail.text));
me.addEventListener('connection', (e) => shown.push(e.detail.state));
me.addEventListener('error', (e) => shown.push(e.detail.code));
const contacts: Contact[] = await me.contacts();
for (const c of contacts) {
  const page: Message[] = await me.messages(c.id, { limit: 20 });
  const file = await me.sendFile(c.id, new Blob(['x']), { name: 'x.txt' });
  const blob: Blob | null = await me.attachment(file.id);
  shown.push(String(page.length), String(blob?.size));
}
const backup: Uint8Array = await me.exportBackup();
shown.push(String(backup.length));
await me.close();
export {};
`;

test('pkg/worker.d.ts has no any, and code using openInWorker compiles with tsc --strict', () => {
  const dts = readFileSync(join(ROOT, 'pkg', 'worker.d.ts'), 'utf8');
  assert.deepEqual(dts.split('\n').filter((l) => !/^\s*(\*|\/\*\*|\/\/)/.test(l) && /\bany\b/.test(l)), []);
  const readme = readFileSync(join(ROOT, 'pkg', 'README.md'), 'utf8');
  const example = /```ts\n(import \{ openInWorker[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'pkg/README.md has the openInWorker example');
  assert.equal(tsc({
    'worker-readme.ts': `${example.replace("from 'sotto/worker'", "from '/pkg/worker.js'")}\nexport {};\n`,
    'worker-app.ts': WORKER_APP,
  }), '');
  const wrong = tsc({
    'worker-wrong.ts': "import { openInWorker } from '/pkg/worker.js';\nconst me = await openInWorker();\n"
      + "me.addEventListener('contact', (e) => e.detail.text);\nawait me.send(42, 'hi');\nexport {};\n",
  });
  assert.match(wrong, /worker-wrong\.ts\(3,\d+\): error TS\d+/, wrong);
  assert.match(wrong, /worker-wrong\.ts\(4,\d+\): error TS\d+/, wrong);
});

const FOLLOW_APP = `import { followProfile, lead, profileLockName, HELLO_MS } from '/pkg/follow.js';
import type { SottoFollower, Leader } from '/pkg/follow.js';
import { Sotto } from '/pkg/sotto.js';
import type { Contact } from '/pkg/sotto.js';

const mine = await Sotto.open({ directoryKeys: ['k1'], storage: 'indexeddb', profile: 'work' });
const leader: Leader = await lead(mine, { profile: 'work' });
const name: string = await profileLockName('work');
const f: SottoFollower = await followProfile({ profile: 'work' });
const shown: string[] = [name, String(HELLO_MS), f.displayName, f.connection, String(leader.leading)];
f.addEventListener('message', (e) => shown.push(e.detail.text));
f.addEventListener('leader', (e) => shown.push(e.detail.state));
const contacts: Contact[] = await f.contacts();
if (contacts[0]) await f.send(contacts[0].id, 'hi');
await f.close();
leader.stop();
export {};
`;

test('pkg/follow.d.ts has no any, and code using lead and followProfile compiles with tsc --strict', () => {
  const dts = readFileSync(join(ROOT, 'pkg', 'follow.d.ts'), 'utf8');
  assert.deepEqual(dts.split('\n').filter((l) => !/^\s*(\*|\/\*\*|\/\/)/.test(l) && /\bany\b/.test(l)), []);
  assert.equal(tsc({ 'follow-app.ts': FOLLOW_APP }), '');
  const wrong = tsc({
    'follow-wrong.ts': "import { followProfile } from '/pkg/follow.js';\nconst f = await followProfile();\n"
      + "f.addEventListener('leader', (e) => e.detail.text);\nexport {};\n",
  });
  assert.match(wrong, /follow-wrong\.ts\(3,\d+\): error TS\d+/, wrong);
});

test('tsc --strict rejects what the API does not take', () => {
  const wrong = {
    'detail.ts': "me.addEventListener('contact', (e) => e.detail.text);",
    'contact.ts': "await me.send(42, 'hi');",
    'option.ts': "await Sotto.open({ directoryKeys: [], storage: 'localstorage' });",
    'keys.ts': "await Sotto.open({ storage: 'memory' });",
    'code.ts': "const c: SottoErrorCode = 'NOT_A_CODE'; console.log(c);",
    'result.ts': 'const n: number = await me.createInvitation(); console.log(n);',
  };
  const files = Object.fromEntries(Object.entries(wrong).map(([name, line]) => [name,
    `import { Sotto } from '/pkg/sotto.js';\nimport type { SottoErrorCode } from '/pkg/sotto.js';\n`
    + `const me = await Sotto.open();\n${line}\nexport {};\n`]));
  const output = tsc(files);
  for (const [name, line] of Object.entries(wrong)) {
    assert.match(output, new RegExp(`${name}\\(4,\\d+\\): error TS\\d+`), `${name} should not compile: ${line}\n${output}`);
  }
});
