// notes.js — the browser side of socle's shared meeting notes (Go package
// socle/internal/visio/notes): the same operations as the server, the client state
// machine of server-ordered operational transformation, and a binding to a <textarea>.
//
// An operation walks the whole text, counting Unicode code points (not UTF-16 units, so an
// emoji is one, as in Go): a positive integer n keeps n code points, a string inserts
// itself, a negative integer -n deletes n code points. [5, "abc", -3] is an op on a text of
// 8 code points. This is the JSON on the wire, as in ot.js.
//
// Usage, whatever carries the messages:
//
//   import { NotesArea } from "./notes.js";
//   const notes = new NotesArea(textarea, {
//     send: (rev, op) => ws.send(JSON.stringify({ type: "notes-op", rev, op })),
//     onError: (err) => ws.send(JSON.stringify({ type: "notes-reload" })),
//   });
//   // on {text, rev} (joining, or after a reload):  notes.load(text, rev)
//   // on {rev} acknowledging our op:                notes.ack(rev)
//   // on {rev, op} from someone else:               notes.remote(rev, op)
//   // on an error for our op:                       reload, then notes.load(...)

/** The longest text the server keeps, in bytes of UTF-8. */
export const MAX_TEXT_SIZE = 1 << 20;
/** The largest op the server accepts: inserted bytes of UTF-8 plus one per component. */
export const MAX_OP_SIZE = 64 << 10;
/** How many messages from the server may wait for a missing earlier one. */
const MAX_HELD = 1000;

// --- Code points ---------------------------------------------------------------------------

function isHigh(c) {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** advance returns the UTF-16 index n code points after index i of s. */
function advance(s, i, n) {
  for (; n > 0 && i < s.length; n--) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** codePoints is the length of s in code points (a lone surrogate counts one). */
export function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; n++) i = advance(s, i, 1);
  return n;
}

/** utf8Size is the length of s in bytes of UTF-8, as the server counts (a lone surrogate
 * becomes U+FFFD, 3 bytes). */
export function utf8Size(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

// --- Operations ----------------------------------------------------------------------------

const isRetain = (c) => typeof c === "number" && c > 0;
const isDelete = (c) => typeof c === "number" && c < 0;
const isInsert = (c) => typeof c === "string";

/** An Op is a list of components kept canonical, as the Go side's: no empty component, no
 * two adjacent of one kind, an insert before (never after) an adjacent delete. */
export class Op {
  constructor() {
    this.ops = [];
  }

  retain(n) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`notes: retain(${n})`);
    if (n === 0) return this;
    const last = this.ops.length - 1;
    if (last >= 0 && isRetain(this.ops[last])) this.ops[last] += n;
    else this.ops.push(n);
    return this;
  }

  insert(s) {
    if (typeof s !== "string") throw new Error(`notes: insert(${s})`);
    if (s === "") return this;
    const ops = this.ops;
    const last = ops.length - 1;
    if (last >= 0 && isDelete(ops[last])) {
      // An insert goes before the delete it touches, so that equal edits look equal.
      if (last >= 1 && isInsert(ops[last - 1])) ops[last - 1] += s;
      else {
        ops.push(ops[last]);
        ops[last] = s;
      }
    } else if (last >= 0 && isInsert(ops[last])) ops[last] += s;
    else ops.push(s);
    return this;
  }

  delete(n) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`notes: delete(${n})`);
    if (n === 0) return this;
    const last = this.ops.length - 1;
    if (last >= 0 && isDelete(this.ops[last])) this.ops[last] -= n;
    else this.ops.push(-n);
    return this;
  }

  /** baseLength is the length, in code points, of the texts the op applies to. */
  get baseLength() {
    let n = 0;
    for (const c of this.ops) if (typeof c === "number") n += Math.abs(c);
    return n;
  }

  /** targetLength is the length, in code points, of the text the op makes. */
  get targetLength() {
    let n = 0;
    for (const c of this.ops) n += isRetain(c) ? c : isInsert(c) ? codePoints(c) : 0;
    return n;
  }

  isNoop() {
    return this.ops.every(isRetain);
  }

  /** size is how the server measures an op against MAX_OP_SIZE. */
  size() {
    let n = this.ops.length;
    for (const c of this.ops) if (isInsert(c)) n += utf8Size(c);
    return n;
  }

  equals(other) {
    return this.ops.length === other.ops.length && this.ops.every((c, i) => c === other.ops[i]);
  }

  /** apply returns text with the op applied; the op must span the whole text. */
  apply(text) {
    const n = codePoints(text);
    if (this.baseLength !== n) {
      throw new Error(`notes: the operation spans ${this.baseLength} code points, the text has ${n}`);
    }
    const parts = [];
    let i = 0;
    for (const c of this.ops) {
      if (isRetain(c)) {
        const end = advance(text, i, c);
        parts.push(text.slice(i, end));
        i = end;
      } else if (isDelete(c)) i = advance(text, i, -c);
      else parts.push(c);
    }
    return parts.join("");
  }

  toJSON() {
    return this.ops;
  }

  /** fromJSON reads an op as the server sends it, refusing what the server would refuse:
   * anything but an array of non-zero integers of at most MAX_TEXT_SIZE and non-empty
   * strings. The op comes back canonical. */
  static fromJSON(value) {
    if (value instanceof Op) return value;
    if (!Array.isArray(value)) throw new Error("notes: an operation is an array");
    const op = new Op();
    for (const c of value) {
      if (typeof c === "string" && c !== "") op.insert(c);
      else if (Number.isInteger(c) && c !== 0 && Math.abs(c) <= MAX_TEXT_SIZE) {
        if (c > 0) op.retain(c);
        else op.delete(-c);
      } else throw new Error(`notes: invalid component ${JSON.stringify(c)}`);
    }
    if (op.baseLength > MAX_TEXT_SIZE) throw new Error("notes: the operation is too long");
    return op;
  }
}

/** A cursor hands out the components of an op piece by piece. */
class Cursor {
  constructor(op) {
    this.ops = op.ops;
    this.i = -1;
    this.next();
  }
  next() {
    this.i++;
    const c = this.ops[this.i];
    if (c === undefined) {
      this.kind = null;
      this.n = 0;
    } else if (isInsert(c)) {
      this.kind = "i";
      this.s = c;
      this.n = codePoints(c);
    } else {
      this.kind = c > 0 ? "r" : "d";
      this.n = Math.abs(c);
    }
  }
  /** take consumes n code points of the current component and returns the text they
   * insert, if any. */
  take(n) {
    let s = "";
    if (this.kind === "i") {
      const end = advance(this.s, 0, n);
      s = this.s.slice(0, end);
      this.s = this.s.slice(end);
    }
    this.n -= n;
    if (this.n === 0) this.next();
    return s;
  }
}

/** transform takes two ops made at once on one text and returns [a2, b2] such that a then
 * b2 gives the same text as b then a2. When both insert at one place, a's text comes first. */
export function transform(a, b) {
  if (a.baseLength !== b.baseLength) {
    throw new Error(`notes: transforming ops on texts of ${a.baseLength} and ${b.baseLength} code points`);
  }
  const a2 = new Op();
  const b2 = new Op();
  const x = new Cursor(a);
  const y = new Cursor(b);
  while (x.kind || y.kind) {
    if (x.kind === "i") {
      const n = x.n;
      a2.insert(x.take(n));
      b2.retain(n);
      continue;
    }
    if (y.kind === "i") {
      const n = y.n;
      a2.retain(n);
      b2.insert(y.take(n));
      continue;
    }
    if (!x.kind || !y.kind) throw new Error("notes: transforming ops of unequal lengths");
    const m = Math.min(x.n, y.n);
    if (x.kind === "r" && y.kind === "r") {
      a2.retain(m);
      b2.retain(m);
    } else if (x.kind === "d" && y.kind === "r") a2.delete(m);
    else if (x.kind === "r" && y.kind === "d") b2.delete(m);
    x.take(m);
    y.take(m);
  }
  return [a2, b2];
}

/** compose returns one op with the effect of a then b. */
export function compose(a, b) {
  if (a.targetLength !== b.baseLength) {
    throw new Error(`notes: composing an op making ${a.targetLength} code points with one on ${b.baseLength}`);
  }
  const out = new Op();
  const x = new Cursor(a);
  const y = new Cursor(b);
  while (x.kind || y.kind) {
    if (x.kind === "d") {
      out.delete(x.n);
      x.take(x.n);
      continue;
    }
    if (y.kind === "i") {
      out.insert(y.take(y.n));
      continue;
    }
    if (!x.kind || !y.kind) throw new Error("notes: composing ops of unmatched lengths");
    const m = Math.min(x.n, y.n);
    if (x.kind === "r" && y.kind === "r") out.retain(m);
    else if (x.kind === "r" && y.kind === "d") out.delete(m);
    else if (x.kind === "i" && y.kind === "r") out.insert(x.s.slice(0, advance(x.s, 0, m)));
    x.take(m);
    y.take(m);
  }
  return out;
}

/** transformIndex moves a position (in code points) through op: text inserted or deleted
 * before it shifts it, text inserted right at it stays after it. */
export function transformIndex(op, index) {
  let pos = 0;
  let shift = 0;
  for (const c of op.ops) {
    if (pos >= index) break;
    if (isRetain(c)) pos += c;
    else if (isInsert(c)) shift += codePoints(c);
    else {
      shift -= Math.min(-c, index - pos);
      pos -= c;
    }
  }
  return index + shift;
}

/** textChange returns the ops turning before into after: one, or several when the inserted
 * text is over MAX_OP_SIZE (a large paste), each within the limit; none if equal. */
export function textChange(before, after, maxSize = MAX_OP_SIZE) {
  if (before === after) return [];
  let p = 0;
  const short = Math.min(before.length, after.length);
  while (p < short && before.charCodeAt(p) === after.charCodeAt(p)) p++;
  if (p > 0 && isHigh(before.charCodeAt(p - 1))) p--; // do not split a surrogate pair
  let s = 0;
  while (s < short - p && before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)) s++;
  if (s > 0 && isLow(before.charCodeAt(before.length - s))) s--;
  const head = codePoints(before.slice(0, p));
  const tail = codePoints(before.slice(before.length - s));
  const removed = codePoints(before.slice(p, before.length - s));
  let added = after.slice(p, after.length - s);
  const ops = [];
  let at = head;
  let del = removed;
  // Four components at most (retain, insert, delete, retain) besides the inserted text.
  const room = maxSize - 4;
  while (ops.length === 0 || added !== "") {
    let end = added.length;
    if (utf8Size(added) > room) {
      end = 0;
      for (let size = 0; end < added.length; ) {
        const next = advance(added, end, 1);
        size += utf8Size(added.slice(end, next));
        if (size > room) break;
        end = next;
      }
    }
    const piece = added.slice(0, end);
    added = added.slice(end);
    ops.push(new Op().retain(at).delete(del).insert(piece).retain(tail));
    at += codePoints(piece);
    del = 0;
  }
  return ops;
}

// --- The client state machine ----------------------------------------------------------------

/** A Client follows the server's revisions: synchronized; awaiting the acknowledgement of
 * the one op in flight; or awaiting it with more local edits buffered (composed while
 * they fit in MAX_OP_SIZE, queued beyond). Messages from the server are put back in
 * revision order, and those already in the text it started from are ignored. */
export class Client {
  /**
   * @param {number} rev the revision of the text the client starts from
   * @param {{send: (rev: number, op: Op) => void, apply: (op: Op) => void}} io
   *   send ships an op to the server; apply applies a remote op to the local text.
   */
  constructor(rev, io) {
    this.rev = rev;
    this.io = io;
    this.outstanding = null;
    this.buffer = [];
    this.held = new Map();
  }

  get state() {
    if (!this.outstanding) return "synchronized";
    return this.buffer.length ? "awaitingWithBuffer" : "awaitingConfirm";
  }

  /** applyLocal takes an edit the user made on the local text. */
  applyLocal(op) {
    if (!this.outstanding) {
      this.outstanding = op;
      this.io.send(this.rev, op);
      return;
    }
    const last = this.buffer.length - 1;
    if (last >= 0) {
      const composed = compose(this.buffer[last], op);
      if (composed.size() <= MAX_OP_SIZE) {
        this.buffer[last] = composed;
        return;
      }
    }
    this.buffer.push(op);
  }

  /** receive takes a message from the server: the revision after it, and the op (from
   * another client), or null (the acknowledgement of ours). */
  receive(rev, op) {
    if (rev <= this.rev) return;
    this.held.set(rev, op === null ? null : Op.fromJSON(op));
    if (this.held.size > MAX_HELD) throw new Error("notes: an edit never arrived, reload the notes");
    while (this.held.has(this.rev + 1)) {
      const next = this.held.get(this.rev + 1);
      this.held.delete(this.rev + 1);
      this.rev++;
      if (next === null) this.#ack();
      else this.#remote(next);
    }
  }

  #ack() {
    if (!this.outstanding) throw new Error("notes: an acknowledgement with nothing in flight");
    this.outstanding = this.buffer.shift() ?? null;
    if (this.outstanding) this.io.send(this.rev, this.outstanding);
  }

  #remote(op) {
    if (this.outstanding) [this.outstanding, op] = transform(this.outstanding, op);
    for (let i = 0; i < this.buffer.length; i++) [this.buffer[i], op] = transform(this.buffer[i], op);
    this.io.apply(op);
  }
}

// --- The textarea --------------------------------------------------------------------------

/** A NotesArea keeps a <textarea> in the shared notes: what the person types goes to the
 * server, what others type comes in with the caret and selection kept in place. */
export class NotesArea {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {{send: (rev: number, op: Op) => void, onError?: (err: Error) => void}} options
   *   send ships an op to the server (as {"rev": rev, "op": op}); onError reports a text
   *   too long to send, or a broken exchange after which the notes must be reloaded.
   */
  constructor(textarea, { send, onError = (err) => console.error(err) }) {
    this.textarea = textarea;
    this.send = send;
    this.onError = onError;
    this.text = textarea.value;
    this.client = null;
    this.composing = false;
    this.queue = [];
    this.handlers = {
      input: () => this.#input(),
      compositionstart: () => {
        this.composing = true;
      },
      compositionend: () => {
        this.composing = false;
        this.#input();
        const queued = this.queue;
        this.queue = [];
        for (const [rev, op] of queued) this.#receive(rev, op);
      },
    };
    for (const [name, h] of Object.entries(this.handlers)) textarea.addEventListener(name, h);
    textarea.readOnly = true; // until the first load
  }

  /** load starts, or starts again, from a snapshot of the server's text. */
  load(text, rev) {
    this.queue = [];
    const change = textChange(this.textarea.value, text, Infinity)[0];
    this.#show(text, change);
    this.client = new Client(rev, {
      send: (r, op) => this.send(r, op),
      apply: (op) => this.#show(op.apply(this.text), op),
    });
    this.textarea.readOnly = false;
  }

  /** ack takes the server's acknowledgement of our op, at revision rev. */
  ack(rev) {
    this.#receive(rev, null);
  }

  /** remote takes another participant's op, making revision rev. */
  remote(rev, op) {
    this.#receive(rev, op);
  }

  /** unbind stops following the textarea, when the meeting ends. */
  unbind() {
    for (const [name, h] of Object.entries(this.handlers)) this.textarea.removeEventListener(name, h);
    this.client = null;
    this.textarea.readOnly = true;
  }

  #receive(rev, op) {
    if (!this.client) return;
    if (this.composing) {
      this.queue.push([rev, op]); // changing the text would break the input method
      return;
    }
    this.#input(); // anything typed and not yet seen goes first
    try {
      this.client.receive(rev, op);
    } catch (err) {
      this.#broken(err);
    }
  }

  #input() {
    const after = this.textarea.value;
    if (!this.client || after === this.text) return;
    if (after.length * 3 > MAX_TEXT_SIZE && utf8Size(after) > MAX_TEXT_SIZE) {
      // Refused here rather than by the server, which would make us reload.
      const change = textChange(after, this.text, Infinity)[0];
      this.#show(this.text, change);
      this.onError(new Error(`notes: the notes are limited to ${MAX_TEXT_SIZE} bytes`));
      return;
    }
    const ops = textChange(this.text, after);
    this.text = after;
    try {
      for (const op of ops) this.client.applyLocal(op);
    } catch (err) {
      this.#broken(err);
    }
  }

  /** show puts text in the textarea, moving the selection through op, the change from
   * what the textarea shows. */
  #show(text, op) {
    const ta = this.textarea;
    const old = ta.value;
    this.text = text;
    if (old === text) return;
    const cp = (i) => codePoints(old.slice(0, i));
    const start = op ? transformIndex(op, cp(ta.selectionStart)) : 0;
    const end = op ? transformIndex(op, cp(ta.selectionEnd)) : 0;
    const scroll = ta.scrollTop;
    ta.value = text;
    ta.setSelectionRange(advance(text, 0, start), advance(text, 0, end), ta.selectionDirection);
    ta.scrollTop = scroll;
  }

  #broken(err) {
    this.client = null; // nothing more goes out until the notes are reloaded
    this.onError(err);
  }
}
