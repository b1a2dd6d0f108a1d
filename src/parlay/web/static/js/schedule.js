// The scheduling dialog, opened from a room's header (calendar icon, or "More" on phones).
// Step "connect": Connect your calendar (or Skip). Step "share": Share your availability.
// The scheduling feature replaces `steps.share` (and may extend `steps.connect`).
import { api } from './api.js';
import { h, icon } from './dom.js';

let dialog = null;
let titleEl = null;
let bodyEl = null;
let state = { room: null, returnFocus: null };

const PROVIDERS = [
  { id: 'google', name: 'Google Calendar', detail: 'Gmail and Google Workspace accounts' },
  { id: 'microsoft', name: 'Microsoft Outlook', detail: 'Outlook.com, Hotmail and Microsoft 365' },
];

function ensureDialog() {
  if (dialog) return dialog;
  titleEl = h('h2', { class: 'dialog-title', id: 'scheduler-title' });
  bodyEl = h('div', { class: 'dialog-body' });
  const close = h(
    'button',
    { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onclick: () => closeScheduler() },
    icon('close'),
  );
  dialog = h(
    'dialog',
    { class: 'dialog', id: 'scheduler', 'aria-labelledby': 'scheduler-title' },
    h('div', { class: 'dialog-head' }, titleEl, close),
    bodyEl,
  );
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) closeScheduler(); // a click on the backdrop
  });
  dialog.addEventListener('close', () => {
    const target = state.returnFocus;
    state.returnFocus = null;
    if (target && target.isConnected && target.offsetParent !== null) target.focus();
  });
  document.body.append(dialog);
  return dialog;
}

export function closeScheduler() {
  if (dialog?.open) dialog.close();
}

function footer(...buttons) {
  return h('div', { class: 'dialog-actions' }, ...buttons);
}

/** Render a step: `steps[name](context)` returns {title, content}. */
export function showStep(name) {
  const step = steps[name];
  const { title, content } = step({ room: state.room, go: showStep, close: closeScheduler });
  titleEl.textContent = title;
  bodyEl.replaceChildren(content);
  dialog.dataset.step = name;
  const first = bodyEl.querySelector('[autofocus], button, a[href], input, select, textarea');
  first?.focus();
}

async function connect(provider, button, errorEl) {
  button.disabled = true;
  errorEl.textContent = '';
  try {
    const result = await api('POST', `/api/v1/calendars/${provider}/connect`, {
      return_to: window.location.pathname,
    });
    if (result && result.authorize_url) {
      window.location.assign(result.authorize_url);
      return;
    }
    errorEl.textContent = 'Could not start connecting. Please try again.';
  } catch (err) {
    errorEl.textContent = err.status === 404 || err.status === 405
      ? 'Connecting calendars is not available yet. You can skip this step.'
      : err.message;
  }
  button.disabled = false;
}

export const steps = {
  connect({ go }) {
    const errorEl = h('p', { class: 'form-error', role: 'alert' });
    const providers = h(
      'ul',
      { class: 'provider-list' },
      PROVIDERS.map((p) => {
        const button = h(
          'button',
          { type: 'button', class: 'provider-button', dataset: { provider: p.id } },
          h('span', { class: `provider-logo provider-${p.id}`, 'aria-hidden': 'true' }, icon(p.id)),
          h('span', { class: 'provider-text' }, h('span', { class: 'provider-name', text: `Connect ${p.name}` }), h('span', { class: 'provider-detail', text: p.detail })),
        );
        button.addEventListener('click', () => connect(p.id, button, errorEl));
        return h('li', {}, button);
      }),
    );
    const content = h(
      'div',
      { class: 'step step-connect' },
      h('p', { class: 'dialog-lede', text: 'Link your calendar so your busy times are left out of the availability you share, and meetings booked here are added to it. This is optional.' }),
      providers,
      errorEl,
      h('p', { class: 'dialog-note', text: 'On-premises Exchange and Apple iCal cannot be linked.' }),
      footer(h('button', { type: 'button', class: 'button button-secondary', onclick: () => go('share') }, 'Skip')),
    );
    return { title: 'Connect your calendar', content };
  },

  share({ close }) {
    const content = h(
      'div',
      { class: 'step step-share' },
      h('div', { class: 'coming-soon' }, icon('clock', 'icon icon-large'), h('p', { class: 'coming-soon-title', text: 'Coming soon' }), h('p', { class: 'dialog-lede', text: 'Soon you can pick your days and hours here and send the room a link to book a meeting with you.' })),
      footer(h('button', { type: 'button', class: 'button button-primary', onclick: close }, 'Close')),
    );
    return { title: 'Share your availability', content };
  },
};

async function hasLinkedCalendar() {
  try {
    const result = await api('GET', '/api/v1/calendars', undefined, { redirectOn401: true });
    return Array.isArray(result?.calendars) && result.calendars.some((c) => c.status === 'active');
  } catch {
    return false; // no calendar support yet, or offline: offer to connect
  }
}

/** Open the scheduler for `room` ({id, title, members}). */
export async function openScheduler(room, { returnFocus = document.activeElement } = {}) {
  ensureDialog();
  state = { room, returnFocus };
  const linked = await hasLinkedCalendar();
  if (!dialog.open) dialog.showModal();
  showStep(linked ? 'share' : 'connect');
}
