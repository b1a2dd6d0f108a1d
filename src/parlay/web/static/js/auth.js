// Sign-in and sign-up forms.
import { api, ApiError, isSafeNext } from './api.js';
import { browserZone } from './format.js';
import { setFieldError } from './dom.js';

const form = document.getElementById('auth-form');
const mode = form.dataset.mode;
const formError = document.getElementById('form-error');
const submit = form.querySelector('button[type="submit"]');

function nextPath() {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && isSafeNext(next) ? next : '/';
}

function fillTimeZones() {
  const select = form.elements.namedItem('time_zone');
  if (!select) return;
  const current = browserZone();
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = [];
  }
  if (!zones.includes('UTC')) zones = ['UTC', ...zones];
  if (!zones.includes(current)) zones = [current, ...zones];
  const fragment = document.createDocumentFragment();
  for (const zone of zones) {
    const option = document.createElement('option');
    option.value = zone;
    option.textContent = zone.replaceAll('_', ' ');
    fragment.append(option);
  }
  select.replaceChildren(fragment);
  select.value = current;
}

function control(name) {
  return form.elements.namedItem(name);
}

function errorEl(name) {
  return document.getElementById(`${name}-error`);
}

function clearErrors() {
  formError.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    setFieldError(el, errorEl(el.name), '');
  }
}

function showError(name, message) {
  const el = name ? control(name) : null;
  if (el && errorEl(name)) {
    setFieldError(el, errorEl(name), message);
    return el;
  }
  formError.textContent = message;
  return null;
}

function validate() {
  const problems = [];
  const email = control('email').value.trim();
  if (!email) problems.push(['email', 'Enter your email address.']);
  else if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
    problems.push(['email', 'Enter an email address like name@example.com.']);
  }
  if (mode === 'signup') {
    if (!control('display_name').value.trim()) {
      problems.push(['display_name', 'Enter the name people will see.']);
    }
    if (control('password').value.length < 10) {
      problems.push(['password', 'Use at least 10 characters.']);
    }
  } else if (!control('password').value) {
    problems.push(['password', 'Enter your password.']);
  }
  return problems;
}

async function signIn(email, password) {
  await api('POST', '/api/v1/auth/login', { email, password }, { redirectOn401: false });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  const problems = validate();
  if (problems.length) {
    let first = null;
    for (const [name, message] of problems) {
      const el = showError(name, message);
      first = first || el;
    }
    first?.focus();
    return;
  }
  const email = control('email').value.trim();
  const password = control('password').value;
  submit.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    if (mode === 'signup') {
      await api(
        'POST',
        '/api/v1/auth/signup',
        {
          email,
          password,
          display_name: control('display_name').value.trim(),
          time_zone: control('time_zone').value || 'UTC',
        },
        { redirectOn401: false },
      );
    }
    await signIn(email, password);
    window.location.assign(nextPath());
  } catch (err) {
    const message = err instanceof ApiError ? err.message : 'Something went wrong. Please try again.';
    let field = err instanceof ApiError ? err.field : null;
    if (err instanceof ApiError && err.code === 'email_taken') field = 'email';
    if (err instanceof ApiError && err.code === 'bad_credentials') field = null;
    const el = showError(field, message);
    (el || control('email')).focus();
    submit.disabled = false;
    form.removeAttribute('aria-busy');
  }
});

for (const el of form.querySelectorAll('input, select')) {
  el.addEventListener('input', () => {
    if (el.getAttribute('aria-invalid')) setFieldError(el, errorEl(el.name), '');
  });
}

fillTimeZones();
form.dataset.ready = 'true';
