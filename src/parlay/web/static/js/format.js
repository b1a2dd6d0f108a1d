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

/** The zone times are shown in (the viewer's, else the device's). */
export function viewerTimeZone() {
  return viewerZone || browserZone();
}

/** Every IANA zone this browser knows, with `extra` (e.g. the user's own) included. */
export function timeZones(...extra) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = [];
  }
  const all = new Set(zones);
  for (const zone of [...extra, 'UTC']) if (zone) all.add(zone);
  return [...all].sort();
}

function fmt(iso, options, zone) {
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: zone || viewerZone }).format(date);
}

/** "09:30" / "9:30 AM" in the zone (default: the viewer's). */
export function formatTime(iso, zone) {
  return fmt(iso, { hour: uses12Hour() ? 'numeric' : '2-digit', minute: '2-digit' }, zone);
}

/** "Wednesday 3 December 2026" in the zone ({year: false} leaves the year out when it is this one). */
export function formatDay(iso, zone, { year = true } = {}) {
  const options = { weekday: 'long', day: 'numeric', month: 'long' };
  const thisYear = fmt(new Date(), { year: 'numeric' }, zone);
  if (year || fmt(iso, { year: 'numeric' }, zone) !== thisYear) options.year = 'numeric';
  return fmt(iso, options, zone);
}

/** "Wed 3 Dec" in the zone. */
export function formatShortDay(iso, zone) {
  return fmt(iso, { weekday: 'short', day: 'numeric', month: 'short' }, zone);
}

/** "09:30 – 10:00" in the zone. */
export function formatTimeRange(startIso, endIso, zone) {
  return `${formatTime(startIso, zone)} – ${formatTime(endIso, zone)}`;
}

/** "Wed 3 Dec, 09:30" in the zone. */
export function formatWhen(iso, zone) {
  return `${formatShortDay(iso, zone)}, ${formatTime(iso, zone)}`;
}

/** A plain date "2026-12-03" as "Wednesday 3 December 2026" (no zone shifts). */
export function formatPlainDate(ymd, options = { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** Today's date "YYYY-MM-DD" in the zone. */
export function todayIn(zone) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: zone || viewerZone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(new Date());
}

/** The date "YYYY-MM-DD" of an instant in the zone. */
export function dateIn(iso, zone) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: zone || viewerZone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(new Date(iso));
}

/** True when the locale writes times with AM/PM. */
export function uses12Hour() {
  try {
    const cycle = new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hourCycle;
    return cycle === 'h12' || cycle === 'h11';
  } catch {
    return false;
  }
}
