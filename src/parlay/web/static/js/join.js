// The join page: show the meeting's times (rendered as UTC by the server) in the viewer's zone.
import { browserZone, formatDay, formatTime } from './format.js';

const zone = browserZone();
for (const el of document.querySelectorAll('time[datetime][data-format]')) {
  const iso = el.getAttribute('datetime');
  el.textContent = el.dataset.format === 'day' ? formatDay(iso, zone) : formatTime(iso, zone);
}
const zoneLine = document.getElementById('join-zone');
if (zoneLine) zoneLine.textContent = `Times in ${zone}`;
