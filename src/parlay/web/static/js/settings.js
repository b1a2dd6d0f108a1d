// The settings page: profile (display name, time zone, 12/24-hour clock), typical availability,
// notifications (notification_settings.js), the login sessions (sign one out) and personal
// access tokens (tokens.js, inline).
import { api, ApiError, loadMe } from './api.js';
import { h, setFieldError } from './dom.js';
import { formatMessageTime, formatTime, setHourCycle } from './format.js';
import { mountNotificationSettings } from './notification_settings.js';
import { mountTokens } from './tokens.js';
import { draftFrom, WeeklyEditor, weeklyOf } from './weekly.js';
import { zoneLabel, zonePicker } from './zonepicker.js';

const CLOCKS = [
  { value: 'auto', name: 'Automatic', detail: "this device's usual way" },
  { value: '12h', name: '12-hour' },
  { value: '24h', name: '24-hour' },
];

function byId(id) {
  return document.getElementById(id);
}

let savedClock = 'auto';

/** A time ("2:05 PM") written with `clock` in `zone`; everything else keeps the saved clock. */
function sample(clock, zone, at) {
  setHourCycle(clock);
  const text = formatTime(at, zone);
  setHourCycle(savedClock);
  return text;
}

function setupProfile(me) {
  const form = byId('profile-form');
  const name = byId('settings-name');
  const nameError = byId('settings-name-error');
  const tzError = byId('settings-tz-error');
  const formError = byId('profile-error');
  const status = byId('profile-status');
  const preview = byId('clock-preview');
  let saved = { ...me };
  let clock = me.time_format || 'auto';

  name.value = me.display_name;
  const picker = zonePicker({
    id: 'settings-tz',
    value: me.time_zone,
    describedBy: 'settings-tz-hint settings-tz-error',
    onChange: () => showPreview(),
  });
  byId('settings-tz-mount').replaceWith(picker.element);

  const radios = CLOCKS.map((option) => {
    const id = `clock-${option.value}`;
    const input = h('input', { type: 'radio', name: 'time_format', id, value: option.value, checked: option.value === clock });
    input.addEventListener('change', () => {
      if (input.checked) clock = option.value;
      showPreview();
    });
    const example = h('span', { class: 'clock-example' });
    const label = h('label', { class: 'clock-option', for: id }, input, h('span', { class: 'clock-name', text: option.name }), example);
    return { option, input, example, label };
  });
  byId('clock-options').replaceChildren(...radios.map((r) => r.label));

  function showPreview() {
    const now = new Date();
    for (const r of radios) {
      const text = sample(r.option.value, picker.value, now);
      r.example.textContent = r.option.detail ? `${text}, ${r.option.detail}` : text;
    }
    preview.textContent = `Now in ${zoneLabel(picker.value)}: ${sample(clock, picker.value, now)}`;
  }
  showPreview();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = '';
    formError.textContent = '';
    setFieldError(name, nameError, '');
    setFieldError(picker.input, tzError, '');
    const displayName = name.value.trim();
    if (!displayName) {
      setFieldError(name, nameError, 'Enter the name people see.');
      name.focus();
      return;
    }
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      saved = await api('PATCH', '/api/v1/me', {
        display_name: displayName,
        time_zone: picker.value,
        time_format: clock,
      });
      name.value = saved.display_name;
      savedClock = saved.time_format;
      setHourCycle(savedClock);
      showPreview();
      status.textContent = 'Saved.';
      refreshSessions();
    } catch (err) {
      if (err instanceof ApiError && err.field === 'display_name') {
        setFieldError(name, nameError, err.message);
        name.focus();
      } else if (err instanceof ApiError && err.field === 'time_zone') {
        setFieldError(picker.input, tzError, 'Choose a time zone from the list.');
        picker.focus();
      } else {
        formError.textContent = err.message;
      }
    } finally {
      submit.disabled = false;
    }
  });
}

async function setupHours(me) {
  const typical = await api('GET', '/api/v1/me/availability').catch(() => null);
  let zone = typical?.time_zone || me.time_zone || 'UTC';
  const picker = zonePicker({
    id: 'settings-hours-tz',
    value: zone,
    onChange: (value) => {
      zone = value;
    },
  });
  zone = picker.value; // canonical
  byId('settings-hours-tz-mount').replaceWith(picker.element);
  const errorEl = byId('hours-error');
  const status = byId('hours-status');
  const draft = draftFrom(typical?.weekly || {});
  const editor = new WeeklyEditor(draft, {
    onChange: () => {
      errorEl.textContent = '';
      status.textContent = '';
    },
  });
  byId('settings-week').replaceWith(editor.element);
  const save = byId('hours-save');
  save.addEventListener('click', async () => {
    errorEl.textContent = '';
    status.textContent = '';
    if (!editor.validate()) return;
    save.disabled = true;
    try {
      await api('PUT', '/api/v1/me/availability', { time_zone: zone, weekly: weeklyOf(draft) });
      status.textContent = 'Saved.';
    } catch (err) {
      if (!(err instanceof ApiError && editor.showServerError(err.field, err.message))) {
        errorEl.textContent = err.message;
        if (err.field === 'time_zone') picker.focus();
      }
    } finally {
      save.disabled = false;
    }
  });
}

let refreshSessions = () => {};

function setupSessions() {
  const list = byId('session-list');
  const status = byId('sessions-status');

  async function refresh() {
    try {
      const page = await api('GET', '/api/v1/me/sessions');
      list.replaceChildren(...page.sessions.map((session) => {
        const started = formatMessageTime(session.created_at);
        const title = session.current ? 'This browser' : 'Another browser';
        const button = h('button', {
          type: 'button',
          class: 'button button-small button-secondary',
          'aria-label': session.current ? 'Sign out of this browser' : `Sign out the browser signed in ${started}`,
        }, 'Sign out');
        button.addEventListener('click', () => revoke(session, button, started));
        return h(
          'li',
          { class: session.current ? 'session-item is-current' : 'session-item', dataset: { current: String(session.current) } },
          h(
            'div',
            { class: 'session-text' },
            h('strong', { text: title }),
            h('p', { class: 'hint', text: `Signed in ${started} · ends ${formatMessageTime(session.expires_at)}` }),
          ),
          button,
        );
      }));
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function revoke(session, button, started) {
    button.disabled = true;
    try {
      await api('DELETE', `/api/v1/me/sessions/${encodeURIComponent(session.id)}`);
    } catch (err) {
      if (err.status !== 404) { // 404: signed out already (elsewhere)
        status.textContent = err.message;
        button.disabled = false;
        return;
      }
    }
    if (session.current) {
      window.location.assign('/login');
      return;
    }
    await refresh();
    status.textContent = `Signed out the browser signed in ${started}.`;
    list.querySelector('button')?.focus();
  }

  refreshSessions = refresh;
  return refresh();
}

async function main() {
  const me = await loadMe();
  savedClock = me.time_format || 'auto';
  setHourCycle(savedClock);
  setupProfile(me);
  await Promise.all([setupHours(me), setupSessions(), mountNotificationSettings()]);
  mountTokens(byId('settings-tokens'));
  byId('settings-loading').remove();
  for (const section of document.querySelectorAll('.settings-section')) section.hidden = false;
  document.body.dataset.ready = 'true';
}

main().catch((err) => {
  if (err && err.status === 401) return; // on the way to the sign-in page
  console.error(err);
  const loading = byId('settings-loading');
  if (loading) {
    loading.textContent = err && err.message ? err.message : 'Something went wrong. Please reload.';
    loading.classList.add('form-error');
  }
});
