// The web conference's meeting page in a real browser, against `socle serve --demo`: an
// agent opens a room, invites a guest who joins by the link, they chat and write shared
// notes that converge; the agent locks the
// room and a latecomer with a wrong password is refused. (Audio and video come with the SFU.)
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSocle, artifacts, signIn as signInAt } from './harness.mjs';

let socle;
before(async () => { socle = await startSocle(); });
afterEach(async () => { await socle?.closePages(); });
after(async () => { await socle?.stop(); });

const signIn = (p, email, next) => signInAt(socle, p, email, next);

// openPanel opens one of the meeting's side panels (participants, chat, notes), unless it is
// open already: the meeting page shows one at a time beside the tiles.
async function openPanel(p, name) {
  const b = p.getByRole('toolbar').getByRole('button', { name, exact: true });
  if ((await b.getAttribute('aria-expanded')) !== 'true') await b.click();
  await p.waitForFunction((el) => el.getAttribute('aria-expanded') === 'true', await b.elementHandle());
}

async function enter(p, name, password = '') {
  await p.getByLabel('Votre nom').fill(name);
  await p.getByLabel(/Mot de passe de la salle/).fill(password);
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
}

test('an agent opens a room, a guest joins by invitation, they chat, a locked room refuses a wrong password', async () => {
  const agent = await socle.page('fr-FR');
  await signIn(agent, 'redacteur@demo.socle.test', '/visio/');
  await agent.getByLabel('Nom de la salle').fill('point-hebdo');
  await agent.getByRole('button', { name: 'Rejoindre' }).click();
  await agent.waitForURL(/\/visio\/point-hebdo$/);
  await enter(agent, 'Camille (CCED)');
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();

  const invitation = await invitationLink(agent);
  assert.match(invitation, /\/visio\/point-hebdo\?invite=/);

  const guest = await socle.page('fr-FR');
  await guest.goto(invitation);
  await enter(guest, 'Dominique (invité)');
  await openPanel(guest, 'Participants');
  await guest.getByText('Camille (CCED) (modérateur)').waitFor();
  await agent.getByText('Dominique (invité) (invité)').waitFor();

  await openPanel(guest, 'Discussion');
  await openPanel(agent, 'Discussion');
  await guest.getByLabel('Message').fill('Bonjour, je vous entends bien.');
  await guest.getByRole('button', { name: 'Envoyer' }).click();
  await agent.getByRole('log').getByText('Bonjour, je vous entends bien.').waitFor();
  await agent.getByLabel('Message').fill('Parfait, commençons.');
  await agent.getByRole('button', { name: 'Envoyer' }).click();
  await guest.getByRole('log').getByText('Parfait, commençons.').waitFor();

  // Shared notes: both type at once, both end with the same text.
  await openPanel(agent, 'Notes partagées');
  await openPanel(guest, 'Notes partagées');
  const agentNotes = agent.getByLabel('Notes de la réunion, modifiables par tous');
  const guestNotes = guest.getByLabel('Notes de la réunion, modifiables par tous');
  await agentNotes.click();
  await agent.keyboard.type('Ordre du jour');
  await guestNotes.click();
  await guest.keyboard.press('End');
  await Promise.all([agent.keyboard.type(' : budget 2027'), guest.keyboard.type('\n- point RH')]);
  const same = async () => {
    for (let i = 0; i < 300; i++) { // 30 s at most, the page's default timeout
      const [a, g] = [await agentNotes.inputValue(), await guestNotes.inputValue()];
      // Typed at the same place at once, the two insertions may interleave character by
      // character: what matters is that both copies are the same and nothing is lost.
      if (a === g && [...a].length === [...'Ordre du jour : budget 2027\n- point RH'].length) return a;
      await agent.waitForTimeout(100);
    }
    throw new Error(`notes differ: ${await agentNotes.inputValue()} / ${await guestNotes.inputValue()}`);
  };
  const text = await same();
  assert.match(text, /Ordre du jour/);
  const [download] = await Promise.all([guest.waitForEvent('download'), guest.getByRole('button', { name: 'Télécharger les notes' }).click()]);
  assert.equal(download.suggestedFilename(), 'notes-point-hebdo.txt');
  await agent.screenshot({ path: join(artifacts, 'visio-chat.png'), fullPage: true });

  await openPanel(agent, 'Participants');
  await agent.getByLabel('Mot de passe', { exact: true }).fill('tournesol');
  await agent.getByRole('button', { name: 'Verrouiller avec ce mot de passe' }).click();
  await agent.getByRole('status').filter({ hasText: 'verrouillée' }).waitFor();

  const late = await socle.page('fr-FR');
  await late.goto(invitation);
  await enter(late, 'Retardataire', 'girasol');
  await late.getByRole('status').filter({ hasText: 'Mot de passe incorrect' }).waitFor();
  await late.screenshot({ path: join(artifacts, 'visio-locked.png'), fullPage: true });
  await enter(late, 'Retardataire', 'tournesol');
  await late.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
});

test('a guest cannot open a room, and the page says why', async () => {
  const p = await socle.page('fr-FR');
  await p.goto(socle.webURL + 'visio/personne-ici');
  await enter(p, 'Quelqu\'un');
  await p.getByRole('status').filter({ hasText: /Connectez-vous|n'a pas commencé/ }).waitFor();
});

// openRoom signs the demo editor in, opens a room as "Agent" and copies its invitation link.
async function openRoom(room) {
  const agent = await socle.page('fr-FR');
  await signIn(agent, 'redacteur@demo.socle.test', '/visio/');
  await agent.goto(socle.webURL + 'visio/' + room);
  await enter(agent, 'Agent');
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
  return { agent, invitation: await invitationLink(agent) };
}

// invitationLink asks the room for an invitation and waits for the link, which comes back
// from the server (a loaded machine took more than the five seconds an earlier bounded loop
// allowed), within the page's default timeout.
async function invitationLink(p) {
  await openPanel(p, 'Participants');
  await p.getByRole('button', { name: "Copier le lien d'invitation" }).click();
  const link = p.getByLabel(/Lien d'invitation/);
  await p.waitForFunction((el) => el.value !== '', await link.elementHandle());
  return link.inputValue();
}

// decoded reads, from the page's connection to the SFU, how many frames of each received
// video stream the browser has decoded (RTCInboundRtpStreamStats.framesDecoded).
async function decoded(p) {
  return p.evaluate(async () => {
    const out = {};
    (await window.socleMedia.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0) out[r.trackIdentifier] = r.framesDecoded;
    });
    return out;
  });
}

test('three participants each receive two remote videos that play, and a screen share is received', async () => {
  const { agent, invitation } = await openRoom('trois-voix');
  const others = [];
  for (const name of ['Invitée A', 'Invité B']) {
    const p = await socle.page('fr-FR');
    await p.goto(invitation);
    await enter(p, name);
    others.push(p);
  }
  const all = [agent, ...others];
  // Each page shows two remote videos whose playback advances (frames are decoded).
  for (const p of all) {
    await p.waitForFunction(() => {
      const vs = [...document.querySelectorAll('#tiles video:not(#self)')];
      return vs.length === 2 && vs.every((v) => v.videoWidth > 0 && v.currentTime > 0.5);
    }, null, { timeout: 30_000 }).catch(async (err) => {
      // What every page shows and negotiated, to tell a page from a participant that sends
      // nothing.
      for (const q of all) {
        console.log(await q.evaluate(() => JSON.stringify({
          videos: [...document.querySelectorAll('#tiles video:not(#self)')]
            .map((v) => ({ via: v.dataset.via, peer: v.dataset.peer, w: v.videoWidth, t: v.currentTime })),
          signaling: window.socleMedia.pc.signalingState,
          sfu: window.socleMedia.pc.getTransceivers().map((t) => `${t.mid} ${t.currentDirection} ${t.receiver.track.kind}`),
          direct: window.socleMedia.direct?.connectionState ?? null,
          trace: window.socleMedia.trace,
        })));
      }
      throw err;
    });
  }
  // Frames keep being decoded, for both remote videos, on every page: each count moves on.
  // (A busy machine may hold a stream back a moment, until the SFU switches it to a layer
  // the publisher still sends: what matters is that it moves, not how soon.)
  for (const p of all) {
    const before = await decoded(p);
    // Waits in the page until every count has moved on (getStats is asynchronous, which
    // waitForFunction's predicates cannot be), for at most 15 s.
    await p.evaluate(async (b) => {
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        const after = {};
        (await window.socleMedia.pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0) after[r.trackIdentifier] = r.framesDecoded;
        });
        if (Object.keys(after).length >= 2 && Object.keys(b).every((id) => after[id] > b[id])) return;
        await new Promise((r) => requestAnimationFrame(r));
      }
    }, before);
    const after = await decoded(p);
    assert.ok(Object.keys(after).length >= 2, `two decoded videos, got ${JSON.stringify(after)}`);
    for (const id of Object.keys(before)) assert.ok(after[id] > before[id], `video ${id}: frames decoded ${before[id]} then ${after[id]}`);
  }
  // Who speaks is highlighted (the fake microphones beep), and the connection's quality shown.
  await agent.waitForFunction(() => document.querySelector('li[data-speaking]') && document.getElementById('quality').textContent,
    null, { timeout: 15_000 });
  // The moderator looks at a participant's connection, as the SFU sees it.
  await openPanel(agent, 'Participants');
  await agent.locator('#people li', { hasText: 'Invitée A' }).getByRole('button', { name: 'Connexion' }).click();
  await agent.waitForFunction(() => document.querySelectorAll('#peer-details tbody tr').length >= 2, null, { timeout: 10_000 });
  await agent.screenshot({ path: join(artifacts, 'visio-three.png'), fullPage: true });
  await others[0].screenshot({ path: join(artifacts, 'visio-three-guest.png'), fullPage: true });

  // The agent shares the screen: the others receive it, shown large.
  await agent.getByRole('button', { name: "Partager l'écran" }).click();
  for (const p of others) {
    await p.waitForFunction(() => {
      const v = document.querySelector('#stage video');
      return v && v.videoWidth > 0 && v.currentTime > 0.3;
    }, null, { timeout: 30_000 });
  }
  await others[1].screenshot({ path: join(artifacts, 'visio-screen-share.png'), fullPage: true });
});

test('a participant without camera or microphone receives the others, asking for them first', async () => {
  const { agent, invitation } = await openRoom('sans-camera');
  const guest = await socle.page('fr-FR');
  await guest.goto(invitation);
  await enter(guest, 'Invité avec caméra');
  const listener = await socle.page('fr-FR');
  await listener.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no camera here', 'NotFoundError'));
  });
  await listener.goto(invitation);
  await enter(listener, 'Invitée sans caméra');
  await listener.waitForFunction(() => {
    const vs = [...document.querySelectorAll('#tiles video:not(#self)')];
    return vs.length === 2 && vs.every((v) => v.videoWidth > 0 && v.currentTime > 0.5);
  }, null, { timeout: 30_000 }).catch(async (err) => {
    console.log(await listener.evaluate(() => JSON.stringify({
      videos: [...document.querySelectorAll('#tiles video:not(#self)')].map((v) => ({ via: v.dataset.via, peer: v.dataset.peer, track: v.dataset.track, w: v.videoWidth, t: v.currentTime })), tx: window.socleMedia.pc.getTransceivers().map((t) => t.receiver.track.id),
      sfu: window.socleMedia.pc.getTransceivers().map((t) => `${t.mid} ${t.currentDirection} ${t.receiver.track.kind}`),
      state: window.socleMedia.pc.connectionState, trace: window.socleMedia.trace })));
    throw err;
  });
  // The page offered first: the SFU did not have to give up waiting for it.
  const trace = await listener.evaluate(() => window.socleMedia.trace.map((e) => e.event ?? e));
  const offered = trace.findIndex((e) => String(e).includes('negotiationneeded'));
  const received = trace.findIndex((e) => String(e).includes('received offer'));
  assert.ok(offered >= 0 && (received < 0 || offered < received), `negotiation: ${JSON.stringify(trace)}`);
  assert.ok(agent); // the room stays open with its moderator until the pages close
});

test('two participants talk peer to peer, and go back through the SFU when a third comes', async () => {
  const { agent, invitation } = await openRoom('en-tete-a-tete');
  const guest = await socle.page('fr-FR');
  await guest.goto(invitation);
  await enter(guest, 'Invitée');
  const direct = () => window.socleMedia?.direct?.connectionState === 'connected' &&
    [...document.querySelectorAll('video[data-via="p2p"]')].some((v) => v.videoWidth > 0 && v.currentTime > 0.5);
  for (const p of [agent, guest]) {
    await p.waitForFunction(direct, null, { timeout: 30_000 }).catch(async (err) => {
      for (const q of [agent, guest]) {
        console.log(await q.evaluate(() => JSON.stringify({ direct: window.socleMedia?.direct?.connectionState ?? null,
          signaling: window.socleMedia?.direct?.signalingState ?? null, trace: window.socleMedia?.trace })));
      }
      throw err;
    });
  }
  // Nothing goes to the SFU meanwhile: the camera's sender there carries no track.
  assert.equal(await agent.evaluate(() => window.socleMedia.videoSender.track), null);

  const third = await socle.page('fr-FR');
  await third.goto(invitation);
  await enter(third, 'Troisième');
  for (const p of [agent, guest, third]) {
    await p.waitForFunction(() => !window.socleMedia?.direct &&
      [...document.querySelectorAll('#tiles video[data-via="sfu"]')].filter((v) => v.videoWidth > 0 && v.currentTime > 0.5).length === 2,
    null, { timeout: 30_000 });
  }
});
