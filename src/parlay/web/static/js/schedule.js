// The scheduling dialog, opened from a room's header (calendar icon, or "More" on phones).
// Steps: "connect" (Connect your calendar, or Skip) → "share" (Share your availability) →
// "duration" (15/30/45/60 min) → Send posts the invite. booking.js adds the booking steps
// (month view, times, confirm, cancel) to the same dialog.
import { api, ApiError, loadMe } from './api.js';
import { caldavForm, loadConnections, loadProviders, providerButtons, rememberSkip, skippedConnect } from './calendars.js';
import { h, icon } from './dom.js';
import { DAYS, WeeklyEditor, draftFrom, weeklyOf } from './weekly.js';
import { canonicalZone, zonePicker } from './zonepicker.js';

let dialog = null;
let titleEl = null;
let bodyEl = null;
let state = { room: null, returnFocus: null, share: null, params: {}, providers: [], me: null };
let generation = 0; // bumps on every step change and close (stale async work checks it)

const DURATIONS = [15, 30, 45, 60];

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
    generation += 1;
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

/** A number that changes whenever the dialog moves on; async work compares it before drawing. */
export function currentGeneration() {
  return generation;
}

export function footer(...buttons) {
  return h('div', { class: 'dialog-actions' }, ...buttons);
}

export function setTitle(text) {
  if (titleEl) titleEl.textContent = text;
}

/**
 * Render a step: `steps[name](context)` returns {title, content, size?, focus?}.
 * context = {room, params, go(name, params), close, setTitle}.
 */
export function showStep(name, params = {}) {
  generation += 1;
  const step = steps[name];
  state.params = params;
  const result = step({ room: state.room, params, go: showStep, close: closeScheduler, setTitle });
  const { title, content, size = 'normal', focus } = result;
  titleEl.textContent = title;
  bodyEl.replaceChildren(content);
  bodyEl.scrollTop = 0;
  dialog.dataset.step = name;
  dialog.dataset.size = size;
  const first = focus || bodyEl.querySelector('[autofocus], button, a[href], input, select, textarea');
  first?.focus();
}

/** Open the dialog (if closed) at `name`. */
export function openStep(name, params = {}, { room = state.room, returnFocus = document.activeElement } = {}) {
  ensureDialog();
  state = { ...state, room, returnFocus };
  if (!dialog.open) dialog.showModal();
  showStep(name, params);
}

function loadingContent(text) {
  return h('div', { class: 'step-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

async function loadShare() {
  const [me, typical] = await Promise.all([
    loadMe(),
    api('GET', '/api/v1/me/availability').catch(() => null),
  ]);
  const zone = canonicalZone(typical?.time_zone || me.time_zone || 'UTC');
  return {
    timeZone: zone,
    draft: draftFrom(typical?.weekly || {}),
    saveTypical: !typical?.saved,
    duration: 30,
  };
}

function describeDays(draft) {
  const on = DAYS.filter((d) => draft[d.key].on && draft[d.key].ranges.length);
  if (!on.length) return 'No days';
  // Runs of consecutive days: "Mon–Fri", "Mon, Wed, Fri".
  const parts = [];
  let run = [];
  const flush = () => {
    if (run.length >= 3) parts.push(`${run[0].short}–${run[run.length - 1].short}`);
    else parts.push(...run.map((d) => d.short));
    run = [];
  };
  for (const day of DAYS) {
    if (on.includes(day)) run.push(day);
    else flush();
  }
  flush();
  return parts.join(', ');
}

export const steps = {
  connect({ go }) {
    const errorEl = h('p', { class: 'form-error', role: 'alert' });
    const skip = () => {
      rememberSkip(state.me?.id); // not asked again in this browser; the calendars page still offers it
      go('share');
    };
    const content = h(
      'div',
      { class: 'step step-connect' },
      h('p', { class: 'dialog-lede', text: 'Link your calendar so your busy times are left out of the availability you share, and meetings booked here are added to it. This is optional.' }),
      providerButtons(state.providers, { errorEl, onCaldav: () => go('caldav') }),
      errorEl,
      h('p', { class: 'dialog-note' }, 'Apple iCloud links through CalDAV with an app-specific password. ', h('a', { href: '/calendars' }, 'Manage your calendars')),
      footer(h('button', { type: 'button', class: 'button button-secondary', onclick: skip }, 'Skip')),
    );
    return { title: 'Connect your calendar', content };
  },

  caldav({ go }) {
    const { element, focus } = caldavForm({
      cancelText: 'Back',
      onCancel: () => go('connect'),
      onLinked: () => go('share'),
    });
    const content = h(
      'div',
      { class: 'step step-caldav' },
      h('p', { class: 'dialog-lede', text: 'Parlay checks the address and password before linking.' }),
      element,
    );
    return { title: 'Connect a CalDAV calendar', content, focus };
  },

  share({ go }) {
    const title = 'Share your availability';
    if (!state.share) {
      const mine = generation; // showStep has already moved it on for this step
      loadShare().then(
        (share) => {
          if (generation !== mine) return;
          state.share = share;
          showStep('share');
        },
        (err) => {
          if (generation !== mine) return;
          bodyEl.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: err.message }));
        },
      );
      return { title, content: loadingContent('Loading your usual hours…') };
    }
    const share = state.share;
    const formError = h('p', { class: 'form-error', role: 'alert' });
    const zoneSelect = zonePicker({
      id: 'share-tz',
      value: share.timeZone,
      describedBy: 'share-tz-hint',
      onChange: (zone) => {
        share.timeZone = zone;
      },
    });
    const editor = new WeeklyEditor(share.draft, {
      onChange: () => {
        formError.textContent = '';
      },
    });
    const save = h('input', { type: 'checkbox', id: 'share-save', checked: share.saveTypical });
    save.addEventListener('change', () => {
      share.saveTypical = save.checked;
    });
    const next = h('button', { type: 'button', class: 'button button-primary' }, 'Next');
    next.addEventListener('click', async () => {
      formError.textContent = '';
      if (!editor.validate()) return;
      if (!editor.anyDay) {
        formError.textContent = 'Choose at least one day with hours.';
        return;
      }
      if (share.saveTypical) {
        next.disabled = true;
        try {
          await api('PUT', '/api/v1/me/availability', { time_zone: share.timeZone, weekly: weeklyOf(share.draft) });
        } catch (err) {
          next.disabled = false;
          if (!(err instanceof ApiError && editor.showServerError(err.field, err.message))) {
            formError.textContent = err.message;
            if (err.field === 'time_zone') zoneSelect.focus();
          }
          return;
        }
      }
      go('duration');
    });
    const content = h(
      'div',
      { class: 'step step-share' },
      h('p', { class: 'dialog-lede', text: 'Pick the days and hours people in this room can book. They see the times in their own time zone.' }),
      h(
        'div',
        { class: 'field share-tz' },
        h('label', { for: 'share-tz', text: 'Time zone' }),
        zoneSelect.element,
        h('p', { class: 'hint visually-hidden', id: 'share-tz-hint', text: 'The hours below are in this time zone.' }),
      ),
      h('h3', { class: 'section-title', text: 'Weekly hours' }),
      editor.element,
      h('label', { class: 'check-line', for: 'share-save' }, save, h('span', { text: 'Save as my typical hours' })),
      formError,
      footer(next),
    );
    return { title, content, size: 'medium', focus: zoneSelect.input };
  },

  duration({ go, close, room }) {
    const share = state.share;
    const formError = h('p', { class: 'form-error', role: 'alert' });
    const radios = DURATIONS.map((minutes) => {
      const id = `duration-${minutes}`;
      const input = h('input', { type: 'radio', name: 'duration', id, value: minutes, checked: share.duration === minutes });
      input.addEventListener('change', () => {
        if (input.checked) share.duration = minutes;
      });
      return h(
        'label',
        { class: 'duration-option', for: id },
        input,
        h('span', { class: 'duration-value', 'aria-hidden': 'true', text: String(minutes) }),
        h('span', { class: 'duration-unit' }, h('span', { 'aria-hidden': 'true', text: 'min' }), h('span', { class: 'visually-hidden', text: `${minutes} minutes` })),
      );
    });
    const back = h('button', { type: 'button', class: 'button button-secondary', onclick: () => go('share') }, 'Back');
    const send = h('button', { type: 'button', class: 'button button-primary' }, 'Send');
    send.addEventListener('click', async () => {
      formError.textContent = '';
      send.disabled = true;
      send.setAttribute('aria-busy', 'true');
      try {
        await api('POST', `/api/v1/rooms/${encodeURIComponent(room.id)}/invites`, {
          time_zone: share.timeZone,
          weekly: weeklyOf(share.draft),
          duration_minutes: share.duration,
        });
        state.share = null;
        close();
        // The invite message arrives over the live connection (deduplicated by id).
      } catch (err) {
        formError.textContent = err.message;
        send.disabled = false;
        send.removeAttribute('aria-busy');
      }
    });
    const summary = h(
      'p',
      { class: 'duration-summary' },
      icon('globe', 'icon icon-small'),
      h('span', { text: `${describeDays(share.draft)} · ${share.timeZone}` }),
    );
    const content = h(
      'div',
      { class: 'step step-duration' },
      summary,
      h(
        'fieldset',
        { class: 'duration-group' },
        h('legend', { class: 'duration-legend', text: 'How long is the meeting?' }),
        h('div', { class: 'duration-options' }, radios),
      ),
      h('p', { class: 'dialog-note', text: 'Everyone in the room can pick a time up to 30 days ahead, at least an hour from now.' }),
      formError,
      footer(back, send),
    );
    const checked = radios.map((r) => r.querySelector('input')).find((i) => i.checked);
    return { title: 'Choose the duration', content, size: 'medium', focus: checked };
  },
};

async function hasLinkedCalendar() {
  try {
    return (await loadConnections()).some((c) => c.status === 'active');
  } catch {
    return false; // offline, say: offer to connect
  }
}

/** Open the scheduler for `room` ({id, title, members}). */
export async function openScheduler(room, { returnFocus = document.activeElement } = {}) {
  ensureDialog();
  const [me, linked, providers] = await Promise.all([loadMe(), hasLinkedCalendar(), loadProviders()]);
  state = { room, returnFocus, share: null, params: {}, providers, me };
  if (!dialog.open) dialog.showModal();
  // Before sharing availability, offer to link a calendar, unless one is linked or was skipped.
  showStep(linked || skippedConnect(me.id) ? 'share' : 'connect');
}
