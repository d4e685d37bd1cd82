// Every page passes an automated accessibility audit: axe-core's WCAG 2.1 A and AA rules,
// no serious or critical violation, in French and in English, on a 1366×768 laptop.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startSocle, audit, signIn as signInAt } from './harness.mjs';

let socle;
before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

const signIn = (p, email, next, options) => signInAt(socle, p, email, next, options);

async function expectClean(p, what) {
  const violations = await audit(p);
  assert.deepEqual(violations, [], `${what}: ${violations.join('\n')}`);
}

test('the public pages pass the audit in both languages', async () => {
  const p = await socle.page('fr-FR', { audited: true });
  for (const lang of ['fr', 'en']) {
    for (const path of ['', 'login', 'visio/', 'visio/salle-audit', 'status']) {
      await p.goto(socle.webURL + path + (path.includes('?') ? '&' : '?') + 'lang=' + lang);
      await expectClean(p, `/${path} (${lang})`);
    }
  }
});

test('the pages of a signed-in editor and administrator pass the audit', async () => {
  const editor = await socle.page('fr-FR', { audited: true });
  await signIn(editor, 'redacteur@demo.socle.test', '/emergency/pdaau/');
  for (const path of ['emergency/pdaau/', 'emergency/pdaau/75/', 'emergency/pdaau/75/?lang=en']) {
    await editor.goto(socle.webURL + path);
    await expectClean(editor, '/' + path);
  }
  const admin = await socle.page('fr-FR', { audited: true });
  await signIn(admin, 'admin@demo.socle.test', '/visio/stats',
    { beforeCode: () => expectClean(admin, 'the second-factor page') });
  await expectClean(admin, '/visio/stats');
});

test('the routing-table workflow passes the audit with its problems shown', async () => {
  const editor = await socle.page('fr-FR', { audited: true });
  await signIn(editor, 'redacteur@demo.socle.test', '/emergency/pdaau/');
  await editor.goto(socle.webURL + 'emergency/pdaau/75/');
  await editor.getByRole('button', { name: 'Créer un brouillon à partir de la version en vigueur' }).click();
  await editor.waitForURL(/done=done.drafted/);
  await expectClean(editor, 'a draft, its rows to edit');
  const cell = (n) => editor.getByLabel(`Numéro d'acheminement 75056 Paris ${n}`, { exact: true });
  await cell('18').fill('0100000015');
  await cell('196').fill('01000');
  await editor.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  await editor.getByRole('alert').waitFor();
  await expectClean(editor, 'a refused edit, its bad cell marked');
  await cell('196').fill('0100000018');
  await editor.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
  await editor.waitForURL(/done=done.saved/);
  const draft = editor.url().replace(/\?.*/, '');
  for (const lang of ['fr', 'en']) {
    await editor.goto(socle.webURL + 'emergency/pdaau/75/?lang=' + lang);
    await expectClean(editor, `a département with its open draft (${lang})`);
  }

  const approver = await socle.page('fr-FR', { audited: true });
  await signIn(approver, 'approbateur@demo.socle.test', '/emergency/pdaau/');
  await approver.goto(draft);
  await approver.getByRole('button', { name: 'Approuver' }).click();
  await approver.waitForURL(/done=done.approved/);
  await expectClean(approver, 'an approved version, its publication form');
  await approver.getByLabel("À la date et à l'heure ci-dessous").check();
  await approver.getByLabel(/^Date et heure d'effet/).fill('2020-01-01T09:00');
  await approver.getByLabel(/^Je confirme/).check();
  await approver.getByRole('button', { name: 'Publier', exact: true }).click();
  await approver.getByRole('alert').waitFor();
  await expectClean(approver, 'a publication refused for its date');
  await approver.getByRole('button', { name: 'Abandonner' }).click(); // leave 75 as it was
  await approver.waitForURL(/done=done.discarded/);
});

test('a meeting page passes the audit once in the room', async () => {
  const p = await socle.page('fr-FR', { audited: true });
  await signIn(p, 'redacteur@demo.socle.test', '/visio/salle-audit');
  await p.getByLabel('Votre nom').fill('Camille');
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
  await p.locator('#meeting').waitFor({ state: 'visible' });
  await expectClean(p, 'the meeting');
  // Each side panel, open beside the tiles.
  for (const name of ['Discussion', 'Notes partagées', 'Réglages', 'Participants']) {
    const b = p.getByRole('toolbar').getByRole('button', { name, exact: true });
    if ((await b.getAttribute('aria-expanded')) !== 'true') await b.click();
    await p.waitForFunction((el) => el.getAttribute('aria-expanded') === 'true', await b.elementHandle());
    await expectClean(p, `the meeting with its panel ${name}`);
  }
});
