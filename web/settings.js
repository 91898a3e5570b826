// The Settings view: display name, recovery words (behind the passphrase or a confirmation),
// the encrypted backup file, the relay directory, and deleting the profile.
import { state, whileBusy } from '/web/store.js';
import { byId, clearText } from '/web/dom.js';
import { errorText } from '/web/format.js';
import { showPane, onLeave } from '/web/panes.js';
import { renderList } from '/web/chat-list.js';
import { forgetDevice, directoryUrl, defaultDirectoryUrl, storeDirectoryUrl, directoryTrust, signedFor } from '/web/device.js';

const el = {
  openSettings: byId('open-settings'), meName: byId('me-name'),
  kioskSettings: byId('kiosk-settings'), savedSettings: byId('saved-settings'),
  followerSettings: byId('follower-settings'),
  nameForm: byId('name-form'), settingsName: byId('settings-name'), saveName: byId('save-name'),
  nameStatus: byId('name-status'), nameError: byId('name-error'),
  wordsForm: byId('words-form'), wordsPassField: byId('words-pass-field'), wordsPassphrase: byId('words-passphrase'),
  wordsConfirmField: byId('words-confirm-field'), wordsConfirm: byId('words-confirm'), showWords: byId('show-words'),
  wordsError: byId('words-error'), wordsPanel: byId('words-panel'), words: byId('words'), hideWords: byId('hide-words'),
  passphraseForm: byId('passphrase-form'), oldPassphraseField: byId('old-passphrase-field'),
  oldPassphrase: byId('old-passphrase'), newPassphrase: byId('new-passphrase'),
  changePassphrase: byId('change-passphrase'), passphraseStatus: byId('passphrase-status'),
  passphraseError: byId('passphrase-error'),
  exportBackup: byId('export-backup'), backupStatus: byId('backup-status'), backupError: byId('backup-error'),
  relayForm: byId('relay-form'), directoryUrl: byId('directory-url'), saveDirectory: byId('save-directory'),
  directoryStatus: byId('directory-status'), directoryError: byId('directory-error'),
  deleteProfile: byId('delete-profile'), deleteConfirm: byId('delete-confirm'), deleteYes: byId('delete-yes'),
  deleteCancel: byId('delete-cancel'), deleteError: byId('delete-error'),
};

/// What follows deleting the profile, once the library wiped it (set by the app).
let deleted = async () => {};

/// Sets what follows deleting the profile: `then()` (ends the session, shows the welcome).
export function onProfileDeleted(then) {
  deleted = then;
}

onLeave('settings', clearSettings);

/// Shows the settings a session has: a saved profile's, or the note of one used without saving
/// (`kiosk`) or of a tab that follows another (`following`: those settings are in that tab).
export function showSettingsFor(kiosk, following = false) {
  el.kioskSettings.hidden = !kiosk;
  el.followerSettings.hidden = !following;
  el.savedSettings.hidden = kiosk || following;
}

el.openSettings.addEventListener('click', () => {
  const { session, saved } = state;
  if (!session) return;
  showPane('settings');
  renderList();
  el.settingsName.value = session.me.displayName;
  el.wordsPassField.hidden = !saved?.passphrase;
  el.wordsConfirmField.hidden = !!saved?.passphrase;
  el.oldPassphraseField.hidden = !saved?.passphrase;
  el.directoryUrl.value = directoryUrl();
  el.settingsName.focus();
});

/// Forgets what Settings showed (the recovery words above all) and any half-done step.
export function clearSettings() {
  el.words.replaceChildren();
  el.wordsPanel.hidden = true;
  el.wordsForm.hidden = false;
  el.wordsPassphrase.value = '';
  el.wordsConfirm.checked = false;
  el.oldPassphrase.value = '';
  el.newPassphrase.value = '';
  el.deleteConfirm.hidden = true;
  el.deleteProfile.hidden = false;
  clearText(el.nameStatus, el.nameError, el.passphraseStatus, el.passphraseError, el.wordsError, el.backupStatus, el.backupError,
    el.directoryStatus, el.directoryError, el.deleteError);
}

el.nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = el.settingsName.value.trim();
  el.nameStatus.textContent = '';
  el.nameError.textContent = '';
  if (!name) {
    el.nameError.textContent = 'Please enter a display name.';
    el.settingsName.focus();
    return;
  }
  await whileBusy({ button: el.saveName, error: el.nameError }, async (s) => {
    await s.me.setDisplayName(name);
    if (state.session !== s) return;
    el.meName.textContent = name;
    el.nameStatus.textContent = s.contacts.size > 0
      ? `Saved. Your contacts will see “${name}”.`
      : `Saved. New contacts will see “${name}”.`;
  });
});

el.wordsForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  el.wordsError.textContent = '';
  let passphrase = null;
  if (state.saved?.passphrase) {
    passphrase = el.wordsPassphrase.value;
    if (!passphrase) {
      el.wordsError.textContent = 'Enter your passphrase first.';
      el.wordsPassphrase.focus();
      return;
    }
  } else if (!el.wordsConfirm.checked) {
    el.wordsError.textContent = 'Confirm that nobody else can see your screen first.';
    el.wordsConfirm.focus();
    return;
  }
  const onError = () => el.wordsPassphrase.select();
  await whileBusy({ button: el.showWords, error: el.wordsError, onError }, async (s) => {
    const phrase = await s.me.revealMnemonic(passphrase);
    if (state.session !== s) return;
    el.wordsPassphrase.value = '';
    el.words.replaceChildren(...phrase.split(' ').map((w) => {
      const li = document.createElement('li');
      li.textContent = w;
      return li;
    }));
    el.wordsForm.hidden = true;
    el.wordsPanel.hidden = false;
    el.hideWords.focus();
  });
});

el.passphraseForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  el.passphraseStatus.textContent = '';
  el.passphraseError.textContent = '';
  const old = state.saved?.passphrase ? el.oldPassphrase.value : null;
  if (state.saved?.passphrase && !old) {
    el.passphraseError.textContent = 'Enter your current passphrase first.';
    el.oldPassphrase.focus();
    return;
  }
  const next = el.newPassphrase.value;
  const onError = () => el.oldPassphrase.select();
  await whileBusy({ button: el.changePassphrase, error: el.passphraseError, onError }, async (s) => {
    await s.me.changePassphrase(old, next || null);
    if (state.session !== s) return;
    state.saved = { ...state.saved, passphrase: !!next };
    el.oldPassphrase.value = '';
    el.newPassphrase.value = '';
    el.oldPassphraseField.hidden = !next;
    el.wordsPassField.hidden = !next;
    el.wordsConfirmField.hidden = !!next;
    el.passphraseStatus.textContent = next
      ? 'Saved. Use the new passphrase from now on.'
      : 'Saved. This profile now opens without a passphrase.';
  });
});

el.hideWords.addEventListener('click', () => {
  clearSettings();
  el.showWords.focus();
});

el.exportBackup.addEventListener('click', async () => {
  el.backupStatus.textContent = 'Encrypting your backup…';
  el.backupError.textContent = '';
  await whileBusy({ button: el.exportBackup, status: el.backupStatus, error: el.backupError }, async (s) => {
    const bytes = await s.me.exportBackup();
    if (state.session !== s) return;
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `sotto-backup-${new Date().toISOString().slice(0, 10)}.sotto`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    el.backupStatus.textContent = `Backup saved as ${a.download}. Keep it with your recovery words.`;
  });
});

el.relayForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  el.directoryStatus.textContent = '';
  el.directoryError.textContent = '';
  let url;
  try {
    url = new URL(el.directoryUrl.value.trim(), location.href);
    if (!/^https?:$/.test(url.protocol)) throw new Error('not http');
  } catch {
    el.directoryError.textContent = 'That is not a web address (https://…).';
    el.directoryUrl.focus();
    return;
  }
  el.saveDirectory.disabled = true;
  el.directoryStatus.textContent = 'Checking the directory…';
  try {
    const response = await fetch(url, { cache: 'no-store' });
    const doc = response.ok ? await response.json() : null;
    if (!Array.isArray(doc?.relays) || doc.relays.length === 0) throw new Error('no relays');
    if (!signedFor(doc, await directoryTrust({ keep: false }))) {
      el.directoryStatus.textContent = '';
      el.directoryError.textContent = 'That relay directory is not signed by the directory authorities this app trusts, so Sotto would refuse it. It was not saved.';
      el.directoryUrl.focus();
      return;
    }
    storeDirectoryUrl(url.href === defaultDirectoryUrl() ? null : url.href);
    el.directoryUrl.value = url.href;
    el.directoryStatus.textContent = `Saved: ${doc.relays.length} relays. Sotto uses them the next time it opens.`;
  } catch {
    el.directoryStatus.textContent = '';
    el.directoryError.textContent = 'Sotto could not read a relay directory at that address (or this site does not allow it).';
    el.directoryUrl.focus();
  } finally {
    el.saveDirectory.disabled = false;
  }
});

el.deleteProfile.addEventListener('click', () => {
  el.deleteProfile.hidden = true;
  el.deleteConfirm.hidden = false;
  el.deleteCancel.focus();
});
el.deleteCancel.addEventListener('click', () => {
  el.deleteConfirm.hidden = true;
  el.deleteProfile.hidden = false;
  el.deleteProfile.focus();
});
el.deleteYes.addEventListener('click', async () => {
  const s = state.session;
  el.deleteYes.disabled = true;
  el.deleteError.textContent = '';
  try {
    await s.me.wipe();
    state.saved = null;
    state.session = null; // already closed by wipe()
    await forgetDevice();
    await deleted();
  } catch (err) {
    el.deleteError.textContent = errorText(err);
  } finally {
    el.deleteYes.disabled = false;
  }
});
