// An independent OpenID4VCI holder: socle's wallet service issues SD-JWT VC credentials
// (OpenID4VCI 1.0, HAIP 1.0) — the PID, certificates, a driving licence, which is an mdoc
// too — and this holder, built only from npm packages (@openid4vc/*, @sd-jwt/*, jose,
// @animo-id/mdoc) and node's own crypto, obtains them over loopback — pre-authorised with a
// transaction code, and with the authorisation code (PAR, PKCE S256, DPoP, a wallet attestation) — then verifies
// them: the issuer's signature with the x5c leaf, that leaf chained to socle's CA, the type,
// the disclosed claims, the holder binding and the status in the Token Status List. No Go
// code of socle's runs on this side; socle is the built binary, `socle serve --demo`.
//
// Every step names itself in its failure: "step <name>: ...".
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash, randomBytes, verify as verifySignature, createPublicKey } from 'node:crypto';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { Oauth2Client, clientAuthenticationNone, clientAuthenticationClientAttestationJwt, createClientAttestationJwt } from '@openid4vc/oauth2';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { DcqlQuery } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { CompactSign, CompactEncrypt, importJWK, exportJWK, generateKeyPair, decodeProtectedHeader, decodeJwt, calculateJwkThumbprint } from 'jose';
import { parseIssuerSigned, Verifier as MdocVerifier, COSEKey, DateOnly } from '@animo-id/mdoc';
import { spawn } from 'node:child_process';
import { binary } from '../socle.mjs';
import { startServer, httpsFetch } from './server.mjs';

const SOPHIE = { email: 'sophie.lambert@demo.socle.test', nrn: '85031412401' };
const PID = 'pid_dc_sd_jwt';
const BIRTH = 'birth_certificate_dc_sd_jwt';
const LICENCE = 'driving_licence_dc_sd_jwt';
const LICENCE_MDOC = 'driving_licence_mso_mdoc';
const CLIENT_ID = 'socle-node-holder';
const REDIRECT_URI = 'http://127.0.0.1/cb'; // never followed: the holder reads the 303's Location

let socle; // the server, from startServer
let fetch; // a fetch trusting socle's CA only
let ca; // socle's CA, the trust anchor of the credentials' x5c

// The wallet provider: it attests the holder's wallet instance (HAIP 1.0 §4.3), and socle
// trusts it by its key (SOCLE_WALLET_PROVIDER_TRUST, a JWKS).
let provider;

before(async () => {
  provider = await newKey();
  socle = await startServer({
    before: (dataDir) => {
      const trust = join(dataDir, 'wallet-providers.jwks');
      writeFileSync(trust, JSON.stringify({ keys: [{ ...provider.publicJwk, kid: 'holder-test-provider' }] }));
      return { SOCLE_WALLET_PROVIDER_TRUST: trust };
    },
  });
  fetch = httpsFetch(socle.ca);
  ca = new X509Certificate(socle.ca);
});

after(async () => {
  await socle?.stop();
});

// step runs fn and prefixes its failure with the step's name.
async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message = `step ${name}: ${err.message}`;
    throw err;
  }
}

// rejectsWith runs fn, which must fail with one of the OAuth / OpenID4VCI error codes.
async function rejectsWith(fn, codes) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected one of ${codes.join(', ')}, but the request succeeded`);
  const found = errorCode(err);
  assert.ok(codes.includes(found), `expected one of ${codes.join(', ')}, got ${found ?? 'no error code'}: ${err.message}`);
  return found;
}

// errorCode finds the "error" of an OAuth 2.0 / OpenID4VCI error response in a client error.
function errorCode(err) {
  const fromData = err.errorResponse?.error ?? err.response?.credentialErrorResponseResult?.data?.error;
  if (fromData) return fromData;
  const m = /"error"\s*:\s*"([a-z_]+)"/.exec(err.message);
  return m?.[1];
}

// The holder's keys: one for DPoP per session, one per credential for its binding (cnf.jwk).
const privateKeys = new Map(); // thumbprint of the public JWK -> private CryptoKey

async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  privateKeys.set(await calculateJwkThumbprint(publicJwk), privateKey);
  return { method: 'jwk', alg: 'ES256', publicJwk };
}

const callbacks = {
  fetch: (...args) => fetch(...args),
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
  hash: (data, alg) => {
    const name = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' }[alg];
    if (!name) throw new Error(`hash ${alg} not supported`);
    return new Uint8Array(createHash(name).update(data).digest());
  },
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'jwk') throw new Error(`the holder signs with a jwk, not ${signer.method}`);
    const key = privateKeys.get(await calculateJwkThumbprint(signer.publicJwk));
    if (!key) throw new Error('no private key for this jwk');
    const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader(header).sign(key);
    return { jwt, signerJwk: signer.publicJwk };
  },
  clientAuthentication: clientAuthenticationNone({ clientId: CLIENT_ID }),
};

const client = new Openid4vciClient({ callbacks });
const oauth2Client = new Oauth2Client({ callbacks });

// certificateChainsToCA checks that x5c (base64 DER, leaf first) chains to socle's CA and is
// valid now; it returns the leaf.
function certificateChainsToCA(x5c) {
  assert.ok(Array.isArray(x5c) && x5c.length > 0, 'the JWT has no x5c header');
  const chain = x5c.map((der) => new X509Certificate(Buffer.from(der, 'base64')));
  const now = Date.now();
  for (const cert of chain) {
    assert.ok(new Date(cert.validFrom).getTime() <= now && now <= new Date(cert.validTo).getTime(),
      `certificate ${cert.subject} is not valid now (${cert.validFrom} – ${cert.validTo})`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    assert.ok(chain[i].checkIssued(chain[i + 1]) && chain[i].verify(chain[i + 1].publicKey),
      `x5c[${i}] is not signed by x5c[${i + 1}]`);
  }
  const last = chain[chain.length - 1];
  assert.ok(last.fingerprint256 === ca.fingerprint256 || (last.checkIssued(ca) && last.verify(ca.publicKey)),
    `the x5c chain (${chain.map((c) => c.subject.replace(/\n/g, ', ')).join(' <- ')}) does not end at socle's CA`);
  return chain[0];
}

// issuerJWKS is socle's /.well-known/jwt-vc-issuer keys, for a JWT with a kid and no x5c.
async function issuerKey(kid) {
  const res = await fetch(socle.publicURL + '/.well-known/jwt-vc-issuer');
  assert.equal(res.status, 200, 'GET /.well-known/jwt-vc-issuer');
  const { jwks } = await res.json();
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `no key ${kid} in /.well-known/jwt-vc-issuer`);
  return createPublicKey({ key: jwk, format: 'jwk' });
}

// verifyJws is the @sd-jwt verifier: the signature of a JWS (ES256) by its x5c leaf, chained
// to socle's CA, or else by the issuer's key named by kid.
async function verifyJws(data, signature) {
  const header = JSON.parse(Buffer.from(data.split('.')[0], 'base64url').toString());
  assert.equal(header.alg, 'ES256', 'the issuer signs with ES256');
  const key = header.x5c ? certificateChainsToCA(header.x5c).publicKey : await issuerKey(header.kid);
  return verifySignature('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}

// fetchStatusList fetches the Status List Token at uri.
async function fetchStatusList(uri) {
  const res = await fetch(uri, { headers: { Accept: 'application/statuslist+jwt' } });
  assert.equal(res.status, 200, `GET ${uri}`);
  const token = (await res.text()).trim();
  assert.equal(decodeProtectedHeader(token).typ, 'statuslist+jwt', 'the Status List Token\'s typ');
  return token;
}

// statusOf reads the status of a credential (its status.status_list) in a verified Status List
// Token: 0 VALID, 1 INVALID, 2 SUSPENDED.
async function statusOf(statusList) {
  const token = await fetchStatusList(statusList.uri);
  const [h, p, s] = token.split('.');
  assert.ok(await verifyJws(`${h}.${p}`, s), 'the Status List Token\'s signature');
  const payload = decodeJwt(token);
  assert.equal(payload.sub, statusList.uri, 'the Status List Token\'s sub is its uri');
  if (payload.exp) assert.ok(payload.exp * 1000 > Date.now(), 'the Status List Token has expired');
  return getListFromStatusListJWT(token).getStatus(statusList.idx);
}

const sdJwtVc = new SDJwtVcInstance({
  hasher: digest,
  verifier: verifyJws,
  statusListFetcher: fetchStatusList,
});

// verifyCredential verifies an issued SD-JWT VC and returns its claims (disclosures applied)
// and the issuer JWT's header.
async function verifyCredential(compact, { issuerMetadata, configurationId, holderJwk }) {
  const issuer = issuerMetadata.credentialIssuer;
  const header = decodeProtectedHeader(compact.split('~')[0]);
  assert.equal(header.typ, 'dc+sd-jwt', 'the credential\'s typ');
  certificateChainsToCA(header.x5c);
  assert.ok(compact.endsWith('~'), 'an issued SD-JWT ends with ~ (no key-binding JWT)');
  const { payload } = await sdJwtVc.verify(compact); // signature, iat/nbf/exp, status VALID
  assert.equal(payload.iss, issuer.credential_issuer, 'iss is the credential issuer');
  assert.equal(payload.vct, issuer.credential_configurations_supported[configurationId].vct, 'vct as in the metadata');
  assert.ok(payload.cnf?.jwk, 'the credential is bound to a key (cnf.jwk)');
  assert.equal(await calculateJwkThumbprint(payload.cnf.jwk), await calculateJwkThumbprint(holderJwk),
    'cnf.jwk is the holder\'s key of the proof');
  return { claims: payload, header };
}

// signIn signs Sophie in with the login form and returns her session's cookie header.
async function signIn() {
  const page = await fetch(socle.publicURL + '/login');
  assert.equal(page.status, 200, 'GET /login');
  const html = await page.text();
  assert.match(html, /name="email"/, 'the login form has an email field');
  assert.match(html, /name="password"/, 'the login form has a password field');
  const res = await fetch(socle.publicURL + '/login', {
    method: 'POST',
    headers: { Origin: socle.publicURL, 'Sec-Fetch-Site': 'same-origin', Cookie: cookies(page) },
    body: new URLSearchParams({ email: SOPHIE.email, password: socle.password(SOPHIE.email), next: '/wallet/' }),
  });
  assert.equal(res.status, 303, `POST /login: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const jar = cookies(res);
  assert.ok(jar, 'POST /login sets a session cookie');
  return jar;
}

// cookies returns a Cookie header with the cookies a response sets.
function cookies(res) {
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

// forms returns a page's POST forms: action, hidden fields and buttons (name, value, text).
function forms(html) {
  const decode = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, '\'').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const attrs = (tag) => Object.fromEntries([...tag.matchAll(/([a-zA-Z_:-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)]
    .slice(1).map((m) => [m[1].toLowerCase(), decode(m[2] ?? m[3] ?? m[4] ?? '')]));
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, open, inner]) => {
    const a = attrs('<form ' + open);
    const fields = [...inner.matchAll(/<input\b[^>]*>/gi)].map((m) => attrs(m[0]))
      .filter((i) => i.type === 'hidden' && i.name).map((i) => [i.name, i.value ?? '']);
    const buttons = [...inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map(([, b, text]) => ({
      ...attrs('<button ' + b), text: decode(text.replace(/<[^>]*>/g, '').trim()),
    }));
    return { method: (a.method || 'get').toLowerCase(), action: a.action || '', fields, buttons };
  }).filter((f) => f.method === 'post');
}

// postForm submits a form as the citizen's browser would, same-origin, and returns the response.
async function postForm(form, base, cookie, button) {
  const body = new URLSearchParams(form.fields);
  if (button?.name) body.append(button.name, button.value ?? '');
  return fetch(new URL(form.action || base, base), {
    method: 'POST',
    headers: { Origin: socle.publicURL, 'Sec-Fetch-Site': 'same-origin', Cookie: cookie },
    body,
  });
}

// obtainCredential asks for a credential with a fresh holder key bound to it: nonce, proof,
// credential request with the DPoP-bound token; it verifies the credential and acknowledges
// it (notification credential_accepted).
async function obtainCredential({ issuerMetadata, configurationId, accessToken, dpop, clientId, verify = verifyCredential }) {
  const { c_nonce: nonce } = await step('nonce', () => client.requestNonce({ issuerMetadata }));
  assert.ok(nonce, 'the nonce endpoint gives a c_nonce');
  const holder = await newKey();
  const proof = await step('proof', () => client.createCredentialRequestJwtProof({
    issuerMetadata, credentialConfigurationId: configurationId, signer: holder, nonce, issuedAt: new Date(), clientId,
  }));
  const response = await step('credential request', () => client.retrieveCredentials({
    issuerMetadata, credentialConfigurationId: configurationId, proofs: { jwt: [proof.jwt] }, accessToken, dpop,
  }));
  const body = response.credentialResponse;
  assert.equal(body.credentials?.length, 1, 'one credential for one proof');
  const compact = body.credentials[0].credential;
  assert.equal(typeof compact, 'string', 'the credential is a string (a compact SD-JWT, or a base64url mdoc)');
  const verified = await step(`verify the ${verify.name === 'verifyMdoc' ? 'mdoc' : 'SD-JWT VC'}`, () =>
    verify(compact, { issuerMetadata, configurationId, holderJwk: holder.publicJwk }));
  if (body.notification_id) {
    await step('notification', () => client.sendNotification({
      issuerMetadata, accessToken, dpop: response.dpop ?? dpop,
      notification: { notificationId: body.notification_id, event: 'credential_accepted' },
    }));
  }
  return { compact, holder, ...verified };
}

// preAuthorised runs the pre-authorised code flow for a new offer of document to Sophie (in
// format, if given), and verifies the credential with verify.
async function preAuthorised(document, configurationId, { format, verify } = {}) {
  const offer = await step('socle wallet offer', () => socle.offer(SOPHIE.nrn, document, format));
  assert.match(offer.uri, /^openid-credential-offer:\/\/\?credential_offer_uri=/, 'the offer is by reference');
  assert.match(offer.txCode, /^\d{6}$/, 'the transaction code has six digits');
  const credentialOffer = await step('resolve the offer', () => client.resolveCredentialOffer(offer.uri));
  assert.deepEqual(credentialOffer.credential_configuration_ids, [configurationId]);
  assert.equal(credentialOffer.credential_issuer, socle.publicURL);
  const issuerMetadata = await step('issuer metadata', () => client.resolveIssuerMetadata(credentialOffer.credential_issuer));
  const dpopKey = await newKey();
  const token = await step('token (pre-authorised code, DPoP)', () => client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, txCode: offer.txCode, dpop: { signer: dpopKey },
  }));
  assert.equal(token.accessTokenResponse.token_type, 'DPoP', 'the access token is DPoP-bound');
  const credential = await obtainCredential({
    issuerMetadata, configurationId, accessToken: token.accessTokenResponse.access_token, dpop: token.dpop, verify,
  });
  return { issuerMetadata, ...credential };
}

test('1. pre-authorised issuance of the PID, verified as an SD-JWT VC', async () => {
  const { claims } = await preAuthorised('pid', PID);
  assert.equal(claims.vct, 'urn:eudi:pid:1');
  assert.equal(claims.family_name, 'Lambert');
  assert.equal(claims.birthdate, '1985-03-14');
  assert.equal(claims.address?.locality, 'Namur');
});

test('2. pre-authorised issuance of the birth certificate, verified as an SD-JWT VC', async () => {
  const { claims } = await preAuthorised('birth-certificate', BIRTH);
  assert.equal(claims.family_name, 'Lambert');
  assert.equal(claims.birthdate, '1985-03-14');
  assert.ok(claims.given_name, 'given_name is disclosed');
});

// The driving licence's claims are ISO/IEC 18013-5's mDL data elements; Sophie's licence is
// the simulated central file's (socle sim registry): AM and B, with glasses (code 01.06).
function assertSophiesLicence(claims) {
  assert.equal(claims.vct, socle.publicURL + '/wallet/vct/driving-licence');
  assert.equal(claims.family_name, 'Lambert');
  assert.equal(claims.birth_date, '1985-03-14');
  assert.equal(claims.document_number, '9204513287');
  assert.equal(claims.issuing_country, 'BE');
  assert.equal(claims.un_distinguishing_sign, 'B');
  assert.equal(claims.expiry_date, '2031-04-12');
  const b = claims.driving_privileges?.find((p) => p.vehicle_category_code === 'B');
  assert.ok(b, `category B among the driving_privileges: ${JSON.stringify(claims.driving_privileges)}`);
  assert.equal(b.issue_date, '2004-06-03');
  assert.deepEqual(b.codes, [{ code: '01.06' }]);
}

test('2b. pre-authorised issuance of the driving licence, verified as an SD-JWT VC with its Type Metadata', async () => {
  const { claims } = await preAuthorised('driving-licence', LICENCE);
  assertSophiesLicence(claims);
  const metadata = await step('type metadata at the vct', async () => {
    const res = await fetch(claims.vct);
    assert.equal(res.status, 200, `GET ${claims.vct}`);
    return res.json();
  });
  assert.equal(metadata.vct, claims.vct, 'the Type Metadata is of the vct');
  assert.ok(metadata.display.some((d) => d.locale === 'fr-BE' && d.name === 'Permis de conduire'), 'a French name');
  assert.ok(metadata.claims.some((c) => c.path[0] === 'driving_privileges' && c.sd === 'allowed'), 'driving_privileges, disclosable');
});

// The mdoc verifier's context (@animo-id/mdoc): node's crypto, and the certificate checks
// of the SD-JWT VCs — the x5chain chained to socle's CA.
const mdocContext = {
  crypto: {
    random: (n) => new Uint8Array(randomBytes(n)),
    digest: ({ digestAlgorithm, bytes }) => {
      const name = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' }[digestAlgorithm];
      if (!name) throw new Error(`digest ${digestAlgorithm} not supported`);
      return new Uint8Array(createHash(name).update(bytes).digest());
    },
    calculateEphemeralMacKeyJwk: () => { throw new Error('the holder does not present here: no MAC key'); },
  },
  cose: {
    sign1: {
      sign: () => { throw new Error('the holder verifies, it does not sign'); },
      verify: ({ sign1, jwk }) => {
        const { data, signature, alg } = sign1.getRawVerificationData();
        assert.equal(alg, 'ES256', 'the issuer signs the MSO with ES256');
        return verifySignature('sha256', data, { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature);
      },
    },
    mac0: {
      sign: () => { throw new Error('no MAC here'); },
      verify: () => { throw new Error('no MAC here'); },
    },
  },
  x509: {
    getIssuerNameField: ({ certificate, field }) => new X509Certificate(Buffer.from(certificate)).subject.split('\n')
      .filter((l) => l.startsWith(field + '=')).map((l) => l.slice(field.length + 1)),
    getPublicKey: ({ certificate }) => new X509Certificate(Buffer.from(certificate)).publicKey.export({ format: 'jwk' }),
    validateCertificateChain: ({ x5chain }) => {
      certificateChainsToCA(x5chain.map((der) => Buffer.from(der).toString('base64')));
    },
    getCertificateData: ({ certificate }) => {
      const c = new X509Certificate(Buffer.from(certificate));
      return { issuerName: c.issuer, subjectName: c.subject, serialNumber: c.serialNumber, thumbprint: c.fingerprint256,
        notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), pem: c.toString() };
    },
  },
};

// plain turns the mdoc library's decoded values (Maps, full-dates) into plain JSON values.
function plain(v) {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, e]) => [k, plain(e)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof DateOnly) return v.toISOString();
  return v;
}

// verifyMdoc verifies an mso_mdoc credential (ISO/IEC 18013-5 IssuerSigned, base64url) with
// @animo-id/mdoc: the issuer's COSE_Sign1 by its x5chain, chained to socle's CA, the MSO's
// validity, every element's digest; the device key is the holder's. It returns the mDL
// namespace's elements and the MSO.
async function verifyMdoc(encoded, { issuerMetadata, configurationId, holderJwk }) {
  assert.match(encoded, /^[A-Za-z0-9_-]+$/, 'an mdoc credential is base64url');
  const doctype = issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId].doctype;
  const doc = parseIssuerSigned(new Uint8Array(Buffer.from(encoded, 'base64url')), doctype);
  assert.equal(doc.docType, 'org.iso.18013.5.1.mDL');
  const verifier = new MdocVerifier();
  // Every check must pass (the library's default callback throws on a failed one); the
  // passed ones are counted, so that a verifier that checks nothing fails here.
  const passed = [];
  const onCheckG = (c) => {
    if (c.status === 'FAILED') throw new Error(`mdoc check failed: ${c.check}${c.reason ? ` (${c.reason})` : ''}`);
    passed.push(c.check);
  };
  const { issuerAuth } = doc.issuerSigned;
  await verifier.verifyIssuerSignature({ trustedCertificates: [ca.raw], issuerAuth, disableCertificateChainValidation: false, onCheckG }, mdocContext);
  await verifier.verifyData({ mdoc: doc, onCheckG }, mdocContext);
  for (const check of ['Issuer certificate must be valid', 'Issuer signature must be valid', 'The MSO must be valid at the time of verification']) {
    assert.ok(passed.includes(check), `the verifier checked "${check}" (it checked: ${passed.join('; ')})`);
  }
  assert.ok(passed.some((c) => /digest/i.test(c)), `the verifier checked the elements' digests (it checked: ${passed.join('; ')})`);
  const mso = issuerAuth.decodedPayload;
  const deviceJwk = COSEKey.import(mso.deviceKeyInfo.deviceKey).toJWK();
  assert.equal(await calculateJwkThumbprint(deviceJwk), await calculateJwkThumbprint(holderJwk), 'the device key is the holder\'s key of the proof');
  return { claims: plain(doc.getIssuerNameSpace('org.iso.18013.5.1')), mso };
}

test('2c. pre-authorised issuance of the driving licence as an mdoc (ISO/IEC 18013-5), verified with @animo-id/mdoc', async () => {
  const { claims, mso, issuerMetadata } = await preAuthorised('driving-licence', LICENCE_MDOC, { format: 'mso_mdoc', verify: verifyMdoc });
  const conf = issuerMetadata.credentialIssuer.credential_configurations_supported[LICENCE_MDOC];
  assert.equal(conf.format, 'mso_mdoc');
  assert.equal(mso.docType, conf.doctype);
  assert.ok(mso.validityInfo.validUntil > new Date(), 'valid now');
  assertSophiesLicence({ ...claims, vct: socle.publicURL + '/wallet/vct/driving-licence' });
  assert.equal(claims.age_over_18, true);
});

test('3. refusals: a wrong transaction code, a second redemption, a proof with a wrong nonce', async () => {
  const issuerMetadata = await step('issuer metadata', () => client.resolveIssuerMetadata(socle.publicURL));

  const wrong = await step('socle wallet offer', () => socle.offer(SOPHIE.nrn, 'pid'));
  const wrongOffer = await step('resolve the offer', () => client.resolveCredentialOffer(wrong.uri));
  const otherCode = String((Number(wrong.txCode) + 1) % 1_000_000).padStart(6, '0');
  const wrongKey = await newKey();
  await step('token with a wrong transaction code is refused', () => rejectsWith(() =>
    client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: wrongOffer, issuerMetadata, txCode: otherCode, dpop: { signer: wrongKey },
    }), ['invalid_grant']));

  const once = await step('socle wallet offer', () => socle.offer(SOPHIE.nrn, 'pid'));
  const onceOffer = await step('resolve the offer', () => client.resolveCredentialOffer(once.uri));
  const dpopKey = await newKey();
  const token = await step('token (first redemption)', () => client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: onceOffer, issuerMetadata, txCode: once.txCode, dpop: { signer: dpopKey },
  }));
  await step('second redemption of the offer is refused', () => rejectsWith(() =>
    client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: onceOffer, issuerMetadata, txCode: once.txCode, dpop: { signer: dpopKey },
    }), ['invalid_grant']));

  const holder = await newKey();
  const proof = await client.createCredentialRequestJwtProof({
    issuerMetadata, credentialConfigurationId: PID, signer: holder,
    nonce: randomBytes(16).toString('base64url'), issuedAt: new Date(),
  });
  await step('credential request with a proof of a wrong nonce is refused', () => rejectsWith(() =>
    client.retrieveCredentials({
      issuerMetadata, credentialConfigurationId: PID, proofs: { jwt: [proof.jwt] },
      accessToken: token.accessTokenResponse.access_token, dpop: token.dpop,
    }), ['invalid_nonce', 'invalid_proof']));
});

// attestedClients are the OpenID4VCI and OAuth 2.0 clients of a wallet instance its provider
// attested: its PAR and token requests carry OAuth-Client-Attestation and its PoP.
async function attestedClients() {
  const instance = await newKey();
  const clientAttestationJwt = await createClientAttestationJwt({
    callbacks, signer: provider, issuer: 'https://wallet-provider.socle.test', clientId: CLIENT_ID,
    issuedAt: new Date(), expiresAt: new Date(Date.now() + 3600_000), confirmation: { jwk: instance.publicJwk },
  });
  const attested = { ...callbacks, clientAuthentication: clientAuthenticationClientAttestationJwt({ clientAttestationJwt, callbacks }) };
  return { client: new Openid4vciClient({ callbacks: attested }), oauth2Client: new Oauth2Client({ callbacks: attested }) };
}

test('4. authorisation-code issuance of the PID and the driving licence: an attested wallet, PAR, PKCE S256, the citizen\'s consent, DPoP', async () => {
  const issuerMetadata = await step('issuer metadata', () => client.resolveIssuerMetadata(socle.publicURL));
  const as = issuerMetadata.authorizationServers[0];
  assert.ok(as.token_endpoint_auth_methods_supported?.includes('attest_jwt_client_auth'), 'wallet attestations are accepted');
  const attested = await attestedClients();
  assert.equal(as.require_pushed_authorization_requests, true, 'PAR is required');
  assert.ok(as.code_challenge_methods_supported?.includes('S256'), 'PKCE S256');
  assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'), 'DPoP ES256');

  // A wallet-initiated request: the offer names the configuration and the authorisation code grant.
  const credentialOffer = {
    credential_issuer: issuerMetadata.credentialIssuer.credential_issuer,
    credential_configuration_ids: [PID, LICENCE],
    grants: { authorization_code: {} },
  };
  const dpopKey = await newKey();
  const state = randomBytes(16).toString('base64url');
  // Openid4vciClient.createAuthorizationRequestUrlFromOffer (0.4.6) drops the state: the
  // OAuth 2.0 client it wraps takes it.
  const authorization = await step('PAR', () => attested.oauth2Client.createAuthorizationRequestUrl({
    authorizationServerMetadata: as, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, state, dpop: { signer: dpopKey },
    resource: issuerMetadata.credentialIssuer.credential_issuer,
    additionalRequestPayload: {
      authorization_details: [PID, LICENCE].map((id) => ({ type: 'openid_credential', credential_configuration_id: id })),
    },
  }));
  assert.ok(authorization.pkce?.codeVerifier, 'PKCE was used');
  const authorizeURL = new URL(authorization.authorizationRequestUrl);
  assert.equal(authorizeURL.origin + authorizeURL.pathname, as.authorization_endpoint);
  assert.ok(authorizeURL.searchParams.get('request_uri'), 'the authorisation request is by reference (PAR)');

  const cookie = await step('sign in', signIn);
  const consent = await step('authorise (consent page)', async () => {
    const res = await fetch(authorizeURL, { headers: { Cookie: cookie } });
    const html = await res.text();
    assert.equal(res.status, 200, `GET ${authorizeURL.pathname}: ${res.status} ${html.slice(0, 300)}`);
    assert.match(html, /Permis de conduire|Driving licence/, 'the consent page names the driving licence');
    // The button that confirms: not a sign-out, not a refusal; one that says it allows, or
    // else the only one left.
    const deny = /deny|refus|reject|cancel|annul|ne pas|do not|don't|logout|sign-?out|déconnexion/i;
    const allow = /allow|accept|approve|confirm|consent|autoris|yes|oui|continu/i;
    const candidates = forms(html).flatMap((form) => form.buttons.map((button) => ({ form, button })))
      .filter(({ form, button }) => !deny.test(`${form.action} ${button.name} ${button.value} ${button.text}`));
    const chosen = candidates.find(({ button }) => allow.test(`${button.name} ${button.value} ${button.text}`))
      ?? (candidates.length === 1 ? candidates[0] : undefined);
    assert.ok(chosen, `the authorisation page has a form to confirm (${candidates.length} candidate buttons)`);
    return chosen;
  });
  const code = await step('authorise (confirm)', async () => {
    const { form, button } = consent;
    const res = await postForm(form, authorizeURL, cookie, button);
    assert.equal(res.status, 303, `POST the consent: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const location = new URL(res.headers.get('location'), authorizeURL);
    assert.equal(location.origin + location.pathname, REDIRECT_URI, 'redirected to the redirect_uri');
    assert.equal(location.searchParams.get('error'), null, `error ${location.searchParams.get('error')}`);
    assert.equal(location.searchParams.get('state'), state, 'the state comes back');
    const iss = location.searchParams.get('iss');
    if (iss !== null) assert.equal(iss, as.issuer, 'iss (RFC 9207) is the authorisation server');
    assert.ok(location.searchParams.get('code'), 'an authorisation code');
    return location.searchParams.get('code');
  });
  const token = await step('token (authorisation code, PKCE, DPoP)', () => attested.client.retrieveAuthorizationCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, authorizationCode: code, pkceCodeVerifier: authorization.pkce.codeVerifier,
    redirectUri: REDIRECT_URI, dpop: authorization.dpop ?? { signer: dpopKey },
  }));
  assert.equal(token.accessTokenResponse.token_type, 'DPoP', 'the access token is DPoP-bound');
  const { claims } = await obtainCredential({
    issuerMetadata, configurationId: PID, accessToken: token.accessTokenResponse.access_token, dpop: token.dpop, clientId: CLIENT_ID,
  });
  assert.equal(claims.vct, 'urn:eudi:pid:1');
  assert.equal(claims.family_name, 'Lambert');
  assert.equal(claims.birthdate, '1985-03-14');
  assert.equal(claims.address?.locality, 'Namur');
  // The same token grants the driving licence, the second configuration of the request.
  const licence = await step('driving licence', () => obtainCredential({
    issuerMetadata, configurationId: LICENCE, accessToken: token.accessTokenResponse.access_token, dpop: token.dpop, clientId: CLIENT_ID,
  }));
  assertSophiesLicence(licence.claims);

  await step('the code cannot be redeemed twice', () => rejectsWith(() => attested.client.retrieveAuthorizationCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, authorizationCode: code, pkceCodeVerifier: authorization.pkce.codeVerifier,
    redirectUri: REDIRECT_URI, dpop: token.dpop ?? { signer: dpopKey },
  }), ['invalid_grant']));
});

let revokedPID; // test 5's credential, revoked, with its holder key: test 6 presents it

test('5. a credential the citizen revokes turns INVALID in the status list', async () => {
  const { compact, claims, holder } = await preAuthorised('pid', PID);
  revokedPID = { compact, holder };
  const statusList = claims.status?.status_list;
  assert.ok(statusList && Number.isInteger(statusList.idx) && statusList.uri, 'the credential has a status.status_list');
  assert.equal(await step('status before revocation', () => statusOf(statusList)), 0, 'VALID before revocation');

  const cookie = await step('sign in', signIn);
  await step('revoke on /wallet/issued', async () => {
    const base = new URL('/wallet/issued', socle.publicURL);
    const res = await fetch(base, { headers: { Cookie: cookie } });
    const html = await res.text();
    assert.equal(res.status, 200, `GET /wallet/issued: ${res.status}`);
    // The page does not say which row is which credential: every credential of this run is
    // Sophie's, so revoke them all.
    const revocations = forms(html).filter((f) => /\/revoke/.test(f.action));
    assert.ok(revocations.length > 0, 'a revoke form on /wallet/issued');
    for (const form of revocations) {
      const r = await postForm(form, base, cookie, form.buttons[0]);
      assert.equal(r.status, 303, `POST ${form.action}: ${r.status}`);
    }
  });

  await step('status after revocation', async () => {
    // The list may be served from a cache for a short while: poll, with a deadline.
    const deadline = Date.now() + 15_000;
    let status;
    while ((status = await statusOf(statusList)) !== 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 1, 'INVALID after revocation');
  });
  await step('the verifier refuses a revoked credential', () =>
    assert.rejects(sdJwtVc.verify(compact), /status/i));
});

// Test 6: socle's verifier (OpenID4VP 1.0 with DCQL), the holder using @openid4vc/openid4vp
// and dcql, no code of socle's. The test is also the relying party: it asks through the API
// gateway (API verification, consumer banque-de-demo) and reads the result there.

const vpCallbacks = {
  ...callbacks,
  // The request object is signed by its x5c leaf, which must chain to socle's CA
  // (the access certificate socle's CA gave the relying party).
  verifyJwt: async (signer, { compact }) => {
    assert.equal(signer.method, 'x5c', 'the request object is signed with an x5c chain');
    const leaf = certificateChainsToCA(signer.x5c);
    const [h, p, s] = compact.split('.');
    const ok = verifySignature('sha256', Buffer.from(`${h}.${p}`), { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'));
    return ok ? { verified: true, signerJwk: leaf.publicKey.export({ format: 'jwk' }) } : { verified: false };
  },
  getX509CertificateMetadata: (der) => {
    const names = new X509Certificate(Buffer.from(der, 'base64')).subjectAltName?.split(', ') ?? [];
    return {
      sanDnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
      sanUriNames: names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4)),
    };
  },
  // direct_post.jwt: the response encrypted to the request's ephemeral key (ECDH-ES).
  encryptJwe: async (encryptor, data) => {
    const key = await importJWK(encryptor.publicJwk, encryptor.alg);
    const jwe = new CompactEncrypt(new TextEncoder().encode(data))
      .setProtectedHeader({ alg: encryptor.alg, enc: encryptor.enc, kid: encryptor.publicJwk.kid });
    const params = {};
    if (encryptor.apu) params.apu = Buffer.from(encryptor.apu, 'base64url');
    if (encryptor.apv) params.apv = Buffer.from(encryptor.apv, 'base64url');
    jwe.setKeyManagementParameters(params);
    return { encryptionJwk: encryptor.publicJwk, jwe: await jwe.encrypt(key) };
  },
};
const vpClient = new Openid4vpClient({ callbacks: vpCallbacks });

// relyingParty calls the gateway's verification API with banque-de-demo's key.
async function relyingParty(method, path, body) {
  const key = readFileSync(join(socle.dataDir, 'gateway-demo', 'verifier-key.txt'), 'utf8').trim();
  const res = await fetch(`${socle.publicURL}/apis/verification/v1/requests${path}`, {
    method,
    headers: { 'X-API-Key': key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const FAMILY_AND_BIRTH = {
  credentials: [{
    id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: ['urn:eudi:pid:1'] },
    claims: [{ path: ['family_name'] }, { path: ['birthdate'] }],
  }],
};

// present runs the holder's side of one presentation of credential, and returns the response
// endpoint's answer.
async function present(requestURI, { compact, holder }) {
  const parsed = vpClient.parseOpenid4vpAuthorizationRequest({ authorizationRequest: requestURI });
  const resolved = await step('resolve the request (JAR, x509_hash)', () =>
    vpClient.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params }));
  const request = resolved.authorizationRequestPayload;
  assert.equal(resolved.client.prefix, 'x509_hash', 'the client identifier prefix');
  // The library checked it; so does the test, by hand: client_id is x509_hash: and the
  // base64url SHA-256 of the leaf's DER (OpenID4VP 1.0 §5.9.3), typ as RFC 9101 says.
  const leafDER = Buffer.from(resolved.client.x5c[0], 'base64');
  assert.equal(request.client_id, 'x509_hash:' + createHash('sha256').update(leafDER).digest('base64url'));
  assert.equal(resolved.jar.jwt.header.typ, 'oauth-authz-req+jwt', 'the request object\'s typ');
  assert.match(new X509Certificate(leafDER).subject, /O=Banque de démonstration/, 'the access certificate names the relying party');

  const query = DcqlQuery.parse(resolved.dcql.query);
  DcqlQuery.validate(query);
  const payload = await sdJwtVc.getClaims(compact);
  const match = DcqlQuery.query(query, [{
    credential_format: 'dc+sd-jwt', vct: payload.vct, claims: payload, cryptographic_holder_binding: true,
  }]);
  assert.ok(match.can_be_satisfied, 'the PID satisfies the query');

  const privateKey = privateKeys.get(await calculateJwkThumbprint(holder.publicJwk));
  // The key binding JWT is signed with the credential's key (cnf.jwk).
  const holderSdJwt = new SDJwtVcInstance({
    hasher: digest,
    kbSignAlg: 'ES256',
    kbSigner: async (data) => Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey,
      new TextEncoder().encode(data))).toString('base64url'),
  });
  const presentation = await step('present with key binding', () => holderSdJwt.present(compact,
    { family_name: true, birthdate: true },
    { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: request.client_id, nonce: request.nonce } } }));
  const jwt = request.response_mode === 'direct_post.jwt';
  const response = await vpClient.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: { pid: [presentation] } },
    jarm: jwt ? {
      encryption: { nonce: randomBytes(16).toString('base64url') },
      serverMetadata: {
        authorization_signing_alg_values_supported: ['ES256'],
        authorization_encryption_alg_values_supported: ['ECDH-ES'],
        authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
      },
    } : undefined,
  });
  if (jwt) assert.equal(response.jarm.responseJwt.split('.').length, 5, 'the response is a JWE');
  const submitted = await vpClient.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request, authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: jwt ? { responseJwt: response.jarm.responseJwt } : undefined,
  });
  return { status: submitted.response.status, body: await submitted.response.json() };
}

test('6. presentation of selected claims to socle\'s verifier (OpenID4VP 1.0, DCQL), through the gateway', async () => {
  assert.ok(revokedPID, 'test 5 ran and revoked a PID');
  // Test 5 revoked every credential of Sophie's so far: a new PID.
  const pid = await step('a new PID', () => preAuthorised('pid', PID));

  for (const mode of ['direct_post.jwt', 'direct_post']) {
    const made = await step(`${mode}: the relying party asks`, () =>
      relyingParty('POST', '', { dcql_query: FAMILY_AND_BIRTH, response_mode: mode }));
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.match(made.body.request_uri, /^openid4vp:\/\/\?/, 'an openid4vp:// URI to show');
    const answer = await step(`${mode}: the holder presents`, () => present(made.body.request_uri, pid));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const seen = await step(`${mode}: the relying party reads`, () => relyingParty('GET', `/${made.body.id}?wait=10`));
    assert.equal(seen.status, 200);
    assert.equal(seen.body.status, 'accepted', JSON.stringify(seen.body));
    const [credential] = seen.body.result.credentials.pid;
    assert.equal(credential.vct, 'urn:eudi:pid:1');
    assert.equal(credential.status, 'VALID');
    // Exactly the claims asked: nothing else of the PID.
    assert.deepEqual(credential.claims, { family_name: 'Lambert', birthdate: '1985-03-14' });
  }

  const made = await relyingParty('POST', '', { dcql_query: FAMILY_AND_BIRTH });
  assert.equal(made.status, 201);
  const answer = await step('the revoked PID is presented', () => present(made.body.request_uri, revokedPID));
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error, 'access_denied', JSON.stringify(answer.body));
  const seen = await relyingParty('GET', `/${made.body.id}`);
  assert.equal(seen.body.status, 'refused', JSON.stringify(seen.body));
  assert.match(seen.body.result.error_description, /INVALID/);
});

test('7. socle wallet verify-request: a relying party\'s script through the gateway, answered by the holder', async () => {
  const pid = await step('a new PID', () => preAuthorised('pid', PID));
  const file = join(socle.dataDir, 'family-and-birth.json');
  writeFileSync(file, JSON.stringify(FAMILY_AND_BIRTH, null, 2));
  const script = spawn(binary, ['wallet', 'verify-request', '--dcql', file], {
    env: { ...process.env, SOCLE_DATA_DIR: socle.dataDir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  script.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => script.once('exit', resolve));
  // The request URI is the first line; the script then waits for the answer.
  const uri = await step('the request URI on the first line', () => new Promise((resolve, reject) => {
    script.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    exited.then((code) => reject(new Error(`the script exited (${code}) before printing a URI: ${err}`)));
  }));
  assert.match(uri, /^openid4vp:\/\/\?/);
  const answer = await step('the holder presents', () => present(uri, pid));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(await exited, 0, `the script's exit status: ${err}`);
  const printed = JSON.parse(out.slice(out.indexOf('\n') + 1));
  assert.deepEqual(printed.credentials.pid[0].claims, { family_name: 'Lambert', birthdate: '1985-03-14' },
    'the script prints exactly the claims disclosed');
});
