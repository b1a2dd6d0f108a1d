// The room list (sidebar on desktop, its own screen on phones).
import { api } from './api.js';
import { h, hueOf, initials } from './dom.js';

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
        h('span', { class: 'unread-dot', hidden: true }, h('span', { class: 'visually-hidden', text: 'New messages' })),
      ),
    );
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
