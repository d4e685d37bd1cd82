// The meeting survives the network (issue 17): a participant whose network is cut comes back
// by itself, the same participant, with video; one whose server stays out of reach is
// offered to rejoin, its camera and microphone stopped.
//
// How the network is cut. Chromium's network emulation (CDP Network.emulateNetworkConditions
// offline) stops HTTP and WebSockets but not WebRTC's UDP, so it would leave the media
// running and prove nothing about them. Instead the cut participant runs in a browser of its
// own whose every byte goes through a proxy the test controls: Chromium's --proxy-server,
// with loopback proxied too (Playwright removes Chromium's implicit loopback bypass), and
// WebRTC's IP handling policy disable_non_proxied_udp (the policy enterprises set: no UDP
// that does not go through the proxy), which makes its media go through socle's built-in TURN
// relay over TCP, through the same proxy. Pausing the proxy (no byte forwarded either way, new
// connections held) is a cut of the WebSocket and of the media alike, without any hook in
// socle: the server, the SFU and the relay are the production ones. The cut lasts until the
// page shows that it reconnects and its media connection has noticed (ICE no longer
// connected): at least the time both take to notice, about 4 to 5 s, whatever the machine's
// load. A second kind of cut resets every connection and refuses new ones until the page has
// tried four times (7.5 s of backoff): the WebSocket must be resumed on a new connection, and
// the media, whose relay allocation went with its TCP connection, need an ICE restart; it is
// done with two participants (peer to peer) and with three (through the SFU). Last, the proxy
// refusing everything for good is, for the page, the server gone: it must give up after 30 s,
// offer to rejoin and stop the camera and microphone.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startSocle, artifacts, signIn } from './harness.mjs';

let socle;
let proxy;
let cutBrowser;
before(async () => {
  // The built-in TURN relay, UDP and TCP, on loopback.
  socle = await startSocle({ before: async () => ({ SOCLE_VISIO_TURN_ADDR: '127.0.0.1:0' }) });
});
afterEach(async () => {
  await socle?.closePages();
  await cutBrowser?.close();
  cutBrowser = null;
  proxy?.close();
  proxy = null;
});
after(async () => { await socle?.stop(); });

// cuttableProxy is an HTTP CONNECT proxy that forwards, holds everything (pause), or refuses
// everything (down).
async function cuttableProxy() {
  let state = 'open';
  const sockets = new Set();
  const held = []; // connections that came during a cut
  const server = http.createServer((req, res) => res.writeHead(405).end());
  const track = (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => s.destroy()); };
  const refused = new Map(); // host:port → connections refused while down
  const waiting = []; // [hostPort, n, resolve] of refusals()
  const tunnel = (req, client, head) => {
    if (state === 'down') {
      const n = (refused.get(req.url) || 0) + 1;
      refused.set(req.url, n);
      for (const w of waiting.slice()) {
        if (w[0] === req.url && n >= w[1]) { waiting.splice(waiting.indexOf(w), 1); w[2](); }
      }
      return client.destroy();
    }
    if (state === 'paused') return held.push([req, client, head]);
    const [, host, port] = req.url.match(/^\[?([^\]]*)\]?:(\d+)$/) || [];
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      for (const [a, b] of [[client, upstream], [upstream, client]]) {
        a.on('data', (d) => { if (!b.write(d)) a.pause(); });
        b.on('drain', () => { if (state === 'open') a.resume(); });
        a.on('end', () => b.end());
      }
      if (state !== 'open') { client.pause(); upstream.pause(); }
    });
    track(client);
    track(upstream);
  };
  server.on('connect', tunnel);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pause() { state = 'paused'; for (const s of sockets) s.pause(); },
    resume() {
      state = 'open';
      for (const s of sockets) s.resume();
      for (const h of held.splice(0)) tunnel(...h);
    },
    up() { state = 'open'; },
    // refusals resolves once n connections to hostPort have been refused.
    refusals: (hostPort, n) => new Promise((resolve) => {
      if ((refused.get(hostPort) || 0) >= n) resolve();
      else waiting.push([hostPort, n, resolve]);
    }),
    down() { state = 'down'; for (const s of sockets) s.destroy(); for (const [, c] of held.splice(0)) c.destroy(); },
    close() { this.down(); server.close(); },
  };
}

// cutPage opens a page in a browser of its own, all of whose traffic (pages, WebSocket,
// media through the TURN relay over TCP) goes through a cuttable proxy.
async function cutPage() {
  proxy = await cuttableProxy();
  cutBrowser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    proxy: { server: proxy.url },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
      '--webrtc-ip-handling-policy=disable_non_proxied_udp'],
  });
  const context = await cutBrowser.newContext({ locale: 'fr-FR', viewport: { width: 1366, height: 768 }, ignoreHTTPSErrors: true });
  return context.newPage();
}

async function enter(p, name) {
  await p.getByLabel('Votre nom').fill(name);
  await p.getByRole('button', { name: 'Entrer dans la salle' }).click();
}

// meeting opens a room as a signed-in agent (in the ordinary browser) and lets a guest in
// from the cuttable browser; both see the other's video playing.
async function meeting(room) {
  const agent = await socle.page('fr-FR');
  await signIn(socle, agent, 'redacteur@demo.socle.test', '/visio/');
  await agent.goto(socle.webURL + 'visio/' + room);
  await enter(agent, 'Agent');
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();
  await agent.getByRole('button', { name: "Copier le lien d'invitation" }).click();
  const link = agent.getByLabel(/Lien d'invitation/);
  await agent.waitForFunction((el) => el.value !== '', await link.elementHandle());
  const guest = await cutPage();
  await guest.goto(await link.inputValue());
  await enter(guest, 'Invité');
  for (const p of [agent, guest]) {
    await p.waitForFunction(() => [...document.querySelectorAll('#tiles video:not(#self)')]
      .some((v) => v.videoWidth > 0 && v.currentTime > 0.3), null, { timeout: 60_000 });
  }
  return { agent, guest };
}

// framesMove waits, in the page, until the frames decoded of a received video (on the SFU
// connection or the direct one) have gone up by more than 10 from now; it returns the
// counts, before and after.
async function framesMove(p, timeout = 45_000) {
  return p.evaluate(async (timeout) => {
    const count = async () => {
      let n = 0;
      for (const pc of [window.socleMedia.pc, window.socleMedia.direct].filter(Boolean)) {
        (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0; });
      }
      return n;
    };
    const start = await count();
    for (const end = Date.now() + timeout; Date.now() < end;) {
      const now = await count();
      if (now > start + 10) return [start, now];
      await new Promise((r) => requestAnimationFrame(r));
    }
    return [start, await count()];
  }, timeout);
}

// mediaNoticed tells whether the page's media connection (the direct one while two talk, the
// SFU's otherwise) is no longer connected.
const mediaNoticed = () => {
  const pc = window.socleMedia.direct || window.socleMedia.pc;
  return pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed';
};

// describeMedia says, in the page, which connection carries the media and through which
// candidates, for a failure's diagnosis.
async function describeMedia() {
  const out = [];
  for (const [name, pc] of [['sfu', window.socleMedia.pc], ['direct', window.socleMedia.direct]]) {
    if (!pc) continue;
    const stats = await pc.getStats();
    const pairs = [];
    stats.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated) {
        const l = stats.get(r.localCandidateId);
        const rm = stats.get(r.remoteCandidateId);
        pairs.push(`${r.state} ${l?.candidateType}/${l?.protocol}/${l?.relayProtocol || ''} ${l?.address}:${l?.port} → ${rm?.candidateType} ${rm?.address}:${rm?.port}`);
      }
    });
    out.push(`${name}: ${pc.iceConnectionState} ${pc.connectionState} [${pairs.join('; ')}]`);
  }
  return out.join(' | ');
}

test('a participant whose network is cut comes back by itself, with video', { timeout: 240_000 }, async () => {
  const { agent, guest } = await meeting('reseau-coupe');
  // The cut must cut the media too: the guest's go through the relay, reached over TCP
  // (relayProtocol tcp), through the proxy.
  const route = await guest.evaluate(describeMedia);
  console.log('guest media before the cut:', route);
  const active = route.split(' | ').at(-1); // the direct connection while two talk
  assert.match(active, /succeeded relay\/\w+\/tcp /, `the guest's media do not go through the proxy: ${route}`);
  assert.doesNotMatch(active, /succeeded (host|srflx|prflx)\//, `the guest's media do not go through the proxy: ${route}`);
  const started = Date.now();
  proxy.pause();
  await guest.getByRole('status').filter({ hasText: 'reconnexion en cours' }).waitFor({ timeout: 30_000 });
  await guest.waitForFunction(mediaNoticed, null, { timeout: 30_000 }).catch(async (err) => {
    console.log('guest media:', await guest.evaluate(describeMedia));
    throw err;
  });
  await guest.screenshot({ path: join(artifacts, 'visio-reconnecting.png'), fullPage: true });
  proxy.resume();
  console.log(`network cut for ${Date.now() - started} ms`);

  await guest.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor({ timeout: 30_000 });
  console.log(`signalling back ${Date.now() - started} ms after the cut began`);
  // The same participant: the agent never saw the guest leave, and sees one guest.
  await agent.locator('#people li', { hasText: 'Invité' }).waitFor();
  assert.equal(await agent.locator('#people li', { hasText: 'Invité' }).count(), 1);
  assert.equal(await agent.locator('#people li', { hasText: 'reconnexion' }).count(), 0);
  // Video flows again both ways.
  for (const [who, p] of [['agent', agent], ['guest', guest]]) {
    const [b, a] = await framesMove(p);
    console.log(`${who}: frames decoded ${b} → ${a}, ${Date.now() - started} ms after the cut began`);
    assert.ok(a > b + 10, `${who}: received video frames decoded ${b} then ${a}`);
  }
  const trace = await guest.evaluate(() => window.socleMedia.trace.filter((t) => /restart|p2p (dis|fail|conn)/.test(t)));
  console.log('guest media trace:', trace.join(' | '));
});

test('a participant whose connections are reset comes back by itself: a new socket resumes, ICE restarts', { timeout: 240_000 }, async () => {
  const { agent, guest } = await meeting('reseau-reinitialise');
  const started = Date.now();
  // Every connection reset and new ones refused: the WebSocket closes, and the TURN relay's
  // TCP connection with it, so that the media need an ICE restart (new relay candidates).
  proxy.down();
  await guest.getByRole('status').filter({ hasText: 'reconnexion en cours' }).waitFor({ timeout: 30_000 });
  await guest.waitForFunction(mediaNoticed, null, { timeout: 30_000 });
  // The server saw the socket go: the others see the guest reconnecting, still there.
  await agent.locator('#people li', { hasText: 'reconnexion' }).waitFor({ timeout: 30_000 });
  // Down until the page has tried four times (a fetch and a WebSocket each): with its
  // backoff, 0.5 + 1 + 2 + 4 s, more than the 5 s asked for.
  const web = new URL(socle.webURL).host;
  await proxy.refusals(web, 8);
  proxy.up();
  console.log(`network down for ${Date.now() - started} ms`);
  await guest.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor({ timeout: 30_000 });
  assert.equal(await agent.locator('#people li', { hasText: 'Invité' }).count(), 1);
  await agent.locator('#people li', { hasText: 'reconnexion' }).waitFor({ state: 'detached' });
  for (const [who, p] of [['agent', agent], ['guest', guest]]) {
    const [b, a] = await framesMove(p, 60_000);
    console.log(`${who}: frames decoded ${b} → ${a}, ${Date.now() - started} ms after the cut began`);
    assert.ok(a > b + 10, `${who}: received video frames decoded ${b} then ${a}`);
  }
  // The relay's allocation went with its TCP connection: the direct connection came back by
  // an ICE restart (made by the impolite side of the two).
  const traces = [];
  for (const [who, p] of [['agent', agent], ['guest', guest]]) {
    const trace = await p.evaluate(() => window.socleMedia.trace.filter((t) => /restart|p2p (dis|fail|conn)/.test(t)));
    console.log(`${who} media trace:`, trace.join(' | '));
    traces.push(...trace);
  }
  assert.ok(traces.some((t) => /p2p: ICE restart/.test(t)), 'no ICE restart of the direct connection');
});

// framesFrom waits, in the page, until the frames decoded of the video shown as name's have
// gone up by more than 10 from now; it returns the counts, before and after.
async function framesFrom(p, name, timeout = 60_000) {
  return p.evaluate(async ([name, timeout]) => {
    const count = async () => {
      const fig = [...document.querySelectorAll('#tiles figure')].find((f) => f.querySelector('figcaption')?.textContent === name);
      const id = fig?.querySelector('video')?.srcObject?.getVideoTracks()[0]?.id;
      let n = 0;
      for (const pc of [window.socleMedia.pc, window.socleMedia.direct].filter(Boolean)) {
        (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video' && r.trackIdentifier === id) n += r.framesDecoded || 0; });
      }
      return n;
    };
    const start = await count();
    for (const end = Date.now() + timeout; Date.now() < end;) {
      const now = await count();
      if (now > start + 10) return [start, now];
      await new Promise((r) => requestAnimationFrame(r));
    }
    return [start, await count()];
  }, [name, timeout]);
}

test('through the SFU (three participants), a reset participant comes back with video by an ICE restart', { timeout: 300_000 }, async () => {
  const { agent, guest } = await meeting('reseau-sfu');
  const third = await socle.page('fr-FR');
  await third.goto(guest.url());
  await enter(third, 'Troisième');
  // Everyone sees the two others' videos playing, through the SFU.
  for (const p of [agent, guest, third]) {
    await p.waitForFunction(() => !window.socleMedia.direct && [...document.querySelectorAll('#tiles video:not(#self)')]
      .filter((v) => v.videoWidth > 0 && v.currentTime > 0.3).length === 2, null, { timeout: 90_000 });
  }
  const started = Date.now();
  proxy.down();
  await guest.getByRole('status').filter({ hasText: 'reconnexion en cours' }).waitFor({ timeout: 30_000 });
  await guest.waitForFunction(mediaNoticed, null, { timeout: 30_000 });
  await proxy.refusals(new URL(socle.webURL).host, 8);
  proxy.up();
  console.log(`network down for ${Date.now() - started} ms`);
  await guest.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor({ timeout: 30_000 });
  for (const [who, p, from] of [['agent', agent, 'Invité'], ['third', third, 'Invité'], ['guest', guest, 'Agent']]) {
    const [b, a] = await framesFrom(p, from);
    console.log(`${who}: frames of ${from} decoded ${b} → ${a}, ${Date.now() - started} ms after the cut began`);
    assert.ok(a > b + 10, `${who}: video of ${from}: frames decoded ${b} then ${a}`);
  }
  const trace = await guest.evaluate(() => window.socleMedia.trace.filter((t) => /restart/.test(t)));
  console.log('guest media trace:', trace.join(' | '));
  assert.ok(trace.some((t) => /sfu: ICE restart/.test(t)), 'no ICE restart of the SFU connection');
});

test('when the server stays out of reach, the page offers to rejoin and stops the camera and microphone', { timeout: 240_000 }, async () => {
  const { guest } = await meeting('serveur-parti');
  assert.ok(await guest.evaluate(() => document.getElementById('self').srcObject.getTracks().every((t) => t.readyState === 'live')));
  const started = Date.now();
  proxy.down(); // every connection cut, every new one refused: the server is gone for the page
  await guest.getByRole('status').filter({ hasText: 'reconnexion en cours' }).waitFor({ timeout: 30_000 });
  await guest.getByRole('button', { name: 'Rejoindre' }).waitFor({ timeout: 90_000 });
  console.log(`rejoin offered ${Date.now() - started} ms after the server went away`);
  await guest.getByRole('status').filter({ hasText: "n'a pas pu être rétablie" }).waitFor();
  const states = await guest.evaluate(() => document.getElementById('self').srcObject.getTracks().map((t) => `${t.kind} ${t.readyState}`));
  assert.ok(states.length === 2 && states.every((s) => s.endsWith(' ended')), `camera and microphone: ${states}`);
  await guest.screenshot({ path: join(artifacts, 'visio-rejoin.png'), fullPage: true });
});
