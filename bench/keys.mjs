// bench/keys.mjs -- key pairs and tokens for bench/dispatch.sh (node >= 16, no packages).
//
//   node bench/keys.mjs OUTDIR
//
// Environment: BENCH_TENANT, BENCH_HS_SECRET_HEX, BENCH_HS_ISSUER, BENCH_HS_AUDIENCE,
// BENCH_RS_ISSUER, BENCH_ES_ISSUER, BENCH_ASYM_AUDIENCE, BENCH_NTOK, BENCH_TTL.
//
// Writes to OUTDIR:
//   rsa.pub.pem, ec.pub.pem     public keys (SPKI PEM) of fresh RSA-2048 and P-256 key pairs
//   rs256.tok, es256.tok        one token each (the cached-token variants)
//   tokens.tsv                  alg <TAB> n <TAB> token, n = 1..BENCH_NTOK for HS256, RS256
//                               and ES256: every token distinct (its own sub and jti)
// The private keys never leave this process.
import { generateKeyPairSync, createHmac, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) {
	console.error('usage: node bench/keys.mjs OUTDIR');
	process.exit(2);
}
const env = (name) => {
	const v = process.env[name];
	if (v === undefined || v === '') {
		console.error(`keys.mjs: ${name} is not set`);
		process.exit(2);
	}
	return v;
};

const tenant = env('BENCH_TENANT');
const hsSecret = Buffer.from(env('BENCH_HS_SECRET_HEX'), 'hex');
const ntok = Number(env('BENCH_NTOK'));
const ttl = Number(env('BENCH_TTL'));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
writeFileSync(join(out, 'rsa.pub.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(join(out, 'ec.pub.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));

const b64url = (buf) => Buffer.from(buf).toString('base64url');

const signers = {
	HS256: {
		header: { alg: 'HS256', typ: 'JWT' },
		iss: env('BENCH_HS_ISSUER'),
		aud: env('BENCH_HS_AUDIENCE'),
		sign: (input) => createHmac('sha256', hsSecret).update(input).digest(),
	},
	RS256: {
		header: { alg: 'RS256', typ: 'JWT', kid: 'bench-rsa-1' },
		iss: env('BENCH_RS_ISSUER'),
		aud: env('BENCH_ASYM_AUDIENCE'),
		sign: (input) => sign('sha256', Buffer.from(input), rsa.privateKey),
	},
	ES256: {
		header: { alg: 'ES256', typ: 'JWT', kid: 'bench-ec-1' },
		iss: env('BENCH_ES_ISSUER'),
		aud: env('BENCH_ASYM_AUDIENCE'),
		// JWS wants the raw R||S (64 bytes), not DER
		sign: (input) => sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }),
	},
};

const now = Math.floor(Date.now() / 1000);
function mint(alg, sub) {
	const s = signers[alg];
	const claims = {
		iss: s.iss, aud: s.aud, sub, tenant_id: tenant, scope: 'documents',
		jti: `${alg}-${sub}`, iat: now, exp: now + ttl,
	};
	const input = `${b64url(JSON.stringify(s.header))}.${b64url(JSON.stringify(claims))}`;
	return `${input}.${b64url(s.sign(input))}`;
}

writeFileSync(join(out, 'rs256.tok'), mint('RS256', 'bench-cached') + '\n');
writeFileSync(join(out, 'es256.tok'), mint('ES256', 'bench-cached') + '\n');

const rows = [];
for (const alg of ['HS256', 'RS256', 'ES256'])
	for (let n = 1; n <= ntok; n++)
		rows.push(`${alg}\t${n}\t${mint(alg, `bench-${n}`)}`);
writeFileSync(join(out, 'tokens.tsv'), rows.join('\n') + '\n');
