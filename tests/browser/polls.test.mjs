// Meeting polls (Pégase) in a real browser, against `socle serve --demo` sending its mail to
// an SMTP server of this test's own: an agent creates a poll with an outsider invitee, the
// outsider answers by their personal link and sees no agent's name or address, the agent
// closes the poll on a slot, and the outsider's iCalendar invitation arrives at the server.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { startSocle, artifacts, audit, signIn } from './harness.mjs';

// The test's SMTP server (RFC 5321): enough of it for a client that sends without TLS on
// loopback (SOCLE_SMTP_TLS=none). Each message lands in `received` with its envelope.
const received = [];
function startSMTP() {
  const server = net.createServer((sock) => {
    let buf = '';
    let data = null;
    let msg = { to: [] };
    const say = (s) => sock.write(s + '\r\n');
    say('220 polls-test ESMTP');
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            received.push({ ...msg, data: data.join('\r\n') });
            data = null;
            msg = { to: [] };
            say('250 2.0.0 queued');
          } else {
            data.push(line.startsWith('..') ? line.slice(1) : line); // RFC 5321 §4.5.2
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') say('250 polls-test');
        else if (verb === 'MAIL') { msg.from = line; say('250 2.1.0 ok'); }
        else if (verb === 'RCPT') { msg.to.push(line.match(/<([^>]*)>/)[1]); say('250 2.1.5 ok'); }
        else if (verb === 'DATA') { data = []; say('354 go ahead'); }
        else if (verb === 'RSET' || verb === 'NOOP') say('250 ok');
        else if (verb === 'QUIT') { say('221 bye'); sock.end(); }
        else say('502 5.5.1 not implemented');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// calendarOf finds the text/calendar part of a raw message and decodes it.
function calendarOf(raw) {
  const parts = raw.split(/\r\n--[^\r\n]+/);
  for (const part of parts) {
    const [head, ...rest] = part.split('\r\n\r\n');
    if (!/content-type:\s*text\/calendar/i.test(head)) continue;
    let body = rest.join('\r\n\r\n');
    if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      body = body.replace(/=\r\n/g, '');
      return Buffer.from(body.replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    }
    return body;
  }
  return null;
}

async function waitFor(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setImmediate(r));
  }
}

let socle;
let smtp;
before(async () => {
  smtp = await startSMTP();
  socle = await startSocle({
    before: async () => ({ SOCLE_SMTP_RELAY: `127.0.0.1:${smtp.address().port}`, SOCLE_SMTP_TLS: 'none' }),
  });
});
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); smtp?.close(); });

test('an agent polls an outsider, who answers without seeing any agent, and gets the invitation', async () => {
  const year = new Date().getFullYear() + 1;
  const agent = await socle.page('fr-FR', { audited: true });
  await signIn(socle, agent, 'claire.martin@demo.socle.test', '/polls/');
  // The demo's open poll is in her list.
  await agent.getByRole('table', { name: /Sondages, le plus récent/ }).getByRole('link', { name: 'Réunion de service — bilan du trimestre' }).waitFor();
  await agent.getByRole('link', { name: 'Créer un sondage' }).click();
  await agent.getByRole('heading', { name: 'Nouveau sondage' }).waitFor();
  assert.deepEqual(await audit(agent), []);
  await agent.setViewportSize({ width: 360, height: 740 });
  assert.ok(await agent.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the form scrolls sideways on a phone');
  await agent.setViewportSize({ width: 1366, height: 768 });
  await agent.getByLabel('Titre', { exact: true }).fill('Atelier de cadrage');
  await agent.getByLabel('Description', { exact: true }).fill('Cadrage du projet avec le prestataire.');
  await agent.getByLabel('Réunion en visio').check();
  // A mistake first: the form comes back with what was typed and the field's error.
  await agent.getByLabel('Créneaux', { exact: true }).fill(`${year}-03-10 10:00-11:00\nmardi prochain`);
  await agent.getByLabel('Personnes extérieures').fill('Léa Garnier <lea.garnier@example.org>');
  await agent.getByLabel('Agents invités').fill('bruno.dupont@demo.socle.test');
  await agent.getByRole('button', { name: 'Créer le sondage' }).click();
  await agent.getByRole('alert').filter({ hasText: /mardi prochain/ }).waitFor();
  assert.equal(await agent.getByLabel('Titre', { exact: true }).inputValue(), 'Atelier de cadrage');
  await agent.getByLabel('Créneaux', { exact: true }).fill(`${year}-03-10 10:00-11:00\n${year}-03-11 14:00-15:30\n${year}-03-12`);
  await agent.getByRole('button', { name: 'Créer le sondage' }).click();
  await agent.getByRole('heading', { name: 'Sondage créé' }).waitFor();
  const link = await agent.locator('a.outsider-link').getAttribute('href');
  assert.match(link, /\/polls\/[a-z0-9]+\/p\/[a-z0-9]{32}$/);
  // The invitations to Bruno Dupont and to Léa Garnier (her personal link).
  const invite = await waitFor('the outsider\'s invitation', () => received.find((m) => m.to.includes('lea.garnier@example.org')));
  assert.ok(!/Claire Martin|demo\.socle\.test/.test(invite.data), 'the outsider\'s mail names an agent');

  // The outsider, in a browser of their own, with no account.
  const outsider = await socle.page('fr-FR', { audited: true });
  await outsider.goto(link);
  await outsider.getByRole('heading', { name: 'Atelier de cadrage' }).waitFor();
  const html = await outsider.content();
  const json = await (await outsider.request.get(link, { headers: { Accept: 'application/json' } })).text();
  for (const view of [html, json]) {
    assert.ok(!/demo\.socle\.test|Claire Martin|Bruno Dupont/.test(view), 'the outsider sees an agent');
  }
  assert.deepEqual(await audit(outsider), []);
  const slot2 = outsider.getByRole('group', { name: new RegExp(`11/03/${year} 14:00`) });
  await slot2.getByLabel('Oui').check();
  await outsider.getByRole('group', { name: new RegExp(`10/03/${year} 10:00`) }).getByLabel('Non').check();
  await outsider.getByLabel('Votre nom').fill('Léa G.');
  await outsider.getByRole('button', { name: 'Enregistrer ma réponse' }).click();
  await outsider.getByRole('status').filter({ hasText: 'Réponse enregistrée' }).waitFor();
  assert.ok(await slot2.getByLabel('Oui').isChecked());
  await outsider.screenshot({ path: join(artifacts, 'polls-outsider.png'), fullPage: true });
  // On a phone's width, nothing is wider than the screen.
  const phone = await socle.page('fr-FR', { viewport: { width: 360, height: 740 } });
  await phone.goto(link);
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the page scrolls sideways on a phone');

  // The agent sees the answer in the grid and the heat-map, and closes on the best slot.
  await agent.getByRole('link', { name: 'Voir le sondage' }).click();
  await agent.getByRole('table', { name: /Réponses par participant/ }).getByRole('rowheader', { name: 'Léa G.' }).waitFor();
  const heat = agent.getByRole('table', { name: /Disponibilité par créneau/ });
  assert.match(await heat.getByRole('row', { name: new RegExp(`11/03/${year} 14:00`) }).textContent(), /meilleur créneau/);
  assert.deepEqual(await audit(agent), []);
  await agent.screenshot({ path: join(artifacts, 'polls-results.png'), fullPage: true });
  // The results on a phone: the tables scroll in their regions, the page does not.
  const pollURL = agent.url();
  await agent.setViewportSize({ width: 360, height: 740 });
  assert.ok(await agent.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the results scroll sideways on a phone');
  await agent.setViewportSize({ width: 1366, height: 768 });
  assert.equal(agent.url(), pollURL);
  const pick = agent.getByRole('group', { name: 'Créneau retenu' }).getByRole('radio', { name: new RegExp(`11/03/${year} 14:00`) });
  assert.ok(await pick.isChecked(), 'the best slot is not the one proposed');
  await pick.check();
  await agent.getByRole('button', { name: 'Clore et envoyer l\'invitation' }).click();
  await agent.getByRole('status').filter({ hasText: 'Sondage clos' }).waitFor();

  // The invitation arrives at the test's SMTP server: an iCalendar REQUEST for the slot
  // (14:00 in Paris is 13:00 UTC in March), with the conference link, naming no agent.
  const mail = await waitFor('the invitation', () => received.find((m) => m.to.includes('lea.garnier@example.org') && /text\/calendar/i.test(m.data)));
  const ics = calendarOf(mail.data);
  assert.ok(ics, 'no text/calendar part');
  const unfolded = ics.replace(/\r\n[ \t]/g, '');
  assert.match(unfolded, /^METHOD:REQUEST\r$/m);
  assert.match(unfolded, new RegExp(`^DTSTART:${year}0311T130000Z\r$`, 'm'));
  assert.match(unfolded, /^URL:https:\/\/[^/]+\/visio\/atelier-de-cadrage-[a-z0-9]{8}\r$/m);
  assert.match(unfolded, /^ATTENDEE;.*:mailto:lea\.garnier@example\.org\r$/m);
  assert.match(unfolded, /^SEQUENCE:1\r$/m);
  assert.ok(!/demo\.socle\.test|Claire Martin/.test(unfolded), 'the outsider\'s invitation names an agent');
  // The outsider's page now shows the chosen slot and the conference link.
  await outsider.reload();
  await outsider.getByRole('link', { name: /\/visio\/atelier-de-cadrage-/ }).waitFor();
});
