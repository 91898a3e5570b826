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
}
