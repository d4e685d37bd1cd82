// The home page in a real browser, against `socle serve --demo`.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSocle, artifacts } from './harness.mjs';

let socle, webURL;

before(async () => {
  socle = await startSocle();
  webURL = socle.webURL;
});

afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

const page = (locale) => socle.page(locale);

test('the home page speaks French by default and switches to English', async () => {
  const p = await page('fr-FR');
  await p.goto(webURL);
  assert.equal(await p.getAttribute('html', 'lang'), 'fr');
  assert.match(await p.textContent('h1'), /plateforme socle souveraine/);
  assert.match(await p.textContent('main'), /Localisation des appels d'urgence/);
  await p.screenshot({ path: join(artifacts, 'home-fr.png'), fullPage: true });

  await p.getByRole('link', { name: 'English' }).click();
  await p.waitForURL(/lang=en/);
  assert.equal(await p.getAttribute('html', 'lang'), 'en');
  assert.match(await p.textContent('h1'), /sovereign base platform/);
  await p.screenshot({ path: join(artifacts, 'home-en.png'), fullPage: true });
});

test('a browser asking for English gets English', async () => {
  const p = await page('en-GB');
  await p.goto(webURL);
  assert.equal(await p.getAttribute('html', 'lang'), 'en');
  assert.match(await p.textContent('main'), /Emergency caller location/);
});

test('the keyboard reaches the content first, then the home page, signing in and the language switch', async () => {
  const p = await page('fr-FR');
  await p.goto(webURL);
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.textContent.trim()), 'Aller au contenu');
  assert.ok(await p.evaluate(() => {
    const r = document.activeElement.getBoundingClientRect();
    return r.width > 0 && r.left >= 0; // the skip link becomes visible when focused
  }));
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.textContent.trim()), 'socle');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.textContent.trim()), 'Se connecter');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.getAttribute('hreflang')), 'en');
});
