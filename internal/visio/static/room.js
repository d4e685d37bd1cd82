// The meeting page: one WebSocket to socle (docs/visio-signalling.md), the participants, the
// chat and the moderators' controls. Audio and video come with the SFU. Before joining, a
// preview (preview.js); in the meeting, the whole window: tiles, a side panel, a toolbar
// with keyboard shortcuts, and one line that says where one stands.
import { NotesArea } from '/visio/static/notes/notes.js';
import { Media } from '/visio/static/media.js';
import { Preview } from '/visio/static/preview.js';
import { Link } from '/visio/static/link.js';
import { e2ee } from '/visio/static/e2ee.js';

const script = document.getElementById('room-script');
const room = script.dataset.room;
const M = JSON.parse(document.getElementById('messages').textContent);
const $ = (id) => document.getElementById(id);
const MAX_CHAT = 4000; // MaxChatRunes (room.go)
document.body.classList.add('in-room');

let ws = null; // the signalling link (link.js): reconnects and resumes by itself
let me = null;
let welcomed = false;
const people = new Map();
let media = null;
let mode = { mode: 'sfu' };

// applyMode follows the server: peer to peer while two, through the SFU otherwise. Changes
// are applied one after the other, each to its end, and always to the latest mode: on a busy
// machine a third participant's "sfu" can arrive while "p2p" is still taking the tracks off
// the SFU connection, and applied halfway at once the two left a participant sending nothing
// to anyone.
let modeChange = Promise.resolve();
function applyMode() {
  modeChange = modeChange.then(async () => {
    if (!media) return;
    await media.ready;
    const other = mode.mode === 'p2p' && me ? mode.peers.find((id) => id !== me.id) : '';
    if (other) await media.p2p(other, Number(me.id) > Number(other));
    else await media.sfuMode();
  }).catch((err) => console.warn('mode', err));
  return modeChange;
}
let pendingSignals = [];
const notes = new NotesArea(document.getElementById('notes'), {
  send: (rev, op) => send({ type: 'notes-edit', rev, op }),
  onError: () => send({ type: 'notes-reload' }),
});

// The state line: one region, one message at a time (joining, in the room, in the lobby,
// refused, removed, ended, left). A failure stays until the next attempt: failed says so.
let failed = false;
let left = false;
let locked = false;
function status(key, extra = '') {
  if (failed && key !== 'st.connecting') return;
  $('status').textContent = (M[key] || key) + extra;
  $('status').dataset.kind = 'info';
}
function error(text) {
  failed = !!text;
  if (!text) return;
  $('status').textContent = text;
  $('status').dataset.kind = 'error';
}
function inRoom() { status('st.in', locked ? ' ' + M['st.locked'] : ''); }

function socketURL() {
  const q = new URLSearchParams(location.search);
  const keep = new URLSearchParams();
  for (const k of ['jwt', 'invite']) if (q.has(k)) keep.set(k, q.get(k));
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // A tenant's room is tenant/room: each part encoded, the slash kept.
  const path = room.split('/').map(encodeURIComponent).join('/');
  return `${proto}//${location.host}/visio/ws/${path}?${keep}`;
}

// why asks the server, without upgrading, why a connection was refused.
async function why() {
  try {
    const r = await fetch(socketURL().replace(/^ws/, 'http'), { headers: { Accept: 'application/problem+json' } });
    if (r.headers.get('Content-Type')?.includes('problem+json')) {
      const p = await r.json();
      const type = (p.type || '').replace('urn:socle:problem:', '');
      return M['err.' + type] || (type.startsWith('token') ? M['err.token'] : p.title);
    }
  } catch { /* the network is down: say so below */ }
  return M['st.closed'];
}

function send(m) { ws?.send(m); }

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  error('');
  status('st.connecting');
  sessionStorage.setItem('visio-name', $('name').value.trim());
  // e2ee: the link carries a room key (e2ee.js); the server keeps only the flag.
  ws = new Link(socketURL(), { type: 'join', name: $('name').value.trim(), password: $('password').value, e2ee: e2ee.on || undefined });
  ws.addEventListener('message', (ev) => handle(ev.detail));
  ws.addEventListener('refused', async () => { if (!failed) error(await why()); });
  // Reconnecting: one message in the state line; when the link gives up, the rejoin offer,
  // and the camera and microphone stopped. A link closed by the server after "removed" or
  // "ended" has said why already.
  ws.addEventListener('state', (ev) => {
    if (left) return;
    if (ev.detail === 'reconnecting') status('st.reconnecting');
    if (ev.detail === 'connected' && welcomed) inRoom();
    if (ev.detail === 'failed') { stopped(); error(M['st.failed']); }
    if (ev.detail === 'closed' && welcomed) { if (!failed) status('st.closed'); stopped(); }
  });
});
$('rejoin').addEventListener('click', () => location.reload());

function handle(m) {
  switch (m.type) {
    case 'welcome':
      // Welcomed again (link.js joined afresh: the session was lost): the room's chat comes
      // whole with the welcome, in place of what the page shows.
      if (welcomed) $('chat-log').textContent = '';
      welcomed = true;
      me = m.you;
      people.clear();
      for (const p of m.participants) people.set(p.id, p);
      $('prejoin').hidden = true;
      $('meeting').hidden = false;
      $('invite-box').hidden = me.guest;
      $('lobby').checked = m.lobby;
      $('self-name').textContent = me.name + ' (' + M['room.you'] + ')';
      for (const c of m.chat) chatLine(c, false);
      notes.load(m.notes.text, m.notes.rev);
      // Welcomed again: the meeting's media node stopped and the link joined the meeting
      // where it was placed again (link.js): new media there.
      if (media) {
        media.close();
        media = null;
        pendingSignals = [];
        for (const f of $('tiles').querySelectorAll('figure')) if (!f.contains($('self'))) f.remove();
        $('stage').replaceChildren();
      }
      locked = !!m.locked;
      inRoom();
      $('e2ee-badge').hidden = !m.e2ee;
      // E2EE: without the key, no media (they would be noise), and say why.
      if (m.e2ee && !e2ee.on) error(M['e2ee.nokey']);
      else startMedia(m.screens || {}, m.ice_servers || []);
      e2ee.onfail = () => error(M['e2ee.failed']);
      render();
      // Alone in a room one opened: the invitation is what comes next.
      if (me.moderator && !me.guest && people.size === 1) openPanel('people');
      break;
    case 'lobby-wait': status('st.wait'); $('join').querySelector('[type=submit]').disabled = true; break;
    case 'reconnecting': { const p = people.get(m.id); if (p) { p.reconnecting = m.on; render(); } break; }
    case 'resumed': people.clear(); for (const p of m.participants) people.set(p.id, p); render(); break;
    case 'joined': people.set(m.participant.id, m.participant); render(); note(m.participant.name + ' ' + M['st.joined']); break;
    case 'left': { const p = people.get(m.id); people.delete(m.id); render(); media?.forget(m.id); if (p) note(p.name + ' ' + M['st.left']); break; }
    case 'signal':
      if (media) media.signal(m.signal).catch((err) => console.warn('signal', err));
      else pendingSignals.push(m.signal);
      break;
    case 'screen': media?.screen(m.track, m.on); break;
    case 'mode':
      mode = m;
      applyMode();
      break;
    // After the mode change that opened the direct connection, never before it.
    case 'p2p': modeChange = modeChange.then(() => media?.directSignal(m.signal)).catch((err) => console.warn('p2p', err)); break;
    case 'chat': chatLine(m.message); break;
    case 'notes-ack': notes.ack(m.rev); break;
    case 'notes-edit': notes.remote(m.rev, m.op); break;
    case 'notes-reload': notes.load(m.text, m.rev); break;
    case 'hand': { const p = people.get(m.id); if (p) { p.hand = m.raised; render(); if (m.raised) note(p.name + ' ' + M['st.hand']); } break; }
    case 'moderator': { const p = people.get(m.id); if (p) p.moderator = true; if (me && m.id === me.id) me.moderator = true; render(); break; }
    case 'locked': locked = m.locked; inRoom(); if (!m.locked) note(M['st.unlocked']); break;
    case 'lobby': $('lobby').checked = m.enabled; note(M[m.enabled ? 'st.lobby.on' : 'st.lobby.off']); break;
    case 'knock': knock(m.id, m.name); break;
    case 'knock-handled': $('knock-' + m.id)?.remove(); break;
    case 'muted': note(M['st.muted']); setMic(true); break;
    case 'kicked': error(M['st.kicked']); stopped(); break;
    case 'refused': error(M['st.refused']); stopped(); break;
    case 'ended': error(M['st.ended']); stopped(); $('chat-log').textContent = ''; notes.unbind(); $('notes').value = ''; break;
    case 'invite': {
      // E2EE: the invitation carries the room key in its fragment (e2ee.js).
      const url = location.origin + m.url + (e2ee.on ? location.hash : '');
      $('invite-url').value = url;
      navigator.clipboard?.writeText(url).then(() => note(M['st.copied']), () => {});
      break;
    }
    case 'stats': showPeerStats(m); break;
    case 'error': {
      const text = M['err.' + m.code] || (M['err.refused'] + ' : ' + m.message);
      if (m.request === 'chat') chatError(text);
      else if (welcomed) note(text);
      else error(text);
      break;
    }
  }
}

// note says what just happened (someone came, a link was copied): not where one stands,
// which is the state line's.
function note(text) { $('notice').textContent = text; }

// stopped ends the meeting on this page: camera and microphone are let go, and the page
// offers to come back.
function stopped() {
  media?.close();
  preview.stop();
  $('meeting').hidden = true;
  $('prejoin').hidden = true;
  $('quality-box').hidden = true;
  $('rejoin-box').hidden = false;
}

let unread = 0;
function chatLine(c, live = true) {
  const div = document.createElement('div');
  if (c.to) div.className = 'private';
  const who = document.createElement('strong');
  who.textContent = c.name + (c.to ? ' → ' + (people.get(c.to)?.name || '') : '') + ' : ';
  div.append(who, document.createTextNode(c.text));
  $('chat-log').append(div);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
  if (live && $('panel').dataset.open !== 'chat') {
    unread++;
    $('chat-unread').textContent = String(unread);
    $('chat-unread').hidden = false;
    note(c.name + ' : ' + (c.text.length > 80 ? c.text.slice(0, 80) + '…' : c.text));
  }
}

function button(label, cls, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener('click', onclick);
  return b;
}

function render() {
  const list = $('people');
  list.textContent = '';
  const to = $('chat-to');
  const chosen = to.value;
  to.length = 1;
  for (const p of people.values()) {
    const li = document.createElement('li');
    li.id = 'person-' + p.id;
    const tags = [p.moderator && M['room.moderator'], p.guest && M['room.guest'], me && p.id === me.id && M['room.you'],
      p.reconnecting && M['room.reconnecting']].filter(Boolean);
    li.textContent = (p.hand ? '✋ ' : '') + p.name + (tags.length ? ' (' + tags.join(', ') + ')' : '');
    if (me?.moderator && p.id !== me.id) {
      li.append(' ',
        button(M['room.mute'], 'secondary', () => send({ type: 'mute', id: p.id })),
        // Irreversible for the person removed: asked first.
        button(M['room.kick'], 'secondary', () => {
          if (confirm(M['confirm.kick'].replace('{name}', p.name))) send({ type: 'kick', id: p.id });
        }));
      if (!p.moderator) li.append(button(M['room.grant'], 'secondary', () => send({ type: 'grant', id: p.id })));
      li.append(button(M['room.connection'], 'secondary', () => send({ type: 'stats', id: p.id })));
    }
    list.append(li);
    if (!me || p.id !== me.id) to.append(new Option(p.name, p.id, false, p.id === chosen));
  }
  $('moderation').hidden = !me?.moderator;
  captions();
}

// captions names every tile, a raised hand first, whichever way its video came (through the
// SFU or peer to peer), and again whenever the people change.
function captions() {
  for (const v of document.querySelectorAll('#tiles video[data-peer], #stage video[data-peer]')) {
    const p = people.get(v.dataset.peer);
    const cap = v.closest('figure')?.querySelector('figcaption');
    if (p && cap) cap.textContent = (p.hand ? '✋ ' : '') + p.name;
  }
  if (me) $('self-name').textContent = (people.get(me.id)?.hand ? '✋ ' : '') + me.name + ' (' + M['room.you'] + ')';
}

function knock(id, name) {
  const li = document.createElement('li');
  li.id = 'knock-' + id;
  li.textContent = name + ' ' + M['st.knock'] + ' ';
  li.append(button(M['room.admit'], '', () => send({ type: 'admit', id })),
    button(M['room.refuse'], 'secondary', () => send({ type: 'refuse', id })));
  $('knocks').append(li);
}

// The chat refuses a message too long before sending it, counting characters as the
// server does (code points); the server refuses it too (error "message-too-large").
function chatError(text) {
  $('chat-error').textContent = text;
  if (text) $('chat-text').setAttribute('aria-invalid', 'true'); else $('chat-text').removeAttribute('aria-invalid');
}
function chatCount() {
  const n = [...$('chat-text').value.trim()].length;
  $('chat-count').textContent = n > MAX_CHAT * 0.8 ? fill(M['chat.count'], n) : '';
  if (n <= MAX_CHAT && $('chat-error').textContent) chatError('');
  return n;
}
const fill = (s, n) => s.replace('{n}', String(n)).replace('{max}', String(MAX_CHAT));
$('chat-text').addEventListener('input', chatCount);
$('chat-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('chat').requestSubmit(); }
});
$('chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('chat-text').value.trim();
  if (!text) return;
  const n = chatCount();
  if (n > MAX_CHAT) {
    chatError(fill(M['chat.toolong'], n));
    $('chat-text').focus();
    return;
  }
  chatError('');
  send({ type: 'chat', to: $('chat-to').value, text });
  $('chat-text').value = '';
  chatCount();
});
$('hand').addEventListener('click', () => {
  const up = $('hand').getAttribute('aria-pressed') !== 'true';
  $('hand').setAttribute('aria-pressed', String(up));
  send({ type: 'hand', raised: up });
});
// Leaving lets the camera and the microphone go at once, and offers to come back.
$('leave').addEventListener('click', () => {
  left = true;
  ws?.close();
  stopped();
  error('');
  status('st.left.self');
});
$('notes-download').addEventListener('click', () => {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([$('notes').value], { type: 'text/plain;charset=utf-8' }));
  a.download = `notes-${room}.txt`;
  a.click();
  URL.revokeObjectURL(a.href);
});
$('invite').addEventListener('click', () => send({ type: 'invite' }));
$('lock').addEventListener('click', () => { const pw = $('lock-password').value; if (pw) send({ type: 'lock', password: pw }); });
$('unlock').addEventListener('click', () => send({ type: 'unlock' }));
$('lobby').addEventListener('change', () => send({ type: 'lobby', enabled: $('lobby').checked }));
$('mute-all').addEventListener('click', () => send({ type: 'mute', id: 'all' }));
$('end').addEventListener('click', () => { if (confirm(M['confirm.end'])) send({ type: 'end' }); });

// Media: the SFU connection, the controls, the devices, the connection details.
let watching = false; // the tiles' observers, set up once
async function startMedia(screens, iceServers) {
  media = new Media({
    send, tiles: $('tiles'), stage: $('stage'), iceServers,
    names: (id) => people.get(id)?.name || '',
  });
  for (const [, track] of Object.entries(screens)) media.screen(track, true);
  $('quality-box').hidden = false;
  window.socleMedia = media; // for the browser tests, which read its connections' state
  // The preview lets its devices go; the meeting takes those chosen, on or off as chosen.
  const chosen = preview.choices();
  preview.stop();
  media.ready = media.start(chosen).then(async (local) => {
    $('self').srcObject = local;
    if (!$('pre-mic').checked) setMic(true);
    if (!$('pre-cam').checked) setCam(true);
    await listDevices();
  }).catch((err) => {
    console.warn('media', err);
    note(M['st.nomedia']);
    media.receiveOnly();
  });
  await media.ready;
  for (const sig of pendingSignals) await media.signal(sig).catch(() => {});
  pendingSignals = [];
  applyMode(); // a mode that came before the media were ready
  if (!watching) {
    watching = true;
    new MutationObserver(() => { chooseLayer(); captions(); layout(); }).observe($('tiles'), { childList: true });
    new MutationObserver(() => { captions(); layout(); }).observe($('stage'), { childList: true });
    setInterval(showLevels, 500);
  }
  layout();
}

// showLevels highlights who speaks (the loudest above a threshold) in the list and on the
// tiles, and shows the quality of this browser's connection.
async function showLevels() {
  if (!media) return;
  const { speakers, quality } = await media.levels().catch(() => ({ speakers: {}, quality: '' }));
  let loudest = '';
  let level = 0.02;
  for (const [peer, l] of Object.entries(speakers)) if (l > level) [loudest, level] = [peer, l];
  for (const el of document.querySelectorAll('[data-speaking]')) el.removeAttribute('data-speaking');
  if (loudest) {
    $('person-' + loudest)?.setAttribute('data-speaking', 'true');
    for (const v of document.querySelectorAll(`video[data-peer="${CSS.escape(loudest)}"]`)) v.closest('figure')?.setAttribute('data-speaking', 'true');
    featured = loudest;
  }
  layout();
  if (quality) {
    $('quality').textContent = M['q.' + quality];
    $('quality').dataset.quality = quality;
  }
}

// chooseLayer asks for the simulcast layer the tiles' size calls for.
let layer = '';
function chooseLayer() {
  const n = $('tiles').querySelectorAll('video').length - 1;
  const want = n <= 2 ? 'f' : n <= 4 ? 'h' : 'q';
  if (want !== layer) send({ type: 'layer', max: (layer = want) });
}

// The toolbar's toggles keep their names ("Mute microphone", pressed or not): the pressed
// state is what changes, and the icon with it (visio.css).
function toggle(btn, on) { btn.setAttribute('aria-pressed', String(on)); }
function setMic(off) { media?.mute('audio', off); toggle($('mic'), off); }
function setCam(off) { media?.mute('video', off); toggle($('cam'), off); }
$('mic').addEventListener('click', () => setMic($('mic').getAttribute('aria-pressed') !== 'true'));
$('cam').addEventListener('click', () => setCam($('cam').getAttribute('aria-pressed') !== 'true'));
$('audio-only').addEventListener('click', () => {
  const on = $('audio-only').getAttribute('aria-pressed') !== 'true';
  $('audio-only').setAttribute('aria-pressed', String(on));
  document.body.classList.toggle('audio-only', on);
  send({ type: 'audio-only', enabled: on });
});
$('share').addEventListener('click', async () => {
  if ($('share').getAttribute('aria-pressed') === 'true') {
    const id = media.unshare();
    if (id) send({ type: 'screen', track: id, on: false });
    toggle($('share'), false);
    return;
  }
  try {
    const id = await media.share();
    send({ type: 'screen', track: id, on: true });
    toggle($('share'), true);
    // Ended from the browser's own "stop sharing": the others are told, the button follows.
    media.screenSender?.track?.addEventListener('ended', () => {
      send({ type: 'screen', track: id, on: false });
      toggle($('share'), false);
    });
  } catch (err) { console.warn('share', err); }
});

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, sel] of [['audioinput', $('mic-choice')], ['videoinput', $('cam-choice')]]) {
    const track = media?.local?.getTracks().find((t) => t.kind === (kind === 'audioinput' ? 'audio' : 'video'));
    const current = track?.getSettings().deviceId;
    sel.length = 0;
    for (const d of devices.filter((d) => d.kind === kind)) sel.append(new Option(d.label || d.deviceId.slice(0, 8), d.deviceId, false, d.deviceId === current));
  }
}
$('mic-choice').addEventListener('change', () => media?.use('audio', $('mic-choice').value));
$('cam-choice').addEventListener('change', () => media?.use('video', $('cam-choice').value));

let detailsTimer = null;
let lastBytes = new Map();
$('details').addEventListener('click', () => {
  const open = $('details').getAttribute('aria-expanded') !== 'true';
  $('details').setAttribute('aria-expanded', String(open));
  $('details-table').hidden = !open;
  clearInterval(detailsTimer);
  if (open) detailsTimer = setInterval(showDetails, 2000);
});
async function showDetails() {
  if (!media) return;
  const body = $('details-table').tBodies[0];
  body.textContent = '';
  for (const s of await media.stats()) {
    const k = s.dir + s.kind + s.rid;
    const kbps = ((s.bytes - (lastBytes.get(k) || s.bytes)) * 8) / 2000;
    lastBytes.set(k, s.bytes);
    const tr = body.insertRow();
    for (const v of [s.dir, s.kind, s.rid, kbps.toFixed(0), s.lost, (s.rtt * 1000).toFixed(0)]) tr.insertCell().textContent = v;
  }
}

// showPeerStats shows a participant's streams as the SFU sees them (a moderator's
// "connection details": what they send, what they receive, loss and round trip).
function showPeerStats(m) {
  const name = people.get(m.id)?.name || '';
  $('peer-details-caption').textContent = M['room.connection'] + ' — ' + name;
  const body = $('peer-details').tBodies[0];
  body.textContent = '';
  for (const s of m.streams || []) {
    const tr = body.insertRow();
    for (const v of [s.direction, s.kind, s.rid || '', Math.round((s.bitrate || 0) / 1000), s.lost ?? 0,
      s.rtt_ns ? Math.round(s.rtt_ns / 1e6) : '']) tr.insertCell().textContent = v;
  }
  $('peer-details').hidden = false;
}

// The preview before joining: the camera, the microphone's level, the devices.
const preview = new Preview({ video: $('preview-video'), meter: $('preview-level'), mic: $('pre-mic-choice'),
  cam: $('pre-cam-choice'), note: $('preview-note'), M });
preview.open().catch((err) => {
  console.warn('preview', err);
  $('preview-note').textContent = M['pre.none'];
  $('preview-note').hidden = false;
});
if (!$('name').value) $('name').value = sessionStorage.getItem('visio-name') || '';

// The side panel: participants, chat, notes or settings, one at a time, beside the tiles.
function openPanel(name) {
  const next = $('panel').dataset.open === name ? '' : name;
  $('panel').dataset.open = next;
  $('panel').hidden = !next;
  for (const sec of $('panel').querySelectorAll('[data-panel]')) sec.hidden = sec.dataset.panel !== next;
  for (const b of document.querySelectorAll('[data-opens]')) b.setAttribute('aria-expanded', String(b.dataset.opens === next));
  if (next === 'chat') {
    unread = 0;
    $('chat-unread').hidden = true;
    $('chat-text').focus();
    $('chat-log').scrollTop = $('chat-log').scrollHeight;
  }
  layout();
}
for (const b of document.querySelectorAll('[data-opens]')) b.addEventListener('click', () => openPanel(b.dataset.opens));
$('panel-close').addEventListener('click', () => {
  const from = document.querySelector(`[data-opens="${$('panel').dataset.open}"]`);
  openPanel($('panel').dataset.open);
  from?.focus();
});
$('panel').addEventListener('keydown', (e) => { if (e.key === 'Escape') $('panel-close').click(); });

// Keyboard shortcuts, as in other meeting tools: M the microphone, V the camera, R the hand,
// C the chat, P the participants, S the speaker view. Not while typing, nor with a modifier
// (the browser's own shortcuts).
const shortcuts = { m: 'mic', v: 'cam', r: 'hand', c: 'tb-chat', p: 'tb-people', s: 'speaker-view' };
document.addEventListener('keydown', (e) => {
  if ($('meeting').hidden || e.ctrlKey || e.metaKey || e.altKey || e.repeat || e.isComposing) return;
  if (e.target instanceof Element && e.target.closest('input, textarea, select, [contenteditable]')) return;
  const id = shortcuts[e.key.toLowerCase()];
  if (!id) return;
  e.preventDefault();
  $(id).click();
});

// Views: the grid, where every tile is as large as the space allows, or the speaker's, where
// who speaks (or spoke last) is large and the others in a column; a shared screen takes the
// space whichever view.
let featured = '';
$('speaker-view').addEventListener('click', () => {
  const on = $('speaker-view').getAttribute('aria-pressed') !== 'true';
  toggle($('speaker-view'), on);
  document.body.classList.toggle('speaker', on);
  layout();
});
window.addEventListener('resize', () => layout());

function layout() {
  const tiles = $('tiles');
  const shown = [...tiles.children].filter((f) => f.checkVisibility());
  // (#stage is shown only once something is shared: its figures are not "visible" before.)
  const p2p = document.body.classList.contains('p2p');
  const sharing = [...$('stage').children].some((f) => !(p2p && f.querySelector('video[data-via="sfu"]')));
  document.body.classList.toggle('has-stage', sharing);
  const speaker = document.body.classList.contains('speaker');
  // The featured tile: who spoke last, else the first other one, else oneself.
  let main = featured && shown.find((f) => f.querySelector(`video[data-peer="${CSS.escape(featured)}"]`));
  if (!main) main = shown.find((f) => f.id !== 'self-tile') || shown[0];
  for (const f of tiles.children) f.classList.toggle('featured', speaker && f === main);
  const n = shown.length || 1;
  let cols = 1;
  let rows = n;
  let size = null; // the grid's tiles, in pixels
  if (sharing) {
    rows = Math.max(n, 4);
  } else if (speaker) {
    cols = 2;
    rows = Math.max(n - 1, 4);
  } else {
    // The columns that make a 16:9 tile largest in the space there is (0.5rem gaps).
    const { width, height } = tiles.getBoundingClientRect();
    const gap = 8;
    let best = 0;
    for (let c = 1; c <= n; c++) {
      const r = Math.ceil(n / c);
      const w = Math.min((width - (c - 1) * gap) / c, (((height - (r - 1) * gap) / r) * 16) / 9);
      if (w > best + 1) [best, cols, rows] = [w, c, r];
    }
    size = best > 0 ? [Math.floor(best), Math.floor((best * 9) / 16)] : null;
  }
  tiles.style.setProperty('--cols', String(cols));
  tiles.style.setProperty('--rows', String(rows));
  if (size) {
    tiles.style.setProperty('--tile-w', size[0] + 'px');
    tiles.style.setProperty('--tile-h', size[1] + 'px');
  } else {
    tiles.style.removeProperty('--tile-w');
    tiles.style.removeProperty('--tile-h');
  }
}
