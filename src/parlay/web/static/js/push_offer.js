// The offer of Web Push after a first booking (issue 12): once someone has a meeting, a small,
// non-blocking prompt asks whether this device should be told when meetings change. It shows
// after the person books (booking.js calls offerPush) or when someone books a time of theirs
// (a `meeting.scheduled` notification); "Turn on" subscribes through push_client.js, and either
// answer is remembered on this device so the offer never comes back.
import { h } from './dom.js';
import * as live from './live.js';
import { enablePush, pushEnabled, pushSupported } from './push_client.js';
import { showInStrip } from './calendar_status.js';

const ANSWER = 'parlay.push.offer'; // 'on' | 'not-now'
let shown = null;
let hide = null;

function remember(answer) {
  try {
    localStorage.setItem(ANSWER, answer);
  } catch {
    // storage blocked: the offer may come back, nothing worse
  }
}

function answered() {
  try {
    return localStorage.getItem(ANSWER) !== null;
  } catch {
    return false;
  }
}

function close() {
  hide?.();
  shown = null;
  hide = null;
}

function render() {
  const message = h('p', { class: 'push-prompt-text', id: 'push-prompt-text', text: 'Get a notification on this device when meetings change?' });
  const error = h('p', { class: 'push-prompt-error', role: 'alert' });
  const on = h('button', { type: 'button', class: 'button button-small button-primary', text: 'Turn on' });
  const later = h('button', { type: 'button', class: 'button button-small button-secondary', text: 'Not now' });
  const actions = h('div', { class: 'push-prompt-actions' }, on, later);
  const box = h('section', { class: 'push-prompt', 'aria-labelledby': 'push-prompt-text' }, message, error, actions);
  later.addEventListener('click', () => {
    remember('not-now');
    close();
  });
  on.addEventListener('click', async () => {
    on.disabled = true;
    error.textContent = '';
    try {
      await enablePush();
      remember('on');
      message.textContent = 'Notifications are on for this device. You can turn them off in Settings.';
      const ok = h('button', { type: 'button', class: 'button button-small button-secondary', text: 'Close' });
      ok.addEventListener('click', close);
      actions.replaceChildren(ok);
      ok.focus();
    } catch (err) {
      error.textContent = (err && err.message) || 'Notifications could not be turned on.';
      on.disabled = false;
    }
  });
  return box;
}

/** Offer push on this device, unless it was answered, is on already, or cannot work here. */
export async function offerPush() {
  if (shown || answered() || !pushSupported() || Notification.permission === 'denied') return;
  try {
    if (await pushEnabled()) {
      remember('on');
      return;
    }
  } catch {
    // no registration to ask: offer it
  }
  if (shown) return;
  shown = render();
  hide = showInStrip(shown);
}

live.subscribe('notification.created', (note) => {
  if (note && note.kind === 'meeting.scheduled') offerPush().catch((err) => console.error(err));
});
