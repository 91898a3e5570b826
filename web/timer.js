// The disappearing-messages timer in a conversation's header.
import { state } from '/web/store.js';
import { byId, showNotice } from '/web/dom.js';
import { errorText } from '/web/format.js';
import { TIMER_CHOICES, timerLabel } from '/web/content.js';

const el = { timer: byId('timer') };

for (const [seconds, label] of TIMER_CHOICES) {
  el.timer.append(new Option(label, String(seconds)));
}

/// Shows a contact's timer setting.
export function showTimer(c) {
  const value = String(c.disappearingSeconds ?? 0);
  if (![...el.timer.options].some((o) => o.value === value)) {
    el.timer.append(new Option(timerLabel(Number(value)), value));
  }
  el.timer.value = value;
  el.timer.title = c.disappearingSeconds ? `Messages disappear after ${timerLabel(c.disappearingSeconds)}` : 'Messages are kept';
}

el.timer.addEventListener('change', async () => {
  const s = state.session;
  const c = s?.contacts.get(s.current);
  if (!c) return;
  const seconds = Number(el.timer.value);
  try {
    await s.me.setDisappearing(c.id, seconds);
    c.disappearingSeconds = seconds;
    showTimer(c);
    showNotice(seconds ? `New messages disappear after ${timerLabel(seconds)}.` : 'New messages are kept.');
  } catch (err) {
    showNotice(errorText(err));
    showTimer(c);
  }
});
