// The scheduling window: a month calendar with the host's available dates, the times of the
// chosen date (in the viewer's zone), a summary with Confirm, then "Booked". The same window
// reschedules a meeting; a small step cancels one. All of it lives in schedule.js's dialog.
import { api, ApiError, loadMe } from './api.js';
import { h, hueOf, icon, initials } from './dom.js';
import {
  dateIn, formatDay, formatPlainDate, formatTime, formatTimeRange, formatTimeRangeZoned, formatWhenZoned, todayIn, viewerTimeZone,
} from './format.js';
import { closeScheduler, currentGeneration, footer, openStep, showStep, steps } from './schedule.js';
import { zonePicker } from './zonepicker.js';

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const DONE_CLOSE_MS = 2500;

// ---------- plain dates ("YYYY-MM-DD", no zone) ----------

function ymd(y, m, d) {
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function parts(date) {
  const [y, m, d] = date.split('-').map(Number);
  return { y, m, d };
}

function addDays(date, n) {
  const { y, m, d } = parts(date);
  const next = new Date(Date.UTC(y, m - 1, d + n));
  return ymd(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate());
}

function monthIndex({ y, m }) {
  return y * 12 + (m - 1);
}

function monthOf(date) {
  const { y, m } = parts(date);
  return { y, m };
}

function shiftMonth({ y, m }, n) {
  const index = y * 12 + (m - 1) + n;
  return { y: Math.floor(index / 12), m: (index % 12) + 1 };
}

function daysIn({ y, m }) {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function mondayOffset({ y, m }) {
  return (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;
}

function monthName({ y, m }) {
  return new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, 1)));
}

function sameInstant(a, b) {
  return new Date(a).getTime() === new Date(b).getTime();
}

function uuid() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function zoneLabel(zone) {
  return zone; // the IANA name as is ("America/New_York"): unambiguous, and what people search for
}

// ---------- opening ----------

/**
 * Open the scheduling window for an invite. `mode` "book" (default) or "reschedule" (with
 * `meeting`). `invite` may be given (else it is fetched by `inviteId`).
 */
export function openBooking({ inviteId, invite = null, mode = 'book', meeting = null, returnFocus = document.activeElement }) {
  openStep('book', { inviteId: inviteId || invite?.id, invite, mode, meeting }, { returnFocus });
}

/** Open "Cancel this meeting?" for a meeting. */
export function openCancel(meeting, { returnFocus = document.activeElement } = {}) {
  openStep('cancel', { meeting }, { returnFocus });
}

function loading(text) {
  return h('div', { class: 'step-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function hostLine(session) {
  const { invite, mode, meeting } = session;
  const meta = [h('span', { class: 'book-chip' }, icon('clock', 'icon icon-small'), `${invite.duration_minutes} min`)];
  if (mode === 'reschedule' && meeting) {
    meta.push(h('span', { class: 'book-chip' }, icon('calendar', 'icon icon-small'), `Currently ${formatWhenZoned(meeting.start, session.zone)}`));
  }
  return h(
    'div',
    { class: 'book-intro' },
    h('span', { class: `avatar ${hueOf(invite.host.id)}`, 'aria-hidden': 'true', text: initials(invite.host.display_name) }),
    h('div', { class: 'book-intro-text' }, h('p', { class: 'book-host', text: invite.host.display_name }), h('p', { class: 'book-meta' }, meta)),
  );
}

// ---------- the picker (month + times) ----------

function newSession(invite, mode, meeting, me) {
  const zone = viewerTimeZone(); // the browser's zone (the saved one only if it has none); changeable
  const today = todayIn(zone);
  const session = {
    invite, mode, meeting, me, zone, today,
    month: monthOf(today),
    dates: new Map(), // `${zone}|${y}-${m}` -> Set of dates (or a Promise while loading)
    slots: new Map(), // `${zone}|${date}` -> [{start, end}]
    selectedDate: null,
    focusDate: null,
    slot: null,
    alert: '',
    autoAdvance: true,
  };
  if (mode === 'reschedule' && meeting) {
    const current = dateIn(meeting.start, zone);
    session.selectedDate = current;
    session.focusDate = current;
    session.month = monthOf(current);
    session.autoAdvance = false;
  }
  return session;
}

function limits(session) {
  const last = addDays(session.today, (session.invite.horizon_days || 30) + 1);
  return { first: session.today, last, min: monthOf(session.today), max: monthOf(last) };
}

class Picker {
  constructor(session) {
    this.s = session;
    this.gen = currentGeneration();
    this.calTitle = h('h3', { class: 'cal-title', id: 'cal-title', 'aria-live': 'polite' });
    this.prev = h('button', { type: 'button', class: 'icon-button cal-nav', 'aria-label': 'Previous month' }, icon('left'));
    this.next = h('button', { type: 'button', class: 'icon-button cal-nav', 'aria-label': 'Next month' }, icon('right'));
    this.prev.addEventListener('click', () => this.goMonth(-1));
    this.next.addEventListener('click', () => this.goMonth(1));
    this.tbody = h('tbody');
    this.tbody.addEventListener('keydown', (event) => this.onKey(event));
    this.tbody.addEventListener('click', (event) => {
      const button = event.target.closest('button.cal-day');
      if (button) this.choose(button.dataset.date);
    });
    const head = h('tr', {}, WEEKDAYS.map((name) => h('th', { scope: 'col', abbr: name }, h('span', { 'aria-hidden': 'true', text: name.slice(0, 2) }), h('span', { class: 'visually-hidden', text: name }))));
    this.table = h('table', { class: 'cal-grid', 'aria-labelledby': 'cal-title' }, h('thead', {}, head), this.tbody);
    this.calNote = h('p', { class: 'cal-note', role: 'status' });
    this.calPane = h(
      'section',
      { class: 'cal-pane', 'aria-label': 'Choose a date' },
      h('div', { class: 'cal-head' }, this.prev, this.calTitle, this.next),
      this.table,
      h('p', { class: 'cal-legend' }, h('span', { class: 'cal-legend-dot', 'aria-hidden': 'true' }), 'Available'),
      this.calNote,
    );

    this.timesTitle = h('h3', { class: 'times-title', id: 'times-title' });
    this.zoneText = h('strong', {});
    this.zonePicker = zonePicker({ id: 'book-tz', value: session.zone, label: 'Time zone for the times', onChange: (zone) => this.changeZone(zone) });
    this.zoneSelect = h('div', { class: 'tz-picker-box', id: 'book-tz-box', hidden: true }, this.zonePicker.element);
    this.zoneButton = h('button', { type: 'button', class: 'link-button tz-change', 'aria-expanded': 'false', 'aria-controls': 'book-tz-box' }, 'Change');
    this.zoneButton.addEventListener('click', () => {
      const show = this.zoneSelect.hidden;
      this.zoneSelect.hidden = !show;
      this.zoneButton.setAttribute('aria-expanded', String(show));
      if (show) this.zonePicker.focus();
    });
    this.timesBody = h('div', { class: 'times-body', 'aria-live': 'polite' });
    this.timesPane = h(
      'section',
      { class: 'times-pane', 'aria-labelledby': 'times-title' },
      this.timesTitle,
      h('div', { class: 'tz-line' }, icon('globe', 'icon icon-small'), h('span', { class: 'tz-text' }, 'Times in ', this.zoneText), this.zoneButton),
      this.zoneSelect,
      this.timesBody,
    );
    this.alert = h('p', { class: 'book-alert', role: 'alert', text: session.alert });
    session.alert = '';
    this.element = h(
      'div',
      { class: 'book' },
      hostLine(session),
      this.alert,
      h('div', { class: 'book-panes' }, this.calPane, this.timesPane),
    );
    this.renderCalendar();
    this.renderTimes();
    this.loadMonth();
    if (session.selectedDate) this.loadSlots(session.selectedDate);
  }

  get alive() {
    return currentGeneration() === this.gen;
  }

  get monthKey() {
    return `${this.s.zone}|${this.s.month.y}-${this.s.month.m}`;
  }

  available() {
    const found = this.s.dates.get(this.monthKey);
    return found instanceof Set ? found : null;
  }

  /** The day button that takes Tab focus in the grid. */
  focusTarget() {
    return this.tbody.querySelector('button[tabindex="0"]');
  }

  renderCalendar({ focus = false } = {}) {
    const s = this.s;
    const { min, max, first } = limits(s);
    const month = s.month;
    this.calTitle.textContent = monthName(month);
    this.prev.disabled = monthIndex(month) <= monthIndex(min);
    this.next.disabled = monthIndex(month) >= monthIndex(max);
    const available = this.available();
    this.table.setAttribute('aria-busy', available ? 'false' : 'true');
    const count = daysIn(month);
    const inMonth = (date) => {
      const p = parts(date);
      return p.y === month.y && p.m === month.m;
    };
    let target = s.focusDate && inMonth(s.focusDate) ? s.focusDate : null;
    if (!target && s.selectedDate && inMonth(s.selectedDate)) target = s.selectedDate;
    if (!target && available) target = [...available].sort()[0] || null;
    // While the month's dates load, today (or the 1st) holds the tab stop only for now: once
    // they are known, focus moves on to the first open date.
    const provisional = !target && !available;
    if (!target && inMonth(s.today)) target = s.today;
    if (!target) target = ymd(month.y, month.m, 1);
    s.focusDate = provisional ? null : target;

    const rows = [];
    let cells = [];
    for (let i = 0; i < mondayOffset(month); i += 1) cells.push(h('td', { class: 'cal-blank' }));
    for (let d = 1; d <= count; d += 1) {
      const date = ymd(month.y, month.m, d);
      const open = Boolean(available?.has(date));
      const classes = ['cal-day'];
      if (open) classes.push('is-available');
      if (date === s.selectedDate) classes.push('is-selected');
      if (date === s.today) classes.push('is-today');
      if (date < first) classes.push('is-past');
      const label = `${formatPlainDate(date)}, ${open ? 'available' : 'unavailable'}`;
      cells.push(h('td', {}, h('button', {
        type: 'button',
        class: classes.join(' '),
        tabindex: date === target ? '0' : '-1',
        'aria-label': label,
        'aria-disabled': open ? null : 'true',
        'aria-pressed': open ? String(date === s.selectedDate) : null,
        'aria-current': date === s.today ? 'date' : null,
        dataset: { date },
        text: String(d),
      })));
      if (cells.length === 7) {
        rows.push(h('tr', {}, cells));
        cells = [];
      }
    }
    if (cells.length) {
      while (cells.length < 7) cells.push(h('td', { class: 'cal-blank' }));
      rows.push(h('tr', {}, cells));
    }
    const hadFocus = this.tbody.contains(document.activeElement);
    this.tbody.replaceChildren(...rows);
    if (focus || hadFocus) this.focusTarget()?.focus();
    if (available && !available.size) {
      this.calNote.textContent = this.next.disabled
        ? 'No open times left in this invite.'
        : `No open times in ${monthName(month).split(' ')[0]}. Try the next month.`;
    } else {
      this.calNote.textContent = '';
    }
  }

  async loadMonth() {
    const s = this.s;
    const key = this.monthKey;
    if (s.dates.get(key) instanceof Set) {
      this.renderCalendar();
      return;
    }
    const { first, last } = limits(s);
    const from = ymd(s.month.y, s.month.m, 1) < first ? first : ymd(s.month.y, s.month.m, 1);
    const monthEnd = ymd(s.month.y, s.month.m, daysIn(s.month));
    const to = monthEnd > last ? last : monthEnd;
    let found;
    if (from > to) {
      found = new Set();
    } else {
      if (!s.dates.has(key)) {
        const query = `from=${from}&to=${to}&tz=${encodeURIComponent(s.zone)}`;
        s.dates.set(key, api('GET', `/api/v1/invites/${encodeURIComponent(s.invite.id)}/dates?${query}`));
      }
      try {
        const result = await s.dates.get(key);
        found = result instanceof Set ? result : new Set(result.dates);
      } catch (err) {
        s.dates.delete(key);
        if (!this.alive) return;
        this.fail(err);
        return;
      }
    }
    s.dates.set(key, found);
    if (!this.alive || key !== this.monthKey) return;
    if (s.autoAdvance) {
      s.autoAdvance = false;
      // Nothing left this month (say, the 30th): show the next month with open dates.
      if (!found.size && monthIndex(s.month) < monthIndex(limits(s).max)) {
        s.month = shiftMonth(s.month, 1);
        s.focusDate = null;
        this.renderCalendar();
        this.loadMonth();
        return;
      }
    }
    this.renderCalendar();
  }

  fail(err) {
    if (err instanceof ApiError && err.code === 'invite_closed') {
      showStep('book-info', { session: this.s, kind: 'closed' });
      return;
    }
    this.alert.textContent = err.message;
  }

  goMonth(delta, { focusDate = null } = {}) {
    const s = this.s;
    const { min, max } = limits(s);
    const target = shiftMonth(s.month, delta);
    if (monthIndex(target) < monthIndex(min) || monthIndex(target) > monthIndex(max)) return false;
    s.month = target;
    s.focusDate = focusDate;
    const keyboard = Boolean(focusDate);
    this.renderCalendar({ focus: keyboard });
    this.loadMonth();
    if (document.activeElement?.disabled) {
      // The arrow just used is disabled now (first or last month): keep focus in the calendar.
      const other = delta < 0 ? this.next : this.prev;
      (other.disabled ? this.focusTarget() : other)?.focus();
    }
    return true;
  }

  onKey(event) {
    const button = event.target.closest('button.cal-day');
    if (!button) return;
    const date = button.dataset.date;
    const { y, m, d } = parts(date);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
    const moves = {
      ArrowLeft: -1,
      ArrowRight: 1,
      ArrowUp: -7,
      ArrowDown: 7,
      Home: -weekday,
      End: 6 - weekday,
    };
    let next = null;
    if (event.key in moves) next = addDays(date, moves[event.key]);
    else if (event.key === 'PageUp' || event.key === 'PageDown') {
      const month = shiftMonth(this.s.month, event.key === 'PageUp' ? -1 : 1);
      next = ymd(month.y, month.m, Math.min(d, daysIn(month)));
    } else return;
    event.preventDefault();
    const target = monthOf(next);
    const delta = monthIndex(target) - monthIndex(this.s.month);
    if (delta === 0) {
      this.s.focusDate = next;
      for (const b of this.tbody.querySelectorAll('button.cal-day')) b.tabIndex = b.dataset.date === next ? 0 : -1;
      this.focusTarget()?.focus();
    } else {
      this.goMonth(delta, { focusDate: next });
    }
  }

  choose(date) {
    const s = this.s;
    if (!this.available()?.has(date)) return;
    s.selectedDate = date;
    s.focusDate = date;
    s.slot = null;
    this.renderCalendar({ focus: true });
    this.loadSlots(date, { reveal: true });
  }

  changeZone(zone) {
    const s = this.s;
    s.zone = zone;
    s.today = todayIn(zone);
    this.renderCalendar();
    this.loadMonth();
    this.renderTimes();
    if (s.selectedDate) this.loadSlots(s.selectedDate);
  }

  async loadSlots(date, { reveal = false } = {}) {
    const s = this.s;
    const key = `${s.zone}|${date}`;
    if (!s.slots.has(key)) {
      this.renderTimes({ loading: true });
      try {
        const query = `date=${date}&tz=${encodeURIComponent(s.zone)}`;
        const result = await api('GET', `/api/v1/invites/${encodeURIComponent(s.invite.id)}/slots?${query}`);
        s.slots.set(key, result.slots);
      } catch (err) {
        if (!this.alive) return;
        this.fail(err);
        this.renderTimes();
        return;
      }
    }
    if (!this.alive || s.selectedDate !== date) return;
    this.renderTimes();
    if (reveal && window.matchMedia('(max-width: 640px)').matches) {
      this.timesPane.scrollIntoView({ block: 'start', behavior: 'smooth' });
    }
  }

  renderTimes({ loading: busy = false } = {}) {
    const s = this.s;
    this.zoneText.textContent = zoneLabel(s.zone);
    if (!s.selectedDate) {
      this.timesTitle.textContent = 'Pick a date';
      this.timesBody.replaceChildren(h('p', { class: 'times-empty' }, icon('calendar', 'icon'), h('span', { text: 'Choose a highlighted date to see the times.' })));
      return;
    }
    this.timesTitle.textContent = formatPlainDate(s.selectedDate, { weekday: 'long', day: 'numeric', month: 'long' });
    const slots = s.slots.get(`${s.zone}|${s.selectedDate}`);
    if (busy || !slots) {
      this.timesBody.replaceChildren(loading('Loading times…'));
      return;
    }
    if (!slots.length) {
      this.timesBody.replaceChildren(h('p', { class: 'times-empty' }, h('span', { text: 'No open times left on this day. Pick another date.' })));
      return;
    }
    const items = slots.map((slot) => {
      const current = s.mode === 'reschedule' && s.meeting && sameInstant(slot.start, s.meeting.start);
      const text = formatTime(slot.start, s.zone);
      // Mutual availability: the viewer has something else then (their meetings, calendars).
      const yoursBusy = !current && slot.viewer_busy === true;
      const label = current ? `${text}, the current time` : yoursBusy ? `${text}, you are busy then` : null;
      const tag = current ? 'Current' : yoursBusy ? 'You’re busy' : null;
      const button = h(
        'button',
        {
          type: 'button',
          class: 'time-button' + (current ? ' is-current' : '') + (yoursBusy ? ' is-viewer-busy' : ''),
          'aria-disabled': current ? 'true' : null,
          'aria-label': label,
          dataset: { start: slot.start },
        },
        h('span', { text }),
        tag ? h('span', { class: 'time-tag', 'aria-hidden': 'true', text: tag }) : null,
      );
      button.addEventListener('click', () => {
        if (current) return;
        s.slot = slot;
        showStep('book-confirm', { session: s });
      });
      return h('li', {}, button);
    });
    const list = h('ul', { class: 'time-list', 'aria-label': `Times on ${formatPlainDate(s.selectedDate)}` }, items);
    this.timesBody.replaceChildren(list, ...this.moreTimesCue(list));
  }

  /**
   * "More times below": a fade and a button pinned to the bottom of whatever scrolls the times
   * (the list's own box on wide screens, the sheet on a phone), shown while the end of the
   * list is out of view. Pressing it brings the next times up and focuses the first of them.
   */
  moreTimesCue(list) {
    this.moreObserver?.disconnect();
    const end = h('div', { class: 'times-end', 'aria-hidden': 'true' });
    const button = h('button', { type: 'button', class: 'times-more-button', hidden: true }, 'More times below', icon('down', 'icon icon-small'));
    button.addEventListener('click', () => {
      const edge = button.getBoundingClientRect().top;
      const next = [...list.querySelectorAll('.time-button')].find((b) => b.getBoundingClientRect().bottom > edge);
      if (!next) return;
      const scroller = this.timesBody.scrollHeight > this.timesBody.clientHeight + 1
        && getComputedStyle(this.timesBody).overflowY !== 'visible'
        ? this.timesBody
        : this.timesBody.closest('.dialog-body');
      const top = scroller ? scroller.getBoundingClientRect().top : 0;
      (scroller || document.scrollingElement).scrollBy({ top: next.getBoundingClientRect().top - top - 12 });
      next.focus({ preventScroll: true });
    });
    if ('IntersectionObserver' in window) {
      this.moreObserver = new IntersectionObserver((entries) => {
        // Nothing follows the list, so an end out of view is an end below.
        button.hidden = entries[entries.length - 1].isIntersecting;
      });
      this.moreObserver.observe(end);
    }
    return [end, h('div', { class: 'times-more' }, button)];
  }
}

function forget(session) {
  // Someone else may have taken times: drop what we know and ask again.
  session.dates.clear();
  session.slots.clear();
}

// ---------- steps ----------

Object.assign(steps, {
  book({ params }) {
    const title = params.mode === 'reschedule' ? 'Reschedule the meeting' : 'Schedule a meeting';
    if (params.session) {
      const picker = new Picker(params.session);
      return { title, content: picker.element, size: 'wide', focus: picker.focusTarget() };
    }
    const gen = currentGeneration();
    Promise.all([
      loadMe(),
      params.invite ? Promise.resolve(params.invite) : api('GET', `/api/v1/invites/${encodeURIComponent(params.inviteId)}`),
    ]).then(
      ([me, invite]) => {
        if (currentGeneration() !== gen) return;
        const session = newSession(invite, params.mode || 'book', params.meeting, me);
        if (session.mode === 'book') {
          if (invite.host.id === me.id) return showStep('book-info', { session, kind: 'own' });
          if (invite.status === 'withdrawn') return showStep('book-info', { session, kind: 'closed' });
          if (invite.status === 'booked') return showStep('book-info', { session, kind: 'booked' });
        } else if (params.meeting?.status === 'cancelled') {
          return showStep('book-info', { session, kind: 'cancelled' });
        }
        return showStep('book', { ...params, session });
      },
      (err) => {
        if (currentGeneration() !== gen) return;
        const text = err.status === 404 ? 'This invite does not exist, or you are not in its room.' : err.message;
        showStep('book-info', { kind: 'error', text });
      },
    );
    return { title, content: loading('Loading the open times…'), size: 'wide' };
  },

  'book-confirm'({ params, go }) {
    const s = params.session;
    const slot = s.slot;
    const resched = s.mode === 'reschedule';
    const error = h('p', { class: 'form-error', role: 'alert' });
    const reason = resched
      ? h('textarea', { id: 'book-reason', name: 'reason', rows: '3', maxlength: '500', 'aria-describedby': 'book-reason-hint', placeholder: 'e.g. Running late' })
      : null;
    const back = h('button', { type: 'button', class: 'button button-secondary' }, 'Back');
    back.addEventListener('click', () => go('book', { mode: s.mode, session: s }));
    const confirm = h('button', { type: 'button', class: 'button button-primary' }, 'Confirm');
    confirm.addEventListener('click', async () => {
      error.textContent = '';
      confirm.disabled = true;
      back.disabled = true;
      confirm.setAttribute('aria-busy', 'true');
      try {
        const meeting = resched
          ? await api('POST', `/api/v1/meetings/${encodeURIComponent(s.meeting.id)}/reschedule`, { start: slot.start, reason: reason.value.trim() || null })
          : await api('POST', `/api/v1/invites/${encodeURIComponent(s.invite.id)}/book`, { start: slot.start }, { headers: { 'Idempotency-Key': uuid() } });
        go('book-done', { session: s, meeting });
        if (!resched) import('./push_offer.js').then((m) => m.offerPush()).catch((e) => console.error(e)); // issue 12
        return;
      } catch (err) {
        const code = err instanceof ApiError ? err.code : '';
        if (code === 'slot_taken' || code === 'not_a_slot' || code === 'booker_busy') {
          s.alert = {
            slot_taken: 'That time was just taken — pick another.',
            not_a_slot: 'That time is no longer open — pick another.',
            booker_busy: err.message,
          }[code];
          s.slot = null;
          forget(s);
          go('book', { mode: s.mode, session: s });
          return;
        }
        if (code === 'invite_closed') return go('book-info', { session: s, kind: 'closed' });
        if (code === 'meeting_cancelled') return go('book-info', { session: s, kind: 'cancelled' });
        if (code === 'own_invite') return go('book-info', { session: s, kind: 'own' });
        error.textContent = err.message;
      }
      confirm.disabled = false;
      back.disabled = false;
      confirm.removeAttribute('aria-busy');
    });
    const summary = h(
      'div',
      { class: 'summary-card' },
      h('p', { class: 'summary-date' }, icon('calendar', 'icon'), h('span', { text: formatDay(slot.start, s.zone) })),
      h('p', { class: 'summary-time' }, icon('clock', 'icon'), h('span', { text: `${formatTimeRangeZoned(slot.start, slot.end, s.zone)} · ${s.invite.duration_minutes} min` })),
      h('p', { class: 'summary-zone' }, icon('globe', 'icon'), h('span', { text: `Times in ${zoneLabel(s.zone)}` })),
      resched
        ? h('p', { class: 'summary-was' }, icon('repeat', 'icon'), h('span', { text: `Moves it from ${formatWhenZoned(s.meeting.start, s.zone)}` }))
        : h('p', { class: 'summary-with' }, icon('user', 'icon'), h('span', { text: `With ${s.invite.host.display_name}` })),
    );
    const content = h(
      'div',
      { class: 'step step-confirm' },
      summary,
      resched
        ? h(
          'div',
          { class: 'field' },
          h('label', { for: 'book-reason', text: 'Reason (optional)' }),
          reason,
          h('p', { class: 'hint', id: 'book-reason-hint', text: 'Everyone in the room sees it with the new time.' }),
        )
        : h('p', { class: 'dialog-note', text: 'Everyone in the room gets the meeting with a link to join and to add it to their calendar.' }),
      error,
      footer(back, confirm),
    );
    return { title: resched ? 'Confirm the new time' : 'Confirm the meeting', content, size: 'medium', focus: resched ? reason : confirm };
  },

  'book-done'({ params, close }) {
    const { session: s, meeting } = params;
    const resched = s.mode === 'reschedule';
    const gen = currentGeneration();
    setTimeout(() => {
      if (currentGeneration() === gen) close();
    }, DONE_CLOSE_MS);
    const done = h('button', { type: 'button', class: 'button button-primary', onclick: close }, 'Done');
    const content = h(
      'div',
      { class: 'step step-done', role: 'status' },
      h('span', { class: 'done-badge', 'aria-hidden': 'true' }, icon('check', 'icon icon-large')),
      h('p', { class: 'done-title', text: resched ? 'The meeting has moved' : 'You are booked' }),
      h('p', { class: 'done-meeting', text: meeting.title }),
      h('p', { class: 'done-when' }, h('time', { datetime: meeting.start, text: formatDay(meeting.start, s.zone) })),
      h('p', { class: 'done-time', text: `${formatTimeRange(meeting.start, meeting.end, s.zone)} · ${zoneLabel(s.zone)}` }),
      h('p', { class: 'dialog-note', text: 'It is in the room now, with Join the meeting and Add to calendar.' }),
      footer(done),
    );
    return { title: resched ? 'Rescheduled' : 'Booked', content, size: 'medium', focus: done };
  },

  'book-info'({ params, close, go }) {
    const s = params.session;
    const actions = [];
    let title = 'Schedule a meeting';
    let text = params.text || '';
    let detail = null;
    if (params.kind === 'own') {
      text = 'This is your own invite. Others in the room pick a time from it; you will see the meeting here once they do.';
    } else if (params.kind === 'closed') {
      title = 'Invite closed';
      text = s?.invite.status === 'booked'
        ? 'Someone has just booked this invite.'
        : 'This invite is closed: it was booked or withdrawn. Ask for a new one in the room.';
    } else if (params.kind === 'cancelled') {
      title = 'Meeting cancelled';
      text = `This meeting was cancelled. Ask ${s?.invite.host.display_name || 'the host'} to share their availability again.`;
    } else if (params.kind === 'booked') {
      const meeting = s.invite.meeting;
      title = 'Already booked';
      if (meeting && meeting.status === 'scheduled') {
        text = 'This invite is booked:';
        detail = h('div', { class: 'summary-card' },
          h('p', { class: 'summary-date' }, icon('calendar', 'icon'), h('span', { text: formatDay(meeting.start, s.zone) })),
          h('p', { class: 'summary-time' }, icon('clock', 'icon'), h('span', { text: `${formatTimeRange(meeting.start, meeting.end, s.zone)} · ${zoneLabel(s.zone)}` })));
        const resched = h('button', { type: 'button', class: 'button button-secondary' }, 'Reschedule');
        resched.addEventListener('click', () => go('book', { mode: 'reschedule', session: newSession(s.invite, 'reschedule', meeting, s.me) }));
        actions.push(resched);
      } else {
        text = `The meeting from this invite was cancelled. Ask ${s.invite.host.display_name} to share their availability again.`;
      }
    }
    const ok = h('button', { type: 'button', class: 'button button-primary', onclick: close }, 'Close');
    const content = h('div', { class: 'step step-info' }, h('p', { class: 'dialog-lede', text }), detail, footer(...actions, ok));
    return { title, content, size: 'medium' };
  },

  cancel({ params, close }) {
    const { meeting } = params;
    const zone = viewerTimeZone();
    const error = h('p', { class: 'form-error', role: 'alert' });
    const reason = h('textarea', { id: 'cancel-reason', name: 'reason', rows: '3', maxlength: '500', 'aria-describedby': 'cancel-reason-hint' });
    const keep = h('button', { type: 'button', class: 'button button-secondary', onclick: close }, 'Keep it');
    const confirm = h('button', { type: 'button', class: 'button button-danger' }, 'Cancel meeting');
    confirm.addEventListener('click', async () => {
      error.textContent = '';
      confirm.disabled = true;
      confirm.setAttribute('aria-busy', 'true');
      try {
        await api('POST', `/api/v1/meetings/${encodeURIComponent(meeting.id)}/cancel`, { reason: reason.value.trim() || null });
        close(); // the meeting card updates live
        return;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'meeting_cancelled') {
          close();
          return;
        }
        error.textContent = err.message;
      }
      confirm.disabled = false;
      confirm.removeAttribute('aria-busy');
    });
    const content = h(
      'div',
      { class: 'step step-cancel' },
      h('div', { class: 'summary-card' },
        h('p', { class: 'summary-title', text: meeting.title }),
        h('p', { class: 'summary-date' }, icon('calendar', 'icon'), h('span', { text: formatDay(meeting.start, zone) })),
        h('p', { class: 'summary-time' }, icon('clock', 'icon'), h('span', { text: formatTimeRangeZoned(meeting.start, meeting.end, zone) }))),
      h('div', { class: 'field' },
        h('label', { for: 'cancel-reason', text: 'Reason (optional)' }),
        reason,
        h('p', { class: 'hint', id: 'cancel-reason-hint', text: 'Everyone in the room is told, with your reason.' })),
      error,
      footer(keep, confirm),
    );
    return { title: 'Cancel this meeting?', content, size: 'medium', focus: reason };
  },
});

export { closeScheduler };
