// The settings page's Notifications section: e-mail and reminders on/off and how long before a
// meeting reminders come (PATCH /api/v1/me/preferences), and push on this device (push_client).
import { api } from './api.js';
import { disablePush, enablePush, pushEnabled, pushSupported, syncPush } from './push_client.js';

function byId(id) {
  return document.getElementById(id);
}

function setupPush() {
  const box = byId('pref-push');
  const status = byId('push-status');
  if (!pushSupported()) {
    box.disabled = true;
    status.textContent = 'This browser cannot show push notifications.';
    return Promise.resolve();
  }
  box.addEventListener('change', async () => {
    box.disabled = true;
    status.textContent = '';
    try {
      if (box.checked) {
        await enablePush();
        status.textContent = 'Push notifications are on for this device.';
      } else {
        await disablePush();
        status.textContent = 'Push notifications are off for this device.';
      }
    } catch (err) {
      box.checked = !box.checked;
      status.textContent = err.message;
    } finally {
      box.disabled = false;
    }
  });
  return pushEnabled().then(async (on) => {
    box.checked = on;
    if (on) await syncPush().catch(() => {});
  });
}

/** Fill and wire the section; resolves once the saved preferences are shown. */
export async function mountNotificationSettings() {
  const form = byId('notifications-form');
  const email = byId('pref-email');
  const reminders = byId('pref-reminders');
  const minutes = byId('pref-minutes');
  const minutesError = byId('pref-minutes-error');
  const status = byId('notifications-status');
  const show = (prefs) => {
    email.checked = prefs.email;
    reminders.checked = prefs.reminders;
    minutes.value = String(prefs.reminder_minutes);
    minutes.disabled = !prefs.reminders;
  };
  show(await api('GET', '/api/v1/me/preferences'));
  reminders.addEventListener('change', () => {
    minutes.disabled = !reminders.checked;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = '';
    minutesError.textContent = '';
    minutes.removeAttribute('aria-invalid');
    const value = Number(minutes.value);
    if (!Number.isInteger(value) || value < 5 || value > 1440) {
      minutesError.textContent = 'Enter whole minutes from 5 to 1440.';
      minutes.setAttribute('aria-invalid', 'true');
      minutes.focus();
      return;
    }
    try {
      show(await api('PATCH', '/api/v1/me/preferences', {
        email: email.checked,
        reminders: reminders.checked,
        reminder_minutes: value,
      }));
      status.textContent = 'Notification settings saved.';
    } catch (err) {
      status.textContent = err.message;
    }
  });
  await setupPush();
}
