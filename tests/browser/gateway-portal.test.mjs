// The developer portal in a real browser, against `socle serve --demo`: a developer of a
// commune signs in, registers an application and asks for a subscription to the demo API
// population; the API's owner approves it; the developer gets a key, shown once, calls the API
// from its documentation page (Swagger UI's "Try it out", with the key pasted), and sees the
// call in the application's usage chart.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSocle, artifacts, audit, signIn } from './harness.mjs';

let socle;

before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

const developer = 'developpeur@demo.socle.test';
const owner = 'proprietaire@demo.socle.test';
const app = 'appli-test-navigateur';

test('the catalogue and the style guide are public, and accessible', async () => {
  const p = await socle.page('fr-FR', { audited: true });
  await p.goto(socle.webURL + 'portal/');
  assert.match(await p.textContent('h1'), /Catalogue des API/);
  await p.getByRole('link', { name: /Registre national/ }).waitFor();
  assert.deepEqual(await audit(p), []);
  await p.goto(socle.webURL + 'portal/guide?lang=en');
  assert.match(await p.textContent('main'), /RFC 9457/);
  assert.deepEqual(await audit(p), []);
  // The SOAP API's page lists its operations, their SOAPAction and fields, from the WSDL.
  await p.goto(socle.webURL + 'portal/apis/etat-civil');
  assert.match(await p.textContent('main'), /GetMarriageCertificate/);
  assert.match(await p.textContent('main'), /urn:socle:civilstatus:GetMarriageCertificate/);
  assert.deepEqual(await audit(p), []);
  // The REST API's page, with Swagger UI drawn.
  await p.goto(socle.webURL + 'portal/apis/population');
  await p.locator('#operations-persons-getPerson').waitFor();
  assert.deepEqual(await audit(p), []);
});

test('register an application, subscribe, get a key, call the API, see the call', async () => {
  const dev = await socle.page('fr-FR', { audited: true });
  await signIn(socle, dev, developer, '/portal/apps/');
  assert.deepEqual(await audit(dev), []);

  // Registration, with a wrong name first: the problem is listed and links to the field.
  await dev.getByLabel('Nom', { exact: true }).fill('Appli Test');
  await dev.getByLabel(/Adresse électronique de contact/).fill('api@commune.test');
  await dev.getByLabel('Nom', { exact: true }).evaluate((el) => el.removeAttribute('pattern')); // as a script would send it
  await dev.getByRole('button', { name: 'Enregistrer' }).click();
  const alert = dev.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /1 problème/);
  await dev.getByLabel('Nom', { exact: true }).fill(app);
  await dev.getByRole('button', { name: 'Enregistrer' }).click();
  await dev.waitForURL(new RegExp(`/portal/apps/${app}/`));
  assert.match(await dev.getByRole('status').first().textContent(), /Application enregistrée/);

  // The subscription request, pending.
  await dev.getByLabel('API', { exact: true }).selectOption('population');
  await dev.getByRole('button', { name: "Demander l'abonnement" }).click();
  await dev.getByRole('cell', { name: 'en attente' }).waitFor();

  // The owner approves it.
  const own = await socle.page('fr-FR', { audited: true });
  await signIn(socle, own, owner, '/portal/manage/');
  assert.deepEqual(await audit(own), []);
  await own.getByRole('button', { name: `Approuver ${app} → population` }).click();
  await own.waitForURL(/done=done\.approved/);
  // The owner's form of the API, every setting of it labelled.
  await own.goto(socle.webURL + 'portal/manage/apis/population');
  await own.getByLabel('Répartition').waitFor();
  assert.deepEqual(await audit(own), []);

  // The key, shown once, copied with the button.
  await dev.reload();
  await dev.getByRole('cell', { name: 'approuvé' }).waitFor();
  await dev.getByRole('button', { name: 'Créer une clé' }).click();
  const keyField = dev.getByLabel("Clé d'API");
  await keyField.waitFor();
  const key = await keyField.inputValue();
  assert.match(key, /^socle_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.match(await dev.textContent('main'), /ne sera plus jamais affichée/);
  await dev.screenshot({ path: join(artifacts, 'gateway-portal-key.png'), fullPage: true });

  // Try it out, from the documentation, with the key pasted.
  await dev.goto(socle.webURL + 'portal/apis/population');
  await dev.getByLabel(/Votre clé d'API/).fill(key);
  // Swagger UI names each operation's block by its tag and operationId.
  const operation = dev.locator('#operations-persons-getPerson');
  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  await operation.locator('input[placeholder="nrn"]').fill('85.03.14-124.01');
  const called = dev.waitForResponse((r) => r.url().includes('/apis/population/v1/persons/'));
  await operation.getByRole('button', { name: 'Execute' }).click();
  const response = await called;
  assert.equal(response.status(), 200);
  assert.equal(response.request().headers()['x-api-key'], key);

  // The call in the usage chart: the call records are written in batches, so the page is
  // loaded again until its table counts the call (each reload waits for the page's load event).
  const appPage = socle.webURL + `portal/apps/${app}/`;
  let counted = false;
  for (let i = 0; i < 40 && !counted; i++) {
    await dev.goto(appPage);
    counted = /[1-9]\d* appels? en 24 heures/.test(await dev.locator('#usage-calls-d').textContent());
  }
  assert.ok(counted, 'the call is not in the usage chart');
  const chart = dev.getByRole('img', { name: /Appels par heure et par API/ });
  await chart.waitFor();
  assert.match(await chart.innerHTML(), /population/);
  await dev.screenshot({ path: join(artifacts, 'gateway-portal-usage.png'), fullPage: true });
});
