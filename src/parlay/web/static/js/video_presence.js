// Who is in a meeting's call, on its card in the room, live: the server sends
// `video.presence` {meeting_id, participants: [{name, role}]} to the room's members whenever
// someone joins or leaves the call, and right after the socket opens for calls already going
// on (README "Video signaling").  That snapshot may arrive before the cards are drawn, so the
// latest names per meeting are kept and shown on cards as they appear.
import { h } from './dom.js';
import { subscribe } from './live.js';

const inCall = new Map(); // meeting id -> names

function cancelled(card) {
  return card.dataset.status === 'cancelled' || card.classList.contains('is-cancelled');
}

function show(card, names) {
  let line = card.querySelector('.meeting-presence');
  // A cancelled meeting has no call, whatever a late presence frame still says.
  if (!names?.length || cancelled(card)) {
    line?.remove();
    return;
  }
  if (!line) {
    line = h('p', { class: 'meeting-note meeting-presence' });
    const actions = card.querySelector('.sc-actions');
    if (actions) actions.before(line);
    else card.append(line);
  }
  const text = `In the call: ${names.join(', ')}`;
  if (line.textContent !== text) line.textContent = text;
}

subscribe('video.presence', (data) => {
  const names = (data.participants || []).map((p) => p.name);
  if (names.length) inCall.set(data.meeting_id, names);
  else inCall.delete(data.meeting_id);
  for (const card of document.querySelectorAll(`.meeting-card[data-meeting-id="${CSS.escape(data.meeting_id)}"]`)) {
    show(card, names);
  }
});

// Cards drawn (or redrawn) after the snapshot arrived, and cards redrawn as cancelled.
new MutationObserver(() => {
  for (const line of document.querySelectorAll('.meeting-card .meeting-presence')) {
    if (cancelled(line.closest('.meeting-card'))) line.remove();
  }
  if (!inCall.size) return;
  for (const [meetingId, names] of inCall) {
    for (const card of document.querySelectorAll(`.meeting-card[data-meeting-id="${CSS.escape(meetingId)}"]`)) {
      if (!card.querySelector('.meeting-presence')) show(card, names);
    }
  }
}).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'data-status'] });
