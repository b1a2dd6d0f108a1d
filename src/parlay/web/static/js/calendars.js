// Linking calendars, shared by the scheduler's "Connect your calendar" step, the calendars page
// and the needs_reauth banner: which providers this server offers, the OAuth redirect, the
// CalDAV form, the plain words for the callback's reason codes, and "Skip" remembered.
import { api, ApiError } from './api.js';
import { h, icon, setFieldError } from './dom.js';

/** What people call each provider, and what a button to link it says. */
export const PROVIDERS = {
  google: { label: 'Google', name: 'Google Calendar', detail: 'Gmail and Google Workspace accounts' },
  microsoft: { label: 'Microsoft', name: 'Microsoft Outlook', detail: 'Outlook.com, Hotmail and Microsoft 365' },
  caldav: { label: 'CalDAV', name: 'CalDAV calendar', detail: 'iCloud, Fastmail, Nextcloud and other CalDAV servers' },
};

export function providerLabel(key) {
  return PROVIDERS[key]?.label || key;
}

/** The callback's `reason` codes (API.md "Calendars"), said plainly. */
const REASONS = {
  access_denied: 'You did not allow Parlay to read your calendar, so nothing was linked.',
  mailbox_not_supported:
    "This Microsoft mailbox is on an Exchange server Parlay can't reach (on-premises). Link it through CalDAV or use another account.",
  state_invalid: 'That sign-in link had expired or was started elsewhere. Please connect again from here.',
  scope_not_granted: 'Parlay needs permission to see your calendar. Connect again and leave the calendar box ticked.',
  provider_unavailable: 'The calendar service did not answer. Please try again in a few minutes.',
  token_refused: 'The calendar service refused the sign-in. Please connect again.',
};

export function reasonMessage(code) {
  return REASONS[code] || 'Your calendar could not be linked. Please try again.';
}

/** Providers this server offers: `[{key, name, kind}]`; CalDAV is always there. */
export async function loadProviders() {
  try {
    const result = await api('GET', '/api/v1/calendars/providers');
    const list = Array.isArray(result?.providers) ? result.providers : [];
    const known = list.filter((p) => p && PROVIDERS[p.key]);
    if (!known.some((p) => p.key === 'caldav')) known.push({ key: 'caldav', name: 'CalDAV', kind: 'password' });
    return known;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
    return [{ key: 'caldav', name: 'CalDAV', kind: 'password' }];
  }
}

/** The user's linked accounts (every page of them). */
export async function loadConnections() {
  const all = [];
  let cursor = null;
  do {
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    const page = await api('GET', `/api/v1/calendars${query}`);
    all.push(...(page?.calendars || []));
    cursor = page?.next_cursor || null;
  } while (cursor);
  return all;
}

/** The path (and query) to come back to after the provider's consent page. */
export function herePath() {
  const params = new URLSearchParams(window.location.search);
  params.delete('calendar');
  params.delete('reason');
  const query = params.toString();
  return window.location.pathname + (query ? `?${query}` : '');
}

/** Start the OAuth flow for `provider`: the browser leaves for the provider's consent page. */
export async function startOAuth(provider, returnTo = herePath()) {
  const result = await api('POST', `/api/v1/calendars/${encodeURIComponent(provider)}/connect`, { return_to: returnTo });
  if (!result || !result.authorize_url) throw new ApiError(0, 'error', 'Could not start connecting. Please try again.');
  window.location.assign(result.authorize_url);
}

// "Skip" is remembered per person in this browser, so the scheduler does not ask every time.
const skipKey = (userId) => `parlay.calendar-skip.${userId || 'me'}`;

export function skippedConnect(userId) {
  try {
    return window.localStorage.getItem(skipKey(userId)) === '1';
  } catch {
    return false;
  }
}

export function rememberSkip(userId) {
  try {
    window.localStorage.setItem(skipKey(userId), '1');
  } catch {
    // private mode: asked again next time, which is harmless
  }
}

// The CalDAV server address is not part of a connection's API view: remembered here (by
// connection id) so that Reconnect can fill it in again.
const caldavKey = (id) => `parlay.caldav-url.${id}`;

export function rememberedCaldavUrl(id) {
  try {
    return window.localStorage.getItem(caldavKey(id)) || '';
  } catch {
    return '';
  }
}

/**
 * The list of "Connect …" buttons for `providers`. OAuth ones start the redirect (errors go
 * to `errorEl`); CalDAV calls `onCaldav()`.
 */
export function providerButtons(providers, { errorEl, onCaldav }) {
  return h(
    'ul',
    { class: 'provider-list' },
    providers.map((p) => {
      const info = PROVIDERS[p.key];
      const button = h(
        'button',
        { type: 'button', class: 'provider-button', dataset: { provider: p.key } },
        h('span', { class: `provider-logo provider-${p.key}`, 'aria-hidden': 'true' }, icon(p.key === 'caldav' ? 'calendar' : p.key)),
        h(
          'span',
          { class: 'provider-text' },
          h('span', { class: 'provider-name', text: `Connect ${info.name}` }),
          h('span', { class: 'provider-detail', text: info.detail }),
        ),
      );
      button.addEventListener('click', async () => {
        if (p.key === 'caldav') {
          onCaldav();
          return;
        }
        button.disabled = true;
        if (errorEl) errorEl.textContent = '';
        try {
          await startOAuth(p.key);
        } catch (err) {
          button.disabled = false;
          if (errorEl) errorEl.textContent = err.message;
        }
      });
      return h('li', {}, button);
    }),
  );
}

const FIELD_OF_CODE = { caldav_unreachable: 'url', caldav_auth: 'password' };

let formCount = 0;

/**
 * The CalDAV form: server URL, user name, app password. Posts to /api/v1/calendars/caldav;
 * errors show next to their field. `onLinked(connection)` after a 201; `onCancel()` for Back.
 */
export function caldavForm({ prefill = {}, onLinked, onCancel, cancelText = 'Cancel' }) {
  formCount += 1;
  const id = (name) => `caldav-${name}-${formCount}`;
  const fields = {};
  const field = (name, label, attrs, hintText) => {
    const input = h('input', {
      id: id(name),
      name,
      required: true,
      'aria-describedby': `${hintText ? `${id(name)}-hint ` : ''}${id(name)}-error`,
      ...attrs,
    });
    const error = h('p', { class: 'field-error', id: `${id(name)}-error` });
    fields[name] = { input, error };
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id(name), text: label }),
      input,
      hintText ? h('p', { class: 'hint', id: `${id(name)}-hint`, text: hintText }) : null,
      error,
    );
  };
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Link calendar');
  const cancel = h('button', { type: 'button', class: 'button button-secondary', onclick: () => onCancel?.() }, cancelText);
  const form = h(
    'form',
    { class: 'form caldav-form', novalidate: true },
    formError,
    field('url', 'Server URL', { type: 'url', inputmode: 'url', autocapitalize: 'off', spellcheck: 'false', placeholder: 'https://caldav.example.com/', value: prefill.url || '' },
      'For iCloud use https://caldav.icloud.com with an app-specific password (appleid.apple.com → Sign-In and Security).'),
    field('username', 'User name', { type: 'text', autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', value: prefill.username || '' }),
    field('password', 'App password', { type: 'password', autocomplete: 'off' },
      'An app password from your provider, not your main password. Parlay stores it encrypted.'),
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.textContent = '';
    for (const { input, error } of Object.values(fields)) setFieldError(input, error, '');
    const body = {
      url: fields.url.input.value.trim(),
      username: fields.username.input.value.trim(),
      password: fields.password.input.value,
    };
    const missing = Object.entries(body).find(([, value]) => !value);
    if (missing) {
      const [name] = missing;
      setFieldError(fields[name].input, fields[name].error, 'Please fill this in.');
      fields[name].input.focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    submit.textContent = 'Checking…';
    try {
      const connection = await api('POST', '/api/v1/calendars/caldav', body);
      try {
        window.localStorage.setItem(caldavKey(connection.id), body.url);
      } catch {
        // not remembered: Reconnect then asks for the address again
      }
      onLinked?.(connection);
    } catch (err) {
      const name = err.field || FIELD_OF_CODE[err.code];
      if (name && fields[name]) {
        setFieldError(fields[name].input, fields[name].error, err.message);
        fields[name].input.focus();
      } else {
        formError.textContent = err.message;
      }
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
      submit.textContent = 'Link calendar';
    }
  });
  const first = prefill.url ? (prefill.username ? fields.password.input : fields.username.input) : fields.url.input;
  return { element: form, focus: first };
}

/** The CalDAV form in a dialog of its own (calendars page, banner's Reconnect). */
export function openCaldavDialog({ prefill = {}, onLinked } = {}) {
  const returnFocus = document.activeElement;
  const title = h('h2', { class: 'dialog-title', id: 'caldav-dialog-title', text: 'Connect a CalDAV calendar' });
  const dialog = h('dialog', { class: 'dialog caldav-dialog', 'aria-labelledby': 'caldav-dialog-title' });
  const close = () => dialog.close();
  const { element, focus } = caldavForm({
    prefill,
    onCancel: close,
    onLinked: (connection) => {
      close();
      onLinked?.(connection);
    },
  });
  dialog.append(
    h(
      'div',
      { class: 'dialog-head' },
      title,
      h('button', { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onclick: close }, icon('close')),
    ),
    h('div', { class: 'dialog-body' }, h('p', { class: 'dialog-lede', text: 'Parlay checks the address and password before linking.' }), element),
  );
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  focus.focus();
  return dialog;
}
