// The public status page ("météo") against `socle serve --demo`, with the PSAP simulator run
// apart so that the test can stop it: the Paris fire brigade's link goes down within a minute
// of its endpoint stopping and comes back after it returns, while a location pushed meanwhile
// is delivered once it is back.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { startSocle, artifacts, root } from './harness.mjs';

let socle;
let psap = { proc: null, addr: '', out: '' };

// startPSAP runs `socle sim psap` at addr (port 0: the system picks) and resolves with the
// address it listens on, read from its log.
function startPSAP(dataDir, addr) {
  return new Promise((resolve, reject) => {
    const proc = spawn(join(root, 'bin', 'socle'), ['sim', 'psap', '--addr', addr, '--pki', join(dataDir, 'pki')],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    psap.proc = proc;
    proc.stdout.on('data', (d) => { psap.out += d; });
    let log = '';
    proc.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening.*addr=(\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`socle sim psap exited (${code}): ${log}`)));
  });
}

function stopPSAP() {
  return new Promise((resolve) => { psap.proc.once('exit', resolve); psap.proc.kill('SIGTERM'); });
}

before(async () => {
  socle = await startSocle({
    before: async (dataDir) => {
      psap.addr = await startPSAP(dataDir, '127.0.0.1:0');
      return { SOCLE_DEMO_PSAP_ADDR: psap.addr, SOCLE_DEMO_PSAP_SIMULATOR: 'false', SOCLE_EMERGENCY_STATUS_INTERVAL: '2s',
        SOCLE_EMERGENCY_STATUS_ADDRESSES: 'operators=interconnect.socle.example:8443,psaps=198.51.100.0/28,cced=interconnect.socle.example:8443' };
    },
  });
});
afterEach(async () => { await socle?.closePages(); });
after(async () => { psap.proc?.kill('SIGTERM'); await socle?.stop(); });

// waitLevel opens the status page and waits, for 60 s at most, until the component's row says
// want: the page reloads itself at each of socle's ticks (its Refresh header), and the locator
// follows it across the reloads.
async function waitLevel(p, id, want) {
  if (!p.url().endsWith('/status')) await p.goto(socle.webURL + 'status');
  await p.locator(`tr[id="${id}"] .level`, { hasText: new RegExp(`^\\s*${want}\\s*$`) }).waitFor({ timeout: 60_000 });
}

// printed resolves when the PSAP simulator has printed text (a location it received), or
// fails after 60 s.
function printed(text) {
  return new Promise((resolve, reject) => {
    const done = () => { clearTimeout(timer); psap.proc.stdout.off('data', look); resolve(); };
    const look = () => { if (psap.out.includes(text)) done(); };
    const timer = setTimeout(() => { psap.proc.stdout.off('data', look); reject(new Error(`the PSAP never printed ${text}: ${psap.out}`)); }, 60_000);
    psap.proc.stdout.on('data', look);
    look();
  });
}

// push sends an AML as the demo operator over mutual TLS and returns its id.
function push(dataDir) {
  const pki = join(dataDir, 'pki');
  const port = Number(socle.bound.interconnect.match(/:(\d+)$/)[1]);
  const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const body = `A"ML=1;lt=+48.85837;lg=+002.29448;rd=12;top=${now};lc=68;pm=G;si=001010123456789;ei=356938035643809;mcc=001;mnc=01;ml=129`;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/emergency/v1/aml', method: 'POST', servername: 'localhost',
      ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'demo-operator.crt')), key: readFileSync(join(pki, 'demo-operator.key')),
      headers: { 'Content-Type': 'text/plain', 'Device-Number': '+33612345678', 'Emergency-Number': '18' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => (res.statusCode === 202 ? resolve(JSON.parse(b).id) : reject(new Error(`${res.statusCode} ${b}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a PSAP link goes down when its endpoint stops and back up when it returns, and what came meanwhile is delivered', async () => {
  const p = await socle.page('fr-FR');
  await waitLevel(p, 'psap:bspp', 'opérationnel');
  await p.getByText('198.51.100.0/28').waitFor(); // the published addresses

  await stopPSAP();
  await waitLevel(p, 'psap:bspp', 'interrompu');
  await p.locator('tr[id="psap:bspp"]', { hasText: 'injoignable' }).waitFor();
  await p.screenshot({ path: join(artifacts, 'status-psap-down.png'), fullPage: true });
  const id = await push(socle.dataDir);

  await startPSAP(socle.dataDir, psap.addr);
  await waitLevel(p, 'psap:bspp', 'opérationnel');
  await printed(id); // the location pushed while the centre was down is delivered

  // Programs read the same.
  const json = await (await p.request.get(socle.webURL + 'status.json')).json();
  const bspp = json.components.find((c) => c.id === 'psap:bspp');
  assert.equal(bspp.kind, 'psap');
  assert.equal(bspp.status, 'operational');
  await p.screenshot({ path: join(artifacts, 'status.png'), fullPage: true });
});
