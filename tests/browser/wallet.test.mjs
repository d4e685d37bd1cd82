// The citizen's wallet pages in a real browser, on a phone's width, against `socle serve
// --demo`: a citizen signs in, sees the documents the authentic sources hold for them (read
// live through the gateway), asks for one as a credential and gets the offer's QR code, its
// same-device link and its transaction code; the pages pass the accessibility audit.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { startSocle, artifacts, audit, signIn } from './harness.mjs';

let socle;

before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

test('a citizen sees their documents and gets an offer of one as a credential', async () => {
  const p = await socle.page('fr-FR', { audited: true, viewport: { width: 360, height: 740 } });
  await signIn(socle, p, 'sophie.lambert@demo.socle.test', '/wallet/');
  await p.getByRole('heading', { name: 'Mes documents' }).waitFor();
  // Read live from the population and civil-status registers and the central file of
  // driving licences, through the gateway.
  const main = await p.textContent('main');
  assert.match(main, /Sophie Marie Lambert/);
  assert.match(main, /85031412401/);
  assert.match(main, /Rue de Fer 25, 5000 Namur/);
  assert.match(await p.textContent('#doc-driving-licence'), /AM, B/);
  await p.locator('#doc-driving-licence').getByRole('button', { name: /mdoc, ISO\/IEC 18013-5/ }).waitFor();
  for (const doc of ['Identité', 'Acte de naissance', 'Acte de mariage', 'Permis de conduire']) {
    await p.getByRole('heading', { name: new RegExp(doc) }).waitFor();
  }
  assert.deepEqual(await audit(p), []);
  // Nothing is wider than the phone's screen.
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the page scrolls sideways on a phone');
  await p.screenshot({ path: join(artifacts, 'wallet-documents.png'), fullPage: true });

  await p.locator('#doc-pid').getByRole('button', { name: 'Ajouter à mon portefeuille' }).click();
  await p.getByRole('heading', { name: /Ajouter à mon portefeuille/ }).waitFor();
  const qr = p.getByRole('img', { name: /Code QR de l'offre/ });
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/png;base64,/);
  assert.match(await p.textContent('#tx-code'), /^\d{6}$/);
  assert.match(await p.getAttribute('#same-device', 'href'), /^openid-credential-offer:\/\/\?credential_offer=/);
  assert.match(await p.textContent('#offer-uri'), /^openid-credential-offer:\/\/\?credential_offer_uri=https/);
  assert.deepEqual(await audit(p), []);
  await p.screenshot({ path: join(artifacts, 'wallet-offer.png'), fullPage: true });

  // The credentials issued so far, none yet, each revocable once issued.
  await p.goto(socle.webURL + 'wallet/issued');
  await p.getByRole('table', { name: /Attestations délivrées/ }).waitFor();
  assert.deepEqual(await audit(p), []);
});

test('an account that is no citizen is told why it sees no document', async () => {
  const p = await socle.page('fr-FR');
  await signIn(socle, p, 'developpeur@demo.socle.test', '/wallet/');
  assert.match(await p.textContent('main'), /lié à aucun numéro de registre national/);
});

// The official inbox: an administration (the gateway demo's consumer spf-finances-demo, with
// its key) publishes a registered message through the gateway; the citizen reads it on her
// phone, acknowledges receipt with the keyboard, and the sender sees both times.
test('an administration writes to the inbox, the citizen reads and acknowledges receipt', async () => {
  const key = readFileSync(join(socle.dataDir, 'gateway-demo', 'inbox-key.txt'), 'utf8').trim();
  const ca = readFileSync(join(socle.dataDir, 'pki', 'ca.crt'));
  const ebox = (method, path, body) => new Promise((resolve, reject) => {
    const req = https.request(new URL('apis/ebox/v1/' + path, socle.webURL), {
      method, ca, servername: 'localhost',
      headers: { 'X-API-Key': key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
  const id = `browser-${Date.now()}`;
  const message = {
    citizen: '85.03.14-124.01', language: 'fr', registered: true,
    subject: 'Mise en demeure — test du navigateur',
    body: 'Madame,\n\nCeci est une mise en demeure envoyée par recommandé électronique.',
    attachments: [{ name: 'mise-en-demeure.pdf', media_type: 'application/pdf',
      content: Buffer.from('%PDF-1.4\n% test\n%%EOF\n').toString('base64') }],
  };
  // The gateway reads its consumers' keys as the demo applies them: ask until it knows this one.
  let put;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    put = await ebox('PUT', 'messages/' + id, message);
    if (put.status !== 401 && put.status !== 403 && put.status !== 502) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.equal((await ebox('PUT', 'messages/' + id, message)).status, 200, 'the same message again');

  const p = await socle.page('fr-FR', { audited: true, viewport: { width: 360, height: 740 } });
  await signIn(socle, p, 'sophie.lambert@demo.socle.test', '/wallet/inbox');
  await p.getByRole('heading', { name: 'Boîte aux lettres' }).waitFor();
  await p.getByRole('link', { name: /Boîte aux lettres \(\d+ non lus\)/ }).waitFor();
  const item = p.locator(`#message-${put.body.id}`);
  assert.match(await item.textContent(), /SPF Finances \(démo\)/);
  assert.match(await item.textContent(), /Non lu/);
  assert.match(await item.textContent(), /Recommandé/);
  assert.deepEqual(await audit(p), []);
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the inbox scrolls sideways on a phone');
  await p.screenshot({ path: join(artifacts, 'wallet-inbox.png'), fullPage: true });

  await item.getByRole('link', { name: message.subject }).click();
  await p.getByRole('heading', { name: message.subject }).waitFor();
  // Registered: the content opens with the acknowledgement.
  assert.doesNotMatch(await p.textContent('main'), /mise en demeure envoyée/);
  assert.deepEqual(await audit(p), []);
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the message scrolls sideways on a phone');
  await p.screenshot({ path: join(artifacts, 'wallet-inbox-registered.png'), fullPage: true });
  let st = await ebox('GET', 'messages/' + id);
  assert.ok(st.body.read_at && !st.body.acknowledged_at, JSON.stringify(st.body));

  const ack = p.getByRole('button', { name: 'Accuser réception' });
  await ack.focus();
  await p.keyboard.press('Enter');
  await p.getByRole('status').filter({ hasText: /Réception accusée/ }).waitFor();
  assert.match(await p.textContent('main'), /mise en demeure envoyée par recommandé électronique/);
  const link = p.getByRole('link', { name: 'mise-en-demeure.pdf' });
  const file = await p.context().request.get(new URL(await link.getAttribute('href'), socle.webURL).href);
  assert.equal(file.headers()['content-type'], 'application/pdf');
  assert.equal(file.headers()['x-content-type-options'], 'nosniff');
  assert.match(file.headers()['content-disposition'], /^attachment; filename="?mise-en-demeure\.pdf"?$/);
  assert.deepEqual(await audit(p), []);
  await p.screenshot({ path: join(artifacts, 'wallet-inbox-acknowledged.png'), fullPage: true });

  st = await ebox('GET', 'messages/' + id);
  assert.equal(st.status, 200);
  assert.ok(st.body.read_at && st.body.acknowledged_at && st.body.purged_at === null, JSON.stringify(st.body));
});
