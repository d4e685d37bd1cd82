// The conference's home page: a room opened with "end-to-end encryption" gets a new key in
// its link's fragment, which the browser keeps across the server's redirection to the room
// (RFC 9110 §10.2.2) and never sends to the server (RFC 3986 §3.5).
import { newKey } from '/visio/static/e2ee.js';

// The room's form (the page's header may have forms of its own).
const form = document.getElementById('room')?.form;
form?.addEventListener('submit', (e) => {
  if (!document.getElementById('e2ee')?.checked) return;
  e.preventDefault();
  const q = new URLSearchParams(new FormData(form));
  location.assign('/visio/?' + q + '#' + newKey());
});
