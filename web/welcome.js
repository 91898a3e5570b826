// The welcome screen: a new profile (saved on this device, or used without saving), and the
// unlock form of the profile saved on this device; when another tab has that profile open,
// "Use here instead" (take it over) or "Open here too" (follow that tab).
import { version } from '/pkg/sotto.js';
import { openInWorker } from '/pkg/worker.js';
import { followProfile, profileLockName } from '/pkg/follow.js';
import { PROFILE, state } from '/web/store.js';
import { byId, clearText } from '/web/dom.js';
import { errorText, NO_TRUST_TEXT } from '/web/format.js';
import { registerServiceWorker, directoryUrl, defaultDirectoryUrl, directoryTrust, hasTrust } from '/web/device.js';

const el = {
  status: byId('status'),
  welcomeForm: byId('welcome-form'), name: byId('display-name'), passphrase: byId('passphrase'),
  save: byId('save-device'), kiosk: byId('kiosk'), welcomeError: byId('welcome-error'),
  unlockForm: byId('unlock-form'), unlockText: byId('unlock-text'), unlockField: byId('unlock-field'),
  unlockPassphrase: byId('unlock-passphrase'), unlock: byId('unlock'), unlockGuest: byId('unlock-guest'),
  unlockError: byId('unlock-error'), unlockTakeOver: byId('unlock-take-over'),
  unlockFollow: byId('unlock-follow'),
};

/// What follows opening a Sotto (set by the app): `enter(me, kiosk, displayName, {following})`
/// shows the messenger.
let enter = async () => {};

/// Sets what follows opening a Sotto (see `enter`).
export function onOpened(then) {
  enter = then;
}

/// The status line under the welcome forms.
export function setStatus(text) {
  el.status.textContent = text;
}

/// The wasm core is loaded: the two ways in can be used.
export function enableWelcome() {
  el.save.disabled = false;
  el.kiosk.disabled = false;
  byId('show-restore').disabled = false;
}

/// Shows the unlock form of the profile saved on this device.
export function showUnlock() {
  const { saved } = state;
  el.welcomeForm.hidden = true;
  el.unlockForm.hidden = false;
  el.unlockError.textContent = '';
  el.unlockField.hidden = !saved?.passphrase;
  el.unlockText.textContent = saved?.passphrase
    ? 'A profile is saved on this device. Enter its passphrase to open it.'
    : 'A profile is saved on this device.';
  el.unlock.textContent = saved?.passphrase ? 'Unlock' : 'Open';
  (saved?.passphrase ? el.unlockPassphrase : el.unlock).focus();
}

/// Shows the form for a new profile (only a session without saving while one is saved).
export function showWelcomeForm() {
  el.unlockForm.hidden = true;
  el.welcomeForm.hidden = false;
  // A second profile is not offered while one is saved: only a session without saving.
  el.save.hidden = !!state.saved;
  el.passphrase.closest('.field').hidden = !!state.saved;
  el.name.focus();
}

/// Forgets the new profile's passphrase as soon as the messenger opens.
export function clearPassphrase() {
  el.passphrase.value = '';
}

/// Empties the welcome form (the session ended).
export function clearWelcome() {
  clearText(el.welcomeError);
  el.name.value = '';
  el.passphrase.value = '';
}

el.unlockForm.addEventListener('submit', (e) => {
  e.preventDefault();
  openSaved(state.saved?.passphrase ? el.unlockPassphrase.value : null);
});
el.unlockGuest.addEventListener('click', showWelcomeForm);
// The profile is open in another tab or window: move it here (that one stops).
el.unlockTakeOver.addEventListener('click', () => {
  openSaved(state.saved?.passphrase ? el.unlockPassphrase.value : null, { takeOver: true });
});
// The profile is open in another tab: show it here too, through that tab.
el.unlockFollow.addEventListener('click', followSaved);

/// Stops waiting for the profile a tab this one followed had open (another way in was chosen).
function dropFollower() {
  state.follower?.close();
  state.follower = null;
}

/// Follows the tab that has the saved profile open: this tab shows its chats and sends
/// through it, without the passphrase (that tab holds the profile open already).
async function followSaved() {
  dropFollower();
  el.unlockError.textContent = '';
  el.unlockTakeOver.hidden = true;
  el.unlockFollow.hidden = true;
  el.unlockForm.setAttribute('aria-busy', 'true');
  try {
    const me = await followProfile({ profile: PROFILE });
    el.unlockPassphrase.value = '';
    el.unlockForm.hidden = true;
    el.welcomeForm.hidden = false;
    await enter(me, false, me.displayName, { following: true });
  } catch (err) {
    el.unlockError.textContent = errorText(err);
    if (err?.code === 'PROFILE_IN_USE') offerInUse();
    // No tab has it open any more: open it here (or ask for its passphrase).
    else if (err?.code === 'CLOSED' && !state.saved?.passphrase) await openSaved(null);
  } finally {
    el.unlockForm.removeAttribute('aria-busy');
  }
}

/// Says so at once when the saved profile is open in another tab or window (its Web Lock is
/// held), so that a tab can follow it without typing the passphrase first.
export async function offerIfInUse() {
  try {
    const name = await profileLockName(PROFILE);
    const { held } = await navigator.locks.query();
    if (!held.some((l) => l.name === name) || el.unlockForm.hidden) return;
    el.unlockError.textContent = errorText({ code: 'PROFILE_IN_USE' });
    offerInUse();
  } catch {
    // No Web Locks (or Web Crypto) here: an unlock says it when it is refused.
  }
}

/// The profile is open in another tab or window: offer to follow it or to take it over.
function offerInUse() {
  el.unlockFollow.hidden = false;
  el.unlockTakeOver.hidden = false;
  el.unlockFollow.focus();
}

/// Opens the profile saved on this device; `takeOver` takes it from another tab or window.
export async function openSaved(passphrase, { takeOver = false } = {}) {
  dropFollower();
  el.unlockError.textContent = '';
  el.unlockTakeOver.hidden = true;
  el.unlockFollow.hidden = true;
  if (state.saved?.passphrase && !passphrase) {
    el.unlockError.textContent = 'Enter your passphrase.';
    el.unlockPassphrase.focus();
    return;
  }
  el.unlock.disabled = true;
  el.unlockForm.setAttribute('aria-busy', 'true');
  el.status.textContent = 'Opening your profile…';
  try {
    const trust = await directoryTrust();
    if (!hasTrust(trust)) {
      el.unlockError.textContent = NO_TRUST_TEXT;
      return;
    }
    const options = { directoryUrl: directoryUrl(), ...trust, storage: 'indexeddb', profile: PROFILE };
    if (passphrase) options.passphrase = passphrase;
    if (takeOver) options.takeOver = true;
    // In a worker: Argon2id, file encryption and decoding stay off this page's main thread.
    const me = await openInWorker(options);
    el.unlockPassphrase.value = '';
    el.unlockForm.hidden = true;
    el.welcomeForm.hidden = false;
    await enter(me, false, me.displayName);
  } catch (err) {
    el.unlockForm.hidden = false;
    el.welcomeForm.hidden = true;
    el.unlockError.textContent = errorText(err);
    if (err?.code === 'PROFILE_IN_USE') {
      offerInUse();
    } else {
      el.unlockPassphrase.focus();
      el.unlockPassphrase.select();
    }
  } finally {
    el.unlock.disabled = false;
    el.unlockForm.removeAttribute('aria-busy');
    el.status.textContent = `Sotto ${version()} is ready.`;
  }
}

async function openSotto(storage) {
  dropFollower();
  el.welcomeError.textContent = '';
  const displayName = el.name.value.trim();
  if (!displayName) {
    el.welcomeError.textContent = 'Please enter a display name.';
    el.name.focus();
    return;
  }
  const trust = await directoryTrust({ keep: storage !== 'memory' });
  if (!hasTrust(trust)) {
    el.welcomeError.textContent = NO_TRUST_TEXT;
    return;
  }
  const options = {
    directoryUrl: defaultDirectoryUrl(),
    ...trust,
    storage,
    profile: PROFILE,
    displayName,
  };
  if (storage !== 'memory' && el.passphrase.value) options.passphrase = el.passphrase.value;
  setBusy(true);
  try {
    const me = await openInWorker(options);
    if (storage !== 'memory') {
      state.saved = { passphrase: !!options.passphrase };
      registerServiceWorker();
    }
    enter(me, storage === 'memory', displayName);
  } catch (err) {
    if (err?.code === 'UNSUPPORTED' && storage !== 'memory') {
      el.welcomeError.textContent = 'Saving on this device is coming soon; use without saving for now.';
    } else {
      el.welcomeError.textContent = errorText(err);
    }
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  el.save.disabled = busy;
  el.kiosk.disabled = busy;
  el.welcomeForm.setAttribute('aria-busy', String(busy));
}

// With a profile already saved, the welcome form only offers a session without saving.
el.welcomeForm.addEventListener('submit', (e) => { e.preventDefault(); openSotto(state.saved ? 'memory' : 'indexeddb'); });
el.kiosk.addEventListener('click', () => openSotto('memory'));
