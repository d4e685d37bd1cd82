// socle for the holder tests: `socle serve --demo` as tests/socle.mjs starts it, without a
// browser; `socle wallet offer`, which prints a pre-authorised offer for a demo citizen; and a
// fetch that trusts socle's development CA only.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { root, binary, serveDemo } from '../socle.mjs';

export { root };

// httpsFetch returns a fetch (enough of WHATWG fetch for the @openid4vc clients and the tests)
// over node:https that trusts only ca. It never follows redirects: a 3xx is returned as it is,
// with its Location, as fetch's redirect: 'manual' would in a browser-less world.
export function httpsFetch(ca) {
  return async function fetch(input, init = {}) {
    const req = input instanceof Request ? input : null;
    const url = new URL(req ? req.url : String(input));
    const method = (init.method || req?.method || 'GET').toUpperCase();
    const headers = new Headers(init.headers || req?.headers || {});
    let body = init.body ?? (req ? Buffer.from(await req.arrayBuffer()) : undefined);
    if (body instanceof URLSearchParams) {
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
      body = body.toString();
    }
    if (body !== undefined && body !== null && !Buffer.isBuffer(body) && typeof body !== 'string') {
      body = Buffer.from(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
    }
    return new Promise((resolve, reject) => {
      const r = https.request(url, { method, headers: Object.fromEntries(headers), ca, signal: init.signal },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              for (const one of [].concat(v)) h.append(k, one);
            }
            const status = res.statusCode;
            const nullBody = [101, 204, 205, 304].includes(status);
            const response = new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h });
            Object.defineProperty(response, 'url', { value: url.href });
            resolve(response);
          });
        });
      r.on('error', reject);
      if (body !== undefined && body !== null) r.write(body);
      r.end();
    });
  };
}

// startServer runs socle with the demo data (before, as serveDemo's, adds to its environment). It returns the public URL (https://127.0.0.1:PORT,
// the credential issuer's identifier), the data directory, the CA's PEM, the demo accounts,
// offer() and stop().
export async function startServer({ before } = {}) {
  const { bound, dataDir, env, stop } = await serveDemo({ prefix: 'socle-wallet-', before });
  const web = Number(bound.web.match(/:(\d+)$/)[1]);
  const accounts = readFileSync(join(dataDir, 'demo-accounts.txt'), 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split(' '));
  return {
    bound,
    publicURL: `https://127.0.0.1:${web}`,
    dataDir,
    ca: readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8'),
    // password returns a demo account's password, from <data-dir>/demo-accounts.txt.
    password(email) {
      const a = accounts.find((l) => l[0] === email);
      if (!a) throw new Error(`no demo account ${email}`);
      return a[1];
    },
    // offer runs `socle wallet offer` and returns { uri, txCode }; format, if given, is the
    // credential's (--format).
    offer(nrn, document, format) {
      return new Promise((resolve, reject) => {
        execFile(binary, ['wallet', 'offer', '--citizen', nrn, '--document', document, '--data-dir', dataDir,
          ...(format ? ['--format', format] : [])],
          { env, timeout: 60_000 }, (err, stdout, stderr) => {
            if (err) return reject(new Error(`socle wallet offer: ${err.message}\n${stderr}`));
            const [uri, txCode] = stdout.trim().split('\n').map((l) => l.trim());
            resolve({ uri, txCode });
          });
      });
    },
    stop,
  };
}
