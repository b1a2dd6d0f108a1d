// Time formatting with Intl, in the viewer's time zone.

let viewerZone;

export function setViewerZone(zone) {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    viewerZone = zone;
  } catch {
    viewerZone = undefined; // unknown to this browser: fall back to the device zone
  }
}

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function dayKey(date) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: viewerZone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(date);
}

/** "14:05" today, "Mon 14:05" this week, "3 Nov, 14:05" this year, else with the year. */
export function formatMessageTime(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const time = { hour: 'numeric', minute: '2-digit', timeZone: viewerZone };
  if (dayKey(date) === dayKey(now)) {
    return new Intl.DateTimeFormat(undefined, time).format(date);
  }
  const age = now.getTime() - date.getTime();
  if (age > 0 && age < 6 * 86400000) {
    return new Intl.DateTimeFormat(undefined, { ...time, weekday: 'short' }).format(date);
  }
  const sameYear = new Intl.DateTimeFormat('en', { timeZone: viewerZone, year: 'numeric' });
  const opts = { ...time, day: 'numeric', month: 'short' };
  if (sameYear.format(date) !== sameYear.format(now)) opts.year = 'numeric';
  return new Intl.DateTimeFormat(undefined, opts).format(date);
}

export function formatFull(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: 'full', timeStyle: 'short', timeZone: viewerZone,
  }).format(date);
}
