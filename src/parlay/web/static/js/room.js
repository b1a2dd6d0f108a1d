// The room view: header, history with "Load earlier", live updates, composer.
import { api, ApiError } from './api.js';
import { h, hueOf, icon, initials, setFieldError } from './dom.js';
import * as live from './live.js';
import { renderMessage } from './messages.js';
import { memberLine } from './rooms.js';

const PAGE = 50;
const RUN_MS = 5 * 60 * 1000;

export class RoomView {
  constructor({ roomId, me, roomList }) {
    this.roomId = roomId;
    this.me = me;
    this.roomList = roomList;
    this.room = null;
    this.messages = new Map(); // id -> message
    this.elements = new Map(); // id -> <li>
    this.nextCursor = null;
    this.loadingEarlier = false;
    this.scroller = document.getElementById('messages-scroller');
    this.list = document.getElementById('messages');
    this.status = document.getElementById('messages-status');
    this.loadEarlierButton = document.getElementById('load-earlier');
    this.form = document.getElementById('composer');
    this.input = document.getElementById('composer-input');
    this.sendButton = document.getElementById('send-button');
    this.error = document.getElementById('composer-error');
    // Whether the reader is at (or near) the newest message; kept from their own scrolling,
    // so content growing above or a taller composer keeps them there instead of hiding it.
    this.pinned = true;
    this.newPill = null;
  }

  get context() {
    return { me: this.me, room: this.room };
  }

  async start() {
    live.subscribe('message.created', (msg) => {
      if (msg && msg.room_id === this.roomId) this.upsert(msg, { live: true });
    });
    live.subscribe('message.updated', (msg) => {
      if (msg && msg.room_id === this.roomId && this.messages.has(msg.id)) this.upsert(msg);
    });
    live.subscribe('resync', () => this.reload());
    this.setupComposer();
    this.setupPinning();
    this.loadEarlierButton.addEventListener('click', () => this.loadEarlier());

    try {
      this.room = await api('GET', `/api/v1/rooms/${encodeURIComponent(this.roomId)}`);
    } catch (err) {
      this.showMissing(err);
      return null;
    }
    this.renderHeader();
    // Wait briefly for the live stream's first frame, so nothing falls between history and live.
    await Promise.race([live.ready(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    try {
      const page = await api('GET', `/api/v1/rooms/${encodeURIComponent(this.roomId)}/messages?limit=${PAGE}`);
      for (const msg of page.messages) this.messages.set(msg.id, msg);
      this.nextCursor = page.next_cursor;
      live.resumeFrom(page.live_cursor); // nothing between this page and the stream is lost
      this.renderAll();
      this.status.textContent = this.messages.size ? '' : 'No messages yet. Say hello!';
    } catch (err) {
      this.status.textContent = err.message;
    }
    this.scroller.removeAttribute('aria-busy');
    this.scrollToBottom();
    this.input.disabled = false;
    this.sendButton.disabled = false;
    if (window.matchMedia('(min-width: 641px)').matches) this.input.focus();
    document.body.dataset.roomReady = 'true';
    return this.room;
  }

  /** Refetch the newest history from scratch: the live stream could not resume (resync). */
  async reload() {
    if (!this.room) return;
    try {
      const page = await api('GET', `/api/v1/rooms/${encodeURIComponent(this.roomId)}/messages?limit=${PAGE}`);
      for (const el of this.elements.values()) el.remove();
      this.elements.clear();
      this.messages.clear();
      for (const msg of page.messages) this.messages.set(msg.id, msg);
      this.nextCursor = page.next_cursor;
      this.renderAll();
      this.status.textContent = this.messages.size ? '' : 'No messages yet. Say hello!';
      this.scrollToBottom();
    } catch (err) {
      this.status.textContent = err.message;
    }
  }

  showMissing(err) {
    document.getElementById('room-title').textContent = err.status === 404 ? 'Room not found' : 'Could not open this room';
    document.getElementById('room-members').textContent = err.status === 404
      ? 'It does not exist, or you are not a member.'
      : err.message;
    this.status.textContent = '';
    this.scroller.removeAttribute('aria-busy');
    this.form.hidden = true;
    document.querySelector('.room-actions').hidden = true;
  }

  renderHeader() {
    const room = this.room;
    document.title = `${room.title} · Parlay`;
    document.getElementById('room-title').textContent = room.title;
    const members = document.getElementById('room-members');
    const names = (room.members || []).map((m) => (m.id === this.me.id ? 'You' : m.display_name));
    members.textContent = `${names.length} members: ${names.join(', ')}`;
    members.title = names.join(', ');
    const avatar = document.getElementById('room-avatar');
    avatar.textContent = initials(room.title);
    avatar.classList.add(hueOf(room.id));
    this.input.placeholder = `Message ${memberLine(room, this.me)}`;
  }

  isContinued(message, previous) {
    if (!previous || previous.kind !== 'text' || message.kind !== 'text') return false;
    if (!previous.sender || !message.sender || previous.sender.id !== message.sender.id) return false;
    return new Date(message.created_at) - new Date(previous.created_at) < RUN_MS;
  }

  /** Put every message element in id order (reusing elements) and fix grouping. */
  renderAll() {
    const ordered = [...this.messages.values()].sort((a, b) => a.id - b.id);
    let previous = null;
    const fragment = document.createDocumentFragment();
    for (const message of ordered) {
      const continued = this.isContinued(message, previous);
      let el = this.elements.get(message.id);
      if (!el || el.__message !== message || el.__continued !== continued) {
        const fresh = renderMessage(message, this.context, { continued });
        fresh.__message = message;
        fresh.__continued = continued;
        if (el) el.replaceWith(fresh);
        el = fresh;
        this.elements.set(message.id, el);
      }
      fragment.append(el);
      previous = message;
    }
    this.list.append(fragment);
    this.loadEarlierButton.hidden = !this.nextCursor;
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.showNewPill(false);
  }

  /**
   * Keep a reader who is at the bottom there whatever changes size (a card re-sent above, a
   * tall notice, the composer growing); a reader who scrolled up stays where they are.
   */
  setupPinning() {
    this.newPill = h(
      'button',
      { type: 'button', class: 'new-messages-pill', hidden: true },
      icon('down', 'icon icon-small'),
      'New messages',
    );
    this.newPill.addEventListener('click', () => {
      this.scrollToBottom();
      this.scroller.focus({ preventScroll: true }); // the pill hides; focus stays in the room
    });
    this.form.before(h('div', { class: 'new-messages-anchor' }, this.newPill));
    this.scroller.addEventListener('scroll', () => {
      this.pinned = this.nearBottom();
      if (this.pinned) this.showNewPill(false);
    }, { passive: true });
    if ('ResizeObserver' in window) {
      const keep = () => {
        if (this.pinned) this.scroller.scrollTop = this.scroller.scrollHeight;
      };
      const observer = new ResizeObserver(keep);
      observer.observe(this.list);
      observer.observe(this.scroller);
    }
  }

  showNewPill(show) {
    if (this.newPill) this.newPill.hidden = !show;
  }

  /** Add or replace a message (deduplicated by id). */
  upsert(message, { live: isLive = false, own = false } = {}) {
    const isNew = !this.messages.has(message.id);
    const stick = own || this.pinned || this.nearBottom();
    this.messages.set(message.id, message);
    this.renderAll();
    if (this.messages.size) this.status.textContent = '';
    if (stick || (isNew && !isLive)) this.scrollToBottom();
    else if (isNew && isLive) this.showNewPill(true);
  }

  async loadEarlier() {
    if (!this.nextCursor || this.loadingEarlier) return;
    this.loadingEarlier = true;
    this.loadEarlierButton.disabled = true;
    this.loadEarlierButton.textContent = 'Loading…';
    const before = this.scroller.scrollHeight - this.scroller.scrollTop;
    try {
      const page = await api(
        'GET',
        `/api/v1/rooms/${encodeURIComponent(this.roomId)}/messages?limit=${PAGE}&cursor=${encodeURIComponent(this.nextCursor)}`,
      );
      for (const msg of page.messages) if (!this.messages.has(msg.id)) this.messages.set(msg.id, msg);
      this.nextCursor = page.next_cursor;
      this.renderAll();
      this.scroller.scrollTop = this.scroller.scrollHeight - before;
      this.pinned = this.nearBottom();
    } catch (err) {
      this.status.textContent = err.message;
    } finally {
      this.loadingEarlier = false;
      this.loadEarlierButton.disabled = false;
      this.loadEarlierButton.textContent = 'Load earlier messages';
      if (!this.loadEarlierButton.hidden) this.loadEarlierButton.focus();
    }
  }

  setupComposer() {
    const autosize = () => {
      this.input.style.height = 'auto';
      this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
    };
    // CSSOM writes (element.style.x = ...) are allowed by the CSP; style="" markup is not used.
    this.input.addEventListener('input', () => {
      autosize();
      if (this.error.textContent) setFieldError(this.input, this.error, '');
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = this.input.value;
      if (!body.trim()) {
        setFieldError(this.input, this.error, 'Write a message first.');
        this.input.focus();
        return;
      }
      if (body.length > 10000) {
        setFieldError(this.input, this.error, 'Messages can be at most 10,000 characters.');
        return;
      }
      setFieldError(this.input, this.error, '');
      this.input.disabled = true;
      this.sendButton.disabled = true;
      this.form.setAttribute('aria-busy', 'true');
      try {
        const message = await api('POST', `/api/v1/rooms/${encodeURIComponent(this.roomId)}/messages`, { body });
        this.input.value = '';
        autosize();
        this.upsert(message, { own: true });
        this.roomList?.bump(this.roomId);
      } catch (err) {
        const text = err instanceof ApiError ? err.message : 'Could not send. Please try again.';
        setFieldError(this.input, this.error, text);
      } finally {
        this.input.disabled = false;
        this.sendButton.disabled = false;
        this.form.removeAttribute('aria-busy');
        this.input.focus();
      }
    });
  }
}
