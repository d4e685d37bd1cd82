// socle for the Node tests (the browser's and the wallet holder's): `socle serve --demo` from
// the built binary, with its own data directory and ports, the system picking them.
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';

export const root = new URL('..', import.meta.url).pathname;
export const binary = join(root, 'bin', 'socle');

// ready waits for socle to say where it listens (<data-dir>/listeners.json: it binds port 0,
// the system picks) and for /readyz to answer 200, trusting socle's development CA; it
// returns the listeners' addresses. It fails if socle exits first.
async function ready(socle, dataDir, deadline) {
  const caPath = join(dataDir, 'pki', 'ca.crt');
  const boundPath = join(dataDir, 'listeners.json');
  while (Date.now() < deadline) {
    if (socle.exitCode !== null) throw new Error(`socle exited (${socle.exitCode}) before it was ready`);
    if (existsSync(boundPath) && existsSync(caPath)) {
      const bound = JSON.parse(readFileSync(boundPath, 'utf8'));
      const [host, port] = [bound.ops.replace(/:\d+$/, ''), Number(bound.ops.match(/:(\d+)$/)[1])];
      const ok = await new Promise((resolve) => {
        https.get({ host, port, path: '/readyz', ca: readFileSync(caPath), servername: 'localhost' },
          (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
      });
      if (ok) return bound;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('socle did not become ready');
}

// serveDemo starts socle with the demo data. before, if given, is awaited with the data
// directory before socle starts, and returns more environment for it. It returns the bound
// addresses, the data directory, the environment (for other socle commands on the same data)
// and stop(), which ends socle and removes the directory.
export async function serveDemo({ prefix = 'socle-test-', before } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dataDir, 0o711); // the private cluster's system user must reach its directory
  const more = before ? await before(dataDir) : {};
  const env = {
    ...process.env,
    SOCLE_DATA_DIR: dataDir,
    SOCLE_WEB_ADDR: '127.0.0.1:0',
    SOCLE_INTERCONNECT_ADDR: '127.0.0.1:0',
    SOCLE_OPS_ADDR: '127.0.0.1:0',
    SOCLE_DEMO_PSAP_ADDR: '127.0.0.1:0',
    SOCLE_DEMO_REGISTRY_ADDR: '127.0.0.1:0', // the gateway's simulated authentic sources
    SOCLE_LOG_LEVEL: process.env.SOCLE_TEST_LOG_LEVEL || 'warn',
    SOCLE_VISIO_MEDIA_LOOPBACK: 'true', // WebRTC between the browser and the SFU over 127.0.0.1
    ...more,
  };
  delete env.SOCLE_DATABASE_URL; // the private cluster of the data directory
  const socle = spawn(binary, ['serve', '--demo'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (socle.exitCode === null) {
      const exited = new Promise((r) => socle.once('exit', r));
      socle.kill('SIGTERM'); // socle stops its private PostgreSQL on the way out
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const bound = await ready(socle, dataDir, Date.now() + 120_000);
    return { bound, dataDir, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
