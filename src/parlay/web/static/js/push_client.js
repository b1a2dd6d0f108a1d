// Web Push on this device: register the service worker (/sw.js, scope /), subscribe with the
// server's VAPID key and hand the subscription to the server (API.md "Notifications"), or undo
// both. Used by the settings page and by the offer after a first booking.
import { api } from './api.js';

const STORED_ID = 'parlay.push.subscription';

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

async function registration() {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  return navigator.serviceWorker.ready;
}

/** The browser's current push subscription (null: none, or push unsupported). */
export async function currentSubscription() {
  if (!pushSupported()) return null;
  const existing = await navigator.serviceWorker.getRegistration('/');
  return existing ? existing.pushManager.getSubscription() : null;
}

/** Is push on for this device (permission granted and subscribed)? */
export async function pushEnabled() {
  return Notification.permission === 'granted' && (await currentSubscription()) !== null;
}

/** Tell the server about this browser's subscription (again: the same endpoint updates it). */
async function register(subscription) {
  const saved = await api('POST', '/api/v1/me/push-subscriptions', subscription.toJSON());
  localStorage.setItem(STORED_ID, saved.id);
}

/** Turn push on: ask permission, subscribe, register. Throws with a readable message. */
export async function enablePush() {
  if (!pushSupported()) throw new Error('This browser cannot show push notifications.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new Error('Notifications are blocked for this site; allow them in the browser settings.');
  }
  const reg = await registration();
  let subscription = await reg.pushManager.getSubscription();
  if (!subscription) {
    const { public_key: key } = await api('GET', '/api/v1/push/key');
    subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  }
  await register(subscription);
}

/** Keep the server's copy in step (whoever is signed in on this browser now gets its pushes). */
export async function syncPush() {
  const subscription = await currentSubscription();
  if (subscription && Notification.permission === 'granted') await register(subscription);
}

/** Turn push off for this device: unsubscribe and forget it on the server. */
export async function disablePush() {
  const subscription = await currentSubscription();
  if (subscription) await subscription.unsubscribe();
  const id = localStorage.getItem(STORED_ID);
  localStorage.removeItem(STORED_ID);
  if (!id) return;
  try {
    await api('DELETE', `/api/v1/me/push-subscriptions/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 404) throw err; // 404: already gone (expired, or removed elsewhere)
  }
}
