// Cross-check of socle's Go SD-JWT package (internal/wallet/sdjwt) against an independent
// implementation, the OpenWallet Foundation's @sd-jwt/sd-jwt-vc 0.19.0 with
// @sd-jwt/crypto-nodejs 0.19.0. The packages are not part of socle's package.json: install
// them in a scratch folder and point SDJWT_NODE_DIR at it (see TestCrossCheck in
// crosscheck_test.go for the three steps).
//
//   node crosscheck.mjs <dir>
//
// Reads <dir>/go-issued.json (written by the Go test), and:
//   1. verifies the Go-issued SD-JWT VC (issuer signature, disclosures, status list entry);
//   2. verifies the Go holder's presentation and its Key Binding JWT (nonce, aud, sd_hash);
//   3. presents the Go credential as a holder of its own, with a KB-JWT, for Go to verify;
//   4. issues and presents an SD-JWT VC of its own (flat, recursive, array and decoy
//      disclosures), for Go to verify;
// then writes <dir>/node-issued.json. Exits non-zero on the first failure.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node crosscheck.mjs <dir>');
  process.exit(2);
}
const nodeDir = process.env.SDJWT_NODE_DIR ?? '/tmp/sdjwt-node';
const require = createRequire(join(nodeDir, 'package.json'));
const { SDJwtVcInstance } = require('@sd-jwt/sd-jwt-vc');
const { ES256, digest, generateSalt } = require('@sd-jwt/crypto-nodejs');
const { Jwt } = require('@sd-jwt/core');
const { StatusList, createHeaderAndPayload } = require('@sd-jwt/jwt-status-list');

const now = () => Math.floor(Date.now() / 1000);
const go = JSON.parse(readFileSync(join(dir, 'go-issued.json'), 'utf8'));
const aud = 'https://verifier.go.test';
const nonce = 'node-nonce-7';

// A status list in which the Go credential's entry (idx 3) is 0, "valid", signed by a key of
// this script's own: the Node verifier fetches it instead of the URI in the credential.
const statusKeys = await ES256.generateKeyPair();
const list = new StatusList([0, 0, 0, 0, 1, 0, 0, 0], 1);
const sl = createHeaderAndPayload(list, { iss: 'https://issuer.socle.test', sub: 'https://issuer.socle.test/status/1', iat: now() }, { alg: 'ES256', typ: 'statuslist+jwt' });
const slJwt = new Jwt({ header: sl.header, payload: sl.payload });
await slJwt.sign(await ES256.getSigner(statusKeys.privateKey));
const statusListJWT = slJwt.encodeJwt();

const kbVerifier = async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig);

// 1 and 2: Node verifies what Go issued and presented.
const goVerifier = new SDJwtVcInstance({
  hasher: digest, hashAlg: 'sha-256',
  verifier: await ES256.getVerifier(go.issuer_jwk),
  kbVerifier,
  statusListFetcher: async () => statusListJWT,
  statusVerifier: await ES256.getVerifier(statusKeys.publicKey),
});
const full = await goVerifier.verify(go.sd_jwt);
assert.equal(full.header.typ, 'dc+sd-jwt');
for (const k of ['given_name', 'family_name', 'birthdate', 'vct', 'iss', 'status']) {
  assert.deepEqual(full.payload[k], go.full_claims[k], `Go SD-JWT: ${k}`);
}
assert.deepEqual(full.payload.address, go.full_claims.address);
assert.deepEqual(full.payload.nationalities, go.full_claims.nationalities);
console.log('1. Node verified the Go-issued SD-JWT VC:', JSON.stringify({ given_name: full.payload.given_name, address: full.payload.address, nationalities: full.payload.nationalities, status: full.payload.status }));

const pres = await goVerifier.verify(go.presentation, { keyBindingNonce: go.nonce });
assert.ok(pres.kb, 'Go presentation: no KB-JWT verified');
assert.equal(pres.kb.payload.aud, go.aud);
assert.equal(pres.kb.header.typ, 'kb+jwt');
assert.equal(pres.payload.given_name, 'Camille');
assert.deepEqual(pres.payload.address, { locality: 'Nantes' });
assert.deepEqual(pres.payload.nationalities, ['BE']);
for (const hidden of ['family_name', 'birthdate']) assert.ok(!(hidden in pres.payload), `Go presentation leaks ${hidden}`);
console.log('2. Node verified the Go holder presentation + KB-JWT:', JSON.stringify({ given_name: pres.payload.given_name, address: pres.payload.address, nationalities: pres.payload.nationalities, kb: pres.kb.payload }));

// 3: the Node holder presents the Go credential (birthdate only) for Go to verify.
const goHolder = new SDJwtVcInstance({
  hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt,
  kbSigner: await ES256.getSigner(go.holder_private_jwk), kbSignAlg: 'ES256',
});
const goPresentedByNode = await goHolder.present(go.sd_jwt, { birthdate: true },
  { kb: { payload: { iat: now(), aud, nonce } } });
console.log('3. Node presented the Go credential (birthdate only)');

// 4: Node issues and presents a credential of its own.
const issuerKeys = await ES256.generateKeyPair();
const holderKeys = await ES256.generateKeyPair();
const node = new SDJwtVcInstance({
  hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt,
  signer: await ES256.getSigner(issuerKeys.privateKey), signAlg: 'ES256',
  verifier: await ES256.getVerifier(issuerKeys.publicKey),
  kbSigner: await ES256.getSigner(holderKeys.privateKey), kbSignAlg: 'ES256', kbVerifier,
});
const claims = {
  iss: 'https://issuer.node.test', iat: now(), exp: now() + 3600, vct: 'urn:eudi:pid:1',
  cnf: { jwk: holderKeys.publicKey },
  given_name: 'Erika', family_name: 'Mustermann',
  address: { street_address: 'Heidestraße 17', locality: 'Berlin', country: 'DE' },
  nationalities: ['DE', 'FR'],
};
const frame = {
  _sd: ['given_name', 'family_name', 'address', 'nationalities'],
  address: { _sd: ['street_address', 'locality', 'country'], _sd_decoy: 1 },
  nationalities: { _sd: [0, 1] },
  _sd_decoy: 2,
};
const issued = await node.issue(claims, frame);
const presentation = await node.present(issued,
  { given_name: true, address: { locality: true }, nationalities: { 0: true } },
  { kb: { payload: { iat: now(), aud, nonce } } });
const self = await node.verify(presentation, { keyBindingNonce: nonce });
assert.equal(self.payload.given_name, 'Erika');
console.log('4. Node issued and presented its own SD-JWT VC:', JSON.stringify({ given_name: self.payload.given_name, address: self.payload.address, nationalities: self.payload.nationalities }));

writeFileSync(join(dir, 'node-issued.json'), JSON.stringify({
  issuer_jwk: issuerKeys.publicKey, go_issuer_jwk: go.issuer_jwk,
  sd_jwt: issued, presentation, go_credential_presented_by_node: goPresentedByNode,
  aud, nonce, go_verified_by_node: true,
}, null, 2));
console.log(`wrote ${join(dir, 'node-issued.json')}`);
