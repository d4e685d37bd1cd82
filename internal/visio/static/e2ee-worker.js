// The end-to-end encryption of a room's media, in the browser's encoded-transform worker
// (W3C WebRTC Encoded Transform, RTCRtpScriptTransform). Every encoded frame a sender
// produces is sealed with AES-GCM (WebCrypto) under the room key, which only the
// participants hold (it travels in the URL fragment, never to the server): the SFU still
// forwards the packets, and cannot decode them.
//
// Frame format — a simplified SFrame (RFC 9605; Chromium has no SFrameTransform):
//
//   | clear prefix | AES-GCM ciphertext + 16-byte tag | IV (12) | key id (1) | prefix length (1) |
//
// The clear prefix is what the SFU and the receiver's depacketiser read, left as is and
// authenticated as additional data (so it cannot be altered either):
//   - VP8 (RFC 6386 §9.1): 10 bytes for a key frame (frame tag, start code, dimensions), 3
//     for a delta frame (the frame tag): the SFU tells key frames and layers apart by them.
//   - Opus: 1 byte, the TOC (RFC 6716 §3.1).
// The trailer is at the end so that the frame still starts with the codec's own header.
// The IV is random for every frame: NIST SP 800-38D §8.2.2 allows 2^32 random IVs under one
// key, far more frames than a meeting has, and every participant seals under the same key,
// so a per-sender counter alone could repeat across senders.

const TAG = 16, IV = 12, TRAILER = IV + 2;
let key = null;
let keyId = 0;
// The page derives the key (HKDF, asynchronous) while the connections start: a frame
// received before it is here waits for it, rather than being counted as one that does not
// open. (Frames to send before it are dropped: nothing goes out in clear.)
let keyReady;
const keyArrived = new Promise((resolve) => { keyReady = resolve; });
const counts = { sealed: 0, opened: 0, failed: 0 };

function clearBytes(kind, data) {
  if (kind === 'audio') return Math.min(1, data.byteLength);
  // VP8 payload header: bit 0 of the first byte is 0 for a key frame (RFC 6386 §9.1).
  const keyFrame = data.byteLength > 0 && (new Uint8Array(data)[0] & 1) === 0;
  return Math.min(keyFrame ? 10 : 3, data.byteLength);
}

async function seal(kind, frame, controller) {
  if (!key) return; // no key yet: send nothing rather than clear media
  const data = frame.data;
  const n = clearBytes(kind, data);
  const iv = crypto.getRandomValues(new Uint8Array(IV));
  const prefix = new Uint8Array(data, 0, n);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: prefix, tagLength: TAG * 8 }, key, new Uint8Array(data, n)));
  const out = new Uint8Array(n + sealed.byteLength + TRAILER);
  out.set(prefix, 0);
  out.set(sealed, n);
  out.set(iv, n + sealed.byteLength);
  out[out.length - 2] = keyId;
  out[out.length - 1] = n;
  frame.data = out.buffer;
  counts.sealed++;
  controller.enqueue(frame);
}

async function open(kind, frame, controller) {
  if (!key) await keyArrived;
  const data = new Uint8Array(frame.data);
  const n = data[data.length - 1];
  const ok = key && data.length >= n + TAG + TRAILER && data[data.length - 2] === keyId;
  let plain = null;
  if (ok) {
    const iv = data.subarray(data.length - TRAILER, data.length - 2);
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: data.subarray(0, n), tagLength: TAG * 8 }, key, data.subarray(n, data.length - TRAILER)));
    } catch { plain = null; }
  }
  if (!plain) {
    // Dropped, not passed on: a frame that does not open would only feed the decoder garbage.
    counts.failed++;
    if (counts.failed === 1 || counts.failed % 100 === 0) self.postMessage({ type: 'failed', counts });
    return;
  }
  const out = new Uint8Array(n + plain.byteLength);
  out.set(data.subarray(0, n), 0);
  out.set(plain, n);
  frame.data = out.buffer;
  counts.opened++;
  if (counts.opened === 1 || counts.opened % 100 === 0) self.postMessage({ type: 'opened', counts });
  controller.enqueue(frame);
}

self.onmessage = async ({ data }) => {
  if (data.type === 'key') {
    key = await crypto.subtle.importKey('raw', data.raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    keyId = data.id & 0xff;
    keyReady();
  }
};

self.onrtctransform = ({ transformer }) => {
  const { side, kind } = transformer.options;
  const step = side === 'send' ? seal : open;
  transformer.readable
    .pipeThrough(new TransformStream({ transform: (frame, controller) => step(kind, frame, controller) }))
    .pipeTo(transformer.writable)
    .catch((err) => self.postMessage({ type: 'error', message: String(err) }));
};
