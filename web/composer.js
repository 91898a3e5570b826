// The composer under a conversation: the text box (Enter sends, Shift+Enter a new line),
// attaching files and recording voice notes.
import { state, expiryFor } from '/web/store.js';
import { byId, showNotice } from '/web/dom.js';
import { voiceRecorder } from '/web/content.js';
import { renderList } from '/web/chat-list.js';
import { appendBubble, scrollToEnd, deliver, deliverFile } from '/web/conversation.js';

const el = {
  composer: byId('composer'), text: byId('composer-text'), attach: byId('attach'),
  fileInput: byId('file-input'), record: byId('record'),
};

/// Empties the text box (the session ended).
export function clearComposer() {
  el.text.value = '';
}

el.text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    el.composer.requestSubmit();
  }
});
el.text.addEventListener('input', autosize);

function autosize() {
  el.text.rows = Math.min(6, Math.max(1, el.text.value.split('\n').length));
}

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const { session } = state;
  const text = el.text.value;
  if (!text.trim() || !session?.current) return;
  const c = session.contacts.get(session.current);
  const m = {
    key: `local-${++session.localSeq}`, id: null, text, outgoing: true,
    sentAt: Date.now(), state: 'sending', node: null, contactId: c.id, expiresAt: expiryFor(c),
  };
  c.messages.push(m);
  c.lastAt = Date.now();
  appendBubble(m);
  scrollToEnd();
  el.text.value = '';
  autosize();
  el.text.focus();
  renderList();
  deliver(m, c.id);
});

el.attach.addEventListener('click', () => el.fileInput.click());
el.fileInput.addEventListener('change', () => {
  const files = [...el.fileInput.files];
  el.fileInput.value = '';
  for (const f of files) sendFile(f, {});
});

const recorder = voiceRecorder();
el.record.hidden = !recorder.supported();
el.record.addEventListener('click', async () => {
  if (recorder.recording()) {
    el.record.setAttribute('aria-pressed', 'false');
    el.record.setAttribute('aria-label', 'Record a voice note');
    const blob = await recorder.stop();
    if (blob) sendFile(new File([blob], 'voice-note.webm', { type: blob.type }), { voice: true });
    return;
  }
  try {
    await recorder.start();
    el.record.setAttribute('aria-pressed', 'true');
    el.record.setAttribute('aria-label', 'Stop and send the voice note');
  } catch (err) {
    showNotice(`The microphone is not available: ${err.message ?? err}`);
  }
});

function sendFile(file, { voice = false }) {
  const { session } = state;
  if (!session?.current) return;
  const c = session.contacts.get(session.current);
  const m = {
    key: `local-${++session.localSeq}`, id: null, text: '', outgoing: true, sentAt: Date.now(),
    state: 'sending', node: null, contactId: c.id, file, voice, expiresAt: expiryFor(c),
    attachment: { name: file.name || 'file', mime: file.type || 'application/octet-stream', size: file.size, voice, ready: true },
  };
  c.messages.push(m);
  c.lastAt = Date.now();
  appendBubble(m);
  scrollToEnd();
  renderList();
  deliverFile(m, c.id);
}
