// The harness of the browser tests: `socle serve --demo` started from the built binary with
// its own data directory and ports, and Debian's Chromium driven by playwright-core.
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import * as OTPAuth from 'otpauth';

import { root, serveDemo } from '../socle.mjs';

export { root };
export const artifacts = join(root, 'artifacts');

const axeSource = readFileSync(join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

// audit runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and returns the serious
// and critical violations, each as "rule: what, at which elements", for a test to assert
// there are none.
export async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ content: axeSource });
  }
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

// signIn signs a demo account in on page p and waits to land on next. An administrator then
// types the code of their second factor, computed as an authenticator app does (otpauth,
// from npm: another implementation of RFC 6238 than socle's).
// beforeCode, if given, is awaited on the second-factor page.
export async function signIn(socle, p, email, next, { beforeCode } = {}) {
  await p.goto(socle.webURL + 'login?next=' + encodeURIComponent(next));
  await p.getByLabel(/adresse électronique|email address/i).fill(email);
  await p.getByLabel(/mot de passe|password/i).fill(socle.password(email));
  await p.getByRole('button', { name: /se connecter|sign in/i }).click();
  const uri = socle.secondFactor(email);
  if (uri) {
    await p.waitForURL(/\/login\/totp/);
    if (beforeCode) await beforeCode();
    await p.getByLabel(/code à six chiffres|six-digit code/i).fill(OTPAuth.URI.parse(uri).generate());
    await p.getByRole('button', { name: /vérifier|verify/i }).click();
  }
  await p.waitForURL(new RegExp(next.replace(/[/.?]/g, '\\$&') + '$'));
}

// startSocle runs socle with the demo data and a browser; stop() ends both. before, if
// given, is awaited with the data directory before socle starts, and returns more
// environment for it.
export async function startSocle({ before } = {}) {
  mkdirSync(artifacts, { recursive: true });
  const { bound, dataDir, stop } = await serveDemo({ prefix: 'socle-browser-', before });
  const web = Number(bound.web.match(/:(\d+)$/)[1]);
  // demoAccount is a line of <data-dir>/demo-accounts.txt: e-mail, password, then a
  // second-factor key (otpauth://...) and a note (nrn=...) when the account has them.
  const demoAccount = (email) =>
    readFileSync(join(dataDir, 'demo-accounts.txt'), 'utf8').split('\n').find((l) => l.startsWith(email + ' ')).split(' ');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // Fake camera and microphone, granted without asking; WebRTC over loopback; the
      // screen picker answers by itself.
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
      '--auto-select-desktop-capture-source=Entire screen', '--enable-usermedia-screen-capturing'],
  });
  const contexts = [];
  return {
    bound,
    webURL: `https://localhost:${web}/`,
    dataDir,
    // page opens a laptop-sized page; the development CA is not in the browser's store.
    // audited: the page may take axe-core's script, which the pages' Content-Security-Policy
    // would refuse (for the accessibility tests only).
    async page(locale, { audited = false, viewport = { width: 1366, height: 768 } } = {}) {
      const context = await browser.newContext({ locale, viewport, ignoreHTTPSErrors: true, bypassCSP: audited });
      contexts.push(context);
      return context.newPage();
    },
    // closePages closes every page opened so far: a test's meetings end with it and leave
    // the machine's two cores to the next one.
    async closePages() {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
    },
    // account returns a demo account's password, from <data-dir>/demo-accounts.txt.
    password(email) {
      return demoAccount(email)[1];
    },
    // secondFactor returns a demo administrator's otpauth:// URI, undefined for others.
    secondFactor(email) {
      return demoAccount(email).find((f) => f.startsWith('otpauth://'));
    },
    async stop() {
      await browser.close();
      await stop();
    },
  };
}
