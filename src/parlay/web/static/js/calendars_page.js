// The calendars page (/calendars): each linked account with its status and last sync, its
// calendars with "Check for conflicts" and "Add meetings here", Sync now, Disconnect (after a
// plain confirmation), and the connect buttons. The list is redrawn from the server after each
// change (turning "Add meetings here" on turns it off elsewhere, server side).
import { api, loadMe } from './api.js';
import { h, icon } from './dom.js';
import { refresh, showNotice } from './calendar_status.js';
import { loadProviders, openCaldavDialog, PROVIDERS, providerButtons, providerLabel } from './calendars.js';

const list = document.getElementById('connection-list');
const loading = document.getElementById('calendars-loading');
const pageError = document.getElementById('calendars-error');
const connectSection = document.getElementById('calendars-connect');
const connectLede = document.getElementById('connect-lede');
const connectMount = document.getElementById('connect-mount');

const STATUS = {
  active: { text: 'Connected', badge: 'badge-ok' },
  needs_reauth: { text: 'Needs reconnecting', badge: 'badge-danger' },
  error: { text: 'Not syncing', badge: 'badge-danger' },
};

/** "just now", "2 min ago", "3 h ago", "4 days ago". */
export function ago(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

function syncedText(connection) {
  return connection.last_synced_at ? `Last synced ${ago(connection.last_synced_at)}` : 'Not synced yet';
}

async function patch(connection, change, row) {
  for (const input of row.querySelectorAll('input')) input.disabled = true;
  pageError.textContent = '';
  try {
    await api('PATCH', `/api/v1/calendars/${encodeURIComponent(connection.id)}`, { calendars: [change] });
  } catch (err) {
    pageError.textContent = err.message;
  }
  await refresh(); // redraws from the server's state (other calendars may have changed too)
}

function toggle(connection, calendar, row, flag, label) {
  const id = `cal-${connection.id}-${flag}-${calendar.external_id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const input = h('input', { type: 'checkbox', id, checked: calendar[flag], dataset: { key: id } });
  input.addEventListener('change', () => patch(connection, { external_id: calendar.external_id, [flag]: input.checked }, row));
  return h('label', { class: 'check-line calendar-toggle', for: id }, input, h('span', { text: label }));
}

function calendarRow(connection, calendar) {
  const nameId = `cal-name-${connection.id}-${calendar.external_id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const row = h('div', { class: 'calendar-row', role: 'group', 'aria-labelledby': nameId });
  row.append(
    h(
      'p',
      { class: 'calendar-name' },
      h('span', { id: nameId, text: calendar.name }),
      calendar.primary ? h('span', { class: 'badge badge-muted', text: 'Primary' }) : null,
    ),
    h(
      'div',
      { class: 'calendar-toggles' },
      toggle(connection, calendar, row, 'check_conflicts', 'Check for conflicts'),
      toggle(connection, calendar, row, 'write_events', 'Add meetings here'),
    ),
  );
  return h('li', {}, row);
}

function confirmDisconnect(connection) {
  return new Promise((resolve) => {
    const who = `${providerLabel(connection.provider)} (${connection.account_email})`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'disconnect-title', 'aria-describedby': 'disconnect-text' });
    let answer = false;
    const keep = h('button', { type: 'button', class: 'button button-secondary', onclick: () => dialog.close() }, 'Keep it');
    const go = h('button', {
      type: 'button',
      class: 'button button-danger',
      onclick: () => {
        answer = true;
        dialog.close();
      },
    }, 'Disconnect');
    dialog.append(
      h('div', { class: 'dialog-head' }, h('h2', { class: 'dialog-title', id: 'disconnect-title', text: `Disconnect ${who}?` })),
      h(
        'div',
        { class: 'dialog-body' },
        h('p', { class: 'dialog-lede', id: 'disconnect-text', text: 'Parlay stops reading this calendar. Meetings already added to it stay there.' }),
        h('div', { class: 'dialog-actions' }, keep, go),
      ),
    );
    const returnFocus = document.activeElement;
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (returnFocus?.isConnected) returnFocus.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    keep.focus();
  });
}

function connectionItem(connection) {
  const info = PROVIDERS[connection.provider] || { label: connection.provider };
  const status = STATUS[connection.status] || STATUS.error;
  const titleId = `conn-${connection.id}`;
  const statusLine = h('p', { class: 'settings-status connection-progress', role: 'status' });
  const sync = h('button', { type: 'button', class: 'button button-small button-secondary', dataset: { key: `sync-${connection.id}` } }, 'Sync now');
  sync.addEventListener('click', async () => {
    sync.disabled = true;
    pageError.textContent = '';
    try {
      await api('POST', `/api/v1/calendars/${encodeURIComponent(connection.id)}/sync`);
      statusLine.textContent = 'Syncing…';
      setTimeout(() => refresh(), 2000); // the sync runs in the background; look again shortly
    } catch (err) {
      sync.disabled = false;
      pageError.textContent = err.message;
    }
  });
  const disconnect = h('button', { type: 'button', class: 'button button-small button-secondary button-quiet-danger', dataset: { key: `disconnect-${connection.id}` } }, 'Disconnect');
  disconnect.addEventListener('click', async () => {
    if (!(await confirmDisconnect(connection))) return;
    try {
      await api('DELETE', `/api/v1/calendars/${encodeURIComponent(connection.id)}`);
      showNotice(`${info.label} (${connection.account_email}) is disconnected.`, 'ok');
    } catch (err) {
      pageError.textContent = err.message;
    }
    await refresh();
  });
  return h(
    'li',
    { class: 'card connection', 'aria-labelledby': titleId, dataset: { provider: connection.provider } },
    h(
      'div',
      { class: 'connection-head' },
      h('span', { class: `provider-logo provider-${connection.provider}`, 'aria-hidden': 'true' }, icon(connection.provider === 'caldav' ? 'calendar' : connection.provider)),
      h(
        'div',
        { class: 'connection-who' },
        h('h2', { class: 'connection-title', id: titleId }, `${info.label} `, h('span', { class: 'connection-email', text: connection.account_email })),
        h('p', { class: 'connection-synced' }, h('span', { class: `badge ${status.badge}`, text: status.text }), ' ', h('time', { datetime: connection.last_synced_at || '', dataset: { synced: connection.last_synced_at || '' }, text: syncedText(connection) })),
      ),
    ),
    connection.status_detail && connection.status !== 'active'
      ? h('p', { class: 'hint connection-detail', text: `Details: ${connection.status_detail}` })
      : null,
    connection.calendars.length
      ? h('ul', { class: 'calendar-list', 'aria-label': `Calendars of ${connection.account_email}` }, connection.calendars.map((c) => calendarRow(connection, c)))
      : h('p', { class: 'hint', text: 'No calendars found in this account.' }),
    h('div', { class: 'settings-actions connection-actions' }, sync, disconnect, statusLine),
  );
}

function render(connections) {
  const focusKey = document.activeElement?.dataset?.key;
  list.replaceChildren(...connections.map(connectionItem));
  list.hidden = connections.length === 0;
  connectLede.textContent = connections.length
    ? 'Link another account.'
    : 'No calendar is linked yet. Link one so your busy times are left out of the availability you share.';
  document.getElementById('connect-title').textContent = connections.length ? 'Connect another calendar' : 'Connect your calendar';
  if (focusKey) list.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
}

function tick() {
  for (const el of list.querySelectorAll('time[data-synced]')) {
    if (el.dataset.synced) el.textContent = `Last synced ${ago(el.dataset.synced)}`;
  }
}

async function main() {
  document.addEventListener('parlay:calendars', (event) => render(event.detail));
  const [, providers, connections] = await Promise.all([loadMe(), loadProviders(), refresh()]);
  const errorEl = h('p', { class: 'form-error', role: 'alert' });
  const onCaldav = () => openCaldavDialog({
    onLinked: () => {
      showNotice('Your CalDAV calendar is linked.', 'ok');
      refresh();
    },
  });
  connectMount.replaceChildren(providerButtons(providers, { errorEl, onCaldav }), errorEl);
  connectSection.hidden = false;
  loading.remove();
  if (connections === null) pageError.textContent = 'Your calendars could not be loaded. Please reload.';
  setInterval(tick, 30000);
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  if (err && err.status === 401) return;
  console.error(err);
  pageError.textContent = err && err.message ? err.message : 'Something went wrong. Please reload.';
});
