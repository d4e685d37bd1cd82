// WHIP (RFC 9725) with a real client: GStreamer, from Debian, publishes a test pattern into a
// room (tests/browser/whip-gstreamer.py: webrtcbin, libnice, GStreamer's DTLS and SRTP); an
// agent's browser in the room sees the publisher as a participant and its video playing; a
// WHEP watcher in Chromium receives it too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { startSocle, artifacts, signIn, root } from './harness.mjs';

const secret = 'whip-test-secret-0123456789abcdef0123';
const room = 'diffusion';

// GStreamer's WebRTC from Python: `make browser-deps` installs it.
const probe = spawnSync('/usr/bin/python3', ['-c', [
  'import gi', "gi.require_version('Gst', '1.0')", "gi.require_version('GstWebRTC', '1.0')",
  'from gi.repository import Gst', 'Gst.init(None)',
  "missing = [e for e in ('webrtcbin', 'vp8enc', 'opusenc', 'videotestsrc', 'nicesrc') if not Gst.ElementFactory.find(e)]",
  "assert not missing, 'missing GStreamer elements: ' + ', '.join(missing)"].join('\n')], { encoding: 'utf8' });
const skip = probe.status === 0 ? false
  : `GStreamer's WebRTC for Python is not installed (make browser-deps installs it): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`;

// jwt is a Jitsi-format room token (HS256, RFC 7519), as an identity provider would give.
function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

let socle;
before(async () => {
  if (skip) return;
  socle = await startSocle({
    before: async () => ({
      SOCLE_VISIO_JWT_SECRET: secret,
      // libnice leaves loopback out of its candidates when the machine has another interface,
      // and GStreamer 1.22's Python binding cannot reach webrtcbin's ICE agent to add it: the
      // media go through this machine's own address (they never leave the machine).
      SOCLE_VISIO_MEDIA_LOOPBACK: 'false',
    }),
  });
});
after(async () => { await socle?.stop(); });

test('GStreamer publishes over WHIP into a room; the browser sees the publisher and its video plays', { skip }, async () => {
  const agent = await socle.page('fr-FR');
  await signIn(socle, agent, 'redacteur@demo.socle.test', '/visio/');
  await agent.getByLabel('Nom de la salle').fill(room);
  await agent.getByRole('button', { name: 'Rejoindre' }).click();
  await agent.waitForURL(new RegExp(`/visio/${room}$`));
  await agent.getByLabel('Votre nom').fill('Camille (CCED)');
  await agent.getByRole('button', { name: 'Entrer dans la salle' }).click();
  await agent.getByRole('status').filter({ hasText: 'Vous êtes dans la salle' }).waitFor();

  const token = jwt({ aud: 'socle', iss: 'socle', sub: '*', room, exp: Math.floor(Date.now() / 1000) + 3600,
    context: { user: { name: 'Caméra GStreamer' } } });
  const publisher = spawn('/usr/bin/python3', [join(root, 'tests', 'browser', 'whip-gstreamer.py'),
    `${socle.webURL}visio/whip/${room}`, '--token', token, '--cafile', join(socle.dataDir, 'pki', 'ca.crt')],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  publisher.stdout.on('data', (d) => { out += d; });
  publisher.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => publisher.once('exit', r));
  try {
    // The publisher connects (its own report), and is a participant named by its token.
    for (const end = Date.now() + 30_000; !/^connected$/m.test(out);) {
      assert.ok(publisher.exitCode === null, `the GStreamer publisher exited: ${out}`);
      assert.ok(Date.now() < end, `the GStreamer publisher did not connect: ${out}`);
      await new Promise((r) => setTimeout(r, 200)); // polling, with the deadline above
    }
    assert.match(out, /^session https:\/\/localhost:\d+\/visio\/sessions\/[0-9a-f]{32}$/m);
    await agent.getByText('Caméra GStreamer').first().waitFor();

    // Its video plays in the page: a remote video with a picture, whose decoded frames go on.
    await agent.waitForFunction(() => [...document.querySelectorAll('video:not(#self)')]
      .some((v) => v.videoWidth > 0 && v.currentTime > 0.5), null, { timeout: 30_000 });
    const frames = () => agent.evaluate(async () => {
      let n = 0;
      (await window.socleMedia.pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') n = Math.max(n, r.framesDecoded || 0);
      });
      return n;
    });
    const first = await frames();
    // Waits in the page (getStats is asynchronous, which waitForFunction's predicates cannot
    // be) until the count has moved on, for at most 15 s.
    await agent.evaluate(async (b) => {
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        let n = 0;
        (await window.socleMedia.pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') n = Math.max(n, r.framesDecoded || 0);
        });
        if (n > b + 15) return;
        await new Promise((r) => requestAnimationFrame(r));
      }
    }, first);
    const then = await frames();
    console.log(`frames of the GStreamer publisher decoded in the browser: ${first}, then ${then}`);
    assert.ok(first > 0 && then > first, `frames decoded ${first} then ${then}`);
    await agent.screenshot({ path: join(artifacts, 'visio-whip.png') });

    // A WHEP watcher in another page, with Chromium's own WebRTC and the room token as its
    // Bearer: it receives the publisher's video (draft-ietf-wish-whep, one POST).
    const watcher = await socle.page('fr-FR');
    await watcher.goto(socle.webURL + 'visio/'); // any page of socle: the fetch is same-origin
    const watched = await watcher.evaluate(async ({ room, token }) => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(`/visio/whep/${room}`, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` }, body: pc.localDescription.sdp,
      });
      const body = await res.text();
      if (res.status !== 201) return { status: res.status, body };
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      window.whep = pc;
      let frames = 0;
      for (const end = Date.now() + 20_000; Date.now() < end && frames <= 15;) { // polling, with a deadline
        (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames = Math.max(frames, r.framesDecoded || 0); });
        await new Promise((r) => setTimeout(r, 100));
      }
      return { status: res.status, frames, location: res.headers.get('Location') };
    }, { room, token });
    console.log(`WHEP watcher in Chromium: ${JSON.stringify(watched)}`);
    assert.equal(watched.status, 201, JSON.stringify(watched));
    assert.ok(watched.frames > 15, `the WHEP watcher decoded ${watched.frames} frames`);

    // The publisher stops: its DELETE ends the session, and it leaves the room.
    publisher.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 15_000))]);
    assert.ok(gone, `the GStreamer publisher did not stop on SIGTERM: ${out}`);
    await agent.locator('#notice').filter({ hasText: 'Caméra GStreamer est parti' }).waitFor();
  } finally {
    publisher.kill('SIGKILL');
  }
});
