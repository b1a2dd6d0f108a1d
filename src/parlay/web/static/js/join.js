// The join page: show the meeting's times (rendered as UTC by the server) in the viewer's zone,
// and its Add to calendar menu (the meeting card's own, from calendar_menu.js).
// data-format: "day" (Wednesday 3 December 2026), "time" (10:30), "time-zoned" (11:00 GMT, the
// zone's short name: put it on the last time of a line so the line reads "10:30 – 11:00 GMT"),
// "when-zoned" (Wed 3 Dec, 10:30 GMT).
import { calendarMenu } from './calendar_menu.js';
import { browserZone, formatDay, formatTime, formatTimeZoned, formatWhenZoned } from './format.js';

const zone = browserZone();
const formats = {
  day: formatDay, time: formatTime, 'time-zoned': formatTimeZoned, 'when-zoned': formatWhenZoned,
};
for (const el of document.querySelectorAll('time[datetime][data-format]')) {
  const format = formats[el.dataset.format] || formatTime;
  el.textContent = format(el.getAttribute('datetime'), zone);
}
const zoneLine = document.getElementById('join-zone');
if (zoneLine) zoneLine.textContent = `Times in ${zone}`;

// The server puts the calendar links on the actions row of a meeting that still stands.
const actions = document.getElementById('join-actions');
if (actions?.dataset.icsUrl) {
  const { icsUrl, googleUrl, outlookUrl } = actions.dataset;
  actions.prepend(calendarMenu({ ics_url: icsUrl, google_url: googleUrl, outlook_url: outlookUrl }));
}
