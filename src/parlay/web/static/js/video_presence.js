// Who is in a meeting's call, on its card in the room, live: the server sends
// `video.presence` {meeting_id, participants: [{name, role}]} to the room's members whenever
// someone joins or leaves the call (README "Video signaling").
import { h } from './dom.js';
import { subscribe } from './live.js';

subscribe('video.presence', (data) => {
  const names = (data.participants || []).map((p) => p.name);
  for (const card of document.querySelectorAll(`.meeting-card[data-meeting-id="${CSS.escape(data.meeting_id)}"]`)) {
    let line = card.querySelector('.meeting-presence');
    if (!names.length) {
      line?.remove();
      continue;
    }
    if (!line) {
      line = h('p', { class: 'meeting-note meeting-presence' });
      const actions = card.querySelector('.sc-actions');
      if (actions) actions.before(line);
      else card.append(line);
    }
    line.textContent = `In the call: ${names.join(', ')}`;
  }
});
