// The page side of a room's end-to-end encryption (see e2ee-worker.js for the frame format).
// The room key is in the link's fragment, #key=<base64url of 32 random bytes>: a browser
// never sends the fragment to the server (RFC 3986 §3.5), so only those the link was given
// to hold it. The AES-GCM key is derived from it with HKDF-SHA-256 (RFC 5869), bound to the
// room's name, so one link's key opens no other room.

const worker = { w: null };
export const e2ee = { on: false, sealed: 0, opened: 0, failed: 0, onfail: null, onopen: null };

/** roomKey returns the fragment's key bytes, or null when the link carries none. */
export function roomKey(hash = location.hash) {
  const m = /(?:^#|&)key=([A-Za-z0-9_-]{43})(?:&|$)/.exec(hash);
  if (!m) return null;
  const b = atob(m[1].replace(/-/g, '+').replace(/_/g, '/') + '=');
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** newKey makes a fragment for a new E2EE room: 256 random bits, base64url. */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return 'key=' + btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** enable starts the worker with the key derived for room; it does nothing without a key. */
export async function enable(room) {
  const secret = roomKey();
  if (!secret || typeof RTCRtpScriptTransform !== 'function') return false;
  const base = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  const raw = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new TextEncoder().encode('socle visio e2ee'), info: new TextEncoder().encode(room) },
    base, 256);
  worker.w = new Worker('/visio/static/e2ee-worker.js');
  worker.w.postMessage({ type: 'key', raw, id: 1 });
  worker.w.onmessage = ({ data }) => {
    Object.assign(e2ee, data.counts || {});
    if (data.type === 'failed') e2ee.onfail?.();
    if (data.type === 'opened') e2ee.onopen?.();
  };
  e2ee.on = true;
  return true;
}

/**
 * protect puts the transform on every sender and receiver of pc, those it has and those it
 * will have: receivers as their tracks arrive, senders when negotiation is needed (adding a
 * track always asks for it, before any frame is sent).
 */
export function protect(pc) {
  if (!e2ee.on) return;
  const done = new WeakSet();
  // A transceiver's kind is its receiver track's, which always exists (the sender's track
  // may be null, or replaced).
  const attach = (x, side, kind) => {
    if (done.has(x)) return;
    done.add(x);
    x.transform = new RTCRtpScriptTransform(worker.w, { side, kind });
  };
  const senders = () => {
    for (const t of pc.getTransceivers()) attach(t.sender, 'send', t.receiver.track.kind);
  };
  pc.addEventListener('negotiationneeded', senders);
  pc.addEventListener('track', ({ receiver }) => attach(receiver, 'receive', receiver.track.kind));
}

// Enabled as the module loads, before media.js makes its first connection: the room's name
// is the page's (templates/room.html).
await enable(document.getElementById('room-script')?.dataset.room || location.pathname);
