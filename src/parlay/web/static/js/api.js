// The JSON API client: CSRF header on writes, 401 -> sign-in page, errors as ApiError.
import { stop as stopLive } from './live.js';

let csrfToken = null;
let mePromise = null;

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || 'Something went wrong. Please try again.');
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'error';
    this.field = field || null;
  }
}

/** True for a same-site path such as "/rooms/1" (not "//evil.example" or "/\\evil"). */
export function isSafeNext(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return false;
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return false;
  try {
    return new URL(value, window.location.origin).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function loginUrl() {
  const here = window.location.pathname + window.location.search;
  return here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`;
}

export function redirectToLogin() {
  window.location.assign(loginUrl());
}

async function errorOf(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  const err = payload && typeof payload === 'object' ? payload.error : null;
  if (err && typeof err === 'object') {
    return new ApiError(response.status, err.code, err.message, err.field);
  }
  const fallback = response.status === 429
    ? 'Too many attempts. Please wait a moment and try again.'
    : `The server answered ${response.status}. Please try again.`;
  return new ApiError(response.status, 'http_' + response.status, fallback, null);
}

/**
 * Call the API. `body` is sent as JSON. Non-GET calls carry X-CSRF-Token.
 * Options: `redirectOn401` (default true), `headers`.
 */
export async function api(method, path, body, options = {}) {
  const { redirectOn401 = true, headers = {}, retried = false } = options;
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...headers },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) {
    init.headers['X-CSRF-Token'] = csrfToken;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach Parlay. Check your connection and try again.');
  }
  if (response.status === 401 && redirectOn401) {
    redirectToLogin();
    throw new ApiError(401, 'unauthenticated', 'Please sign in again.');
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.code === 'csrf_failed' && !retried) {
      // The session may have been renewed in another tab: refresh the token once.
      mePromise = null;
      await loadMe();
      return api(method, path, body, { ...options, retried: true });
    }
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  return type.includes('json') ? response.json() : response.text();
}

/** The signed-in user (cached); also stores the CSRF token for later writes. */
export function loadMe() {
  if (!mePromise) {
    mePromise = api('GET', '/api/v1/me').then((me) => {
      csrfToken = me.csrf_token || null;
      return me;
    });
    mePromise.catch(() => {
      mePromise = null;
    });
  }
  return mePromise;
}

export async function signOut() {
  stopLive(); // our own socket is about to be closed as "signed out": we know, and go ourselves
  try {
    await api('POST', '/api/v1/auth/logout', undefined, { redirectOn401: false });
  } catch {
    // Signed out already, or the network is down: the sign-in page is still the place to go.
  }
  window.location.assign('/login');
}
