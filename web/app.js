// The Sotto PWA's entry point: loads the wasm core from /pkg/, opens the saved profile (or
// shows the welcome), and connects the views (welcome → chats → conversation / new chat /
// settings). Each view lives in a module of its own under web/; this one only boots and wires
// them, so that no two modules import each other.
import init, { Sotto, version, selfTest } from '/pkg/sotto.js';
import { PROFILE, state } from '/web/store.js';
import { byId } from '/web/dom.js';
import { registerServiceWorker, forgetDevice } from '/web/device.js';
import { onChooseChat } from '/web/chat-list.js';
import { openConversation } from '/web/conversation.js';
import { openNewChat, showPaste } from '/web/invitation.js';
import { onProfileDeleted } from '/web/settings.js';
import { onOpened, setStatus, enableWelcome, showUnlock, openSaved, offerIfInUse } from '/web/welcome.js';
import { onRestored } from '/web/restore.js';
import { enterMessenger, endSession } from '/web/messenger.js';

onChooseChat(openConversation);
onOpened(enterMessenger);
onRestored(enterMessenger);
onProfileDeleted(async () => {
  await endSession({ locked: false });
  setStatus(`Your profile was deleted from this device. Sotto ${version()} is ready.`);
});

async function start() {
  if (location.hash.startsWith('#/invite/')) state.pendingInvite = location.href;
  try {
    await init();
    const fp = selfTest();
    byId('version').textContent = `Sotto ${version()}`;
    const ready = `Sotto ${version()} is ready. This browser made a key pair (${fp}…) without sending anything anywhere.`;
    setStatus(ready);
    enableWelcome();
    try {
      state.saved = await Sotto.savedProfile(PROFILE);
    } catch {
      state.saved = null; // no IndexedDB here (some private modes): offer the welcome
    }
    if (state.pendingInvite) {
      setStatus(`${ready} You opened an invitation: choose how to use Sotto, then connect.`);
    }
  } catch (err) {
    setStatus(`Sotto could not start in this browser: ${err.message ?? err}`);
    document.body.dataset.ready = 'error';
    return;
  }
  if (state.saved) {
    // Only a device that keeps a profile keeps the app (service worker and its cache).
    registerServiceWorker();
    showUnlock();
    document.body.dataset.ready = 'true';
    if (!state.saved.passphrase) await openSaved(null);
    else await offerIfInUse();
  } else {
    document.body.dataset.ready = 'true';
    forgetDevice();
  }
}

// An invitation link opened while the app is already open (same document, new fragment).
window.addEventListener('hashchange', () => {
  if (!location.hash.startsWith('#/invite/')) return;
  if (state.session) {
    const link = location.href;
    history.replaceState(null, '', location.pathname + location.search);
    openNewChat();
    showPaste(link);
  } else {
    state.pendingInvite = location.href;
  }
});

start();
