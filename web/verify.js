// Verifying a contact: the conversation's security code (digits and a QR code), compared by
// typing, pasting or scanning the contact's, and the Verified mark in the header.
import { state } from '/web/store.js';
import { byId, clearText } from '/web/dom.js';
import { errorText } from '/web/format.js';
import { scanner } from '/web/qr-scanner.js';

const el = {
  badge: byId('conv-verified'), toggle: byId('verify'), panel: byId('verify-panel'),
  digits: byId('verify-digits'), qr: byId('verify-qr'), form: byId('verify-form'),
  input: byId('verify-input'), unverify: byId('unverify'),
  status: byId('verify-status'), error: byId('verify-error'),
};

const scan = scanner({
  button: byId('verify-scan'), box: byId('verify-scanner'), video: byId('verify-video'),
  stop: byId('verify-scan-stop'),
  accept: (value) => value.startsWith('sotto-code:'),
  prompt: 'Point the camera at the QR code on your contact’s screen.',
  report: {
    status: (text) => { el.status.textContent = text; },
    error: (text) => { el.error.textContent = text; },
    found: (value) => compare(value),
  },
});

/// Shows a contact's Verified mark (and closes the panel of another contact).
export function showVerified(c) {
  el.badge.hidden = !c.verified;
  el.unverify.hidden = !c.verified;
  if (el.panel.dataset.contactId !== c.id) closePanel();
}

/// Closes the panel and forgets its code and messages.
export function closePanel() {
  scan.stop();
  el.panel.hidden = true;
  delete el.panel.dataset.contactId;
  el.toggle.setAttribute('aria-pressed', 'false');
  el.digits.textContent = '';
  el.qr.removeAttribute('src');
  el.qr.hidden = true;
  el.input.value = '';
  clearText(el.status, el.error);
}

const current = () => {
  const s = state.session;
  return s && s.contacts.get(s.current);
};

el.toggle.addEventListener('click', async () => {
  if (!el.panel.hidden) { closePanel(); return; }
  const s = state.session;
  const c = current();
  if (!c) return;
  el.panel.hidden = false;
  el.panel.dataset.contactId = c.id;
  el.toggle.setAttribute('aria-pressed', 'true');
  clearText(el.status, el.error);
  el.status.textContent = c.verified ? 'You verified this contact.' : '';
  try {
    const code = await s.me.securityCode(c.id);
    if (state.session !== s || el.panel.dataset.contactId !== c.id) return;
    el.digits.textContent = code.digits;
    el.qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(code.svg)}`;
    el.qr.hidden = false;
    el.input.focus();
  } catch (err) {
    el.error.textContent = errorText(err);
  }
});

/// Compares the contact's code (typed, pasted or scanned) with ours.
async function compare(theirs) {
  const s = state.session;
  const c = current();
  if (!c) return;
  clearText(el.status, el.error);
  try {
    await s.me.verifyContact(c.id, theirs);
    if (state.session !== s) return;
    c.verified = true;
    showVerified(c);
    el.status.textContent = 'The codes match: this contact is verified.';
  } catch (err) {
    if (state.session === s) el.error.textContent = errorText(err);
  }
}

el.form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (el.input.value.trim()) compare(el.input.value);
});

el.unverify.addEventListener('click', async () => {
  const s = state.session;
  const c = current();
  if (!c) return;
  try {
    await s.me.unverifyContact(c.id);
    c.verified = false;
    showVerified(c);
    el.status.textContent = 'The verified mark is removed.';
  } catch (err) {
    el.error.textContent = errorText(err);
  }
});
