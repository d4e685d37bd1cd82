// The routing-table workflow in a real browser, against `socle serve --demo`: a CCED editor
// signs in, uploads a Paris table with errors (every error listed with its line, nothing
// saved), then a correct one, and sees which communes change centre; an approver approves and
// publishes it.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSocle, artifacts, signIn as signInAt } from './harness.mjs';

let socle;

before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

const numbers = ['15', '17', '18', '112', '114', '115', '119', '191', '196', '197', '116000', '116117'];

// paris writes Paris's table as the demo has it (the SAMU for 15 and 116117, the fire
// brigade otherwise), with changes by number.
function paris(changes = {}) {
  const samu = ['15', '116117'];
  const rows = numbers.map((n) => `75056,${n},${changes[n] ?? (samu.includes(n) ? '0100000015' : '0100000018')}`);
  return Buffer.from(['insee,number,routing_number', ...rows].join('\n') + '\n');
}

async function signIn(p, email) {
  await p.goto(socle.webURL + 'emergency/pdaau/');
  await p.waitForURL(/\/login/);
  await p.getByLabel(/adresse électronique|email address/i).fill(email);
  await p.getByLabel(/mot de passe|password/i).fill(socle.password(email));
  await p.getByRole('button', { name: /se connecter|sign in/i }).click();
  await p.waitForURL(/\/emergency\/pdaau\/$/);
}

async function upload(p, name, buffer) {
  await p.goto(socle.webURL + 'emergency/pdaau/75/');
  await p.getByLabel('Fichier CSV du PDAAU').setInputFiles({ name, mimeType: 'text/csv', buffer });
  await p.getByRole('button', { name: 'Déposer et vérifier' }).click();
}

test('an upload with errors lists them all with their lines, and the diff shows what changes', async () => {
  const p = await socle.page('fr-FR');
  await signIn(p, 'redacteur@demo.socle.test');
  assert.match(await p.textContent('main'), /Tables de routage/);

  // Line 3 (the 17) has a malformed routing number, line 4 (the 18) one no centre has,
  // and the 196 is missing.
  const bad = paris({ 17: '01000', 18: '0999999999' }).toString().replace('75056,196,0100000018\n', '');
  await upload(p, 'paris-faux.csv', Buffer.from(bad));
  const alert = p.getByRole('alert');
  await alert.waitFor();
  const text = await alert.textContent();
  assert.match(text, /3 problèmes\s: rien n'a été enregistré\./);
  const rows = await alert.locator('tbody tr').allTextContents();
  assert.match(rows[0], /^3\s*routing_number\s*numéro d'acheminement "01000" mal formé/);
  assert.match(rows[1], /^4\s*routing_number\s*numéro d'acheminement 0999999999 : aucun centre/);
  assert.match(rows[2], /la commune 75056 n'a pas de centre pour le 196/);
  assert.match(await p.textContent('main'), /Aucune version\.|\bpublished\b|publiée/); // the history is unchanged
  await p.screenshot({ path: join(artifacts, 'pdaau-upload-errors.png'), fullPage: true });

  // Now a correct table that sends the 17 to the SAMU.
  await upload(p, 'paris.csv', paris({ 17: '0100000015' }));
  await p.waitForURL(/\/emergency\/pdaau\/versions\/\d+\//);
  assert.match(await p.getByRole('status').textContent(), /brouillon/);
  const diff = p.locator('#diff-table tbody tr');
  assert.equal(await diff.count(), 1);
  const change = await diff.first().textContent();
  assert.match(change, /75056 Paris/);
  assert.match(change, /17/);
  assert.match(change, /Brigade de sapeurs-pompiers de Paris.*0100000018/);
  assert.match(change, /SAMU de Paris.*0100000015/);
  // The rows name their commune beside its code too.
  assert.match(await p.locator('section[aria-labelledby=rows] tbody tr').first().textContent(), /^\s*75056 Paris\s*15\s*SAMU de Paris/);
  // The editor may not approve their own draft.
  assert.equal(await p.getByRole('button', { name: 'Approuver' }).count(), 0);
  await p.screenshot({ path: join(artifacts, 'pdaau-diff.png'), fullPage: true });
  const draftURL = p.url();

  // Another person approves and publishes it.
  const q = await socle.page('fr-FR');
  await signIn(q, 'approbateur@demo.socle.test');
  await q.goto(draftURL);
  await q.getByRole('button', { name: 'Approuver' }).click();
  await q.waitForURL(/done=done.approved/);
  await q.getByLabel(/^Je confirme/).first().check(); // publishing changes where calls go
  await q.getByRole('button', { name: 'Publier', exact: true }).click();
  await q.waitForURL(/done=done.published/);
  assert.match(await q.textContent('main'), /en vigueur/);
});

// parisTime writes a moment as a datetime-local field holds it, in Paris time.
function parisTime(ms) {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit' }).format(new Date(ms)).replace(' ', 'T');
}

test('publishing now works however long the approver read, a date gone by is refused beside its field, and a rollback is immediate', async () => {
  const p = await socle.page('fr-FR');
  await signIn(p, 'redacteur@demo.socle.test');
  await upload(p, 'paris-114.csv', paris({ 17: '0100000015', 114: '0100000015' }));
  await p.waitForURL(/\/emergency\/pdaau\/versions\/\d+\//);
  const draftURL = p.url().replace(/\?.*/, '');

  const q = await socle.page('fr-FR');
  await signIn(q, 'approbateur@demo.socle.test');
  await q.goto(draftURL);
  await q.getByRole('button', { name: 'Approuver' }).click();
  await q.waitForURL(/done=done.approved/);
  const publish = q.locator('form[action*="/publish"]');
  // "Now" is the first choice, and the page holds no time that would get old while the
  // approver reads the changes.
  assert.equal(await publish.getByLabel('Maintenant, dès la publication').isChecked(), true);
  assert.equal(await publish.getByLabel(/^Date et heure d'effet/).inputValue(), '');

  // The approver chooses a date, but reads for a long while: an hour later it is past.
  const hourAgo = parisTime(Date.now() - 3600_000);
  await publish.getByLabel("À la date et à l'heure ci-dessous").check();
  await publish.getByLabel(/^Date et heure d'effet/).fill(hourAgo);
  await publish.getByLabel(/^Je confirme/).check();
  await publish.getByRole('button', { name: 'Publier', exact: true }).click();
  await q.getByRole('alert').waitFor();
  const field = q.locator('form[action*="/publish"]').getByLabel(/^Date et heure d'effet/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.equal(await field.inputValue(), hourAgo); // as typed
  const why = await q.locator('#' + (await field.getAttribute('aria-describedby')).split(' ')[1]).textContent();
  assert.match(why, /La date d'effet choisie, .* est passée : choisissez « maintenant » ou une date à venir\./);
  assert.match(await q.getByRole('alert').textContent(), /est passée/);
  await q.screenshot({ path: join(artifacts, 'pdaau-publish-past.png'), fullPage: true });

  // "Now", with the old date still in the field beside it: published at once.
  const again = q.locator('form[action*="/publish"]');
  await again.getByLabel('Maintenant, dès la publication').check();
  await again.getByLabel(/^Je confirme/).check();
  await again.getByRole('button', { name: 'Publier', exact: true }).click();
  await q.waitForURL(/done=done.published/);
  assert.match(await q.locator('dl').textContent(), /en vigueur/);

  // Something is wrong: back to the version before, now.
  await q.goto(socle.webURL + 'emergency/pdaau/75/');
  const earlier = q.locator('section[aria-labelledby=history] tbody tr', { hasText: 'publiée' }).nth(1);
  await earlier.getByRole('link').click();
  await q.waitForURL(/\/versions\/\d+\/(\?|$)/);
  const restore = q.locator('form[action*="/republish"]');
  await restore.getByLabel(/^Date et heure d'effet/).fill(hourAgo); // a stale value changes nothing
  await restore.getByLabel(/^Je confirme/).check();
  await restore.getByRole('button', { name: /Publier de nouveau/ }).click();
  await q.waitForURL(/done=done.restored/);
  assert.match(await q.locator('dl').textContent(), /en vigueur/);
});

test('a bad cell in an edited draft keeps every edit and is pointed at by commune and number', async () => {
  const p = await socle.page('fr-FR');
  await signIn(p, 'redacteur@demo.socle.test');
  await p.goto(socle.webURL + 'emergency/pdaau/75/');
  await p.getByRole('button', { name: 'Créer un brouillon à partir de la version en vigueur' }).click();
  await p.waitForURL(/done=done.drafted/);
  const cell = (n) => p.getByLabel(`Numéro d'acheminement 75056 Paris ${n}`, { exact: true });
  await cell('18').fill('0100000015'); // a good edit
  await cell('196').fill('01000'); // a bad one
  await p.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  const alert = p.getByRole('alert');
  await alert.waitFor();

  // Nothing typed is lost.
  assert.equal(await cell('18').inputValue(), '0100000015');
  assert.equal(await cell('196').inputValue(), '01000');
  // The bad cell is marked and says why; the good one is not marked.
  assert.equal(await cell('196').getAttribute('aria-invalid'), 'true');
  assert.equal(await cell('18').getAttribute('aria-invalid'), null);
  const why = await p.locator('#' + await cell('196').getAttribute('aria-describedby')).textContent();
  assert.match(why, /numéro d'acheminement "01000" mal formé/);
  // The list names the commune and the number, and its message leads to the cell.
  const problem = alert.locator('tbody tr');
  assert.equal(await problem.count(), 1);
  assert.match(await problem.textContent(), /^\s*75056 Paris, 196\s*Numéro d'acheminement\s*numéro d'acheminement "01000" mal formé/);
  assert.equal(await problem.getByRole('link').getAttribute('href'), '#' + await cell('196').getAttribute('id'));
  await p.screenshot({ path: join(artifacts, 'pdaau-edit-errors.png'), fullPage: true });

  // Corrected, the whole edit is saved.
  await cell('196').fill('0100000018');
  await p.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  await p.waitForURL(/done=done.saved/);
  assert.equal(await cell('18').inputValue(), '0100000015');
  assert.match(await p.locator('#diff-table').textContent(), /75056 Paris\s*18/);
  await p.getByRole('button', { name: 'Abandonner' }).click(); // leave the département with no open draft
  await p.waitForURL(/done=done.discarded/);
});

test('a département has one open draft: a second editor is told whose it is and since when, and may discard it', async () => {
  // A second editor (the administrator edits everywhere) has the département's page open...
  const q = await socle.page('fr-FR');
  await signInAt(socle, q, 'admin@demo.socle.test', '/emergency/pdaau/75/');
  await q.getByLabel('Fichier CSV du PDAAU').waitFor();

  // ...when the CCED editor starts a draft.
  const p = await socle.page('fr-FR');
  await signIn(p, 'redacteur@demo.socle.test');
  await p.goto(socle.webURL + 'emergency/pdaau/75/');
  await p.getByRole('button', { name: 'Créer un brouillon à partir de la version en vigueur' }).click();
  await p.waitForURL(/done=done.drafted/);
  const draftPath = new URL(p.url()).pathname;
  const id = draftPath.match(/versions\/(\d+)\//)[1];

  // The second editor's upload is refused, saying whose draft is open, since when, with a
  // link to it.
  await q.getByLabel('Fichier CSV du PDAAU').setInputFiles({ name: 'paris.csv', mimeType: 'text/csv', buffer: paris({ 115: '0100000015' }) });
  await q.getByRole('button', { name: 'Déposer et vérifier' }).click();
  const alert = q.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /Votre brouillon n'a pas été créé : ce département en a déjà un\./);
  assert.match(await alert.textContent(),
    new RegExp(`La version ${id} \\(brouillon\\) a été ouverte par redacteur@demo\\.socle\\.test le \\d\\d/\\d\\d/\\d{4} \\d\\d:\\d\\d\\.`));
  assert.equal(await alert.getByRole('link', { name: `Ouvrir la version ${id}` }).getAttribute('href'), `/emergency/pdaau/versions/${id}/?lang=fr`);
  assert.equal(await q.getByLabel('Fichier CSV du PDAAU').count(), 0); // no second draft offered
  await q.screenshot({ path: join(artifacts, 'pdaau-open-draft.png'), fullPage: true });

  // The second editor discards it, and may upload again.
  await q.getByRole('button', { name: `Abandonner la version ${id}` }).click();
  await q.waitForURL(/\/emergency\/pdaau\/75\/\?done=done.discarded/);
  assert.match(await q.getByRole('status').textContent(), /Version abandonnée/);
  await q.getByLabel('Fichier CSV du PDAAU').waitFor();
  await p.goto(socle.webURL + draftPath.slice(1));
  assert.match(await p.locator('dl').textContent(), /Abandonnée par\s*admin@demo\.socle\.test/);
});

test('the pages are reachable with the keyboard and speak English on request', async () => {
  const p = await socle.page('en-GB');
  await signIn(p, 'redacteur@demo.socle.test');
  await p.goto(socle.webURL + 'emergency/pdaau/75/?lang=en');
  assert.equal(await p.getAttribute('html', 'lang'), 'en');
  assert.match(await p.textContent('h1'), /Department 75 — Paris/); // its name beside its code
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.textContent.trim()), 'Skip to content');
  // Every form field has a label.
  const unlabelled = await p.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select')]
    .filter((e) => !(e.labels?.length || e.getAttribute('aria-label'))).length);
  assert.equal(unlabelled, 0);
});
