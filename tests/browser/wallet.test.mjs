// The citizen's wallet pages in a real browser, on a phone's width, against `socle serve
// --demo`: a citizen signs in, sees the documents the authentic sources hold for them (read
// live through the gateway), asks for one as a credential and gets the offer's QR code, its
// same-device link and its transaction code; the pages pass the accessibility audit.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
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
