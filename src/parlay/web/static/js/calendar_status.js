// On every signed-in page: the outcome of a calendar link (?calendar=linked or
// ?calendar=error&reason=…, added by the OAuth callback) as a notice, and a banner for each
// connection that needs_reauth, with Reconnect. Checked on load and on `calendar.status` live
// events; pages that show connections listen to "parlay:calendars" for the fresh list.
import { ApiError } from './api.js';
import { h, icon } from './dom.js';
import * as live from './live.js';
import {
  loadConnections,
  openCaldavDialog,
  providerLabel,
  reasonMessage,
  rememberedCaldavUrl,
  startOAuth,
} from './calendars.js';

let region = null;
let noticeEl = null;
let bannersEl = null;

function ensureRegion() {
  if (region) return region;
  noticeEl = h('div', { class: 'calendar-notice-slot', role: 'status' });
  bannersEl = h('div', { class: 'calendar-banners' });
  region = h('div', { class: 'calendar-status', id: 'calendar-status' }, noticeEl, bannersEl);
  const header = document.querySelector('body > header.topbar');
  if (header) header.after(region);
  else document.body.prepend(region);
  return region;
}

function layout() {
  // The notice and banner slots, plus any prompt put in the strip (showInStrip).
  const busy = Boolean(noticeEl.childElementCount || bannersEl.childElementCount || region.childElementCount > 2);
  document.body.classList.toggle('has-calendar-status', busy);
}

/** Put a small prompt in the strip under the top bar, in the page's flow so it never covers
 * the controls below it; returns the function that takes it away. */
export function showInStrip(element) {
  ensureRegion();
  region.append(element);
  layout();
  return () => {
    element.remove();
    layout();
  };
}

/** Show a notice (kind: "ok" or "error") until it is dismissed. */
export function showNotice(text, kind = 'ok') {
  ensureRegion();
  const dismiss = h(
    'button',
    { type: 'button', class: 'icon-button calendar-notice-close', 'aria-label': 'Dismiss' },
    icon('close', 'icon icon-small'),
  );
  const notice = h(
    'div',
    { class: `calendar-notice is-${kind}` },
    icon(kind === 'ok' ? 'check' : 'ban', 'icon icon-small'),
    h('p', { class: 'calendar-notice-text', text }),
    dismiss,
  );
  dismiss.addEventListener('click', () => {
    notice.remove();
    layout();
  });
  noticeEl.replaceChildren(notice);
  layout();
}

/** Read ?calendar= (and ?reason=) once, say what happened, and take them out of the URL. */
function consumeCallbackParams() {
  const params = new URLSearchParams(window.location.search);
  const outcome = params.get('calendar');
  if (!outcome) return;
  if (outcome === 'linked') {
    showNotice('Your calendar is linked. Its busy times are now left out of the availability you share.', 'ok');
  } else if (outcome === 'error') {
    showNotice(reasonMessage(params.get('reason')), 'error');
  }
  params.delete('calendar');
  params.delete('reason');
  const query = params.toString();
  window.history.replaceState(window.history.state, '', window.location.pathname + (query ? `?${query}` : '') + window.location.hash);
}

function reconnect(connection, button) {
  if (connection.provider === 'caldav') {
    openCaldavDialog({
      prefill: { url: rememberedCaldavUrl(connection.id), username: connection.account_email },
      onLinked: () => {
        showNotice('Your calendar is linked again.', 'ok');
        refresh();
      },
    });
    return;
  }
  button.disabled = true;
  startOAuth(connection.provider).catch((err) => {
    button.disabled = false;
    showNotice(err.message, 'error');
  });
}

function renderBanners(connections) {
  ensureRegion();
  const broken = connections.filter((c) => c.status === 'needs_reauth');
  bannersEl.replaceChildren(
    ...broken.map((connection) => {
      const button = h('button', { type: 'button', class: 'button button-small button-primary' }, 'Reconnect');
      button.setAttribute('aria-label', `Reconnect ${providerLabel(connection.provider)} (${connection.account_email})`);
      button.addEventListener('click', () => reconnect(connection, button));
      return h(
        'div',
        { class: 'calendar-banner', role: 'alert', dataset: { connection: connection.id } },
        icon('calendar', 'icon icon-small'),
        h('p', {
          class: 'calendar-banner-text',
          text: `Parlay can't reach your ${providerLabel(connection.provider)} calendar (${connection.account_email}).`,
        }),
        button,
      );
    }),
  );
  layout();
}

let pending = null;
let again = false;

/** Fetch the connections again, redraw the banners and tell the page. */
export function refresh() {
  if (pending) {
    again = true; // a change may have landed after the read in flight began
    return pending;
  }
  pending = loadConnections()
    .then((connections) => {
      renderBanners(connections);
      document.dispatchEvent(new CustomEvent('parlay:calendars', { detail: connections }));
      return connections;
    })
    .catch((err) => {
      if (!(err instanceof ApiError && err.status === 401)) console.warn('calendars not loaded', err);
      return null;
    })
    .finally(() => {
      pending = null;
      if (again) {
        again = false;
        refresh();
      }
    });
  return pending;
}

function start() {
  ensureRegion();
  consumeCallbackParams();
  live.start();
  live.subscribe('calendar.status', () => refresh());
  live.subscribe('resync', () => refresh());
  refresh();
}

start();
