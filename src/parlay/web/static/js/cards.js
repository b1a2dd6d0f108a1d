// Message cards of the scheduling feature: the invite ("… shared their availability"), the
// meeting (time, status, Join / Reschedule / Cancel / Add to calendar) and the compact
// "meeting_update" line. The meeting card is re-sent (message.updated) whenever it changes.
import { api } from './api.js';
import { h, icon } from './dom.js';
import { calendarMenu } from './calendar_menu.js';
import { formatDay, formatTimeRangeZoned, formatWhen, formatWhenZoned, viewerTimeZone, zoneName } from './format.js';
import * as live from './live.js';
import { registerRenderer } from './messages.js';
import { openBooking, openCancel } from './booking.js';

// The newest state seen of each meeting (from meeting cards and live meeting.* events), so
// an invite card still shows the right "Booked:" time after a reschedule.
const latest = new Map();

function remember(meeting) {
  if (!meeting || !meeting.id) return meeting;
  const known = latest.get(meeting.id);
  if (!known || (meeting.sequence ?? 0) >= (known.sequence ?? 0)) {
    latest.set(meeting.id, meeting);
    return meeting;
  }
  return known;
}

function bookedText(meeting) {
  const text = `Booked: ${formatWhenZoned(meeting.start)}`;
  return meeting.status === 'cancelled' ? `${text} · cancelled` : text;
}

function showBooked(el, meeting) {
  el.textContent = bookedText(meeting);
  el.classList.toggle('is-cancelled', meeting.status === 'cancelled');
}

function onMeetingEvent(meeting) {
  const current = remember(meeting);
  for (const el of document.querySelectorAll('[data-booked-meeting]')) {
    if (el.dataset.bookedMeeting === current.id) showBooked(el, current);
  }
}
for (const type of ['meeting.scheduled', 'meeting.rescheduled', 'meeting.cancelled']) {
  live.subscribe(type, onMeetingEvent);
}

function cardHead(iconName, title, sub, badge = null) {
  return h(
    'div',
    { class: 'sc-head' },
    h('span', { class: `sc-icon sc-icon-${iconName}`, 'aria-hidden': 'true' }, icon(iconName)),
    h('div', { class: 'sc-text' }, badge ? h('p', { class: 'sc-kicker' }, badge) : null, title, sub),
  );
}

// ---------- the invite ----------

function renderInvite(message, { me }) {
  const invite = message.meeting_invite;
  if (!invite) return h('p', { class: 'msg-body', text: message.body });
  const mine = Boolean(me && invite.host.id === me.id);
  const who = mine ? 'You shared your availability' : `${invite.host.display_name} shared their availability`;
  const title = h('p', { class: 'sc-title', text: `${who} · ${invite.duration_minutes} min` });
  const actions = h('div', { class: 'sc-actions' });
  let sub;
  if (invite.status === 'open') {
    sub = h('p', { class: 'sc-sub', text: mine ? 'Waiting for someone to pick a time.' : 'Pick a time that suits you. Times show in your time zone.' });
    if (mine) {
      const withdraw = h('button', { type: 'button', class: 'button button-small button-secondary' }, 'Withdraw');
      withdraw.addEventListener('click', async () => {
        withdraw.disabled = true;
        try {
          await api('DELETE', `/api/v1/invites/${encodeURIComponent(invite.id)}`);
          sub.textContent = 'Withdrawn'; // the card is re-sent live as well
        } catch (err) {
          sub.textContent = err.code === 'invite_closed' ? 'This invite is already closed.' : err.message;
          withdraw.disabled = false;
        }
      });
      actions.append(withdraw);
    } else {
      const schedule = h('button', { type: 'button', class: 'button button-small button-primary' }, icon('calendar', 'icon icon-small'), 'Schedule a meeting');
      schedule.addEventListener('click', () => openBooking({ invite, returnFocus: schedule }));
      actions.append(schedule);
    }
  } else if (invite.status === 'booked' && invite.meeting) {
    const meeting = remember(invite.meeting);
    sub = h('p', { class: 'sc-sub sc-booked', dataset: { bookedMeeting: meeting.id } });
    showBooked(sub, meeting);
  } else if (invite.status === 'withdrawn') {
    sub = h('p', { class: 'sc-sub' }, h('span', { class: 'badge badge-muted', text: 'Withdrawn' }));
  } else {
    sub = h('p', { class: 'sc-sub', text: invite.status === 'booked' ? 'Booked' : invite.status });
  }
  return h(
    'div',
    { class: `sched-card invite-card is-${invite.status}`, dataset: { inviteId: invite.id, status: invite.status } },
    cardHead('calendar', title, sub),
    actions.childElementCount ? actions : null,
  );
}

// ---------- the meeting ----------

function lastReason(meeting) {
  const entry = [...(meeting.history || [])].reverse().find((e) => e.action !== 'booked');
  if (!entry) return null;
  const who = entry.by?.display_name || 'Someone';
  const verb = entry.action === 'cancelled' ? 'Cancelled' : 'Rescheduled';
  return entry.reason ? `${verb} by ${who}: “${entry.reason}”` : `${verb} by ${who}`;
}

function renderMeeting(message) {
  const meeting = remember(message.meeting);
  if (!meeting) {
    const nodes = noticeNodes(message.notice);
    return nodes ? h('p', { class: 'msg-body' }, nodes) : h('p', { class: 'msg-body', text: message.body });
  }
  const cancelled = meeting.status === 'cancelled';
  const zone = viewerTimeZone();
  const badge = h('span', { class: `badge ${cancelled ? 'badge-danger' : 'badge-ok'}`, text: cancelled ? 'Cancelled' : 'Scheduled' });
  const when = h(
    'div',
    { class: 'meeting-when' },
    h('p', { class: 'meeting-day' }, h('time', { datetime: meeting.start, text: formatDay(meeting.start, zone, { year: false }) })),
    h('p', { class: 'meeting-time', text: `${formatTimeRangeZoned(meeting.start, meeting.end, zone)} · ${meeting.duration_minutes} min` }),
  );
  const title = h('p', { class: 'sc-title meeting-title', text: meeting.title });
  const note = lastReason(meeting);
  const actions = h('div', { class: 'sc-actions' });
  if (cancelled) {
    actions.append(h(
      'a',
      { class: 'button button-small button-secondary', href: meeting.ics_url, download: 'meeting.ics', target: '_blank', rel: 'noopener noreferrer' },
      icon('download', 'icon icon-small'), 'Download .ics',
    ));
  } else {
    actions.append(
      h(
        'a',
        { class: 'button button-small button-primary', href: meeting.join_url, target: '_blank', rel: 'noopener noreferrer' },
        icon('video', 'icon icon-small'), 'Join the meeting',
      ),
      calendarMenu(meeting),
    );
    const reschedule = h('button', { type: 'button', class: 'button button-small button-secondary' }, 'Reschedule');
    reschedule.addEventListener('click', () => openBooking({
      inviteId: meeting.invite_id, mode: 'reschedule', meeting: latest.get(meeting.id) || meeting, returnFocus: reschedule,
    }));
    const cancel = h('button', { type: 'button', class: 'button button-small button-quiet' }, 'Cancel');
    cancel.addEventListener('click', () => openCancel(latest.get(meeting.id) || meeting, { returnFocus: cancel }));
    actions.append(h('div', { class: 'sc-actions-end' }, reschedule, cancel));
  }
  return h(
    'div',
    { class: `sched-card meeting-card is-${meeting.status}`, dataset: { meetingId: meeting.id, status: meeting.status } },
    cardHead('video', title, when, badge),
    note ? h('p', { class: 'meeting-note', text: note }) : null,
    actions,
  );
}

// ---------- notices, rendered per reader from their data ----------

function timeOf(iso, text) {
  return h('time', { datetime: iso, text });
}

/** "Wed 2 Dec, 10:30 to Thu 3 Dec, 11:00 GMT": one label when both read in the same one. */
function fromTo(fromIso, toIso) {
  const sameLabel = zoneName(fromIso) === zoneName(toIso);
  return [
    timeOf(fromIso, sameLabel ? formatWhen(fromIso) : formatWhenZoned(fromIso)),
    ' to ',
    timeOf(toIso, formatWhenZoned(toIso)),
  ];
}

/**
 * The sentence of a meeting notice in the reader's zone, as nodes, from its structured data
 * (message.notice); null when it cannot be rendered (older notices fall back to the body).
 */
export function noticeNodes(notice) {
  if (!notice || !notice.actor) return null;
  const who = notice.actor.display_name;
  const reason = notice.reason ? ` Reason: ${notice.reason}` : '';
  if (notice.action === 'rescheduled' && notice.from_start && notice.to_start) {
    return [`${who} moved the meeting from `, ...fromTo(notice.from_start, notice.to_start), `.${reason}`];
  }
  if (notice.action === 'cancelled') {
    return [`${who} cancelled the meeting.${reason}`];
  }
  if (notice.action === 'booked' && notice.start) {
    const host = notice.host ? ` with ${notice.host.display_name}` : '';
    return [`${who} booked a meeting${host}: `, timeOf(notice.start, formatWhenZoned(notice.start)), '.'];
  }
  return null;
}

function renderUpdate(message) {
  if (message.meeting) remember(message.meeting);
  const notice = message.notice;
  const nodes = noticeNodes(notice);
  const cancelled = notice
    ? notice.action === 'cancelled'
    : / cancelled the meeting\.$/.test(String(message.body).split(' Reason: ')[0]); // older rows
  return h(
    'span',
    { class: `msg-update${cancelled ? ' is-cancel' : ''}` },
    icon(cancelled ? 'ban' : 'repeat', 'icon icon-small'),
    nodes ? h('span', { class: 'msg-body' }, nodes) : h('span', { class: 'msg-body', text: message.body }),
  );
}

registerRenderer('meeting_invite', renderInvite);
registerRenderer('meeting', renderMeeting);
registerRenderer('meeting_update', renderUpdate, { layout: 'system' });
