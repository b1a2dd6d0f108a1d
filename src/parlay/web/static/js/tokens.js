// "API tokens" (account menu): list personal access tokens with their last use, create one
// (its secret is shown once), revoke one. Revoking ends it at once, open sockets included.
import { api } from './api.js';
import { h, icon, setFieldError } from './dom.js';
import { formatMessageTime } from './format.js';

let dialog = null;
let returnTo = null;

function describe(token) {
  const created = `Created ${formatMessageTime(token.created_at)}`;
  const used = token.last_used_at ? `last used ${formatMessageTime(token.last_used_at)}` : 'never used';
  return `${created} · ${used}`;
}

/** Build the tokens panel; in `host` (the settings page) when given, else in a dialog. */
function build(host = null) {
  const status = h('p', { class: 'dialog-note', role: 'status' });
  const list = h('ul', { class: 'token-list', 'aria-labelledby': 'tokens-list-title' });
  const nameInput = h('input', {
    id: 'token-name', name: 'name', type: 'text', maxlength: 100, required: true,
    autocomplete: 'off', 'aria-describedby': 'token-name-error',
  });
  const nameError = h('p', { class: 'field-error', id: 'token-name-error' });
  const secret = h('input', { id: 'token-secret', type: 'text', readonly: true, spellcheck: 'false' });
  const copy = h('button', { type: 'button', class: 'button button-small button-secondary' }, icon('copy', 'icon icon-small'), 'Copy');
  const shown = h(
    'div',
    { class: 'field token-secret', hidden: true },
    h('label', { for: 'token-secret', text: 'Your new token' }),
    secret,
    h('p', { class: 'hint', text: 'Copy it now: it is not shown again.' }),
    copy,
  );
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'token-name', text: 'Token name' }), nameInput, nameError),
    h('button', { type: 'submit', class: 'button button-primary' }, 'Create token'),
  );
  const close = h(
    'button',
    { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onclick: () => dialog.close() },
    icon('close'),
  );
  const body = h(
    'div',
    { class: host ? 'tokens-panel' : 'dialog-body' },
    h('p', { class: host ? 'hint' : 'dialog-lede', text: 'A token lets a script use the Parlay API as you. Revoke the ones you no longer use.' }),
    form,
    shown,
    h('h3', { class: 'token-list-title', id: 'tokens-list-title', text: 'Your tokens' }),
    status,
    list,
  );
  if (host) {
    host.append(body);
  } else {
    dialog = h(
      'dialog',
      { class: 'dialog', id: 'tokens-dialog', 'aria-labelledby': 'tokens-title' },
      h('div', { class: 'dialog-head' }, h('h2', { class: 'dialog-title', id: 'tokens-title', text: 'API tokens' }), close),
      body,
    );
  }
  dialog?.addEventListener('close', () => {
    secret.value = '';
    shown.hidden = true;
    if (returnTo && returnTo.isConnected) returnTo.focus();
  });

  async function refresh() {
    try {
      const page = await api('GET', '/api/v1/me/tokens?limit=200');
      list.replaceChildren(...page.tokens.map((token) => h(
        'li',
        { class: 'token-item' },
        h('div', {}, h('strong', { text: token.name }), h('p', { class: 'hint', text: describe(token) })),
        h('button', {
          type: 'button',
          class: 'button button-small button-secondary',
          'aria-label': `Revoke ${token.name}`,
          onclick: (event) => revoke(token, event.currentTarget),
        }, 'Revoke'),
      )));
      status.textContent = page.tokens.length ? '' : 'No tokens yet.';
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function revoke(token, button) {
    button.disabled = true;
    try {
      await api('DELETE', `/api/v1/me/tokens/${encodeURIComponent(token.id)}`);
    } catch (err) {
      if (err.status !== 404) { // 404: already revoked (in another tab)
        status.textContent = err.message;
        button.disabled = false;
        return;
      }
    }
    await refresh();
    status.textContent = `Revoked ${token.name}. ${status.textContent}`.trim();
    nameInput.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      setFieldError(nameInput, nameError, 'Give the token a name, such as the script that uses it.');
      nameInput.focus();
      return;
    }
    setFieldError(nameInput, nameError, '');
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const made = await api('POST', '/api/v1/me/tokens', { name });
      nameInput.value = '';
      secret.value = made.token;
      copy.lastChild.textContent = 'Copy';
      shown.hidden = false;
      secret.focus();
      secret.select();
      await refresh();
    } catch (err) {
      setFieldError(nameInput, nameError, err.message);
    } finally {
      submit.disabled = false;
    }
  });

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret.value);
      copy.lastChild.textContent = 'Copied';
    } catch {
      secret.select(); // the clipboard is not available: leave it selected for Ctrl+C
    }
  });

  if (dialog) document.body.append(dialog);
  return refresh;
}

/** The same panel inline, in `host` (the settings page). */
export function mountTokens(host) {
  build(host)();
}

let refreshList = null;

/** Open the "API tokens" dialog; focus returns to `from` when it closes. */
export function openTokens(from) {
  if (!dialog) refreshList = build();
  returnTo = from || null;
  dialog.showModal();
  document.getElementById('token-name').focus();
  refreshList();
}
