// The meeting's audio and video: one RTCPeerConnection to socle's SFU, negotiated over the
// room's WebSocket (docs/visio-signalling.md, "Media"). The browser is the polite side of
// perfect negotiation (W3C WebRTC §10.1): when its offer crosses the SFU's, it rolls back,
// answers, and offers again.

// Simulcast layers the SFU picks from for each receiver (RFC 8853): a quarter, a half and
// the full resolution of the camera.
// End-to-end encryption, when the link carries the room key (e2ee.js).
import { protect } from '/visio/static/e2ee.js';

const LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

export class Media {
  /**
   * @param {{send: (m: object) => void, tiles: HTMLElement, stage: HTMLElement, names: (id: string) => string}} o
   */
  constructor({ send, tiles, stage, names, iceServers = [] }) {
    // The built-in TURN relay, for networks that let nothing else through.
    this.iceServers = iceServers;
    this.send = send;
    this.tiles = tiles;
    this.stage = stage;
    this.names = names;
    this.screens = new Set(); // track ids others share their screen with
    this.pc = new RTCPeerConnection({ iceServers });
    protect(this.pc); // E2EE: a transform on every sender and receiver
    this.makingOffer = false;
    // trace keeps the last negotiation events, for the connection details and for tests
    // that must tell why a stream never came.
    this.trace = [];
    this.pc.onnegotiationneeded = () => { this.#note('negotiationneeded'); this.#offer(); };
    this.pc.addEventListener('signalingstatechange', () => {
      this.#note('state ' + this.pc.signalingState);
      this.#offerIfNeeded();
    });
    this.pc.onicecandidate = ({ candidate }) =>
      this.send({ type: 'signal', signal: { type: 'candidate', candidate: candidate ? candidate.toJSON() : null } });
    // The receiving ends of our own receive-only transceivers (see receiveOnly) carry
    // nobody: the SFU sends each participant's streams on transceivers of its own.
    this.placeholders = new Set();
    this.pc.ontrack = ({ track, streams, transceiver }) => {
      if (!this.placeholders.has(transceiver)) this.#show(track, streams[0]);
    };
    // ICE restart when the connection to the SFU does not come up, or is lost (W3C WebRTC
    // §4.4.1.6): when the browser's first offer crosses the SFU's, it rolls its ICE
    // credentials back while the candidates it gathered for them are already on their way,
    // and on a busy machine the connection sometimes never formed.
    this.#watchICE();
  }

  /**
   * #watchICE restarts ICE on pc while it has descriptions but no connection, every 5 s
   * (W3C WebRTC §4.4.1.6): a connection whose candidates were lost — to a rollback, on a
   * loaded machine — otherwise never forms.
   */
  #watchICE(pc = this.pc, what = 'sfu') {
    let timer = null;
    const check = () => {
      clearTimeout(timer);
      if (pc.connectionState === 'connected' || pc.connectionState === 'closed') return;
      timer = setTimeout(() => {
        if (pc.remoteDescription && pc.connectionState !== 'connected' && pc.connectionState !== 'closed') {
          this.#note(`${what}: ICE restart (${pc.connectionState})`);
          pc.restartIce();
        }
        check();
      }, 5000);
    };
    pc.addEventListener('connectionstatechange', check);
    pc.addEventListener('signalingstatechange', check);
    // A connection that worked and failed (a network cut outlasting ICE's consent checks, a
    // relay's TCP connection reset): no use waiting. Only then: a restart that fails at once
    // (no relay allocation yet, the network still down) is retried by the 5 s watch above,
    // not in a loop. The offer goes through the signalling link, which holds it until it is
    // back (link.js).
    let worked = false;
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') worked = true;
      if (pc.connectionState === 'failed' && worked && pc.remoteDescription) {
        worked = false;
        this.#note(`${what}: ICE restart (failed)`);
        pc.restartIce();
      }
    });
    check();
  }

  /** start takes the camera and microphone chosen (or the defaults) and sends them. */
  async start(devices = {}) {
    this.local = await navigator.mediaDevices.getUserMedia({
      audio: devices.audio ? { deviceId: { exact: devices.audio } } : true,
      video: devices.video ? { deviceId: { exact: devices.video }, width: 640, height: 360 } : { width: 640, height: 360 },
    });
    const [audio] = this.local.getAudioTracks();
    const [video] = this.local.getVideoTracks();
    this.audioSender = this.pc.addTransceiver(audio, { direction: 'sendonly', streams: [this.local] }).sender;
    this.videoSender = this.pc.addTransceiver(video, { direction: 'sendonly', streams: [this.local], sendEncodings: LAYERS }).sender;
    return this.local;
  }

  /**
   * receiveOnly is for a participant without camera or microphone (none, or refused): it
   * offers to receive audio and video. The SFU waits for each participant's first offer
   * before it offers the room's streams (see sfu.Peer.spoke), so one who would send nothing
   * still speaks first, and does not wait for the SFU to give up waiting.
   */
  receiveOnly() {
    for (const kind of ['audio', 'video']) this.placeholders.add(this.pc.addTransceiver(kind, { direction: 'recvonly' }));
  }

  /**
   * signal applies what the SFU sent, in the order it came: each description is set and
   * answered before the next message is looked at.
   */
  signal(sig) {
    const applied = this.#signals.then(() => this.#apply(sig));
    this.#signals = applied.catch(() => {});
    return applied;
  }

  #signals = Promise.resolve();

  async #apply(sig) {
    if (sig.type !== 'candidate') this.#note('received ' + sig.type);
    if (sig.type === 'candidate') {
      if (sig.candidate) await this.pc.addIceCandidate(sig.candidate).catch(() => {});
      return;
    }
    // Polite: an offer that crosses ours wins; setRemoteDescription rolls ours back.
    await this.pc.setRemoteDescription({ type: sig.type, sdp: sig.sdp });
    // Answered here unless onnegotiationneeded's setLocalDescription, queued meanwhile,
    // answered it already.
    if (sig.type === 'offer' && this.pc.signalingState === 'have-remote-offer') {
      await this.pc.setLocalDescription();
      this.#sendDescription();
    }
  }

  /**
   * #unnegotiated tells whether a transceiver of ours was never negotiated (it has no mid).
   * It happens when the SFU's offer rolls ours back: the browser's negotiationneeded, fired
   * once already, is not always fired again, and #offer ignores it while an offer is being
   * made; on a loaded machine a participant's camera and microphone then never reached the
   * SFU. So every return to stable, and the end of every offer, checks and offers again.
   */
  #note(what) {
    this.trace.push(`${Math.round(performance.now())} ${what}`);
    if (this.trace.length > 100) this.trace.shift();
  }

  #unnegotiated() {
    return this.pc.getTransceivers().some((t) => t.mid === null && t.direction !== 'stopped');
  }

  #offerIfNeeded() {
    if (this.pc.signalingState === 'stable' && !this.makingOffer && this.#unnegotiated()) this.#offer();
  }

  /**
   * #offer offers what this side has to send, once at a time and only from a stable state.
   * The description is sent as what it is: when the SFU's offer was applied between the
   * check and setLocalDescription, the call made an answer, not an offer (W3C WebRTC
   * §4.4.1.5). Labelled "offer", that answer was refused as a crossing offer, the offer made
   * next went as an "answer", and the participant stayed in have-local-offer for good,
   * sending nothing to anyone (seen on a loaded machine).
   */
  async #offer() {
    if (this.makingOffer || this.pc.signalingState !== 'stable') {
      this.#note(`offer skipped (${this.makingOffer ? 'making one' : this.pc.signalingState})`);
      return;
    }
    let failed = false;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.#sendDescription();
    } catch (err) {
      console.warn('offer', err);
      this.#note('offer failed: ' + err);
      failed = true;
    } finally {
      this.makingOffer = false;
    }
    // An answer made in place of the offer (see above) leaves ours to be made; a failure is
    // tried again a moment later rather than at once.
    setTimeout(() => this.#offerIfNeeded(), failed ? 500 : 0);
  }

  /** #sendDescription sends the local description, labelled with its own type. */
  #sendDescription() {
    const d = this.pc.localDescription;
    this.#note('sent ' + d.type);
    this.send({ type: 'signal', signal: { type: d.type, sdp: d.sdp } });
  }

  /** mute turns the microphone (or the camera) off or on. */
  mute(kind, off) {
    for (const t of this.local?.getTracks() || []) if (t.kind === kind) t.enabled = !off;
  }

  /** use switches to another camera or microphone without renegotiating. */
  async use(kind, deviceId) {
    const s = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: { deviceId: { exact: deviceId } } }
      : { video: { deviceId: { exact: deviceId }, width: 640, height: 360 } });
    const [track] = s.getTracks();
    const sender = kind === 'audio' ? this.audioSender : this.videoSender;
    const old = sender.track;
    await sender.replaceTrack(track);
    this.local.removeTrack(old);
    this.local.addTrack(track);
    old.stop();
  }

  /** share sends a window or the screen; it returns the track id, or null if refused. */
  async share() {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = s.getVideoTracks();
    this.screenSender = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.local] }).sender;
    if (this.direct) this.directScreen = this.direct.addTrack(track, this.local);
    track.onended = () => this.unshare();
    return track.id;
  }

  unshare() {
    if (!this.screenSender) return null;
    const id = this.screenSender.track?.id;
    this.screenSender.track?.stop();
    this.pc.removeTrack(this.screenSender);
    this.screenSender = null;
    if (this.direct && this.directScreen) this.direct.removeTrack(this.directScreen);
    this.directScreen = null;
    return id;
  }

  /** screen marks a remote track as a screen share, shown large, or no longer. */
  screen(trackId, on) {
    if (on) this.screens.add(trackId); else this.screens.delete(trackId);
    const v = document.querySelector(`video[data-track="${CSS.escape(trackId)}"]`);
    if (v) (on ? this.stage : this.tiles).append(v.parentElement);
  }

  /**
   * p2p moves the media to a direct connection with the only other participant: no server
   * in the path while two talk. The one with the higher id is the polite side.
   */
  async p2p(other, polite) {
    if (this.direct && this.other === other) return; // already talking to them
    await this.sfuMode();
    this.other = other;
    this.polite = polite;
    const pc = (this.direct = new RTCPeerConnection({ iceServers: this.iceServers }));
    protect(pc); // E2EE: a transform on every sender and receiver
    this.directOffering = false;
    this.directCandidates = [];
    pc.addEventListener('connectionstatechange', () => this.#note('p2p ' + pc.connectionState));
    // Only the impolite side restarts, so that the two restarts' offers do not cross.
    if (!polite) this.#watchICE(pc, 'p2p');
    pc.onnegotiationneeded = async () => {
      try {
        this.directOffering = true;
        await pc.setLocalDescription();
        this.send({ type: 'p2p', to: other, signal: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      } catch (err) {
        console.warn('p2p offer', err);
      } finally {
        this.directOffering = false;
      }
    };
    pc.onicecandidate = ({ candidate }) =>
      this.send({ type: 'p2p', to: other, signal: { type: 'candidate', candidate: candidate ? candidate.toJSON() : null } });
    // The other's stream id is their camera's, not their participant id: their tile is
    // named after who they are.
    pc.ontrack = ({ track, streams }) => this.#show(track, streams[0], 'p2p', other);
    for (const t of this.local?.getTracks() || []) pc.addTrack(t, this.local);
    if (this.screenSender?.track) this.directScreen = pc.addTrack(this.screenSender.track, this.local);
    // Nothing goes to the SFU meanwhile.
    await this.audioSender?.replaceTrack(null);
    await this.videoSender?.replaceTrack(null);
    document.body.classList.add('p2p');
  }

  /** directSignal applies what the other participant sent (perfect negotiation). */
  async directSignal(sig) {
    const pc = this.direct;
    if (!pc) return;
    if (sig.type === 'candidate') {
      // A candidate that comes before the description it belongs to is kept until then: the
      // impolite side, which ignores a crossing offer, would otherwise lose the polite
      // side's candidates, which its answer uses too (seen failing on a loaded machine).
      if (!sig.candidate) return;
      if (!pc.remoteDescription) this.directCandidates.push(sig.candidate);
      else await pc.addIceCandidate(sig.candidate).catch((err) => this.#note('p2p candidate: ' + err));
      return;
    }
    this.#note('p2p received ' + sig.type);
    const collision = sig.type === 'offer' && (this.directOffering || pc.signalingState !== 'stable');
    if (collision && !this.polite) {
      this.#note('p2p offer ignored (impolite)');
      return;
    }
    await pc.setRemoteDescription({ type: sig.type, sdp: sig.sdp });
    for (const c of this.directCandidates.splice(0)) {
      await pc.addIceCandidate(c).catch((err) => this.#note('p2p candidate: ' + err));
    }
    if (sig.type === 'offer' && pc.signalingState === 'have-remote-offer') {
      await pc.setLocalDescription();
      this.send({ type: 'p2p', to: this.other, signal: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
    }
  }

  /** sfuMode ends a direct connection: the media go through the SFU again. */
  async sfuMode() {
    if (!this.direct) return;
    this.direct.close();
    this.direct = null;
    this.directScreen = null;
    for (const el of document.querySelectorAll('[data-via="p2p"]')) (el.closest('figure') || el).remove();
    const [audio] = this.local?.getAudioTracks() || [];
    const [video] = this.local?.getVideoTracks() || [];
    document.body.classList.remove('p2p');
    await this.audioSender?.replaceTrack(audio || null);
    await this.videoSender?.replaceTrack(video || null);
  }

  #show(track, stream, via = 'sfu', peer = stream?.id || '') {
    if (track.kind === 'audio') {
      const a = document.createElement('audio');
      a.autoplay = true;
      a.srcObject = new MediaStream([track]);
      a.dataset.peer = peer;
      a.dataset.via = via;
      a.dataset.track = track.id;
      document.body.append(a);
      track.onmute = track.onended = () => { if (track.readyState === 'ended') a.remove(); };
      return;
    }
    const fig = document.createElement('figure');
    const v = document.createElement('video');
    v.autoplay = true;
    v.playsInline = true;
    v.muted = true; // its sound comes through the audio element
    v.srcObject = new MediaStream([track]);
    v.dataset.track = track.id;
    v.dataset.peer = peer;
    v.dataset.via = via;
    const cap = document.createElement('figcaption');
    cap.textContent = this.names(peer);
    fig.append(v, cap);
    (this.screens.has(track.id) ? this.stage : this.tiles).append(fig);
    track.onended = () => fig.remove();
  }

  /** forget removes the tiles of a participant who left. */
  forget(peer) {
    for (const el of document.querySelectorAll(`[data-peer="${CSS.escape(peer)}"]`)) (el.closest('figure') || el).remove();
  }

  /** stats reads what the browser measures of each stream, for the connection details. */
  async stats() {
    const out = [];
    (await this.pc.getStats()).forEach((r) => {
      if ((r.type === 'inbound-rtp' || r.type === 'outbound-rtp') && (r.bytesReceived || r.bytesSent)) {
        out.push({ dir: r.type === 'inbound-rtp' ? 'in' : 'out', kind: r.kind, rid: r.rid || '', bytes: r.bytesReceived ?? r.bytesSent,
          packets: r.packetsReceived ?? r.packetsSent, lost: r.packetsLost ?? 0, frames: r.framesDecoded ?? r.framesEncoded ?? 0,
          jitter: r.jitter ?? 0, rtt: r.roundTripTime ?? 0 });
      }
    });
    return out;
  }

  /**
   * levels returns, for each participant whose audio is received, how loud it was since the
   * last call (0 to 1), and the quality of this browser's own connection: "good", "fair" or
   * "poor", from the loss and round-trip time of what it sends.
   *
   * The loudness is the RMS level over the whole interval, from the receivers'
   * totalAudioEnergy and totalSamplesDuration (W3C webrtc-stats §8.6: their deltas give the
   * average level over a period), not the instantaneous audioLevel: that one covers only the
   * last hundred milliseconds or so, and a short syllable between two readings would go
   * unseen — as would, phase-locked, every beep of a test's fake microphone.
   */
  async levels() {
    const out = { speakers: {}, quality: 'good' };
    const seen = new Map();
    for (const pc of [this.pc, this.direct].filter(Boolean)) {
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.totalSamplesDuration !== undefined) {
          const peer = this.#peerByTrackStat(pc, r.trackIdentifier);
          const last = this.#energy.get(r.id);
          seen.set(r.id, { energy: r.totalAudioEnergy ?? 0, duration: r.totalSamplesDuration });
          const duration = last ? r.totalSamplesDuration - last.duration : 0;
          if (peer && duration > 0) {
            const level = Math.sqrt(Math.max(0, (r.totalAudioEnergy ?? 0) - last.energy) / duration);
            out.speakers[peer] = Math.max(out.speakers[peer] || 0, level);
          }
        }
        if (r.type === 'remote-inbound-rtp') {
          const loss = r.fractionLost ?? 0;
          const rtt = r.roundTripTime ?? 0;
          if (loss > 0.1 || rtt > 0.5) out.quality = 'poor';
          else if ((loss > 0.02 || rtt > 0.25) && out.quality === 'good') out.quality = 'fair';
        }
      });
    }
    this.#energy = seen; // streams that ended are forgotten
    return out;
  }

  /** #energy holds each received audio stream's totals at the last levels() call. */
  #energy = new Map();

  #peerOf(track) {
    return document.querySelector(`audio[data-track="${CSS.escape(track.id)}"]`)?.dataset.peer;
  }

  #peerByTrackStat(pc, trackId) {
    for (const t of pc.getTransceivers()) {
      if (t.receiver.track?.id === trackId) return this.#peerOf(t.receiver.track);
    }
    return null;
  }

  close() {
    this.direct?.close();
    this.direct = null;
    for (const t of this.local?.getTracks() || []) t.stop();
    this.pc.close();
  }
}
