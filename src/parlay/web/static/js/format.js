// Time formatting with Intl, in the reader's time zone.
//
// One rule for every time shown anywhere: the reader's current zone is the browser's own
// (Intl's resolvedOptions, i.e. where the device is now); the account's saved zone is only a
// fallback when the browser reports no usable zone. Where a time could be mistaken it carries
// the zone's short name ("10:30 – 11:00 GMT", "15:30 CET", "GMT-5"), see the *Zoned helpers.
// Zone names are canonical: a browser reporting "Asia/Calcutta" reads as "Asia/Kolkata".
import { canonicalZone } from './zonepicker.js';

function knownZone(zone) {
  if (!zone || typeof zone !== 'string') return undefined;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return zone;
  } catch {
    return undefined; // unknown to this browser
  }
}

function detectedZone() {
  try {
    return knownZone(canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone));
  } catch {
    return undefined;
  }
}

let viewerZone = detectedZone();

/** The account's saved zone: used only when the browser reports no zone of its own. */
export function setFallbackZone(zone) {
  viewerZone = detectedZone() || knownZone(zone);
}

/** Old name of setFallbackZone: the saved zone no longer overrides the browser's. */
export const setViewerZone = setFallbackZone;

export function browserZone() {
  try {
    return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
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
  const time = withClock({ hour: 'numeric', minute: '2-digit', timeZone: viewerZone });
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
  const text = new Intl.DateTimeFormat(undefined, withClock({
    dateStyle: 'full', timeStyle: 'short', timeZone: viewerZone,
  })).format(date);
  return `${text} ${zoneName(date)}`;
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
  return new Intl.DateTimeFormat(undefined, withClock({ ...options, timeZone: zone || viewerZone })).format(date);
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

/** The zone's short name at that instant, in the reader's locale: "GMT", "BST", "CET",
 * "EST" or "GMT-5", "GMT+9", "UTC" (default zone: the reader's). */
export function zoneName(iso, zone) {
  const date = iso instanceof Date ? iso : new Date(iso);
  const timeZone = zone || viewerZone;
  try {
    const parts = new Intl.DateTimeFormat(undefined, { timeZone, timeZoneName: 'short', hour: 'numeric' }).formatToParts(date);
    const name = parts.find((part) => part.type === 'timeZoneName')?.value;
    if (name) return name;
  } catch {
    // an invalid date or zone: fall through to the zone's own name
  }
  return timeZone || browserZone();
}

/** "09:30 GMT" in the zone. */
export function formatTimeZoned(iso, zone) {
  return `${formatTime(iso, zone)} ${zoneName(iso, zone)}`;
}

/** "09:30 – 10:00 GMT" in the zone (both ends labelled when a clock change falls between). */
export function formatTimeRangeZoned(startIso, endIso, zone) {
  const first = zoneName(startIso, zone);
  const last = zoneName(endIso, zone);
  const start = first === last ? formatTime(startIso, zone) : `${formatTime(startIso, zone)} ${first}`;
  return `${start} – ${formatTime(endIso, zone)} ${last}`;
}

/** "Wed 3 Dec, 09:30 GMT" in the zone. */
export function formatWhenZoned(iso, zone) {
  return `${formatWhen(iso, zone)} ${zoneName(iso, zone)}`;
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

let hourCycle = 'auto'; // the account's clock: 'auto' (the locale's), '12h' or '24h'

/** `options` with the account's clock when it is not "auto" and a time of day is shown. */
function withClock(options) {
  if (hourCycle === 'auto' || !(options.hour || options.timeStyle)) return options;
  return { ...options, hourCycle: hourCycle === '12h' ? 'h12' : 'h23' };
}

/** Follow the account's clock setting ("auto" | "12h" | "24h"); anything else means auto. */
export function setHourCycle(pref) {
  hourCycle = pref === '12h' || pref === '24h' ? pref : 'auto';
}

/** True when times are written with AM/PM: the account's clock, else the locale's. */
export function uses12Hour() {
  if (hourCycle !== 'auto') return hourCycle === '12h';
  try {
    const cycle = new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hourCycle;
    return cycle === 'h12' || cycle === 'h11';
  } catch {
    return false;
  }
}
