// The room list (sidebar on desktop, its own screen on phones). Each room shows its count of
// unread notifications (bookings, changes, reminders), live on `notification.created` and
// `notification.read`; opening a room reads its notifications.
import { api } from './api.js';
import { h, hueOf, initials } from './dom.js';
import * as live from './live.js';

export function memberLine(room, me) {
  const others = (room.members || []).filter((m) => m.id !== me.id).map((m) => m.display_name);
  return others.length ? others.join(', ') : 'Only you';
}

export class RoomList {
  constructor({ listEl, emptyEl, me, currentRoomId, onChange }) {
    this.listEl = listEl;
    this.emptyEl = emptyEl;
    this.me = me;
    this.currentRoomId = currentRoomId;
    this.onChange = onChange || (() => {});
    this.rooms = new Map(); // id -> {room, el}
    this.pending = new Map(); // id -> Promise (rooms being fetched after a live event)
    this.notes = new Map(); // id -> unread notifications in that room
    live.subscribe('notification.created', (note) => this.noteCreated(note));
    live.subscribe('notification.read', (counts) => counts && this.setNoteCounts(counts.unread_by_room || {}));
    live.subscribe('resync', () => this.loadNoteCounts());
  }

  async load() {
    this.listEl.setAttribute('aria-busy', 'true');
    try {
      const rooms = [];
      let cursor = null;
      do {
        const query = cursor ? `?limit=200&cursor=${encodeURIComponent(cursor)}` : '?limit=200';
        const page = await api('GET', `/api/v1/rooms${query}`);
        rooms.push(...page.rooms);
        cursor = page.next_cursor;
      } while (cursor && rooms.length < 1000);
      // Live events may have already added some: keep their (newer) order on top.
      for (const room of rooms) {
        if (!this.rooms.has(room.id)) this.add(room, { atTop: false });
      }
      this.loadNoteCounts();
    } finally {
      this.listEl.removeAttribute('aria-busy');
      this.updateEmpty();
    }
  }

  get size() {
    return this.rooms.size;
  }

  get(id) {
    return this.rooms.get(id)?.room;
  }

  render(room) {
    const current = room.id === this.currentRoomId;
    return h(
      'li',
      { class: 'room-item', dataset: { roomId: room.id } },
      h(
        'a',
        { class: 'room-link', href: `/rooms/${encodeURIComponent(room.id)}`, 'aria-current': current ? 'page' : null },
        h('span', { class: `avatar ${hueOf(room.id)}`, 'aria-hidden': 'true', text: initials(room.title) }),
        h(
          'span',
          { class: 'room-link-text' },
          h('span', { class: 'room-link-title', text: room.title }),
          h('span', { class: 'room-link-sub', text: memberLine(room, this.me) }),
        ),
        h(
          'span',
          { class: 'room-notes', hidden: true },
          h('span', { class: 'room-notes-count' }),
          h('span', { class: 'visually-hidden', text: ' unread' }),
        ),
        h('span', { class: 'unread-dot', hidden: true }, h('span', { class: 'visually-hidden', text: 'New messages' })),
      ),
    );
  }

  /** Show `count` unread notifications on the room's entry ("3 unread" to a screen reader). */
  showNotes(el, count) {
    const marker = el.querySelector('.room-notes');
    marker.querySelector('.room-notes-count').textContent = count > 99 ? '99+' : String(count);
    marker.hidden = count <= 0;
    el.dataset.unreadNotifications = String(Math.max(0, count));
  }

  setNoteCount(roomId, count) {
    if (roomId === this.currentRoomId && count > 0) {
      this.readCurrentRoom(); // the person is looking at it
      count = 0;
    }
    this.notes.set(roomId, count);
    const entry = this.rooms.get(roomId);
    if (entry) this.showNotes(entry.el, count);
  }

  /** The server's per-room counts (rooms absent from `byRoom` have none). */
  setNoteCounts(byRoom) {
    for (const id of new Set([...this.notes.keys(), ...this.rooms.keys()])) {
      this.setNoteCount(id, Number(byRoom[id]) || 0);
    }
    for (const [id, count] of Object.entries(byRoom)) {
      if (!this.notes.has(id)) this.setNoteCount(id, Number(count) || 0);
    }
  }

  noteCreated(note) {
    if (!note || !note.room_id) return;
    this.setNoteCount(note.room_id, (this.notes.get(note.room_id) || 0) + 1);
  }

  async loadNoteCounts() {
    try {
      const page = await api('GET', '/api/v1/notifications?unread=true&limit=1');
      this.setNoteCounts(page.unread_by_room || {});
    } catch (err) {
      console.error(err);
    }
  }

  /** Mark the open room's notifications read (once at a time; the server answers live). */
  readCurrentRoom() {
    if (this.reading || !this.currentRoomId) return;
    this.reading = api('POST', '/api/v1/notifications/read', { room_id: this.currentRoomId })
      .catch((err) => console.error(err))
      .finally(() => {
        this.reading = null;
      });
  }

  add(room, { atTop = true } = {}) {
    const existing = this.rooms.get(room.id);
    const el = this.render(room);
    if (existing) {
      const unread = !existing.el.querySelector('.unread-dot').hidden;
      el.querySelector('.unread-dot').hidden = !unread;
      existing.el.replaceWith(el);
    } else if (atTop) {
      this.listEl.prepend(el);
    } else {
      this.listEl.append(el);
    }
    this.rooms.set(room.id, { room, el });
    this.showNotes(el, this.notes.get(room.id) || 0);
    if (atTop) this.listEl.prepend(el);
    this.updateEmpty();
    return el;
  }

  updateEmpty() {
    this.emptyEl.hidden = this.rooms.size > 0;
    this.onChange(this);
  }

  /** A message was created or updated in `roomId`: move that room to the top. */
  async bump(roomId, { unread = false } = {}) {
    let entry = this.rooms.get(roomId);
    if (!entry) {
      // A room we did not know yet (someone just added us): fetch it once.
      if (!this.pending.has(roomId)) {
        this.pending.set(
          roomId,
          api('GET', `/api/v1/rooms/${encodeURIComponent(roomId)}`)
            .then((room) => this.add(room))
            .catch(() => null)
            .finally(() => this.pending.delete(roomId)),
        );
      }
      await this.pending.get(roomId);
      entry = this.rooms.get(roomId);
      if (!entry) return;
    }
    if (this.listEl.firstElementChild !== entry.el) this.listEl.prepend(entry.el);
    if (unread && roomId !== this.currentRoomId) {
      entry.el.querySelector('.unread-dot').hidden = false;
      entry.el.classList.add('is-unread');
    }
  }
}
