// The call's transport: the signaling socket (WS /api/v1/ws, README "Video signaling") and
// RTCPeerConnections keyed by peer id.  `video.joined` says which media path the server uses:
// - mesh: one connection per other participant.  The newcomer offers to everyone already in
//   the call; the others answer, so two sides never offer to each other at once.
// - janus: one connection publishes our camera (an offer to our own peer id; the server relays
//   it to its SFU and answers from our id), and one per other participant receives their feed
//   (the server offers from that peer's id; we answer).  We never see the SFU's API.
// Events for the page: onJoined, onPeer(peer), onPeerGone(id), onTrack(id, stream),
// onState(id, state), onConnection(id, state), onKnock(guest), onLobbyClosed(id),
// onLobby(frame type, data) for waiting/admitted/declined, onEnded(data), onError(data),
// onClosed().

export class MeshCall {
  constructor({ guestToken = null, joinToken = null, stream = null, handlers = {} }) {
    this.guestToken = guestToken;
    this.joinToken = joinToken;
    this.stream = stream;
    this.on = handlers;
    this.peers = new Map(); // peer id -> {pc, name, pending: candidates before the remote description}
    this.iceServers = [];
    this.selfId = null;
    this.selfName = '';
    this.media = 'mesh';
    this.socket = null;
  }

  connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = this.guestToken ? `?guest=${encodeURIComponent(this.guestToken)}` : '';
    this.socket = new WebSocket(`${scheme}//${window.location.host}/api/v1/ws${query}`);
    this.socket.addEventListener('message', (event) => this.#onFrame(event));
    this.socket.addEventListener('close', () => this.on.onClosed?.());
    return new Promise((resolve, reject) => {
      this.socket.addEventListener('open', () => resolve(), { once: true });
      this.socket.addEventListener('error', () => reject(new Error('socket')), { once: true });
    });
  }

  send(type, data = {}) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type, data }));
  }

  join() {
    this.send('video.join', this.guestToken ? {} : { join_token: this.joinToken });
  }

  knock() { this.send('video.knock'); }
  admit(peerId) { this.send('video.admit', { peer_id: peerId }); }
  decline(peerId) { this.send('video.decline', { peer_id: peerId }); }
  sendState(state) { this.send('video.state', state); }

  leave() {
    this.send('video.leave');
    for (const id of [...this.peers.keys()]) this.#drop(id);
    this.socket?.close();
  }

  /** Swap the outgoing track of one kind (camera change, screen share) on every connection. */
  async replaceTrack(kind, track) {
    for (const { pc } of this.peers.values()) {
      for (const sender of pc.getSenders()) {
        if (sender.track?.kind === kind) await sender.replaceTrack(track);
      }
    }
  }

  #onFrame(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    const data = frame.data || {};
    switch (frame.type) {
      case 'video.joined':
        this.selfId = data.peer_id;
        this.selfName = data.name;
        this.media = data.media || 'mesh';
        this.iceServers = data.ice_servers || [];
        this.on.onJoined?.(data);
        if (this.media === 'janus') {
          for (const peer of data.peers) this.on.onPeer?.(peer);
          if (this.stream) this.#offerTo({ peer_id: this.selfId, name: this.selfName });
        } else {
          for (const peer of data.peers) this.#offerTo(peer);
        }
        for (const guest of data.lobby || []) this.on.onKnock?.(guest);
        break;
      case 'video.peer_joined':
        this.on.onPeer?.(data);
        break;
      case 'video.peer_left':
        this.#drop(data.peer_id);
        this.on.onPeerGone?.(data.peer_id);
        break;
      case 'video.offer':
        this.#answer(data);
        break;
      case 'video.answer':
        this.#accept(data);
        break;
      case 'video.ice':
        this.#candidate(data);
        break;
      case 'video.state':
        this.on.onState?.(data.peer_id, data);
        break;
      case 'video.knock':
        this.on.onKnock?.(data);
        break;
      case 'video.lobby_closed':
        this.on.onLobbyClosed?.(data.peer_id);
        break;
      case 'video.waiting':
      case 'video.admitted':
      case 'video.declined':
        this.on.onLobby?.(frame.type, data);
        break;
      case 'video.ended':
        for (const id of [...this.peers.keys()]) this.#drop(id);
        this.on.onEnded?.(data);
        break;
      case 'video.error':
        this.on.onError?.(data);
        break;
      case 'hello':
        this.on.onHello?.(frame);
        break;
      default:
        break; // live events on a member's socket: not the call's business
    }
  }

  #connection(peerId, name) {
    const known = this.peers.get(peerId);
    if (known) return known;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const entry = { pc, name, pending: [] };
    this.peers.set(peerId, entry);
    const own = peerId === this.selfId; // janus: our published feed
    if (this.media === 'janus') {
      // Publishing sends our tracks only; a feed we receive gets its m-lines from the offer.
      if (own) for (const track of this.stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] });
    } else {
      if (this.stream) {
        for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
      }
      for (const kind of ['audio', 'video']) {
        if (!this.stream || this.stream.getTracks().every((t) => t.kind !== kind)) {
          pc.addTransceiver(kind, { direction: 'recvonly' });
        }
      }
    }
    pc.addEventListener('icecandidate', (event) => {
      this.send('video.ice', { to: peerId, candidate: event.candidate ? event.candidate.toJSON() : null });
    });
    pc.addEventListener('track', (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.on.onTrack?.(peerId, stream);
    });
    if (own) return entry; // our own tile is the preview, not this connection
    pc.addEventListener('connectionstatechange', () => this.on.onConnection?.(peerId, pc.connectionState));
    this.on.onPeer?.({ peer_id: peerId, name });
    return entry;
  }

  async #offerTo(peer) {
    const { pc } = this.#connection(peer.peer_id, peer.name);
    await pc.setLocalDescription(await pc.createOffer());
    this.send('video.offer', { to: peer.peer_id, sdp: pc.localDescription.sdp });
  }

  async #answer(data) {
    const entry = this.#connection(data.peer_id, data.name);
    await entry.pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
    await this.#flush(entry);
    await entry.pc.setLocalDescription(await entry.pc.createAnswer());
    this.send('video.answer', { to: data.peer_id, sdp: entry.pc.localDescription.sdp });
  }

  async #accept(data) {
    const entry = this.peers.get(data.peer_id);
    if (!entry) return;
    await entry.pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
    await this.#flush(entry);
  }

  async #candidate(data) {
    const entry = this.peers.get(data.peer_id);
    if (!entry || !data.candidate) return;
    if (!entry.pc.remoteDescription) {
      entry.pending.push(data.candidate);
      return;
    }
    await entry.pc.addIceCandidate(data.candidate).catch(() => {});
  }

  async #flush(entry) {
    for (const candidate of entry.pending.splice(0)) {
      await entry.pc.addIceCandidate(candidate).catch(() => {});
    }
  }

  #drop(peerId) {
    const entry = this.peers.get(peerId);
    if (!entry) return;
    entry.pc.close();
    this.peers.delete(peerId);
  }
}
