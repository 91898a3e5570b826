// The chat list in the sidebar: one button per contact, newest first, with the last message,
// its time and the unread count; the unread total in the tab's title.
import { state, nameOf } from '/web/store.js';
import { bdi, byId, span, perFrame } from '/web/dom.js';
import { listTime } from '/web/format.js';
import { previewText } from '/web/content.js';

const el = { newChat: byId('new-chat'), chatList: byId('chat-list'), noChats: byId('no-chats') };

/// What choosing a chat does (set by the app: open the conversation).
let open = () => {};

/// Sets what a click on a chat does: `onOpen(contactId)`.
export function onChooseChat(onOpen) {
  open = onOpen;
}

/// Draws the list again from the session.
export function renderList() {
  const { session } = state;
  const contacts = [...session.contacts.values()].sort((a, b) => b.lastAt - a.lastAt);
  const unread = contacts.reduce((n, c) => n + c.unread, 0);
  document.title = unread > 0 ? `(${unread}) Sotto` : 'Sotto';
  el.noChats.hidden = contacts.length > 0;
  el.chatList.replaceChildren(...contacts.map((c) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'chat-item';
    button.dataset.contact = c.id;
    if (session.current === c.id) button.setAttribute('aria-current', 'true');
    const last = c.messages.at(-1);
    const top = document.createElement('span');
    top.className = 'chat-top';
    const name = bdi('chat-name', nameOf(c));
    const time = span('chat-time', last ? listTime(last.sentAt) : '');
    top.append(name, time);
    const bottom = document.createElement('span');
    bottom.className = 'chat-bottom';
    // The peer's text (or file name) isolated, after our own "You: ".
    const preview = span('chat-last', last ? (last.outgoing ? 'You: ' : '') : 'No messages yet');
    if (last) preview.append(bdi('', previewText(last)));
    bottom.append(preview);
    if (c.unread > 0) {
      const badge = span('unread', String(c.unread));
      badge.setAttribute('aria-label', `${c.unread} unread`);
      bottom.append(badge);
    }
    button.append(top, bottom);
    button.addEventListener('click', () => open(c.id));
    li.append(button);
    return li;
  }));
}

/// Draws the list again at the next frame, once however many times it is asked until then (a
/// burst of messages), if a session is still open by then.
export const renderListSoon = perFrame(() => {
  if (state.session) renderList();
});

/// Puts the focus on a contact's chat in the list, or on New chat when it is not there.
export function focusChat(contactId) {
  const item = contactId && el.chatList.querySelector(`[data-contact="${CSS.escape(contactId)}"]`);
  (item || el.newChat).focus();
}

/// Empties the list (the session ended).
export function clearList() {
  el.chatList.replaceChildren();
}
