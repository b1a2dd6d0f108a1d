// The signed-in app shell: user menu, room list, home or room view, live updates.
import { loadMe, signOut } from './api.js';
import { hueOf, initials } from './dom.js';
import { setFallbackZone, setHourCycle } from './format.js';
import * as live from './live.js';
import { setupMenu } from './menu.js';
import { RoomList } from './rooms.js';
import './video_presence.js';
import './push_offer.js'; // offers push once someone books a time of yours

const main = document.getElementById('main');
const roomId = main.dataset.roomId || '';

live.start();

function setupUser(me) {
  document.getElementById('user-name').textContent = me.display_name;
  document.getElementById('user-email').textContent = me.email;
  const avatar = document.getElementById('user-avatar');
  avatar.textContent = initials(me.display_name);
  avatar.classList.add(hueOf(me.id));
  for (const button of document.querySelectorAll('[data-action="sign-out"]')) {
    button.addEventListener('click', () => signOut());
  }
  const menuButton = document.getElementById('user-menu-button');
  document.querySelector('[data-action="api-tokens"]')?.addEventListener('click', async () => {
    const { openTokens } = await import('./tokens.js');
    openTokens(menuButton);
  });
  for (const button of document.querySelectorAll('button[aria-controls][aria-expanded]')) {
    setupMenu(button);
  }
}

function setupLiveBanner() {
  const banner = document.getElementById('live-banner');
  let timer = null;
  live.onStatus((status) => {
    clearTimeout(timer);
    if (status === 'reconnecting') {
      // Only speak up if the drop lasts: quick reconnects stay silent.
      timer = setTimeout(() => {
        banner.textContent = 'Connection lost. Reconnecting…';
        banner.classList.add('is-visible');
      }, 1500);
    } else if (status === 'open') {
      banner.textContent = '';
      banner.classList.remove('is-visible');
    }
  });
}

async function main_() {
  setupLiveBanner();
  const me = await loadMe();
  setFallbackZone(me.time_zone); // times follow the browser's zone; the saved one only if it has none
  setHourCycle(me.time_format);
  setupUser(me);

  const roomList = new RoomList({
    listEl: document.getElementById('room-list'),
    emptyEl: document.getElementById('rooms-empty'),
    me,
    currentRoomId: roomId,
  });
  const bump = (msg) => {
    if (!msg || !msg.room_id) return;
    const mine = msg.sender && msg.sender.id === me.id;
    roomList.bump(msg.room_id, { unread: !mine });
  };
  live.subscribe('message.created', bump);
  live.subscribe('message.updated', (msg) => msg && msg.room_id && roomList.bump(msg.room_id));
  // The server could not resume our stream: refetch the room list (the room view reloads itself).
  live.subscribe('resync', () => roomList.load().catch((err) => console.error(err)));

  if (roomId) {
    const [{ RoomView }, { openScheduler }, { openBooking }] = await Promise.all([
      import('./room.js'),
      import('./schedule.js'),
      import('./booking.js'),
      import('./cards.js'), // renderers of invite and meeting messages
    ]);
    const view = new RoomView({ roomId, me, roomList });
    roomList.load().catch((err) => console.error(err));
    const room = await view.start();
    if (room) {
      const open = (returnFocus) => openScheduler(view.room, { returnFocus });
      const scheduleButton = document.getElementById('schedule-button');
      scheduleButton.addEventListener('click', () => open(scheduleButton));
      const moreButton = document.getElementById('more-button');
      document.querySelector('#more-menu [data-action="schedule"]').addEventListener('click', () => open(moreButton));
      scheduleButton.disabled = false;
      // A schedule link (/rooms/{room}?invite={id}) opens that invite's scheduling window.
      const params = new URLSearchParams(window.location.search);
      const inviteId = params.get('invite');
      if (inviteId) {
        params.delete('invite');
        const query = params.toString();
        window.history.replaceState(null, '', window.location.pathname + (query ? `?${query}` : '') + window.location.hash);
        openBooking({ inviteId, returnFocus: document.getElementById('composer-input') });
      }
    }
  } else {
    const { setupHome } = await import('./home.js');
    setupHome(me, roomList);
    await roomList.load();
  }
  document.body.dataset.ready = 'true';
}

main_().catch((err) => {
  if (err && err.status === 401) return; // already on the way to the sign-in page
  console.error(err);
  const banner = document.getElementById('live-banner');
  banner.textContent = err && err.message ? err.message : 'Something went wrong. Please reload.';
  banner.classList.add('is-visible', 'is-error');
});
