// The weekly-hours editor of "Share your availability": one row per weekday with an
// "available" checkbox, its time ranges (15-minute grid, end may be 24:00), add / remove
// a range, and "Copy to…" other days. Client-side checks speak next to the row.
import { h, icon } from './dom.js';
import { uses12Hour } from './format.js';

export const DAYS = [
  { key: 'mon', name: 'Monday', short: 'Mon' },
  { key: 'tue', name: 'Tuesday', short: 'Tue' },
  { key: 'wed', name: 'Wednesday', short: 'Wed' },
  { key: 'thu', name: 'Thursday', short: 'Thu' },
  { key: 'fri', name: 'Friday', short: 'Fri' },
  { key: 'sat', name: 'Saturday', short: 'Sat' },
  { key: 'sun', name: 'Sunday', short: 'Sun' },
];

const GRID = [];
for (let minutes = 0; minutes <= 24 * 60; minutes += 15) {
  GRID.push(`${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`);
}
const STARTS = GRID.slice(0, -1); // 00:00 … 23:45
const ENDS = GRID.slice(1); // 00:15 … 24:00

export function toMinutes(hhmm) {
  const [hh, mm] = String(hhmm).split(':').map(Number);
  return hh * 60 + mm;
}

function fromMinutes(total) {
  const clamped = Math.max(0, Math.min(24 * 60, total));
  return GRID[Math.round(clamped / 15)];
}

function label(hhmm) {
  if (!uses12Hour()) return hhmm;
  const minutes = toMinutes(hhmm);
  if (minutes === 24 * 60) return 'Midnight';
  const hour = Math.floor(minutes / 60);
  const suffix = hour < 12 ? 'AM' : 'PM';
  return `${hour % 12 || 12}:${String(minutes % 60).padStart(2, '0')} ${suffix}`;
}

let optionCache = null;
function options(list) {
  // Building ~96 <option>s per select is cheap; cloning a prepared list is cheaper.
  optionCache ||= new Map();
  if (!optionCache.has(list)) {
    const fragment = document.createDocumentFragment();
    for (const value of list) fragment.append(h('option', { value, text: label(value) }));
    optionCache.set(list, fragment);
  }
  return optionCache.get(list).cloneNode(true);
}

function timeSelect(list, value, attrs) {
  const select = h('select', attrs, options(list));
  select.value = value;
  return select;
}

/** Draft from the API's weekly ({mon: [{start, end}], …}); days without ranges are off. */
export function draftFrom(weekly) {
  const draft = {};
  for (const { key } of DAYS) {
    const ranges = Array.isArray(weekly?.[key]) ? weekly[key].map((r) => ({ start: r.start, end: r.end })) : [];
    draft[key] = { on: ranges.length > 0, ranges };
  }
  return draft;
}

/** The API's weekly from a draft (all 7 keys; days switched off are empty). */
export function weeklyOf(draft) {
  const weekly = {};
  for (const { key } of DAYS) {
    weekly[key] = draft[key].on ? draft[key].ranges.map((r) => ({ start: r.start, end: r.end })) : [];
  }
  return weekly;
}

/** Problems of one day: {message, bad: Set(index)} or null. */
export function checkDay(day) {
  if (!day.on) return null;
  const bad = new Set();
  let message = '';
  day.ranges.forEach((r, i) => {
    if (toMinutes(r.end) <= toMinutes(r.start)) {
      bad.add(i);
      message ||= day.ranges.length > 1
        ? `Range ${i + 1}: the end must be after the start.`
        : 'The end must be after the start.';
    }
  });
  const order = day.ranges.map((r, i) => ({ ...r, i })).sort((a, b) => toMinutes(a.start) - toMinutes(b.start));
  for (let k = 1; k < order.length; k += 1) {
    if (toMinutes(order[k].start) < toMinutes(order[k - 1].end)) {
      bad.add(order[k].i);
      bad.add(order[k - 1].i);
      message ||= 'These ranges overlap. Change or remove one.';
    }
  }
  return bad.size ? { message, bad } : null;
}

function nextRange(ranges) {
  if (!ranges.length) return { start: '09:00', end: '17:00' };
  // The first free hour after the last range (else anywhere in the day, else a quarter).
  const taken = ranges.map((r) => [toMinutes(r.start), toMinutes(r.end)]);
  const free = (a, b) => taken.every(([s, e]) => b <= s || a >= e);
  const lastEnd = Math.max(...taken.map(([, e]) => e));
  for (const length of [60, 15]) {
    const starts = [];
    for (let m = lastEnd + 60; m + length <= 24 * 60; m += 15) starts.push(m);
    for (let m = 0; m + length <= 24 * 60; m += 15) starts.push(m);
    const start = starts.find((m) => free(m, m + length));
    if (start !== undefined) return { start: fromMinutes(start), end: fromMinutes(start + length) };
  }
  return { start: '09:00', end: '10:00' }; // the day is full: the check will say so
}

export class WeeklyEditor {
  /** `draft` is mutated in place; `onChange` runs after each edit. */
  constructor(draft, { onChange = () => {} } = {}) {
    this.draft = draft;
    this.onChange = onChange;
    this.rows = new Map();
    this.copyOpen = null;
    this.status = h('p', { class: 'visually-hidden', role: 'status' });
    this.list = h('ul', { class: 'week', 'aria-label': 'Weekly hours' });
    for (const day of DAYS) {
      const row = h('li', { class: 'week-row', dataset: { day: day.key } });
      this.rows.set(day.key, row);
      this.list.append(row);
      this.renderDay(day);
    }
    this.element = h('div', { class: 'week-editor' }, this.list, this.status);
  }

  renderDay(day, { focus = null } = {}) {
    const state = this.draft[day.key];
    const row = this.rows.get(day.key);
    const errorId = `week-error-${day.key}`;
    const toggle = h('input', {
      type: 'checkbox',
      class: 'week-check',
      id: `week-on-${day.key}`,
      'aria-label': `Available on ${day.name}`,
      checked: state.on,
    });
    toggle.addEventListener('change', () => {
      state.on = toggle.checked;
      if (state.on && !state.ranges.length) state.ranges.push(nextRange([]));
      this.renderDay(day, { focus: 'toggle' });
      this.changed();
    });
    const dayLabel = h(
      'label',
      { class: 'week-day', for: toggle.id },
      toggle,
      h('span', { class: 'week-day-name', 'aria-hidden': 'true', text: day.short }),
    );

    const ranges = h('div', { class: 'week-ranges' });
    const problem = checkDay(state);
    if (!state.on) {
      ranges.append(h('p', { class: 'week-off', text: 'Unavailable' }));
    } else {
      state.ranges.forEach((range, index) => {
        const n = index + 1;
        const invalid = problem?.bad.has(index) ? 'true' : null;
        const start = timeSelect(STARTS, range.start, {
          class: 'week-select', 'aria-label': `${day.name}, range ${n}, from`, 'aria-describedby': errorId, 'aria-invalid': invalid,
          dataset: { field: 'start', index },
        });
        const end = timeSelect(ENDS, range.end, {
          class: 'week-select', 'aria-label': `${day.name}, range ${n}, to`, 'aria-describedby': errorId, 'aria-invalid': invalid,
          dataset: { field: 'end', index },
        });
        start.addEventListener('change', () => {
          range.start = start.value;
          this.validateDay(day);
          this.changed();
        });
        end.addEventListener('change', () => {
          range.end = end.value;
          this.validateDay(day);
          this.changed();
        });
        const remove = h(
          'button',
          { type: 'button', class: 'icon-button week-remove', 'aria-label': `Remove ${day.name}, range ${n}`, title: 'Remove' },
          icon('trash', 'icon icon-small'),
        );
        remove.addEventListener('click', () => {
          state.ranges.splice(index, 1);
          if (!state.ranges.length) state.on = false;
          this.renderDay(day, { focus: state.ranges.length ? 'add' : 'toggle' });
          this.changed();
          this.announce(`Removed a range from ${day.name}.`);
        });
        ranges.append(h('div', { class: 'week-range' }, start, h('span', { class: 'week-dash', 'aria-hidden': 'true', text: '–' }), end, remove));
      });
    }

    const actions = h('div', { class: 'week-actions' });
    if (state.on) {
      const add = h(
        'button',
        { type: 'button', class: 'link-button week-add', 'aria-label': `Add a range on ${day.name}`, dataset: { role: 'add' } },
        icon('plus', 'icon icon-small'), 'Add range',
      );
      add.addEventListener('click', () => {
        state.ranges.push(nextRange(state.ranges));
        this.renderDay(day, { focus: 'last-start' });
        this.changed();
      });
      const panelId = `week-copy-${day.key}`;
      const copy = h(
        'button',
        {
          type: 'button', class: 'link-button week-copy', 'aria-expanded': this.copyOpen === day.key ? 'true' : 'false',
          'aria-controls': panelId, 'aria-label': `Copy ${day.name}'s hours to other days`, dataset: { role: 'copy' },
        },
        icon('copy', 'icon icon-small'), 'Copy to…',
      );
      copy.addEventListener('click', () => {
        const opening = this.copyOpen !== day.key;
        const previous = this.copyOpen;
        this.copyOpen = opening ? day.key : null;
        if (previous && previous !== day.key) this.renderDay(DAYS.find((d) => d.key === previous));
        this.renderDay(day, { focus: opening ? 'copy-first' : 'copy' });
      });
      ranges.append(h('div', { class: 'week-add-line' }, add));
      actions.append(copy);
    }

    const error = h('p', { class: 'field-error week-error', id: errorId, text: problem ? problem.message : '' });
    const children = [dayLabel, ranges, actions, error];
    if (state.on && this.copyOpen === day.key) children.push(this.copyPanel(day));
    else if (this.copyOpen === day.key) this.copyOpen = null;
    row.classList.toggle('is-off', !state.on);
    row.classList.toggle('has-error', Boolean(problem));
    row.replaceChildren(...children);

    const target = {
      toggle: () => row.querySelector('.week-check'),
      add: () => row.querySelector('[data-role="add"]'),
      copy: () => row.querySelector('[data-role="copy"]'),
      'last-start': () => [...row.querySelectorAll('select[data-field="start"]')].pop(),
      'copy-first': () => row.querySelector('.copy-panel input'),
    }[focus];
    target?.()?.focus();
  }

  copyPanel(day) {
    const boxes = DAYS.filter((d) => d.key !== day.key).map((d) => {
      const id = `copy-${day.key}-${d.key}`;
      return h(
        'label',
        { class: 'copy-day', for: id },
        h('input', { type: 'checkbox', id, value: d.key }),
        h('span', { text: d.name }),
      );
    });
    const close = (applied) => {
      this.copyOpen = null;
      this.renderDay(day, { focus: 'copy' });
      if (applied.length) {
        for (const key of applied) this.renderDay(DAYS.find((d) => d.key === key));
        this.changed();
        const names = applied.map((key) => DAYS.find((d) => d.key === key).name);
        this.announce(`Copied ${day.name}'s hours to ${names.join(', ')}.`);
      }
    };
    const apply = h('button', { type: 'button', class: 'button button-primary button-small' }, 'Apply');
    apply.addEventListener('click', () => {
      const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      const source = this.draft[day.key].ranges;
      for (const key of chosen) {
        this.draft[key].on = source.length > 0;
        this.draft[key].ranges = source.map((r) => ({ start: r.start, end: r.end }));
      }
      close(chosen);
    });
    const cancel = h('button', { type: 'button', class: 'button button-secondary button-small' }, 'Cancel');
    cancel.addEventListener('click', () => close([]));
    const panel = h(
      'fieldset',
      { class: 'copy-panel', id: `week-copy-${day.key}` },
      h('legend', { class: 'copy-legend', text: `Copy ${day.name}'s hours to` }),
      h('div', { class: 'copy-days' }, boxes),
      h('div', { class: 'copy-actions' }, cancel, apply),
    );
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation(); // close the panel, not the dialog
        close([]);
      }
    });
    return panel;
  }

  validateDay(day) {
    const state = this.draft[day.key];
    const row = this.rows.get(day.key);
    const problem = checkDay(state);
    row.querySelector('.week-error').textContent = problem ? problem.message : '';
    row.classList.toggle('has-error', Boolean(problem));
    for (const select of row.querySelectorAll('select')) {
      if (problem?.bad.has(Number(select.dataset.index))) select.setAttribute('aria-invalid', 'true');
      else select.removeAttribute('aria-invalid');
    }
    return problem;
  }

  /** Check every day; returns true when all is well (else focuses the first problem). */
  validate() {
    let first = null;
    for (const day of DAYS) {
      const problem = this.validateDay(day);
      if (problem && !first) first = this.rows.get(day.key).querySelector('select[aria-invalid="true"]');
    }
    first?.focus();
    return !first;
  }

  /** Show a server error (field like "weekly.mon[1].end") next to its day. */
  showServerError(field, message) {
    const match = /^weekly\.(\w{3})(?:\[(\d+)\])?/.exec(field || '');
    if (!match || !this.rows.has(match[1])) return false;
    const row = this.rows.get(match[1]);
    row.querySelector('.week-error').textContent = message;
    row.classList.add('has-error');
    const select = match[2] !== undefined ? row.querySelector(`select[data-index="${match[2]}"]`) : row.querySelector('select');
    select?.setAttribute('aria-invalid', 'true');
    (select || row.querySelector('.week-check'))?.focus();
    return true;
  }

  get anyDay() {
    return DAYS.some((d) => this.draft[d.key].on && this.draft[d.key].ranges.length);
  }

  announce(text) {
    this.status.textContent = '';
    requestAnimationFrame(() => {
      this.status.textContent = text;
    });
  }

  changed() {
    this.onChange(this.draft);
  }
}
