// The meeting page's call: camera and microphone preview with device choice, Join (members) or
// Your name + Ask to join (guests, who then wait in the lobby), and in the call a tile per
// participant with their name and mute state, Admit/Decline for waiting guests, and mute,
// camera, screen share and leave.  The transport is video_mesh.js.
import { h } from './dom.js';
import { MeshCall } from './video_mesh.js';

const root = document.getElementById('call');
const $ = (id) => document.getElementById(id);
const preview = $('call-preview');
const status = $('call-status');
const tiles = $('call-tiles');
const lobby = $('call-lobby');
const cameraSelect = $('call-camera');
const micSelect = $('call-mic');
const controls = { mute: $('call-mute'), camera: $('call-camera-toggle'), share: $('call-share'), leave: $('call-leave') };

let stream = null; // the camera + microphone
let screen = null; // a screen being shared
let call = null;
const state = { audio: true, video: true, screen: false };

function say(text) {
  status.textContent = text;
}

async function openDevices() {
  const constraints = {
    audio: micSelect.value ? { deviceId: { exact: micSelect.value } } : true,
    video: cameraSelect.value ? { deviceId: { exact: cameraSelect.value } } : true,
  };
  try {
    const next = await navigator.mediaDevices.getUserMedia(constraints);
    for (const track of stream?.getTracks() || []) track.stop();
    stream = next;
    preview.srcObject = stream;
    $('call-blocked').hidden = true;
    for (const track of stream.getTracks()) track.enabled = track.kind === 'audio' ? state.audio : state.video;
    await call?.replaceTrack('audio', stream.getAudioTracks()[0] || null);
    if (!state.screen) await call?.replaceTrack('video', stream.getVideoTracks()[0] || null);
    await listDevices();
  } catch (err) {
    stream = null;
    $('call-blocked').hidden = false;
    console.warn('no camera or microphone:', err.name);
  }
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select, kind, current) => {
    const chosen = current?.getSettings().deviceId;
    select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => h('option', {
      value: d.deviceId, text: d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}`, selected: d.deviceId === chosen,
    })));
  };
  fill(cameraSelect, 'videoinput', stream?.getVideoTracks()[0]);
  fill(micSelect, 'audioinput', stream?.getAudioTracks()[0]);
}

// ---------- tiles ----------

function tileOf(peerId) {
  return tiles.querySelector(`[data-peer-id="${CSS.escape(peerId)}"]`);
}

function addTile(peerId, name, { self = false } = {}) {
  let tile = tileOf(peerId);
  if (tile) return tile;
  const video = h('video', { class: `call-video${self ? ' is-self' : ''}`, autoplay: true, playsinline: true });
  if (self) video.muted = true;
  tile = h(
    'li',
    { class: 'call-tile', dataset: { peerId, connection: self ? 'self' : 'new' } },
    video,
    h('p', { class: 'call-tile-name' }, h('span', { text: self ? `${name} (you)` : name }), h('span', { class: 'call-tile-muted', text: 'Muted', hidden: true })),
  );
  tiles.append(tile);
  return tile;
}

function showState(peerId, peerState) {
  const tile = tileOf(peerId);
  if (!tile) return;
  tile.querySelector('.call-tile-muted').hidden = peerState.audio !== false;
  tile.classList.toggle('is-camera-off', peerState.video === false && !peerState.screen);
}

// ---------- the lobby, as a member sees it ----------

function addKnock(guest) {
  if (lobby.querySelector(`[data-peer-id="${CSS.escape(guest.peer_id)}"]`)) return;
  const admit = h('button', { type: 'button', class: 'button button-small button-primary', text: `Admit ${guest.name}` });
  const decline = h('button', { type: 'button', class: 'button button-small button-secondary', text: `Decline ${guest.name}` });
  admit.addEventListener('click', () => call.admit(guest.peer_id));
  decline.addEventListener('click', () => call.decline(guest.peer_id));
  lobby.append(h('li', { class: 'call-knock-row', dataset: { peerId: guest.peer_id } }, h('span', { text: `${guest.name} is waiting to join` }), admit, decline));
}

// ---------- entering and leaving ----------

function enterRoom(joined) {
  $('call-prejoin').hidden = true;
  $('call-room').hidden = false;
  document.body.classList.add('in-call');
  const self = addTile(joined.peer_id, joined.name, { self: true });
  const video = self.querySelector('video');
  video.srcObject = stream;
  call.sendState(state);
  controls.mute.focus();
}

function leaveRoom(message) {
  call?.leave();
  call = null;
  tiles.replaceChildren();
  lobby.replaceChildren();
  $('call-room').hidden = true;
  $('call-prejoin').hidden = false;
  document.body.classList.remove('in-call');
  say(message);
}

const ERRORS = {
  meeting_not_open: 'The call is not open right now.',
  meeting_cancelled: 'This meeting was cancelled.',
  rate_limited: 'You were declined a moment ago; try again later.',
  video_unavailable: "The call can't start right now: the media server is not reachable. Try again in a moment.",
};

let devicesReady = Promise.resolve();

async function start({ guestToken = null }) {
  await devicesReady; // the preview's stream is what the others receive
  call = new MeshCall({
    guestToken,
    joinToken: root.dataset.joinToken,
    stream,
    handlers: {
      onHello: () => (guestToken ? call.knock() : call.join()),
      onJoined: enterRoom,
      onPeer: (peer) => addTile(peer.peer_id, peer.name),
      onPeerGone: (id) => tileOf(id)?.remove(),
      onTrack: (id, remote) => {
        const video = tileOf(id)?.querySelector('video');
        if (video && video.srcObject !== remote) video.srcObject = remote;
      },
      onConnection: (id, connection) => {
        const tile = tileOf(id);
        if (tile) tile.dataset.connection = connection;
      },
      onState: showState,
      onKnock: addKnock,
      onEnded: (data) => {
        if (data.reason === 'cancelled') {
          call?.socket?.close();
          call = null;
          window.location.reload(); // the page for a cancelled meeting says so
        } else {
          leaveRoom('The call was interrupted. Join again when you are ready.');
        }
      },
      onLobbyClosed: (id) => lobby.querySelector(`[data-peer-id="${CSS.escape(id)}"]`)?.remove(),
      onLobby: (type) => {
        if (type === 'video.waiting') say('Waiting for someone in the call to let you in…');
        else if (type === 'video.admitted') call.join(); // no further click
        else if (type === 'video.declined') {
          call.socket?.close();
          call = null;
          say('Someone in the call declined your request to join.');
          $('call-knock-button').disabled = false;
        }
      },
      onError: (error) => {
        const message = ERRORS[error.code] || error.message;
        if (error.about === 'video.join' || error.about === 'video.knock') {
          call?.socket?.close();
          call = null;
          for (const button of [$('call-join'), $('call-knock-button')]) if (button) button.disabled = false;
        }
        say(message);
      },
      onClosed: () => {
        if (call && !$('call-room').hidden) leaveRoom('The connection was lost. Join again when you are ready.');
      },
    },
  });
  return call.connect().catch(() => say('Could not reach the server; try again.'));
}

// ---------- controls ----------

function toggle(button, key, onText, offText) {
  state[key] = !state[key];
  button.setAttribute('aria-pressed', String(!state[key]));
  button.textContent = state[key] ? onText : offText;
  for (const track of stream?.getTracks() || []) {
    if ((key === 'audio' && track.kind === 'audio') || (key === 'video' && track.kind === 'video')) track.enabled = state[key];
  }
  call?.sendState(state);
}

controls.mute.addEventListener('click', () => toggle(controls.mute, 'audio', 'Mute', 'Unmute'));
controls.camera.addEventListener('click', () => toggle(controls.camera, 'video', 'Camera off', 'Camera on'));
controls.leave.addEventListener('click', () => leaveRoom('You left the call.'));
controls.share.addEventListener('click', async () => {
  if (screen) {
    stopSharing();
    return;
  }
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch {
    return; // the person chose not to share
  }
  const track = screen.getVideoTracks()[0];
  track.addEventListener('ended', stopSharing);
  await call?.replaceTrack('video', track);
  state.screen = true;
  controls.share.setAttribute('aria-pressed', 'true');
  controls.share.textContent = 'Stop sharing';
  call?.sendState(state);
});

function stopSharing() {
  for (const track of screen?.getTracks() || []) track.stop();
  screen = null;
  state.screen = false;
  call?.replaceTrack('video', stream?.getVideoTracks()[0] || null);
  controls.share.setAttribute('aria-pressed', 'false');
  controls.share.textContent = 'Share screen';
  call?.sendState(state);
}

cameraSelect.addEventListener('change', openDevices);
micSelect.addEventListener('change', openDevices);

$('call-join')?.addEventListener('click', (event) => {
  event.currentTarget.disabled = true;
  say('Joining…');
  start({});
});

$('call-knock')?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('call-name');
  const name = input.value.trim();
  if (!name) {
    say('Give your name so the people in the call know who is asking.');
    input.focus();
    return;
  }
  $('call-knock-button').disabled = true;
  const response = await fetch(`/m/${encodeURIComponent(root.dataset.joinToken)}/guests`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $('call-knock-button').disabled = false;
    say(body.error?.message || 'Could not ask to join; try again.');
    return;
  }
  say('Asking to join…');
  start({ guestToken: body.token });
});

if (navigator.mediaDevices?.getUserMedia) {
  devicesReady = openDevices();
} else {
  $('call-blocked').hidden = false;
}
