// An operator's tester in socle's acceptance environment (SOCLE_EMERGENCY_ACCEPTANCE=true):
// registers the operator's certificate, starts a campaign, lets `socle sim operator` play
// the PUSH cases, registers the simulator as the test location server, has socle play the
// PULL cases, and closes the campaign with every case passed: the report.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startSocle, artifacts, root, audit, signIn as signInAt } from './harness.mjs';

let socle;
let sim;
before(async () => { socle = await startSocle({ before: async () => ({ SOCLE_EMERGENCY_ACCEPTANCE: 'true' }) }); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { sim?.kill('SIGTERM'); await socle?.stop(); });

async function expectClean(p, what) {
  const violations = await audit(p);
  assert.deepEqual(violations, [], `${what}: ${violations.join('\n')}`);
}

// operatorSim runs `socle sim operator`, which first plays the PUSH cases against socle's
// interconnect, then serves HELD; it resolves with the address it serves on.
function operatorSim() {
  const port = socle.bound.interconnect.match(/:(\d+)$/)[1];
  return new Promise((resolve, reject) => {
    sim = spawn(join(root, 'bin', 'socle'), ['sim', 'operator', '--addr', '127.0.0.1:0', '--pki', join(socle.dataDir, 'pki'),
      '--campaign', `https://localhost:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    sim.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening.*addr=(\S+)/);
      if (m) resolve(m[1]);
    });
    sim.on('exit', (code) => reject(new Error(`socle sim operator exited (${code}): ${log}`)));
  });
}

test('a tester registers the certificate, runs a campaign, and gets a report with every case passed', async () => {
  const p = await socle.page('fr-FR', { audited: true });
  await signInAt(socle, p, 'testeur@demo.socle.test', '/emergency/acceptance/');
  await expectClean(p, 'the operators');
  await p.getByRole('link', { name: 'Opérateur mobile de démonstration' }).click();
  await p.getByLabel(/Certificat ou demande de certificat/).setInputFiles(join(socle.dataDir, 'pki', 'demo-operator.crt'));
  await p.getByRole('button', { name: 'Vérifier et enregistrer' }).click();
  await p.getByText('Chaîne de certification').waitFor();
  assert.equal(await p.locator('.level-down').count(), 0, 'a check failed');
  await expectClean(p, "the operator's page");
  await p.screenshot({ path: join(artifacts, 'acceptance-certificate.png'), fullPage: true });

  await p.getByRole('button', { name: 'Lancer une campagne' }).click();
  await p.waitForURL(/\/emergency\/acceptance\/campaigns\/\d+\//);
  const campaign = p.url();
  const lis = await operatorSim();
  // The PUSH cases come in as the simulator sends them; the page refreshes itself.
  await p.waitForFunction(() => document.querySelectorAll('tr[id^="case-push"] .level-operational').length === 9, null, { timeout: 30_000 });

  await p.goto(socle.webURL + 'emergency/acceptance/demo-mobile/');
  await p.getByLabel('Adresse HELD (https)').fill(`https://${lis}/held`);
  await p.getByLabel('Numéro mobile de test').fill('+33612345678');
  await p.getByLabel('Numéro fixe de test').fill('+33140000000');
  await p.getByLabel('Numéro inconnu de votre serveur').fill('+33999999999');
  await p.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await p.goto(campaign);
  await p.getByRole('button', { name: 'Jouer les cas PULL' }).click();
  await p.waitForFunction(() => document.querySelectorAll('tr[id^="case-"] .level-operational').length === 14, null, { timeout: 30_000 });
  await expectClean(p, 'the running campaign');

  await p.getByLabel(/Je clos la campagne/).check();
  await p.getByRole('button', { name: 'Clore la campagne' }).click();
  await p.getByText('réussie', { exact: true }).waitFor();
  await p.screenshot({ path: join(artifacts, 'acceptance-campaign.png'), fullPage: true });
  await p.emulateMedia({ media: 'print' });
  await p.screenshot({ path: join(artifacts, 'acceptance-report.png'), fullPage: true });
  const report = await (await p.request.get(campaign.replace(/\/(\?.*)?$/, '.json'))).json();
  assert.equal(report.passed, true);
  assert.equal(report.cases.length, 14);
});
