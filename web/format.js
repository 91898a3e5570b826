// Formatting helpers for the PWA: days, times and the words shown for errors.

/// A formatter for `options` in the reader's locale, made once: `toLocaleTimeString(…, options)`
/// builds a new `Intl.DateTimeFormat` on every call (milliseconds each, tens for the first),
/// which a burst of messages paid once per bubble.
const formats = new Map();
function format(key, options) {
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, options);
    formats.set(key, f);
  }
  return f;
}

/// Makes the formatters of a conversation's bubbles and of the chat list ahead of use, while the
/// page is idle: the first one also loads the locale's data (tens of ms), which the first bubble
/// drawn (a file being sent, a burst arriving) paid otherwise.
export function prepareFormats() {
  const idle = globalThis.requestIdleCallback ?? ((f) => setTimeout(f, 0));
  idle(() => {
    const now = Date.now();
    timeLabel(now);
    listTime(now - 2 * 86_400_000);
    dayLabel(now - 2 * 86_400_000);
  });
}

const sameDay = (a, b) => a.getFullYear() === b.getFullYear()
  && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/// A key that is equal for two times on the same local calendar day.
export function dayKey(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/// "Today", "Yesterday" or a date, for the separators between days in a conversation.
export function dayLabel(t, now = new Date()) {
  const d = new Date(t);
  if (sameDay(d, now)) return 'Today';
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  if (sameDay(d, y)) return 'Yesterday';
  if (d.getFullYear() === now.getFullYear()) {
    return format('day', { weekday: 'long', day: 'numeric', month: 'long' }).format(d);
  }
  return format('day-year', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(d);
}

/// "14:05" (in the reader's locale).
export function timeLabel(t) {
  return format('time', { hour: '2-digit', minute: '2-digit' }).format(new Date(t));
}

/// The time in the chat list: the time today, else a short date.
export function listTime(t, now = new Date()) {
  const d = new Date(t);
  if (sameDay(d, now)) return timeLabel(t);
  return format('short-day', { day: 'numeric', month: 'short' }).format(d);
}

/// Shown when the profile was restored on another device, which took its conversations over.
export const MOVED_TEXT = 'This profile was restored on another device; this copy no longer sends or receives.';

const MESSAGES = {
  INVALID_INVITATION: 'That invitation link is not valid or has expired.',
  RELAY_UNREACHABLE: 'Sotto cannot reach its relays right now. Check your connection and try again.',
  UNKNOWN_CONTACT: 'That contact is not known here any more.',
  MESSAGE_TOO_LARGE: 'That message is too long to send in one piece.',
  CLOSED: 'This session has ended.',
  UNSUPPORTED: 'This browser or this release does not support that yet.',
  WRONG_PASSPHRASE: 'That passphrase does not open the profile saved on this device.',
  STORAGE: 'This browser could not read or write the profile saved on this device.',
  STORAGE_QUOTA: 'This device has no storage space left for Sotto.',
  PROFILE_IN_USE: 'This profile is open in another tab or window.',
  RELAY_FULL: 'The relay is full for now; Sotto will try again.',
  RELAY_REFUSED: 'A relay refused that request. Try again in a moment.',
  DIRECTORY_INVALID: 'Sotto refused the relay directory: it is not signed by the directory authorities this app trusts, or it has expired. Choose another directory in Settings, or the default one.',
  CLOCK_SKEW: "The relays do not accept this device's clock. Set the right date and time, then try again.",
  INVALID_BACKUP: 'That file is not a Sotto backup, or it is damaged.',
  BACKUP_MISMATCH: 'These recovery words do not open that backup: it is another profile\'s.',
  NO_SNAPSHOT: 'No copy of this profile was found on the relays: check the words, or choose the backup file.',
  PROFILE_EXISTS: 'A profile is already saved on this device: tick "Replace" to overwrite it.',
  PROFILE_MOVED: MOVED_TEXT,
  NO_SESSION: 'This conversation can send nothing more: it was restored from an old backup. Invite this contact again.',
  MESSAGE_EXPIRED: 'This message disappeared before it could be sent: the contact could not be reached in time.',
  CODE_MISMATCH: 'These codes differ. Check that you compared the right chat; if they still differ, someone may have come between you when the invitation was passed on: meet again and make a new invitation.',
};

/// Shown when this site names no directory authority (its `/config.json`) and none was kept.
export const NO_TRUST_TEXT = 'This site does not say which directory authorities to trust, so Sotto cannot check its list of relays. Try again when online, or ask whoever runs this site.';

/// The sentence shown to a person for a SottoError (or any other failure).
export function errorText(err) {
  if (err?.code === 'INVALID_INVITATION' && /own invitation/.test(err.message)) {
    return 'That is your own invitation: send it to the person you want to chat with.';
  }
  // The library's sentence names the wrong word (and its position) or the count.
  if (err?.code === 'WRONG_WORDS' && err.message) {
    return `Check your recovery words: ${err.message}.`;
  }
  // The library's sentence says what is wrong with the argument (e.g. a display name).
  if (err?.code === 'INVALID_ARGUMENT' && err.message) {
    return `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
  }
  return MESSAGES[err?.code] ?? `Something went wrong: ${err?.message ?? err}`;
}
