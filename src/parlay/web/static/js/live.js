// Live events over WS /api/v1/ws: one socket per page, resume with ?since=<cursor>,
// reconnect with backoff, dispatch frames by `type` to subscribers.
// A hello with `resync: true` means the server could not resume from our cursor: subscribers
// of the pseudo-type "resync" then refetch what they show (history, room list).

const subscribers = new Map(); // type -> Set<fn(data, frame)>
const statusListeners = new Set();
let socket = null;
let cursor = null;
let attempts = 0;
let retryTimer = null;
let pingTimer = null;
let started = false;
let stopped = false;
let everOpen = false;
let resolveReady;
const readyPromise = new Promise((resolve) => {
  resolveReady = resolve;
});

const PING_MS = 25000;
const MAX_BACKOFF_MS = 30000;

/** Subscribe to one event type ("message.created", ...). Returns an unsubscribe function. */
export function subscribe(type, fn) {
  if (!subscribers.has(type)) subscribers.set(type, new Set());
  subscribers.get(type).add(fn);
  return () => subscribers.get(type)?.delete(fn);
}

/** Listen to connection status: "connecting" | "open" | "reconnecting" | "closed". */
export function onStatus(fn) {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}

/** Resolves after the first hello frame (or never, if the socket never opens). */
export function ready() {
  return readyPromise;
}

export function lastCursor() {
  return cursor;
}

function setStatus(status) {
  for (const fn of statusListeners) {
    try {
      fn(status);
    } catch (err) {
      console.error(err);
    }
  }
}

function dispatch(frame) {
  const fns = subscribers.get(frame.type);
  if (!fns) return; // unknown or unhandled type: ignored
  for (const fn of [...fns]) {
    try {
      fn(frame.data, frame);
    } catch (err) {
      console.error('live subscriber failed', err);
    }
  }
}

function url() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = `${scheme}//${window.location.host}/api/v1/ws`;
  return cursor === null ? base : `${base}?since=${encodeURIComponent(cursor)}`;
}

function onFrame(event) {
  let frame;
  try {
    frame = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
  if (frame.cursor !== undefined && frame.cursor !== null) cursor = String(frame.cursor);
  if (frame.type === 'hello') {
    const floor = historyFloor;
    historyFloor = null;
    if (floor !== null && frame.resync !== true && BigInt(cursor) > BigInt(floor)) {
      restartFrom(floor); // the stream began after what the history showed: go back to it
      return;
    }
    resolveReady();
    if (frame.resync === true) dispatch({ type: 'resync', data: { cursor } });
    return;
  }
  if (frame.type === 'pong') return;
  dispatch(frame);
}

let historyFloor = null;

/**
 * A history page was read at live cursor `c` (the `live_cursor` of GET .../messages): make sure
 * the stream delivers every event after it, reconnecting with ?since=c if the stream started
 * later (events already shown come again; subscribers recognise them by id).
 */
export function resumeFrom(c) {
  if (c === undefined || c === null) return;
  if (cursor === null) {
    historyFloor = String(c); // no hello yet: checked when it comes
  } else if (BigInt(cursor) > BigInt(c)) {
    restartFrom(String(c));
  }
}

function restartFrom(c) {
  cursor = c;
  const old = socket;
  socket = null; // its close event is ours, not a network failure
  clearInterval(pingTimer);
  if (old) old.close(4000, 'resume from history');
  connect();
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (stopped) return;
  setStatus(everOpen ? 'reconnecting' : 'connecting');
  let ws;
  try {
    ws = new WebSocket(url());
  } catch {
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.addEventListener('open', () => {
    attempts = 0;
    everOpen = true;
    setStatus('open');
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping' }));
    }, PING_MS);
  });
  ws.addEventListener('message', onFrame);
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return;
    socket = null;
    clearInterval(pingTimer);
    if (event.code === 4401) {
      // The session is gone: sign in again, and come back here.
      const here = window.location.pathname + window.location.search;
      window.location.assign(`/login?next=${encodeURIComponent(here)}`);
      return;
    }
    if (event.code === 4400) cursor = null; // the server refused our cursor: start afresh
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (stopped || retryTimer) return;
  setStatus('reconnecting');
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempts);
  const delay = base / 2 + Math.random() * (base / 2);
  attempts += 1;
  retryTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (stopped || socket) return;
  attempts = 0;
  connect();
}

/** Open the socket (once per page). */
export function start() {
  if (started) return;
  started = true;
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });
  window.addEventListener('pagehide', () => {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    if (socket) socket.close(1000);
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) {
      stopped = false;
      reconnectNow();
    }
  });
  connect();
}

/** Close the socket for good (signing out: its 4401 must not race the sign-out's own page). */
export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  clearInterval(pingTimer);
  const old = socket;
  socket = null;
  if (old) old.close(1000);
}

/** Drop the current socket (as a network failure would); it reconnects with ?since=. */
export function dropForTesting() {
  if (socket) socket.close(4000, 'client drop');
}
