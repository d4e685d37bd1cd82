// Tests of notes.js: node --test internal/visio/notes/static/
// The fixture ../testdata/cases.json is written by the Go tests (go test -run TestFixture
// -update), so that both sides compute the same ops.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  Op, transform, compose, transformIndex, textChange, codePoints, utf8Size,
  Client, NotesArea, MAX_OP_SIZE, MAX_TEXT_SIZE,
} from "./notes.js";

const fixture = JSON.parse(readFileSync(new URL("../testdata/cases.json", import.meta.url), "utf8"));
const op = (json) => Op.fromJSON(json);
const json = (o) => JSON.parse(JSON.stringify(o));

test("Go and JavaScript transform alike", () => {
  for (const c of fixture.transform) {
    const [a2, b2] = transform(op(c.a), op(c.b));
    assert.deepEqual([json(a2), json(b2)], [c.a2, c.b2], `transform(${JSON.stringify(c.a)}, ${JSON.stringify(c.b)})`);
    assert.equal(b2.apply(op(c.a).apply(c.text)), c.result);
    assert.equal(a2.apply(op(c.b).apply(c.text)), c.result);
  }
});

test("Go and JavaScript compose alike", () => {
  for (const c of fixture.compose) {
    const ab = compose(op(c.a), op(c.b));
    assert.deepEqual(json(ab), c.ab, `compose(${JSON.stringify(c.a)}, ${JSON.stringify(c.b)})`);
    assert.equal(ab.apply(c.text), c.result);
    assert.equal(op(c.b).apply(op(c.a).apply(c.text)), c.result);
  }
});

test("Go and JavaScript read ops alike", () => {
  for (const c of fixture.parse) assert.deepEqual(json(op(JSON.parse(c.json))), c.op, c.json);
  for (const s of fixture.invalid) {
    assert.throws(() => op(JSON.parse(s)), undefined, `${s} is accepted`);
  }
});

test("apply counts code points, not UTF-16 units", () => {
  const cases = [
    ["a😀b", [1, -1, 1], "ab"],
    ["😀", [1, "🎉"], "😀🎉"],
    ["🇫🇷x", [-2, 1], "x"],
    ["café!", [3, -1, 1], "caf!"],
    ["", ["salut"], "salut"],
  ];
  for (const [text, o, want] of cases) assert.equal(op(o).apply(text), want);
  assert.throws(() => op([2]).apply("😀"), /spans 2 code points, the text has 1/);
  assert.equal(codePoints("a😀é"), 3);
  assert.equal(utf8Size("a😀é中"), 1 + 4 + 2 + 3);
  assert.equal(utf8Size("\ud800"), 3); // as the server's U+FFFD
});

test("the op builder keeps ops canonical", () => {
  assert.deepEqual(json(new Op().retain(1).retain(2).delete(1).insert("a").insert("b").delete(2)), [3, "ab", -3]);
  assert.deepEqual(json(new Op().retain(0).insert("").delete(0)), []);
});

// --- Properties on random ops ---------------------------------------------------------------

function prng(seed) {
  // mulberry32
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const intn = (rnd, n) => Math.floor(rnd() * n);
const alphabet = ["a", "b", " ", "\n", "é", "中", "😀", "🇫🇷", "x"];
const randomText = (rnd, n) => Array.from({ length: n }, () => alphabet[intn(rnd, alphabet.length)]).join("");

function randomOp(rnd, n) {
  const o = new Op();
  for (let left = n; left > 0 || intn(rnd, 4) === 0; ) {
    const k = intn(rnd, 5);
    if (k < 2 && left > 0) {
      const m = 1 + intn(rnd, Math.min(left, 5));
      o.retain(m);
      left -= m;
    } else if (k < 3 && left > 0) {
      const m = 1 + intn(rnd, Math.min(left, 5));
      o.delete(m);
      left -= m;
    } else if (k >= 3) o.insert(randomText(rnd, 1 + intn(rnd, 4)));
    if (left === 0 && intn(rnd, 2) === 0) break;
  }
  return o;
}

test("concurrent edits converge (TP1) on random ops", () => {
  const rnd = prng(1);
  for (let n = 0; n < 5000; n++) {
    const text = randomText(rnd, intn(rnd, 12));
    const a = randomOp(rnd, codePoints(text));
    const b = randomOp(rnd, codePoints(text));
    const [a2, b2] = transform(a, b);
    const x = b2.apply(a.apply(text));
    const y = a2.apply(b.apply(text));
    assert.equal(x, y, `on ${JSON.stringify(text)}: a=${JSON.stringify(a)} b=${JSON.stringify(b)}`);
    assert.ok(compose(a, b2).equals(compose(b, a2)));
  }
});

test("compose is applying in turn, and associative, on random ops", () => {
  const rnd = prng(2);
  for (let n = 0; n < 5000; n++) {
    const text = randomText(rnd, intn(rnd, 12));
    const a = randomOp(rnd, codePoints(text));
    const b = randomOp(rnd, a.targetLength);
    const c = randomOp(rnd, b.targetLength);
    assert.equal(compose(a, b).apply(text), b.apply(a.apply(text)));
    assert.deepEqual(json(compose(compose(a, b), c)), json(compose(a, compose(b, c))));
  }
});

// --- Clients and a server ----------------------------------------------------------------------

/** The server's side, as the Go Doc does it (without limits). */
class Server {
  constructor() {
    this.text = "";
    this.history = [];
  }
  get rev() {
    return this.history.length;
  }
  submit(rev, o) {
    for (const h of this.history.slice(rev)) [o] = transform(o, h);
    this.text = o.apply(this.text);
    this.history.push(o);
    return [o, this.rev];
  }
}

test("clients editing at once with late, out-of-order delivery converge", () => {
  for (let seed = 1; seed <= 10; seed++) {
    const rnd = prng(seed);
    const server = new Server();
    const peers = [];
    const join = () => {
      // Subscribed first, the snapshot taken later: what arrives in between is ignored.
      const p = { text: null, client: null, inbox: [], outbox: [] };
      peers.push(p);
      return p;
    };
    const start = (p) => {
      p.text = server.text;
      p.client = new Client(server.rev, {
        send: (rev, o) => p.outbox.push([rev, JSON.parse(JSON.stringify(o))]),
        apply: (o) => {
          p.text = o.apply(p.text);
        },
      });
    };
    const deliverToServer = (p) => {
      const [rev, o] = p.outbox.shift();
      const [applied, newRev] = server.submit(rev, Op.fromJSON(o));
      const wire = JSON.parse(JSON.stringify(applied));
      for (const q of peers) q.inbox.push(q === p ? [newRev, null] : [newRev, wire]);
    };
    for (let i = 0; i < 3; i++) join();
    for (let step = 0; step < 3000; step++) {
      if (step % 600 === 300) join();
      const p = peers[intn(rnd, peers.length)];
      const k = intn(rnd, 10);
      if (!p.client) {
        if (intn(rnd, 5) === 0) start(p);
      } else if (k < 3) {
        const n = codePoints(p.text);
        let o;
        if (n < 30) o = randomOp(rnd, n);
        else {
          const at = intn(rnd, n + 1);
          const del = intn(rnd, Math.min(n - at, 8) + 1);
          o = new Op().retain(at).delete(del).insert(randomText(rnd, intn(rnd, 5))).retain(n - at - del);
        }
        p.text = o.apply(p.text);
        p.client.applyLocal(o);
      } else if (k < 6 && p.outbox.length) deliverToServer(p);
      else if (p.inbox.length) {
        const [m] = p.inbox.splice(intn(rnd, p.inbox.length), 1);
        p.client.receive(m[0], m[1]);
      }
    }
    for (let busy = true; busy; ) {
      busy = false;
      for (const p of peers) {
        if (!p.client) start(p);
        while (p.outbox.length || p.inbox.length) {
          busy = true;
          if (p.outbox.length) deliverToServer(p);
          for (const m of p.inbox.splice(0)) p.client.receive(m[0], m[1]);
        }
      }
    }
    assert.ok(server.rev > 100, `only ${server.rev} ops`);
    for (const p of peers) {
      assert.equal(p.text, server.text, `seed ${seed}`);
      assert.equal(p.client.rev, server.rev);
      assert.equal(p.client.state, "synchronized");
    }
  }
});

test("a client keeps one op in flight and buffers the rest", () => {
  const sent = [];
  let text = "abc";
  const c = new Client(7, { send: (rev, o) => sent.push([rev, json(o)]), apply: (o) => (text = o.apply(text)) });
  const local = (o) => {
    text = op(o).apply(text);
    c.applyLocal(op(o));
  };
  assert.equal(c.state, "synchronized");
  local([3, "d"]);
  assert.equal(c.state, "awaitingConfirm");
  local([4, "e"]);
  local([5, "f"]);
  assert.equal(c.state, "awaitingWithBuffer");
  assert.deepEqual(sent, [[7, [3, "d"]]]);
  // Someone typed "X" at the start (revision 8), then our op was applied (9).
  c.receive(9, null); // arrives first: held
  assert.equal(c.rev, 7);
  c.receive(8, ["X", 3]);
  assert.equal(text, "Xabcdef");
  assert.equal(c.rev, 9);
  assert.deepEqual(sent[1], [9, [5, "ef"]]); // the buffer, composed and past the "X"
  c.receive(10, null);
  assert.equal(c.state, "synchronized");
  c.receive(10, null); // a duplicate: ignored
  assert.equal(c.rev, 10);
});

test("transformIndex keeps the caret on its text", () => {
  const cases = [
    [[2, "xy", 3], 1, 1], // insert after
    [[2, "xy", 3], 2, 2], // insert right at the caret: stays before it
    [[2, "xy", 3], 3, 5], // insert before
    [[-2, 3], 4, 2], // delete before
    [[1, -3, 1], 2, 1], // delete around
    [["😀", 2], 1, 2], // code points
  ];
  for (const [o, at, want] of cases) assert.equal(transformIndex(op(o), at), want, JSON.stringify(o));
});

test("textChange turns a textarea's before and after into ops", () => {
  const cases = [
    ["abc", "abXc", [[2, "X", 1]]],
    ["abc", "ac", [[1, -1, 1]]],
    ["abc", "aXYc", [[1, "XY", -1, 1]]],
    ["a😀b", "a😁b", [[1, "😁", -1, 1]]], // same high surrogate: the pair is not split
    ["é", "éé", [[1, "é"]]],
    ["", "x", [["x"]]],
    ["same", "same", []],
  ];
  for (const [before, after, want] of cases) {
    const ops = textChange(before, after);
    assert.deepEqual(json(ops), want, `${before} → ${after}`);
    let t = before;
    for (const o of ops) t = o.apply(t);
    assert.equal(t, after);
  }
  // A large paste goes in pieces the server accepts.
  const paste = "é😀".repeat(20000); // 120000 bytes
  const ops = textChange("ab", "a" + paste + "b");
  assert.ok(ops.length === 2, `${ops.length} ops`);
  let t = "ab";
  for (const o of ops) {
    assert.ok(o.size() <= MAX_OP_SIZE, `${o.size()} bytes`);
    t = o.apply(t);
  }
  assert.equal(t, "a" + paste + "b");
  // Newlines count one byte each, however long their JSON.
  const lines = textChange("", "\n".repeat(MAX_OP_SIZE));
  assert.deepEqual(lines.map((o) => o.size()), [MAX_OP_SIZE - 3, 6]);
});

// --- The textarea ----------------------------------------------------------------------------

class FakeTextarea {
  constructor(value = "") {
    this.value = value;
    this.selectionStart = this.selectionEnd = 0;
    this.selectionDirection = "none";
    this.scrollTop = 0;
    this.readOnly = false;
    this.listeners = {};
  }
  addEventListener(name, h) {
    (this.listeners[name] ??= []).push(h);
  }
  removeEventListener(name, h) {
    this.listeners[name] = (this.listeners[name] ?? []).filter((x) => x !== h);
  }
  dispatch(name) {
    for (const h of this.listeners[name] ?? []) h();
  }
  setSelectionRange(start, end, dir) {
    this.selectionStart = start;
    this.selectionEnd = end;
    this.selectionDirection = dir;
  }
  caret(at) {
    this.setSelectionRange(at, at, "none");
  }
  /** type replaces the selection with s, as the browser does, and fires input. */
  type(s) {
    const v = this.value;
    this.value = v.slice(0, this.selectionStart) + s + v.slice(this.selectionEnd);
    this.caret(this.selectionStart + s.length);
    this.dispatch("input");
  }
}

function area(value = "") {
  const ta = new FakeTextarea(value);
  const sent = [];
  const errors = [];
  const notes = new NotesArea(ta, { send: (rev, o) => sent.push([rev, json(o)]), onError: (e) => errors.push(e) });
  return { ta, sent, errors, notes };
}

test("a textarea sends what is typed and keeps its caret through others' edits", () => {
  const { ta, sent, notes } = area();
  assert.equal(ta.readOnly, true);
  notes.load("Bonjour à tous", 4);
  assert.equal(ta.readOnly, false);
  ta.caret(7); // after "Bonjour"
  ta.type(",");
  assert.deepEqual(sent, [[4, [7, ",", 7]]]);
  notes.ack(5);
  // Someone adds an emoji at the start: the caret moves by two UTF-16 units, one code point.
  notes.remote(6, ["😀 ", 15]);
  assert.equal(ta.value, "😀 Bonjour, à tous");
  assert.equal(ta.selectionStart, 11);
  // Someone appends after the caret: it stays.
  notes.remote(7, [17, " !"]);
  assert.equal(ta.value, "😀 Bonjour, à tous !");
  assert.equal(ta.selectionStart, 11);
  // A selection is kept around its text.
  ta.setSelectionRange(3, 10, "forward"); // "Bonjour"
  notes.remote(8, ["> ", 19]);
  assert.deepEqual([ta.selectionStart, ta.selectionEnd, ta.selectionDirection], [5, 12, "forward"]);
  assert.equal(ta.value.slice(5, 12), "Bonjour");
});

test("a textarea types on while its op is in flight, and converges", () => {
  const { ta, sent, notes } = area();
  notes.load("", 0);
  ta.type("a");
  ta.type("b");
  ta.type("c");
  assert.deepEqual(sent, [[0, ["a"]]]);
  // Someone else's "X" was applied first; ours are transformed past it and win the tie.
  notes.remote(1, ["X"]);
  assert.equal(ta.value, "abcX");
  assert.equal(ta.selectionStart, 3);
  notes.ack(2);
  assert.deepEqual(sent[1], [2, [1, "bc", 1]]);
  notes.ack(3);
  assert.equal(notes.client.state, "synchronized");
});

test("a textarea sends a large paste in pieces and refuses a text over the limit", () => {
  const { ta, sent, errors, notes } = area();
  notes.load("ab", 0);
  ta.caret(1);
  const paste = "x".repeat(MAX_OP_SIZE + 10);
  ta.type(paste);
  assert.equal(sent.length, 1);
  assert.equal(notes.client.buffer.length, 1); // the second piece waits, uncomposed
  notes.ack(1);
  notes.ack(2);
  assert.equal(sent.length, 2);
  let t = "ab";
  for (const [, o] of sent) {
    assert.ok(op(o).size() <= MAX_OP_SIZE);
    t = op(o).apply(t);
  }
  assert.equal(t, ta.value);

  ta.caret(0);
  ta.type("y".repeat(MAX_TEXT_SIZE)); // would be over 1 MiB
  assert.equal(ta.value, t);
  assert.equal(ta.selectionStart, 0);
  assert.equal(sent.length, 2);
  assert.match(errors[0].message, /limited/);
});

test("a textarea holds others' edits while an input method composes", () => {
  const { ta, sent, notes } = area();
  notes.load("ni", 0);
  ta.caret(2);
  ta.dispatch("compositionstart");
  ta.type("hao");
  notes.remote(1, ["> ", 2]);
  assert.equal(ta.value, "nihao"); // untouched while composing
  ta.value = "ni好";
  ta.caret(3);
  ta.dispatch("compositionend");
  assert.equal(ta.value, "> ni好");
  assert.equal(ta.selectionStart, 5);
  assert.deepEqual(sent, [[0, [2, "hao"]]]);
  notes.ack(2);
  assert.deepEqual(sent[1], [2, [4, "好", -3]]);
});

test("a broken exchange reports and waits for a reload", () => {
  const { ta, sent, errors, notes } = area();
  notes.load("abc", 0);
  notes.remote(1, [5]); // does not fit: something was missed
  assert.equal(errors.length, 1);
  ta.caret(3);
  ta.type("d"); // kept locally, not sent
  assert.equal(sent.length, 0);
  notes.load("abc!", 9);
  assert.equal(ta.value, "abc!");
  ta.caret(4);
  ta.type("?");
  assert.deepEqual(sent, [[9, [4, "?"]]]);
  notes.unbind();
  assert.equal(ta.readOnly, true);
});
