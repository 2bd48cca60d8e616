// Generates the asymmetric-key fixtures embedded in sql/setup.sql:
// RS256, PS256, ES256 and EdDSA keys as a JWK set, plus tokens signed with
// them (exp in 2100).  Run: node test/gen_asym_fixtures.mjs
// Output is psql \set lines; the keys are test-only and throwaway.
import crypto from 'node:crypto';

const b64u = (b) => Buffer.from(b).toString('base64url');
const iss = 'https://idp.asym.test';
const claims = (sub) => ({ iss, aud: 'mtmcp-test', sub, tenant_id: 'acme', scope: 'tools', iat: 1700000000, exp: 4102444800 });

function token(alg, kid, key, sub, extraHeader = {}) {
  const h = b64u(JSON.stringify({ alg, typ: 'JWT', kid, ...extraHeader }));
  const p = b64u(JSON.stringify(claims(sub)));
  const input = Buffer.from(`${h}.${p}`);
  let sig;
  if (alg === 'RS256') sig = crypto.sign('sha256', input, key);
  else if (alg === 'PS256') sig = crypto.sign('sha256', input, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  else if (alg === 'ES256') sig = crypto.sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') sig = crypto.sign(null, input, key);
  return `${h}.${p}.${b64u(sig)}`;
}

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = crypto.generateKeyPairSync('ed25519');

const jwk = (k, extra) => ({ ...k.publicKey.export({ format: 'jwk' }), ...extra });
const jwks = { keys: [
  jwk(rsa, { kid: 'rsa-1', alg: 'RS256', use: 'sig' }),
  jwk(rsa2, { kid: 'ps-1', alg: 'PS256', use: 'sig' }),
  jwk(ec, { kid: 'ec-1', use: 'sig' }),
  jwk(ed, { kid: 'ed-1' }),
  { kty: 'RSA', kid: 'enc-1', use: 'enc', n: 'AQAB', e: 'AQAB' },
] };

const out = {
  asym_jwks: JSON.stringify(jwks),
  asym_rsa_pem: rsa.publicKey.export({ type: 'spki', format: 'pem' }),
  tok_rs256: token('RS256', 'rsa-1', rsa.privateKey, 'rs-user'),
  tok_ps256: token('PS256', 'ps-1', rsa2.privateKey, 'ps-user'),
  tok_es256: token('ES256', 'ec-1', ec.privateKey, 'es-user'),
  tok_eddsa: token('EdDSA', 'ed-1', ed.privateKey, 'ed-user'),
  // signed by rsa-1's key but claiming kid ps-1 (key confusion between kids)
  tok_wrong_kid: token('RS256', 'ps-1', rsa.privateKey, 'rs-user'),
};
// HS256 with the RSA public key PEM as the HMAC secret (algorithm confusion)
{
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' }));
  const p = b64u(JSON.stringify(claims('confused')));
  const mac = crypto.createHmac('sha256', out.asym_rsa_pem).update(`${h}.${p}`).digest();
  out.tok_alg_confusion = `${h}.${p}.${b64u(mac)}`;
}
for (const [k, v] of Object.entries(out)) {
  if (k === 'asym_rsa_pem') continue;
  console.log(`\\set ${k} '${v.replace(/'/g, "''")}'`);
}
