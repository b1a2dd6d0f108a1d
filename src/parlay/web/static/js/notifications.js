// The notification bell: unread count in the header (live on `notification.created` and
// `notification.read`), and a panel listing the latest notifications. Opening the panel marks
// them read. On a phone inside a room the top bar is hidden, so the room header gets a bell too;
// every bell shows the same count and opens the same panel.
import { api } from './api.js';
import { h } from './dom.js';
import { formatFull, formatMessageTime } from './format.js';
import * as live from './live.js';

const PAGE = 20;
const SVG_NS = 'http://www.w3.org/2000/svg';
const BELL = ['M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0'];

const bells = [];
let panel = null;
let listEl = null;
let statusEl = null;
let openedBy = null;
let unread = 0;

function bellIcon() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of BELL) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

function makeBell(extraClass) {
  const badge = h('span', { class: 'notif-badge', hidden: true, 'aria-hidden': 'true' });
  const button = h(
    'button',
    {
      type: 'button',
      class: `icon-button notif-bell ${extraClass}`,
      'aria-label': 'Notifications',
      'aria-expanded': 'false',
      // No aria-controls: app.js wires every button[aria-controls][aria-expanded] as a menu.
      'aria-haspopup': 'dialog',
      'data-unread': '0',
    },
    bellIcon(),
    badge,
  );
  button.addEventListener('click', () => (panel.hidden ? openPanel(button) : closePanel()));
  bells.push(button);
  return button;
}

function setUnread(count) {
  unread = Math.max(0, Number(count) || 0);
  const text = unread > 99 ? '99+' : String(unread);
  for (const bell of bells) {
    const badge = bell.querySelector('.notif-badge');
    badge.textContent = text;
    badge.hidden = unread === 0;
    bell.dataset.unread = String(unread);
    bell.setAttribute('aria-label', unread ? `Notifications, ${unread} unread` : 'Notifications');
  }
}

function linkOf(note) {
  if (note.kind === 'calendar.needs_reauth') return '/calendars';
  return note.room_id ? `/rooms/${encodeURIComponent(note.room_id)}` : null;
}

function renderItem(note, { fresh }) {
  const href = linkOf(note);
  const time = h('time', {
    class: 'notif-time',
    datetime: note.created_at,
    title: formatFull(note.created_at),
    text: formatMessageTime(note.created_at),
  });
  const content = [
    h('span', { class: 'notif-item-head' }, h('span', { class: 'notif-title', text: note.title }), time),
    h('span', { class: 'notif-body', text: note.body }),
  ];
  const inner = href
    ? h('a', { class: 'notif-link', href }, ...content)
    : h('div', { class: 'notif-link' }, ...content);
  return h(
    'li',
    { class: `notif-item${fresh ? ' is-unread' : ''}`, dataset: { id: String(note.id), kind: note.kind } },
    inner,
  );
}

function ensurePanel() {
  if (panel) return;
  listEl = h('ol', { class: 'notif-list' });
  statusEl = h('p', { class: 'notif-status', role: 'status' });
  const close = h('button', { type: 'button', class: 'button button-small button-secondary', text: 'Close' });
  close.addEventListener('click', () => closePanel({ focus: true }));
  panel = h(
    'section',
    { class: 'notif-panel', id: 'notif-panel', hidden: true, role: 'dialog', 'aria-labelledby': 'notif-heading' },
    h('header', { class: 'notif-head' }, h('h2', { class: 'notif-heading', id: 'notif-heading', text: 'Notifications' }), close),
    statusEl,
    listEl,
  );
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closePanel({ focus: true });
    }
  });
  document.body.append(panel);
  document.addEventListener('click', (event) => {
    if (panel.hidden) return;
    if (panel.contains(event.target) || bells.some((b) => b.contains(event.target))) return;
    closePanel();
  });
}

async function openPanel(button) {
  openedBy = button;
  panel.hidden = false;
  for (const bell of bells) bell.setAttribute('aria-expanded', 'true');
  statusEl.textContent = 'Loading…';
  listEl.replaceChildren();
  panel.querySelector('button')?.focus();
  try {
    const page = await api('GET', `/api/v1/notifications?limit=${PAGE}`);
    listEl.replaceChildren(...page.notifications.map((n) => renderItem(n, { fresh: !n.read_at })));
    statusEl.textContent = page.notifications.length ? '' : 'No notifications yet.';
    setUnread(page.unread_count);
    if (page.unread_count > 0) {
      await api('POST', '/api/v1/notifications/read', { all: true });
      setUnread(0);
    }
  } catch (err) {
    statusEl.textContent = 'Notifications could not be loaded. Please try again.';
    console.error(err);
  }
}

function closePanel({ focus = false } = {}) {
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  for (const bell of bells) bell.setAttribute('aria-expanded', 'false');
  if (focus && openedBy) openedBy.focus();
}

async function onCreated(note) {
  if (!note) return;
  if (panel && !panel.hidden) {
    // The panel is open: the person sees it arrive, so it is read at once.
    statusEl.textContent = '';
    listEl.prepend(renderItem(note, { fresh: true }));
    try {
      await api('POST', '/api/v1/notifications/read', { ids: [note.id] });
      setUnread(unread - 1);
    } catch (err) {
      console.error(err);
    }
    return;
  }
  setUnread(note.unread_count ?? unread + 1);
}

async function refreshCount() {
  try {
    const page = await api('GET', '/api/v1/notifications?unread=true&limit=1');
    setUnread(page.unread_count);
  } catch (err) {
    console.error(err);
  }
}

function setup() {
  const topbarEnd = document.querySelector('header.topbar .topbar-end');
  if (!topbarEnd) return;
  ensurePanel();
  topbarEnd.prepend(makeBell('notif-bell-top'));
  const roomActions = document.querySelector('.room-actions');
  if (roomActions) roomActions.prepend(makeBell('notif-bell-room'));
  setUnread(0);
  live.start();
  live.subscribe('notification.created', (data) => {
    onCreated(data).catch((err) => console.error(err));
  });
  live.subscribe('notification.read', (data) => data && setUnread(data.unread_count));
  live.subscribe('resync', () => refreshCount());
  refreshCount();
}

setup();
