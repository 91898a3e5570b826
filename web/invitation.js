// The New chat view: creating a one-time invitation (link and QR code) or connecting with one
// pasted, scanned or opened as a link.
import { state, upsertContact, whileBusy } from '/web/store.js';
import { byId, clearText } from '/web/dom.js';
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
  el.pastePanel.hidden = true;
  el.createPanel.hidden = false;
  el.createInvitation.setAttribute('aria-pressed', 'true');
  el.pasteInvitation.setAttribute('aria-pressed', 'false');
  el.linkOut.value = '';
  el.qr.hidden = true;
  el.copyStatus.textContent = '';
  el.createError.textContent = '';
  el.createStatus.textContent = 'Creating a one-time invitation…';
  const busy = { button: el.createInvitation, status: el.createStatus, error: el.createError };
  await whileBusy(busy, async (s) => {
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
  });
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
  const link = el.linkIn.value.trim();
  el.pasteError.textContent = '';
  if (!link) {
    el.pasteError.textContent = 'Paste an invitation link first.';
    el.linkIn.focus();
    return;
  }
  el.pasteStatus.textContent = 'Connecting…';
  const busy = { button: el.connect, status: el.pasteStatus, error: el.pasteError, onError: () => el.linkIn.focus() };
  await whileBusy(busy, async (s) => {
    const contact = await s.me.acceptInvitation(link);
    if (state.session !== s) return;
    el.linkIn.value = '';
    el.pasteStatus.textContent = '';
    upsertContact(contact);
    renderList();
    openConversation(contact.id);
  });
});
