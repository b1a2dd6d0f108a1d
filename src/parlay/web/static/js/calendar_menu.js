// "Add to calendar": a disclosure menu with the meeting's .ics download and its Google and
// Outlook links. Shared by the meeting card (cards.js) and the join page (join.js).
import { h, icon } from './dom.js';
import { setupMenu } from './menu.js';

let menuCount = 0;

/** The menu for `links` = {ics_url, google_url, outlook_url} (a meeting, or the join page's). */
export function calendarMenu(links) {
  menuCount += 1;
  const id = `add-to-calendar-${menuCount}`;
  const button = h(
    'button',
    { type: 'button', class: 'button button-small button-secondary', 'aria-expanded': 'false', 'aria-controls': id },
    icon('calendar', 'icon icon-small sc-cal-icon'), 'Add to calendar', icon('down', 'icon icon-small'),
  );
  const item = (href, text, iconName, extra = {}) => h(
    'a',
    { class: 'menu-item', href, target: '_blank', rel: 'noopener noreferrer', ...extra },
    icon(iconName), text,
  );
  const popup = h(
    'div',
    { class: 'menu-popup sc-menu', id, hidden: true },
    item(links.ics_url, 'Download .ics', 'download', { download: 'meeting.ics' }),
    item(links.google_url, 'Google Calendar', 'google'),
    item(links.outlook_url, 'Outlook', 'microsoft'),
  );
  setupMenu(button, popup);
  // The menu opens below its button (never over the card's title and time); near the bottom
  // of the room, the room scrolls just enough to show all of it.
  button.addEventListener('click', () => {
    if (!popup.hidden) popup.scrollIntoView({ block: 'nearest' });
  });
  return h('div', { class: 'menu sc-menu-wrap' }, button, popup);
}
