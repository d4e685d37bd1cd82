// The room's signalling link: a WebSocket that survives the network (docs/visio-signalling.md,
// "Reconnecting"). When the connection drops, or stalls (no message for STALL ms although
// we ping), it reconnects with backoff and resumes the same participant: the server sends
// again what this page missed (each message has a seq), and tells how many of ours it read,
// so that we send the rest again. It gives up after GIVE_UP ms, or at once when the server
// says the session is over (410).
//
// Events: 'message' (detail: the server's message), 'state' (detail: 'connected',
// 'reconnecting', 'failed' or 'closed'), 'refused' (the first connection was refused or
// closed before the welcome).

const BACKOFF_MIN = 500;
const BACKOFF_MAX = 4000;
const GIVE_UP = 30_000;
const PING = 1500;
const STALL = 4000;
const KEEP = 512; // messages of ours kept for a resume, as the server keeps its own
// RFC 6455 §7.4.2: 4000-4999 are for applications. Closing a stalled connection sends a
// close frame, which may reach the server much later: this code tells it that the page
// did not leave.
const STALLED = 4000;
// The meeting's media node stopped (docs/visio-nodes.md): the session is gone with it, and
// joining again places the meeting on another node.
const NODE_LOST = 1013;

export class Link extends EventTarget {
  /**
   * @param {string} url the room's WebSocket URL, with the credentials
   * @param {object} hello the first message of a fresh connection (join)
   */
  constructor(url, hello) {
    super();
    this.url = url;
    this.hello = hello;
    this.token = '';
    this.last = 0; // seq of the last message received
    this.count = 0; // our messages sent in this session
    this.kept = []; // the last KEEP of them: [n, text]
    this.state = '';
    this.closing = false;
    this.#open();
  }

  /** send sends m now, or once the connection is back. */
  send(m) {
    if (this.closing || this.state === 'failed') return;
    const text = JSON.stringify(m);
    if (this.token) {
      this.count++;
      this.kept.push([this.count, text]);
      if (this.kept.length > KEEP) this.kept.shift();
    }
    if (this.ws?.readyState === WebSocket.OPEN && this.state === 'connected') this.ws.send(text);
  }

  /** close leaves: a close frame, which the server takes as the participant leaving. */
  close() {
    this.closing = true;
    this.#stop();
    this.ws?.close(1000, 'bye');
    this.#set('closed');
  }

  #set(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  #resumeURL() {
    const u = new URL(this.url);
    u.searchParams.set('resume', this.token);
    u.searchParams.set('last', String(this.last));
    return u.toString();
  }

  #open() {
    const ws = (this.ws = new WebSocket(this.token ? this.#resumeURL() : this.url));
    let heard = performance.now();
    ws.onopen = () => {
      if (!this.token) ws.send(JSON.stringify(this.hello));
      // A cut network often closes nothing: no message for STALL ms, although we ping,
      // is a connection lost.
      this.#stop();
      this.timer = setInterval(() => {
        // Only once in the room: in the lobby the server says nothing until admitted.
        if (this.token && performance.now() - heard > STALL) {
          ws.close(STALLED, 'stalled');
          this.#lost(ws);
        } else if (this.state === 'connected') this.send({ type: 'ping' });
      }, PING);
    };
    ws.onmessage = (ev) => {
      heard = performance.now();
      const m = JSON.parse(ev.data);
      if (m.seq) this.last = m.seq;
      if (m.type === 'welcome') {
        this.token = m.resume || '';
        this.joined = true;
        this.#set('connected');
      } else if (m.type === 'resumed') {
        this.since = 0;
        if (this.kept.length && m.received < this.kept[0][0] - 1) {
          // The server lacks messages of ours we no longer keep: our state and the room's
          // cannot be made one again.
          this.closing = true;
          ws.close(1000, 'cannot resume');
          this.#set('failed');
          return;
        }
        // What the server did not read of ours goes again, in order.
        for (const [n, text] of this.kept) if (n > m.received) ws.send(text);
        this.#set('connected');
      }
      this.dispatchEvent(new CustomEvent('message', { detail: m }));
      if (m.type === 'kicked' || m.type === 'ended' || m.type === 'refused') this.closing = true;
    };
    ws.onclose = (ev) => this.#lost(ws, ev.code);
  }

  #stop() { clearInterval(this.timer); this.timer = null; }

  /** #lost is the connection ws gone: try again, or give up. */
  async #lost(ws, code) {
    if (ws !== this.ws || this.lostHandled === ws) return;
    this.lostHandled = ws;
    this.#stop();
    if (this.closing) return this.#set('closed');
    if (!this.joined) { // never got in: the page asks why
      this.closing = true;
      this.dispatchEvent(new CustomEvent('refused'));
      return;
    }
    this.since ||= performance.now();
    this.#set('reconnecting');
    const attempt = (this.attempt = (this.attempt || 0) + 1);
    const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (attempt - 1));
    await new Promise((r) => setTimeout(r, delay));
    if (this.closing) return;
    if (code === NODE_LOST) this.#forget();
    const over = performance.now() - this.since > GIVE_UP ? 'resume-refused' : this.token ? await this.#over() : '';
    if (over === 'resume-unknown') this.#forget(); // its node is gone: join again
    else if (over) {
      this.#set('failed');
      return;
    }
    this.#open();
    // Back: the next cut starts its backoff from the beginning.
    this.ws.addEventListener('message', () => { this.attempt = 0; }, { once: true });
  }

  /** #over asks, without upgrading, whether the server refuses the resume (410), and
   * returns why: 'resume-unknown' (no such session: its media node stopped), or another
   * reason the session is over (left, removed, not back in time); '' if it is not, or the
   * network is still down. */
  async #over() {
    try {
      const r = await fetch(this.#resumeURL().replace(/^ws/, 'http'), { headers: { Accept: 'application/problem+json' } });
      if (r.status !== 410) return '';
      const p = await r.json().catch(() => ({}));
      return (p.type || '').replace('urn:socle:problem:', '') || 'resume-refused';
    } catch {
      return '';
    }
  }

  /** #forget drops the session: the next connection joins afresh, as the same person, and
   * the page gets a new welcome. */
  #forget() {
    this.token = '';
    this.last = 0;
    this.count = 0;
    this.kept = [];
  }
}
