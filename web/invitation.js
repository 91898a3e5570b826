// The New chat view: creating a one-time invitation (link and QR code) or connecting with one
// pasted, scanned or opened as a link.
import { state, upsertContact } from '/web/store.js';
import { byId, clearText } from '/web/dom.js';
import { errorText } from '/web/format.js';
import { showPane, onLeave } from '/web/panes.js';
import { renderList } from '/web/chat-list.js';
import { openConversation } from '/web/conversation.js';
import { scanner } from '/web/qr-scanner.js';

const el = {
  newChat: byId('new-chat'),
  createInvitation: byId('create-invitation'), pasteInvitation: byId('paste-invitation'),
  createPanel: byId('create-panel'), linkOut: byId('invite-link-out'), copy: byId('copy-link'),
  copyStatus: byId('copy-status'), qr: byId('invite-qr'), createStatus: byId('create-status'),
  createError: byId('create-error'),
  pastePanel: byId('paste-panel'), linkIn: byId('invite-link-in'), connect: byId('connect'),
  pasteStatus: byId('paste-status'), pasteError: byId('paste-error'),
};

const scan = scanner({
  button: byId('scan-qr'), box: byId('scanner'), video: byId('scanner-video'), stop: byId('scan-stop'),
  accept: (value) => value.includes('#/invite/'),
  prompt: 'Point the camera at the invitation’s QR code.',
  report: {
    status: (text) => { el.pasteStatus.textContent = text; },
    error: (text) => { el.pasteError.textContent = text; },
    found: (link) => {
      el.linkIn.value = link;
      el.pasteStatus.textContent = 'Invitation scanned. Connect to start chatting.';
      el.connect.focus();
    },
  },
});
onLeave('new-chat', scan.stop);

el.newChat.addEventListener('click', () => { openNewChat(); el.createInvitation.focus(); });

/// Shows the New chat view with neither panel open.
export function openNewChat() {
  showPane('new-chat');
  renderList();
  el.createPanel.hidden = true;
  el.pastePanel.hidden = true;
  el.createInvitation.setAttribute('aria-pressed', 'false');
  el.pasteInvitation.setAttribute('aria-pressed', 'false');
}

/// Forgets every link, code and message of this view (the session ended).
export function clearNewChat() {
  el.linkOut.value = '';
  el.linkIn.value = '';
  el.qr.removeAttribute('src');
  el.qr.hidden = true;
  el.createPanel.hidden = true;
  el.pastePanel.hidden = true;
  scan.stop();
  clearText(el.copyStatus, el.createStatus, el.createError, el.pasteStatus, el.pasteError);
}

el.createInvitation.addEventListener('click', async () => {
  const s = state.session;
  el.pastePanel.hidden = true;
  el.createPanel.hidden = false;
  el.createInvitation.setAttribute('aria-pressed', 'true');
  el.pasteInvitation.setAttribute('aria-pressed', 'false');
  el.linkOut.value = '';
  el.qr.hidden = true;
  el.copyStatus.textContent = '';
  el.createError.textContent = '';
  el.createStatus.textContent = 'Creating a one-time invitation…';
  el.createInvitation.disabled = true;
  try {
    const link = await s.me.createInvitation();
    if (state.session !== s) return;
    el.linkOut.value = link;
    const svg = await s.me.invitationQr(link);
    if (state.session !== s) return;
    el.qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    el.qr.hidden = false;
    el.createStatus.textContent = 'Invitation ready. It works once; your friend appears in your chats when they connect.';
    el.linkOut.focus();
    el.linkOut.select();
  } catch (err) {
    if (state.session === s) {
      el.createStatus.textContent = '';
      el.createError.textContent = errorText(err);
    }
  } finally {
    el.createInvitation.disabled = false;
  }
});

el.copy.addEventListener('click', async () => {
  if (!el.linkOut.value) return;
  try {
    await navigator.clipboard.writeText(el.linkOut.value);
    el.copyStatus.textContent = 'Copied';
  } catch {
    el.linkOut.focus();
    el.linkOut.select();
    el.copyStatus.textContent = 'Could not copy automatically: the link is selected, press Ctrl+C (⌘C).';
  }
});

el.pasteInvitation.addEventListener('click', () => { showPaste(''); });

/// Opens the paste panel, filled with `link` (an invitation the app was opened with) or empty.
export function showPaste(link) {
  el.createPanel.hidden = true;
  el.pastePanel.hidden = false;
  el.pasteInvitation.setAttribute('aria-pressed', 'true');
  el.createInvitation.setAttribute('aria-pressed', 'false');
  el.pasteError.textContent = '';
  el.pasteStatus.textContent = link ? 'You opened an invitation link. Connect to start chatting.' : '';
  el.linkIn.value = link;
  el.linkIn.focus();
}

el.pastePanel.addEventListener('submit', async (e) => {
  e.preventDefault();
  const s = state.session;
  const link = el.linkIn.value.trim();
  el.pasteError.textContent = '';
  if (!link) {
    el.pasteError.textContent = 'Paste an invitation link first.';
    el.linkIn.focus();
    return;
  }
  el.connect.disabled = true;
  el.pasteStatus.textContent = 'Connecting…';
  try {
    const contact = await s.me.acceptInvitation(link);
    if (state.session !== s) return;
    el.linkIn.value = '';
    el.pasteStatus.textContent = '';
    upsertContact(contact);
    renderList();
    openConversation(contact.id);
  } catch (err) {
    if (state.session === s) {
      el.pasteStatus.textContent = '';
      el.pasteError.textContent = errorText(err);
      el.linkIn.focus();
    }
  } finally {
    el.connect.disabled = false;
  }
});
