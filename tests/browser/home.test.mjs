// The home page in a real browser: Debian's Chromium, driven by playwright-core, against
// `socle serve --demo` started from the built binary with its own data directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { chromium } from 'playwright-core';

const root = new URL('../..', import.meta.url).pathname;
const artifacts = join(root, 'artifacts');
let dataDir, socle, browser, webURL;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// ready polls /readyz, trusting socle's development CA, until it answers 200.
async function ready(opsPort, deadline) {
  while (Date.now() < deadline) {
    const caPath = join(dataDir, 'pki', 'ca.crt');
    if (existsSync(caPath)) {
      const ok = await new Promise((resolve) => {
        https.get({ host: '127.0.0.1', port: opsPort, path: '/readyz', ca: readFileSync(caPath), servername: 'localhost' },
          (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
      });
      if (ok) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('socle did not become ready');
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'socle-browser-'));
  chmodSync(dataDir, 0o711); // the private cluster's system user must reach its directory
  mkdirSync(artifacts, { recursive: true });
  const [web, ic, ops, psap] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  webURL = `https://localhost:${web}/`;
  socle = spawn(join(root, 'bin', 'socle'), ['serve', '--demo'], {
    env: {
      ...process.env,
      SOCLE_DATA_DIR: dataDir,
      SOCLE_WEB_ADDR: `127.0.0.1:${web}`,
      SOCLE_INTERCONNECT_ADDR: `127.0.0.1:${ic}`,
      SOCLE_OPS_ADDR: `127.0.0.1:${ops}`,
      SOCLE_DEMO_PSAP_ADDR: `127.0.0.1:${psap}`,
      SOCLE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await ready(ops, Date.now() + 120_000);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  if (socle && socle.exitCode === null) {
    const exited = new Promise((r) => socle.once('exit', r));
    socle.kill('SIGTERM'); // socle stops its private PostgreSQL on the way out
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// page opens a laptop-sized page; the development CA is not in the browser's store.
async function page(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1366, height: 768 }, ignoreHTTPSErrors: true });
  return context.newPage();
}

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

test('the keyboard reaches the content first, then the language switch', async () => {
  const p = await page('fr-FR');
  await p.goto(webURL);
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.textContent.trim()), 'Aller au contenu');
  assert.ok(await p.evaluate(() => {
    const r = document.activeElement.getBoundingClientRect();
    return r.width > 0 && r.left >= 0; // the skip link becomes visible when focused
  }));
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.getAttribute('hreflang')), 'en');
});
