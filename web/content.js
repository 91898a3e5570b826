// Pictures, files and voice notes in a conversation, and the disappearing-messages timer: how
// they look in a bubble, how they are sent, and the progress while they travel.
import { bdi, showControls, span, withoutControls } from '/web/dom.js';

/// Disappearing-messages choices, in seconds (0: off).
export const TIMER_CHOICES = [
  [0, 'Off'], [30, '30 seconds'], [300, '5 minutes'], [3600, '1 hour'], [86400, '1 day'], [604800, '1 week'],
];

export function timerLabel(seconds) {
  const known = TIMER_CHOICES.find(([s]) => s === seconds);
  if (known) return known[1];
  if (seconds % 86400 === 0) return `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

export function sizeLabel(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const isPicture = (a) => a.mime.startsWith('image/');
const isVoice = (a) => a.voice || a.mime.startsWith('audio/');

/// The chat list's one-line preview of a message: its text, or what its attachment is.
export function previewText(m) {
  const a = m.attachment;
  if (!a) return m.text;
  if (isVoice(a)) return 'Voice note';
  return `${isPicture(a) ? 'Picture' : 'File'}: ${showControls(a.name)}`;
}

/// A small stroked SVG icon (no emoji: not every system has an emoji font).
export function glyph(path, className = '') {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `glyph ${className}`.trim());
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', path);
  svg.append(p);
  return svg;
}

/// The clock of a disappearing message.
export const CLOCK = 'M12 5a8 8 0 1 0 0 16a8 8 0 1 0 0-16M12 9v4l2.5 2.5M9 2h6';

/// Object URLs made for a conversation; revoked when the conversation is left.
const urls = new Set();
export function releaseUrls() {
  for (const u of urls) URL.revokeObjectURL(u);
  urls.clear();
}
function urlOf(blob) {
  const u = URL.createObjectURL(blob);
  urls.add(u);
  return u;
}

/// The attachment part of a bubble: a preview, a player or a file card, with a progress bar
/// while the file travels. `load()` asks the library for the bytes once they are there.
export function attachmentView(m, load) {
  const a = m.attachment;
  const box = document.createElement('div');
  box.className = `attachment ${isPicture(a) ? 'picture' : isVoice(a) ? 'voice' : 'file'}`;
  if (isPicture(a)) {
    const img = document.createElement('img');
    img.alt = `Picture: ${showControls(a.name)}`;
    img.className = 'preview';
    if (a.thumbnail) img.src = urlOf(new Blob([a.thumbnail], { type: 'image/jpeg' }));
    box.append(img);
  } else if (isVoice(a)) {
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.setAttribute('aria-label', 'Voice note');
    box.append(audio);
  } else {
    box.append(glyph('M6 2h8l5 5v15H6zM14 2v5h5', 'file-icon'));
  }
  const card = document.createElement('div');
  card.className = 'file-card';
  const name = isVoice(a) ? span('file-name', 'Voice note') : bdi('file-name', a.name);
  const size = document.createElement('span');
  size.className = 'file-size';
  size.textContent = sizeLabel(a.size);
  const progress = document.createElement('progress');
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute('aria-label', `${m.outgoing ? 'Sending' : 'Receiving'} ${showControls(a.name)}`);
  card.append(name, size, progress);
  box.append(card);
  m.progress = progress;
  m.attachmentBox = box;
  showReady(m, load);
  return box;
}

/// Once the bytes are here: the full picture, the player's source, a download link.
export async function showReady(m, load) {
  const a = m.attachment;
  const box = m.attachmentBox;
  if (!box) return;
  const ready = a.ready || (m.outgoing && m.state !== 'failed');
  m.progress.hidden = a.ready || (m.outgoing && m.state === 'sent');
  if (!ready || box.dataset.loaded) return;
  const blob = await load(m.id);
  if (!blob || box.dataset.loaded) return;
  box.dataset.loaded = 'true';
  const url = urlOf(blob);
  if (isPicture(a)) box.querySelector('img').src = url;
  if (isVoice(a)) box.querySelector('audio').src = url;
  const link = document.createElement('a');
  link.href = url;
  link.download = withoutControls(a.name) || 'file';
  link.className = 'download';
  link.textContent = 'Download';
  link.setAttribute('aria-label', `Download ${showControls(a.name)}`);
  box.querySelector('.file-card').append(link);
}

export function showProgress(m, done, total) {
  if (!m.progress) return;
  m.progress.max = total;
  m.progress.value = done;
  m.progress.hidden = done >= total && !m.outgoing;
}

/// Records a voice note with the microphone: `start()` asks for it, `stop()` resolves with
/// the recording as a Blob (or null when cancelled).
export function voiceRecorder() {
  let recorder = null;
  let chunks = [];
  let stream = null;
  return {
    supported: () => typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia,
    recording: () => recorder?.state === 'recording',
    async start() {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener('dataavailable', (e) => { if (e.data.size) chunks.push(e.data); });
      recorder.start();
    },
    stop(keep = true) {
      return new Promise((resolve) => {
        if (!recorder) { resolve(null); return; }
        recorder.addEventListener('stop', () => {
          for (const t of stream.getTracks()) t.stop();
          const type = recorder.mimeType || 'audio/webm';
          recorder = null;
          resolve(keep && chunks.length ? new Blob(chunks, { type }) : null);
        }, { once: true });
        recorder.stop();
      });
    },
  };
}
