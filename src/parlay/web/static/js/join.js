// The join page: show the meeting's times (rendered as UTC by the server) in the viewer's zone.
// data-format: "day" (Wednesday 3 December 2026), "time" (10:30), "time-zoned" (11:00 GMT, the
// zone's short name: put it on the last time of a line so the line reads "10:30 – 11:00 GMT").
import { browserZone, formatDay, formatTime, formatTimeZoned } from './format.js';

const zone = browserZone();
const formats = { day: formatDay, time: formatTime, 'time-zoned': formatTimeZoned };
for (const el of document.querySelectorAll('time[datetime][data-format]')) {
  const format = formats[el.dataset.format] || formatTime;
  el.textContent = format(el.getAttribute('datetime'), zone);
}
const zoneLine = document.getElementById('join-zone');
if (zoneLine) zoneLine.textContent = `Times in ${zone}`;
