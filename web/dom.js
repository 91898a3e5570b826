// Small DOM helpers shared by the PWA's views: finding elements, making text spans, and the
// notice line under the top bar.

/// The element with this id (each view module looks up its own elements with it).
export const byId = (id) => document.getElementById(id);

/// A `<span>` with a class and a text.
export function span(className, text) {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

/// Bidi controls that could make a peer's string read as another (`invoice\u202Etxt.exe` shown
/// as "invoiceexe.txt"): embeddings, overrides, isolates and marks. `showControls` names each
/// one visibly (as "⟨RLO⟩"); `withoutControls` removes them (and zero-width spaces), for file
/// names handed to the system.
const BIDI = {
  '\u061C': 'ALM', '\u200E': 'LRM', '\u200F': 'RLM', '\u202A': 'LRE', '\u202B': 'RLE',
  '\u202C': 'PDF', '\u202D': 'LRO', '\u202E': 'RLO', '\u2066': 'LRI', '\u2067': 'RLI',
  '\u2068': 'FSI', '\u2069': 'PDI',
};
const BIDI_RE = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
export const showControls = (text) => String(text ?? '').replace(BIDI_RE, (c) => `⟨${BIDI[c]}⟩`);
export const withoutControls = (text) => String(text ?? '').replace(BIDI_RE, '').replace(/[\u200B\u2060\uFEFF]/g, '');

/// A peer-controlled string (a name, a file name) as an isolated `<bdi>` with a class, its bidi
/// controls shown: whatever direction it has stays inside it.
export function bdi(className, text) {
  const b = document.createElement('bdi');
  if (className) b.className = className;
  b.textContent = showControls(text);
  return b;
}

/// A peer-controlled string inside a sentence of ours that can only be text (a notice, an
/// `alt` or `aria-label`): its bidi controls shown, and isolated with FSI … PDI.
export const isolate = (text) => `\u2068${showControls(text)}\u2069`;

/// A function that runs `draw` once before the next frame is painted, however often it is called
/// until then: a burst of events (200 messages arriving) is drawn once, not once per event. A
/// hidden page paints no frames, so a timer stands in there.
export function perFrame(draw) {
  let pending = false;
  const run = () => {
    if (!pending) return;
    pending = false;
    draw();
  };
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
    setTimeout(run, 250);
  };
}

/// Empties the text of each element (status lines, errors).
export function clearText(...elements) {
  for (const p of elements) p.textContent = '';
}

const notice = byId('notice');
let noticeTimer = 0;

/// Shows a sentence in the notice line under the top bar for six seconds.
export function showNotice(text, { sticky = false } = {}) {
  notice.textContent = text;
  clearTimeout(noticeTimer);
  if (!sticky) noticeTimer = setTimeout(() => { notice.textContent = ''; }, 6000);
}

/// Empties the notice line at once (when a session ends).
export function clearNotice() {
  notice.textContent = '';
  clockNotice.textContent = '';
  clockNotice.hidden = true;
  showConnection('online');
}

const clockNotice = byId('clock-notice');

/// Says, until the session ends, that this device's clock is off by `seconds` (what Sotto
/// adds to it: positive when the device is slow), e.g. "This device's clock is 15 minutes off".
export function showClockNotice(seconds) {
  const off = Math.abs(Number(seconds) || 0);
  const minutes = Math.round(off / 60);
  const hours = Math.round(off / 3600);
  const days = Math.round(off / 86400);
  const amount = minutes < 120 ? `${minutes} minute${minutes === 1 ? '' : 's'}`
    : hours < 48 ? `${hours} hours` : `${days} days`;
  const way = seconds > 0 ? 'slow' : 'fast';
  clockNotice.textContent = `This device's clock is ${amount} off (${way}). Sotto corrects for it, but please set the right date and time.`;
  clockNotice.hidden = false;
}

const offlineBanner = byId('offline-banner');

/// Shows whether the open Sotto reaches the network (`state`: its `connection`): a banner while
/// it is `offline` (messages written meanwhile wait in the outbox and go out once it is back),
/// none otherwise. Never an error: being offline is a state.
export function showConnection(state) {
  const offline = state === 'offline';
  offlineBanner.hidden = !offline;
  offlineBanner.textContent = offline
    ? 'Offline: Sotto cannot reach its relays. Your chats are here; new messages are sent when the connection is back.'
    : '';
  document.body.dataset.connection = state;
}
