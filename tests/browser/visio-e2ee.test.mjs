// End-to-end encrypted rooms (docs/visio-e2ee.md), in real browsers against `socle serve
// --demo`: an agent opens a room with "end-to-end encryption", a guest joins by the
// invitation link (its fragment carries the key), and with a third participant — a recorder
// that joins without the key, so that the media go through the SFU and not peer to peer —
// both see each other. The recorder writes the video the SFU forwards to an IVF file, and
// Debian's VP8 decoder (vpxdec) cannot decode it; the same recording of a clear room (the
// control) decodes. A participant who opens the link without its key is told why they see
// nothing.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startSocle, artifacts, root, signIn as signInAt } from './harness.mjs';

const run = promisify(execFile);
const recorder = join(root, 'bin', 'visiorecord');
const FRAMES = 90;

let socle;
before(async () => {
  // The recorder is a test tool, not part of socle (internal/visio/visiorecord).
  await run('go', ['build', '-o', recorder, './internal/visio/visiorecord'], { cwd: root });
  socle = await startSocle();
});
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

async function enter(p, name) {
  await p.getByLabel('Votre nom').fill(name);
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
}

// openPanel opens one of the meeting's side panels, unless it is open already.
async function openPanel(p, name) {
  const b = p.getByRole('toolbar').getByRole('button', { name, exact: true });
  if ((await b.getAttribute('aria-expanded')) !== 'true') await b.click();
  await p.waitForFunction((el) => el.getAttribute('aria-expanded') === 'true', await b.elementHandle());
}

async function invitationLink(p) {
  await openPanel(p, 'Participants');
  await p.getByRole('button', { name: "Copier le lien d'invitation" }).click();
  const link = p.getByLabel(/Lien d'invitation/);
  await p.waitForFunction((el) => el.value !== '', await link.elementHandle());
  return link.inputValue();
}

// openRoom opens room from the conference's home page, end-to-end encrypted or not, and
// returns the agent's page and the invitation link.
async function openRoom(room, e2ee) {
  const agent = await socle.page('fr-FR');
  await signInAt(socle, agent, 'redacteur@demo.socle.test', '/visio/');
  await agent.getByLabel('Nom de la salle').fill(room);
  if (e2ee) await agent.getByLabel(/Chiffrement de bout en bout/).check();
  await agent.getByRole('button', { name: 'Rejoindre' }).click();
  await agent.waitForURL(new RegExp(`/visio/${room}`));
  await enter(agent, 'Agent');
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
  return { agent, invitation: await invitationLink(agent) };
}

// record runs the recorder on the room of link (without its fragment: it has no key).
function record(link, file) {
  return run(recorder, ['-url', link.split('#')[0], '-out', file, '-frames', String(FRAMES), '-insecure', '-timeout', '120s'],
    { cwd: root });
}

// vpxdec decodes file with Debian's libvpx, frame by frame (--md5: no output written), and
// says how it went: its exit status and what it printed.
async function vpxdec(file) {
  try {
    const { stderr } = await run('vpxdec', ['--md5', '--summary', file]);
    return { ok: true, stderr };
  } catch (err) {
    return { ok: false, stderr: String(err.stderr || err.message) };
  }
}

// decodesOn waits until page p's connection to the SFU has decoded frames of one received
// video and they keep coming (RTCInboundRtpStreamStats.framesDecoded moves on), and returns
// the two counts it saw.
async function decodesOn(p) {
  return p.evaluate(async () => {
    const count = async () => {
      let n = 0;
      (await window.socleMedia.pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') n = Math.max(n, r.framesDecoded || 0);
      });
      return n;
    };
    let first = 0;
    for (const end = Date.now() + 60_000; Date.now() < end;) {
      const n = await count();
      if (!first && n > 0) first = n;
      else if (first && n > first + 10) return [first, n];
      await new Promise((r) => requestAnimationFrame(r));
    }
    return [first, await count()];
  });
}

test('an E2EE room: the participants see each other through the SFU, which forwards video no decoder can read', async () => {
  const { agent, invitation } = await openRoom('chiffree', true);
  assert.match(agent.url(), /#key=[A-Za-z0-9_-]{43}$/);
  await agent.getByText('Salle chiffrée de bout en bout.').waitFor();
  assert.match(invitation, /\/visio\/chiffree\?invite=[^#]+#key=[A-Za-z0-9_-]{43}$/);

  const guest = await socle.page('fr-FR');
  await guest.goto(invitation);
  await enter(guest, 'Invitée');
  await guest.getByText('Salle chiffrée de bout en bout.').waitFor();

  // The third participant: the media go through the SFU, and it records what it forwards.
  const file = join(artifacts, 'visio-e2ee.ivf');
  const recording = record(invitation, file);
  for (const [who, p] of [['agent', agent], ['guest', guest]]) {
    const [first, then] = await decodesOn(p);
    const e2ee = await p.evaluate(async () => ({ ...(await import('/visio/static/e2ee.js')).e2ee }));
    console.log(`${who}: frames decoded ${first} then ${then}; e2ee ${JSON.stringify(e2ee)}`);
    assert.ok(then > first && first > 0, `${who} decodes the other's video: ${first} then ${then}`);
    // What they decoded was opened by the transform: no frame failed to decrypt.
    assert.ok(e2ee.on && e2ee.opened > 0 && e2ee.failed === 0, `${who}: ${JSON.stringify(e2ee)}`);
    assert.equal(await p.locator('#tiles video:not(#self)').first().getAttribute('data-via'), 'sfu');
  }
  await agent.screenshot({ path: join(artifacts, 'visio-e2ee.png'), fullPage: true });

  // Someone with the link but not its key is told why there is nothing to see.
  const keyless = await socle.page('fr-FR');
  await keyless.goto(invitation.split('#')[0]);
  await enter(keyless, 'Sans clé');
  await keyless.getByRole('status').filter({ hasText: 'chiffrée de bout en bout : ouvrez le lien' }).waitFor();

  const { stdout } = await recording;
  assert.equal(JSON.parse(stdout).frames, FRAMES);
  const dec = await vpxdec(file);
  console.log('vpxdec, E2EE room:', dec.ok ? 'decoded' : 'failed', dec.stderr.trim());
  assert.ok(!dec.ok, `vpxdec decoded the SFU's forwarded video of an E2EE room: ${dec.stderr}`);
});

test('the control: a clear room recorded the same way decodes', async () => {
  const { agent, invitation } = await openRoom('en-clair', false);
  assert.doesNotMatch(invitation, /#key=/);
  const guest = await socle.page('fr-FR');
  await guest.goto(invitation);
  await enter(guest, 'Invitée');
  const file = join(artifacts, 'visio-clear.ivf');
  const recording = record(invitation, file);
  const [first, then] = await decodesOn(agent);
  assert.ok(then > first && first > 0, `the agent decodes the guest's video: ${first} then ${then}`);
  const { stdout } = await recording;
  assert.equal(JSON.parse(stdout).frames, FRAMES);
  const dec = await vpxdec(file);
  console.log('vpxdec, clear room:', dec.ok ? 'decoded' : 'failed', dec.stderr.trim());
  assert.ok(dec.ok, `vpxdec failed on a clear room's recording: ${dec.stderr}`);
  assert.match(dec.stderr, new RegExp(`${FRAMES} decoded frames`));
});
