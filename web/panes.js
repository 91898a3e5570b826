// The right-hand pane: which view it shows (nothing chosen, new chat, settings or a
// conversation), the Back buttons, and Escape back to the list on a phone (one pane at a time).
import { state } from '/web/store.js';
import { byId } from '/web/dom.js';
import { renderList, focusChat } from '/web/chat-list.js';

const el = {
  openSettings: byId('open-settings'),
  panes: {
    empty: byId('pane-empty'), 'new-chat': byId('new-chat-view'),
    settings: byId('settings-view'), conversation: byId('conversation'),
  },
};

/// What to do when the pane shows anything but a given view: view name → [fn].
const leaving = new Map();

/// Runs `fn` each time the pane shows a view other than `which` (to stop a camera, to forget
/// what Settings showed).
export function onLeave(which, fn) {
  leaving.set(which, [...(leaving.get(which) ?? []), fn]);
}

/// Shows one view in the pane: 'empty', 'new-chat', 'settings' or 'conversation'.
export function showPane(which) {
  for (const [name, pane] of Object.entries(el.panes)) pane.hidden = which !== name;
  el.openSettings.setAttribute('aria-pressed', String(which === 'settings'));
  for (const [name, fns] of leaving) {
    if (which !== name) for (const fn of fns) fn();
  }
  document.body.dataset.view = which === 'empty' ? 'list' : 'pane';
  const { session } = state;
  if (which !== 'conversation' && session) {
    session.current = null;
    session.rendered = null;
  }
}

for (const back of document.querySelectorAll('[data-back]')) {
  back.addEventListener('click', () => {
    const from = state.session?.current;
    showPane('empty');
    renderList();
    focusChat(from);
  });
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.session && document.body.dataset.view === 'pane'
      && window.matchMedia('(max-width: 480px)').matches) {
    const views = [el.panes.conversation, el.panes['new-chat'], el.panes.settings];
    views.find((p) => !p.hidden)?.querySelector('[data-back]')?.click();
  }
});
