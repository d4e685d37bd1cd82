// The conference's home page: a room opened with "end-to-end encryption" gets a new key in
// its link's fragment, which the browser keeps across the server's redirection to the room
// (RFC 9110 §10.2.2) and never sends to the server (RFC 3986 §3.5).
import { newKey } from '/visio/static/e2ee.js';

// The home form: shows, as one types, the address of the room the name opens, and says
// before sending when it is too long. The rules are RoomSlug's (roomname.go); the server
// decides, this only tells early.
const input = document.getElementById('room');
const out = document.getElementById('room-address');
const M = JSON.parse(document.getElementById('messages').textContent);
const MAX = 64; // MaxRoomRunes

const ligatures = { œ: 'oe', Œ: 'oe', æ: 'ae', Æ: 'ae', ß: 'ss', ẞ: 'ss', ø: 'o', Ø: 'o', đ: 'd', Đ: 'd', ł: 'l', Ł: 'l', ı: 'i' };
function slug(s) {
  s = s.replace(/[œŒæÆßẞøØđĐłŁı]/g, (c) => ligatures[c]).normalize('NFKD').replace(/\p{Mn}/gu, '').toLowerCase();
  return s.replace(/[^a-z0-9_]+/g, '-').replace(/^[-_]+/, '').replace(/-+$/, '');
}

function show() {
  const s = slug(input.value);
  if (!s) { out.textContent = ''; return; }
  out.textContent = s.length > MAX
    ? M['err.room.long'].replace('{n}', String(s.length)).replace('{max}', String(MAX))
    : M['home.address'] + ' ' + location.origin + '/visio/' + s;
  out.classList.toggle('field-error', s.length > MAX);
}
input.addEventListener('input', show);
show();

// The room's form (the page's header may have forms of its own).
const form = document.getElementById('room')?.form;
form?.addEventListener('submit', (e) => {
  if (!document.getElementById('e2ee')?.checked) return;
  e.preventDefault();
  const q = new URLSearchParams(new FormData(form));
  location.assign('/visio/?' + q + '#' + newKey());
});
