// The welcome screen's Restore: the recovery words (typed or pasted), an optional backup file
// and a passphrase; `Sotto.restore` checks them all before it writes anything, and a wrong
// word is named. Without the file the words alone restore the contacts from the relay
// snapshot (no history). Then the messenger opens with the restored contacts.
import { restoreInWorker } from '/pkg/worker.js';
import { PROFILE, state } from '/web/store.js';
import { byId } from '/web/dom.js';
import { errorText, NO_TRUST_TEXT } from '/web/format.js';
import { registerServiceWorker, directoryUrl, directoryTrust, hasTrust } from '/web/device.js';

const el = {
  show: byId('show-restore'), form: byId('restore-form'), welcomeForm: byId('welcome-form'),
  unlockForm: byId('unlock-form'), words: byId('restore-words'), file: byId('restore-file'),
  passphrase: byId('restore-passphrase'), replaceField: byId('restore-replace-field'),
  replace: byId('restore-replace'), submit: byId('restore'), cancel: byId('restore-cancel'),
  error: byId('restore-error'),
};

/// What follows a restore (set by the app): `enter(me, kiosk, displayName)`.
let enter = async () => {};

/// Sets what follows a restore (see `enter`).
export function onRestored(then) {
  enter = then;
}

el.show.addEventListener('click', () => {
  el.welcomeForm.hidden = true;
  el.unlockForm.hidden = true;
  el.form.hidden = false;
  el.replaceField.hidden = !state.saved;
  el.error.textContent = '';
  el.words.focus();
});

el.cancel.addEventListener('click', () => {
  el.form.hidden = true;
  el.welcomeForm.hidden = false;
});

el.form.addEventListener('submit', async (e) => {
  e.preventDefault();
  el.error.textContent = '';
  const file = el.file.files?.[0];
  const trust = await directoryTrust({ keep: true });
  if (!hasTrust(trust)) {
    el.error.textContent = NO_TRUST_TEXT;
    return;
  }
  const options = {
    words: el.words.value, directoryUrl: directoryUrl(), ...trust,
    storage: 'indexeddb', profile: PROFILE, replace: el.replace.checked,
  };
  if (file) options.backup = file;
  if (el.passphrase.value) options.passphrase = el.passphrase.value;
  el.submit.disabled = true;
  el.form.setAttribute('aria-busy', 'true');
  try {
    // In a worker, as an open is: Argon2id, the backup's decryption or the snapshot search and
    // then the whole session run off the page.
    const me = await restoreInWorker(options);
    el.words.value = '';
    el.passphrase.value = '';
    el.form.hidden = true;
    el.welcomeForm.hidden = false;
    state.saved = { passphrase: !!options.passphrase };
    registerServiceWorker();
    await enter(me, false, me.displayName);
  } catch (err) {
    el.error.textContent = errorText(err);
    const wordsAtFault = ['WRONG_WORDS', 'BACKUP_MISMATCH', 'NO_SNAPSHOT'].includes(err?.code);
    (wordsAtFault || !file ? el.words : el.file).focus();
  } finally {
    el.submit.disabled = false;
    el.form.removeAttribute('aria-busy');
  }
});
