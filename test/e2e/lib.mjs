// Shared helpers of the end-to-end tests: configuration from the
// environment (set by run.sh), HS256 token minting, SDK clients.
import { createHmac } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function need(name) {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set (run the tests through test/e2e/run.sh)`);
	return v;
}

export const config = {
	get url() { return need('MTMCP_E2E_URL'); },
	get secretHex() { return need('MTMCP_E2E_SECRET_HEX'); },
	issuer: process.env.MTMCP_E2E_ISSUER || 'https://idp.e2e.mtmcp.test',
	audience: process.env.MTMCP_E2E_AUDIENCE || 'mtmcp-e2e',
	// The scope every token must carry (mtmcp.access_scope, which the shim advertises), if any.
	requiredScope: process.env.MTMCP_E2E_REQUIRED_SCOPE || '',
};

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// An HS256 JWT as the test issuer would sign it.  scope defaults to the
// shim's required scope plus "documents".
export function mintToken({ tenant, sub = 'e2e-user', scope, ttl = 600, secretHex = config.secretHex } = {}) {
	if (scope === undefined) scope = [config.requiredScope, 'documents'].filter(Boolean).join(' ');
	const now = Math.floor(Date.now() / 1000);
	const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const claims = b64url(JSON.stringify({
		iss: config.issuer, aud: config.audience, sub, tenant_id: tenant, scope, iat: now - 5, exp: now + ttl,
	}));
	const sig = createHmac('sha256', Buffer.from(secretHex, 'hex')).update(`${header}.${claims}`).digest();
	return `${header}.${claims}.${b64url(sig)}`;
}

// A connected SDK client for a token; close() it when done.  setup(client)
// runs before connecting (e.g. to register request handlers).
export async function connect(token, { name = 'mtmcp-e2e', url = config.url, capabilities = {}, setup } = {}) {
	const client = new Client({ name, version: '1.0.0' }, { capabilities });
	if (setup) setup(client);
	const transport = new StreamableHTTPClientTransport(new URL(url), {
		requestInit: { headers: { Authorization: `Bearer ${token}` } },
	});
	await client.connect(transport);
	return { client, transport };
}

// Resolves when pred() is true, polling; rejects after ms.
export async function waitFor(pred, ms = 5000, what = 'condition') {
	const end = Date.now() + ms;
	while (Date.now() < end) {
		if (await pred()) return;
		await new Promise((r) => setTimeout(r, 25));
	}
	throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A raw POST of one JSON-RPC message, for what the SDK does not expose.
export async function rawPost(body, { token, sessionId, url = config.url, headers = {} } = {}) {
	const h = {
		'Content-Type': 'application/json',
		Accept: 'application/json, text/event-stream',
		'MCP-Protocol-Version': '2025-11-25',
		...headers,
	};
	if (token) h.Authorization = `Bearer ${token}`;
	if (sessionId) h['Mcp-Session-Id'] = sessionId;
	const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body) });
	const text = await res.text();
	return { status: res.status, headers: res.headers, text };
}
