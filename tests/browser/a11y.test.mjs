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

test('a meeting page passes the audit once in the room', async () => {
  const p = await socle.page('fr-FR', { audited: true });
  await signIn(p, 'redacteur@demo.socle.test', '/visio/salle-audit');
  await p.getByLabel('Votre nom').fill('Camille');
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
  await p.locator('#meeting').waitFor({ state: 'visible' });
  await expectClean(p, 'the meeting');
});
