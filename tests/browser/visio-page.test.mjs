// The meeting page as people use it, at 1366×768: a room named as people type it, the
// preview before joining (camera, microphone level, devices), the meeting in the whole
// window with names on the tiles, keyboard shortcuts, the side panel, a chat message too
// long refused without a disconnection, and leaving that lets the camera go.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSocle, artifacts, signIn } from './harness.mjs';

let socle;
before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

// watch keeps what a page logs to its console and the errors it throws.
function watch(p) {
  const seen = [];
  p.on('console', (m) => seen.push(`${m.type()}: ${m.text()}`));
  p.on('pageerror', (err) => seen.push(`pageerror: ${err.message}`));
  return seen;
}

// openPanel opens one of the side panels (unless it is open already).
async function openPanel(p, name) {
  const b = p.getByRole('toolbar').getByRole('button', { name, exact: true });
  if ((await b.getAttribute('aria-expanded')) !== 'true') await b.click();
  await p.waitForFunction((el) => el.getAttribute('aria-expanded') === 'true', await b.elementHandle());
}

async function enter(p, name) {
  await p.getByLabel('Votre nom').fill(name);
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
  await p.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
}

// fits tells whether the page shows all it has without scrolling.
const fits = (p) => p.evaluate(() => ({
  scroll: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight), inner: window.innerHeight,
  width: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
}));
async function assertFits(p, what) {
  const f = await fits(p);
  assert.ok(f.scroll <= f.inner && f.width <= f.innerWidth, `${what}: the page scrolls (${JSON.stringify(f)})`);
}

// The other participant's tile, named and playing.
async function seesTile(p, name) {
  await p.waitForFunction((n) => [...document.querySelectorAll('#tiles figure')].some((f) => f.checkVisibility() &&
    f.querySelector('figcaption')?.textContent.includes(n) && f.querySelector('video').videoWidth > 0 &&
    f.querySelector('video').currentTime > 0.3), name, { timeout: 30_000 });
}

test('a meeting at 1366×768: named room, preview, tiles with names, shortcuts, side panel, chat limits, leaving', async () => {
  const agent = await socle.page('fr-FR');
  const agentLog = watch(agent);
  await signIn(socle, agent, 'redacteur@demo.socle.test', '/visio/');

  // A name too long is said so in the form, and nothing else is opened in its place.
  const long = 'Réunion préfecture '.repeat(4).slice(0, 70);
  await agent.getByLabel('Nom de la salle').fill(long);
  await agent.getByRole('button', { name: 'Rejoindre' }).click();
  await agent.getByRole('alert').filter({ hasText: '70 caractères' }).waitFor();
  assert.match(agent.url(), /\/visio\/\?room=/);
  assert.equal(await agent.getByLabel('Nom de la salle').getAttribute('aria-invalid'), 'true');
  // A name as people type it lands on its readable room.
  await agent.getByLabel('Nom de la salle').fill('Réunion préfecture');
  // The form shows, as one types, the address the name opens.
  await agent.locator('#room-address').filter({ hasText: '/visio/reunion-prefecture' }).waitFor();
  await agent.getByRole('button', { name: 'Rejoindre' }).click();
  await agent.waitForURL(/\/visio\/reunion-prefecture$/);

  // The preview: the camera plays, the devices are listed, the microphone's level moves
  // (the fake microphone beeps; typing the name is the gesture that lets audio run).
  await agent.getByLabel('Votre nom').fill('Camille (préfecture)');
  await agent.waitForFunction(() => document.getElementById('preview-video').videoWidth > 0, null, { timeout: 15_000 });
  for (const id of ['pre-mic-choice', 'pre-cam-choice']) {
    assert.ok(await agent.locator(`#${id} option`).count() >= 1, `${id}: no device listed`);
  }
  await agent.waitForFunction(() => document.getElementById('preview-level').value > 0.01, null, { timeout: 15_000 });
  await assertFits(agent, 'the preview');
  await agent.screenshot({ path: join(artifacts, 'visio-page-preview.png') });
  await agent.getByRole('button', { name: 'Entrer dans la salle' }).click();
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
  // Entering, the preview let its camera go: only the meeting's tracks are live.
  assert.equal(await agent.evaluate(() => document.getElementById('preview-video').srcObject), null);

  // Alone in the room, the agent finds the invitation in the participants' panel.
  await openPanel(agent, 'Participants');
  await agent.getByRole('button', { name: "Copier le lien d'invitation" }).click();
  const link = agent.getByLabel(/Lien d'invitation/);
  await agent.waitForFunction((el) => el.value !== '', await link.elementHandle());
  const invitation = await link.inputValue();

  const guest = await socle.page('fr-FR');
  const guestLog = watch(guest);
  await guest.goto(invitation);
  await enter(guest, 'Dominique (invitée)');

  // Two people talk peer to peer; every tile is named, on both sides.
  await seesTile(agent, 'Dominique (invitée)');
  await seesTile(guest, 'Camille (préfecture)');
  for (const p of [agent, guest]) {
    const names = await p.evaluate(() => [...document.querySelectorAll('#tiles figure')].filter((f) => f.checkVisibility())
      .map((f) => f.querySelector('figcaption')?.textContent.trim() || ''));
    assert.ok(names.length >= 2 && names.every(Boolean), `tiles without a name: ${JSON.stringify(names)}`);
  }
  await agent.getByRole('button', { name: 'Fermer le panneau' }).click();
  await assertFits(agent, 'the meeting');
  await assertFits(guest, 'the meeting (guest)');
  // The tiles fill the space: two side by side take most of the width left to them.
  const area = await agent.evaluate(() => {
    const tiles = document.getElementById('tiles').getBoundingClientRect();
    const figs = [...document.querySelectorAll('#tiles figure')].filter((f) => f.checkVisibility()).map((f) => f.getBoundingClientRect());
    return { tiles: tiles.width * tiles.height, figs: figs.reduce((s, r) => s + r.width * r.height, 0), h: tiles.height };
  });
  assert.ok(area.figs > 0.5 * area.tiles, `tiles cover ${Math.round((100 * area.figs) / area.tiles)}% of their space`);
  await agent.screenshot({ path: join(artifacts, 'visio-page-grid.png') });

  // Keyboard shortcuts: M the microphone, V the camera, R the hand, which the other sees.
  const pressed = (p, id) => p.locator('#' + id).getAttribute('aria-pressed');
  const enabled = (p, kind) => p.evaluate((k) => window.socleMedia.local.getTracks().find((t) => t.kind === k).enabled, kind);
  await agent.locator('#tiles').click();
  await agent.keyboard.press('m');
  assert.equal(await pressed(agent, 'mic'), 'true');
  assert.equal(await enabled(agent, 'audio'), false);
  await agent.keyboard.press('v');
  assert.equal(await pressed(agent, 'cam'), 'true');
  assert.equal(await enabled(agent, 'video'), false);
  await agent.keyboard.press('r');
  assert.equal(await pressed(agent, 'hand'), 'true');
  await guest.locator('#tiles figcaption:visible', { hasText: '✋ Camille (préfecture)' }).waitFor();
  await agent.keyboard.press('m');
  await agent.keyboard.press('v');
  await agent.keyboard.press('r');
  assert.deepEqual([await pressed(agent, 'mic'), await pressed(agent, 'cam'), await pressed(agent, 'hand')], ['false', 'false', 'false']);
  assert.equal(await enabled(agent, 'audio'), true);
  await guest.locator('#tiles figcaption:visible', { hasText: /^Camille \(préfecture\)$/ }).waitFor();
  assert.equal(await agent.locator('#mic').getAttribute('aria-keyshortcuts'), 'M');

  // Speaker view: one tile large, the other in a column.
  await agent.keyboard.press('s');
  const sizes = await agent.evaluate(() => [...document.querySelectorAll('#tiles figure')].filter((f) => f.checkVisibility())
    .map((f) => ({ featured: f.classList.contains('featured'), w: f.getBoundingClientRect().width })));
  const big = sizes.find((s) => s.featured);
  assert.ok(big && sizes.every((s) => s.featured || s.w * 2 < big.w), `speaker view: ${JSON.stringify(sizes)}`);
  await agent.keyboard.press('s');

  // The chat, in the side panel (C): typing there is not a shortcut.
  await agent.keyboard.press('c');
  await agent.getByLabel('Message').waitFor();
  await agent.keyboard.type('mvr');
  assert.equal(await pressed(agent, 'mic'), 'false');
  // A message too long is refused before it is sent, saying how long it is.
  await agent.getByLabel('Message').fill('x'.repeat(5000));
  await agent.getByRole('button', { name: 'Envoyer' }).click();
  await agent.locator('#chat-error').filter({ hasText: '5000 caractères, 4000 au plus' }).waitFor();
  assert.equal(await agent.getByLabel('Message').getAttribute('aria-invalid'), 'true');
  // Still connected: a short one goes through.
  await agent.getByLabel('Message').fill('Bonjour, on commence ?');
  await agent.getByRole('button', { name: 'Envoyer' }).click();
  await openPanel(guest, 'Discussion');
  await guest.getByRole('log').getByText('Bonjour, on commence ?').waitFor();
  assert.equal(await guest.locator('#chat-log > div').count(), 1, 'the long message must not have been sent');
  assert.equal(await agent.locator('#chat-error').textContent(), '');
  await assertFits(agent, 'the meeting with its chat');
  await agent.screenshot({ path: join(artifacts, 'visio-page-chat-panel.png') });

  // Leaving lets the camera and the microphone go, and offers to come back.
  await guest.getByRole('button', { name: 'Quitter' }).click();
  await guest.getByRole('status').filter({ hasText: 'Vous avez quitté la réunion' }).waitFor();
  await guest.getByRole('button', { name: 'Rejoindre' }).waitFor();
  assert.equal(await guest.evaluate(() => window.socleMedia.local.getTracks().every((t) => t.readyState === 'ended')), true);
  await agent.getByText('Dominique (invitée) est parti').waitFor();

  // A browser without camera nor microphone: the preview says so, nothing breaks.
  const bare = await socle.page('fr-FR');
  const bareLog = watch(bare);
  await bare.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no camera here', 'NotFoundError'));
  });
  await bare.goto(invitation);
  await bare.getByText('Ni caméra ni micro disponibles').waitFor();
  await enter(bare, 'Sans caméra');

  // Chromium found no invalid pattern, and no page threw.
  for (const log of [agentLog, guestLog, bareLog]) {
    assert.deepEqual(log.filter((l) => /pattern/i.test(l) || l.startsWith('pageerror')), []);
  }
});

test('the meeting page in English', async () => {
  const p = await socle.page('en-GB');
  await p.goto(socle.webURL + 'visio/reunion-anglaise?lang=en');
  await p.getByText('Preview of your camera').or(p.getByLabel('Preview of your camera')).first().waitFor();
  await p.getByLabel("Your microphone's level").waitFor();
  await p.getByRole('button', { name: 'Enter the room' }).waitFor();
});
