// The meeting page: one WebSocket to socle (docs/visio-signalling.md), the participants, the
// chat and the moderators' controls. Audio and video come with the SFU.
import { NotesArea } from '/visio/static/notes/notes.js';
import { Media } from '/visio/static/media.js';
import { e2ee } from '/visio/static/e2ee.js';

const script = document.getElementById('room-script');
const room = script.dataset.room;
const M = JSON.parse(document.getElementById('messages').textContent);
const $ = (id) => document.getElementById(id);

let ws = null;
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

function status(key, extra = '') { $('status').textContent = (M[key] || key) + extra; }
function error(text) { $('error').textContent = text; $('error').hidden = !text; }

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

function send(m) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); }

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  error('');
  status('st.connecting');
  ws = new WebSocket(socketURL());
  // e2ee: the link carries a room key (e2ee.js); the server keeps only the flag.
  ws.onopen = () => send({ type: 'join', name: $('name').value.trim(), password: $('password').value, e2ee: e2ee.on || undefined });
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = async () => {
    if (!welcomed && !$('error').textContent) error(await why());
    if (welcomed && !$('error').textContent) status('st.closed');
    $('meeting').hidden = true;
    $('join').hidden = !!welcomed;
  };
});

function handle(m) {
  switch (m.type) {
    case 'welcome':
      welcomed = true;
      me = m.you;
      people.clear();
      for (const p of m.participants) people.set(p.id, p);
      $('join').hidden = true;
      $('meeting').hidden = false;
      $('invite-box').hidden = me.guest;
      $('lobby').checked = m.lobby;
      for (const c of m.chat) chatLine(c);
      notes.load(m.notes.text, m.notes.rev);
      // E2EE: without the key, no media (they would be noise), and say why.
      if (m.e2ee && !e2ee.on) error(M['e2ee.nokey']);
      else startMedia(m.screens || {}, m.ice_servers || []);
      status('st.in', m.locked ? ' ' + M['st.locked'] : '');
      $('e2ee-badge').hidden = !m.e2ee;
      e2ee.onfail = () => error(M['e2ee.failed']);
      render();
      break;
    case 'lobby-wait': status('st.wait'); break;
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
    case 'locked': status(m.locked ? 'st.locked' : 'st.unlocked'); break;
    case 'lobby': $('lobby').checked = m.enabled; status(m.enabled ? 'st.lobby.on' : 'st.lobby.off'); break;
    case 'knock': knock(m.id, m.name); break;
    case 'knock-handled': $('knock-' + m.id)?.remove(); break;
    case 'muted': status('st.muted'); setMic(true); break;
    case 'kicked': error(M['st.kicked']); media?.close(); break;
    case 'refused': error(M['st.refused']); break;
    case 'ended': media?.close(); error(M['st.ended']); $('chat-log').textContent = ''; notes.unbind(); $('notes').value = ''; break;
    case 'invite': {
      // E2EE: the invitation carries the room key in its fragment (e2ee.js).
      const url = location.origin + m.url + (e2ee.on ? location.hash : '');
      $('invite-url').value = url;
      navigator.clipboard?.writeText(url).then(() => status('st.copied'), () => {});
      break;
    }
    case 'stats': showPeerStats(m); break;
    case 'error': error(M['err.' + m.code] || (M['err.refused'] + ' : ' + m.message)); break;
  }
}

function note(text) { $('status').textContent = text; }

function chatLine(c) {
  const div = document.createElement('div');
  if (c.to) div.className = 'private';
  const who = document.createElement('strong');
  who.textContent = c.name + (c.to ? ' → ' + (people.get(c.to)?.name || '') : '') + ' : ';
  div.append(who, document.createTextNode(c.text));
  $('chat-log').append(div);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
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
    const tags = [p.moderator && M['room.moderator'], p.guest && M['room.guest'], me && p.id === me.id && M['room.you']].filter(Boolean);
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
}

function knock(id, name) {
  const li = document.createElement('li');
  li.id = 'knock-' + id;
  li.textContent = name + ' ' + M['st.knock'] + ' ';
  li.append(button(M['room.admit'], '', () => send({ type: 'admit', id })),
    button(M['room.refuse'], 'secondary', () => send({ type: 'refuse', id })));
  $('knocks').append(li);
}

$('chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('chat-text').value.trim();
  if (!text) return;
  send({ type: 'chat', to: $('chat-to').value, text });
  $('chat-text').value = '';
});
$('hand').addEventListener('click', () => {
  const up = $('hand').getAttribute('aria-pressed') !== 'true';
  $('hand').setAttribute('aria-pressed', String(up));
  $('hand').textContent = up ? M['room.hand.down'] : M['room.hand'];
  send({ type: 'hand', raised: up });
});
$('leave').addEventListener('click', () => { ws?.close(); location.href = '/visio/'; });
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
async function startMedia(screens, iceServers) {
  media = new Media({
    send, tiles: $('tiles'), stage: $('stage'), iceServers,
    names: (id) => people.get(id)?.name || '',
  });
  for (const [, track] of Object.entries(screens)) media.screen(track, true);
  $('media').hidden = false;
  window.socleMedia = media; // for the browser tests, which read its connections' state
  media.ready = media.start().then(async (local) => {
    $('self').srcObject = local;
    await listDevices();
  }).catch((err) => {
    console.warn('media', err);
    status('st.nomedia');
    media.receiveOnly();
  });
  await media.ready;
  for (const sig of pendingSignals) await media.signal(sig).catch(() => {});
  pendingSignals = [];
  applyMode(); // a mode that came before the media were ready
  new MutationObserver(chooseLayer).observe($('tiles'), { childList: true });
  setInterval(showLevels, 500);
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
  }
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

function toggle(btn, on, onKey, offKey) {
  btn.setAttribute('aria-pressed', String(on));
  btn.textContent = M[on ? onKey : offKey];
}
function setMic(off) { media?.mute('audio', off); toggle($('mic'), off, 'room.mic.on', 'room.mic.off'); }
$('mic').addEventListener('click', () => setMic($('mic').getAttribute('aria-pressed') !== 'true'));
$('cam').addEventListener('click', () => {
  const off = $('cam').getAttribute('aria-pressed') !== 'true';
  media?.mute('video', off);
  toggle($('cam'), off, 'room.cam.on', 'room.cam.off');
});
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
    toggle($('share'), false, 'room.unshare', 'room.share');
    return;
  }
  try {
    const id = await media.share();
    send({ type: 'screen', track: id, on: true });
    toggle($('share'), true, 'room.unshare', 'room.share');
  } catch (err) { console.warn('share', err); }
});

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, sel] of [['audioinput', $('mic-choice')], ['videoinput', $('cam-choice')]]) {
    sel.length = 0;
    for (const d of devices.filter((d) => d.kind === kind)) sel.append(new Option(d.label || d.deviceId.slice(0, 8), d.deviceId));
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
