// bench/peer/server.mjs -- the peer bench/versus.sh measures mtmcp-http against:
// the same multi-tenant get_document service, built the way most teams would
// build it today.
//
//   - the official MCP TypeScript SDK (McpServer + StreamableHTTPServerTransport)
//     on express (createMcpExpressApp: express.json() and the Host check),
//     written after the SDK's own stateful example (simpleStreamableHttp):
//     one transport and one McpServer per session, kept in a Map in memory.
//     We chose sessions over the SDK's stateless mode because mtmcp-http
//     has sessions too (every message after initialize names one, checked on
//     every call), so both sides do the same protocol work per request -- and
//     the stateless example builds a new server and transport for every
//     request, which is slower.  Unlike the example, a session is bound to the
//     tenant and subject that opened it (anyone else gets 404), as mtmcp's are.
//     Responses: the transport's default, an SSE stream per POST (as mtmcp-http
//     answers tools/call).
//   - bearer tokens: HS256 JWTs verified with jose on every request (issuer,
//     audience, expiry); tenant from the tenant_id claim, scopes from scope.
//     The same tokens mtmcp accepts (scripts/mint-token.sh, the demo's issuer).
//   - PostgreSQL through a pg Pool; per tools/call one transaction:
//       BEGIN; SELECT set_config('app.tenant', $1, true);
//       SELECT ... FROM peer.documents WHERE doc_id = $1   (RLS: the tenant's rows)
//       INSERT INTO peer.audit ...;  COMMIT
//     (bench/peer/peer.sql makes the schema).
//
// Environment: PEER_LISTEN (127.0.0.1:18471), PEER_SECRET_HEX (the HS256 secret,
// hex; required), PEER_ISSUER (https://idp.demo.mtmcp.local), PEER_AUDIENCE
// (mtmcp-demo), PEER_POOL (pool size, 8), and libpq's PGHOST, PGPORT,
// PGDATABASE, PGUSER for the database (the pg module reads them).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as jose from 'jose';
import * as z from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const [host, port] = (process.env.PEER_LISTEN ?? '127.0.0.1:18471').split(':');
const secretHex = process.env.PEER_SECRET_HEX;
if (!secretHex) {
	console.error('peer: PEER_SECRET_HEX is required');
	process.exit(2);
}
const secret = Buffer.from(secretHex, 'hex');
const issuer = process.env.PEER_ISSUER ?? 'https://idp.demo.mtmcp.local';
const audience = process.env.PEER_AUDIENCE ?? 'mtmcp-demo';

// idleTimeoutMillis 0: connections stay open between benchmark rounds (the rounds measure calls, not reconnects)
const pool = new pg.Pool({ max: Number(process.env.PEER_POOL ?? 8), idleTimeoutMillis: 0 });
pool.on('error', (err) => console.error('peer: idle client error:', err.message));

// ---------------------------------------------------------------- the tool

// One audited, tenant-confined read: the whole transaction a call makes.
async function getDocument(auth, sessionId, docId) {
	const started = process.hrtime.bigint();
	const client = await pool.connect();
	try {
		await client.query('BEGIN');
		await client.query("SELECT set_config('app.tenant', $1, true)", [auth.tenant]);
		const { rows } = await client.query(
			'SELECT doc_id, title, body FROM peer.documents WHERE doc_id = $1', [docId]);
		const outcome = rows.length ? 'ok' : 'not_found';
		await client.query(
			'INSERT INTO peer.audit (tenant_id, subject, session_id, method, tool, arguments, outcome, duration_us)' +
			' VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
			[auth.tenant, auth.subject, sessionId, 'tools/call', 'get_document', JSON.stringify({ doc_id: docId }),
				outcome, Number((process.hrtime.bigint() - started) / 1000n)]);
		await client.query('COMMIT');
		return rows[0];
	} catch (err) {
		await client.query('ROLLBACK').catch(() => {});
		throw err;
	} finally {
		client.release();
	}
}

function newServer() {
	const server = new McpServer({ name: 'peer-documents', version: '1.0.0' });
	server.registerTool('get_document', {
		description: 'Fetch one of your documents by its id: its title and body.',
		inputSchema: { doc_id: z.number().int().min(1).describe('The document id, as returned by search_documents.') },
		annotations: { readOnlyHint: true },
	}, async ({ doc_id }, extra) => {
		const auth = extra.authInfo.extra;
		if (!extra.authInfo.scopes.includes('documents')) {
			return { isError: true, content: [{ type: 'text', text: 'missing scope documents' }] };
		}
		const doc = await getDocument(auth, extra.sessionId, doc_id);
		if (!doc) {
			return { isError: true, content: [{ type: 'text', text: `document ${doc_id} not found` }] };
		}
		return { content: [{ type: 'text', text: JSON.stringify(doc) }] };
	});
	return server;
}

// ---------------------------------------------------------------- HTTP

const app = createMcpExpressApp({ host });

// Bearer token -> req.auth (the SDK hands it to tool handlers as extra.authInfo).
app.use('/mcp', async (req, res, next) => {
	const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
	if (!m) {
		res.status(401).set('WWW-Authenticate', 'Bearer').json({ jsonrpc: '2.0', error: { code: -32001, message: 'Unauthorized' }, id: null });
		return;
	}
	try {
		const { payload } = await jose.jwtVerify(m[1], secret, { issuer, audience, algorithms: ['HS256'] });
		if (typeof payload.tenant_id !== 'string' || typeof payload.sub !== 'string') throw new Error('claims');
		req.auth = {
			token: m[1], clientId: payload.sub, scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
			expiresAt: payload.exp, extra: { tenant: payload.tenant_id, subject: payload.sub },
		};
		next();
	} catch {
		res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').json({ jsonrpc: '2.0', error: { code: -32001, message: 'Unauthorized' }, id: null });
	}
});

const sessions = new Map();	// session id -> { transport, tenant, subject }

// The caller's own session, or an answer (404 for unknown or foreign ones).
function ownSession(req, res) {
	const sid = req.headers['mcp-session-id'];
	const s = sid && sessions.get(sid);
	if (!sid) {
		res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
	} else if (!s || s.tenant !== req.auth.extra.tenant || s.subject !== req.auth.extra.subject) {
		res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
	} else {
		return s;
	}
	return null;
}

app.post('/mcp', async (req, res) => {
	try {
		if (!req.headers['mcp-session-id'] && isInitializeRequest(req.body)) {
			const { tenant, subject } = req.auth.extra;
			const transport = new StreamableHTTPServerTransport({
				sessionIdGenerator: () => randomUUID(),
				onsessioninitialized: (sid) => sessions.set(sid, { transport, tenant, subject }),
			});
			transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
			await newServer().connect(transport);
			await transport.handleRequest(req, res, req.body);
			return;
		}
		const s = ownSession(req, res);
		if (s) await s.transport.handleRequest(req, res, req.body);
	} catch (err) {
		console.error('peer: error handling a request:', err);
		if (!res.headersSent) {
			res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
		}
	}
});

app.get('/mcp', async (req, res) => {
	const s = ownSession(req, res);
	if (s) await s.transport.handleRequest(req, res);
});

app.delete('/mcp', async (req, res) => {
	const s = ownSession(req, res);
	if (s) await s.transport.handleRequest(req, res);
});

app.get('/healthz', async (_req, res) => {
	try {
		await pool.query('SELECT 1');
		res.send('ok\n');
	} catch (err) {
		res.status(503).send(`${err.message}\n`);
	}
});

const httpServer = app.listen(Number(port), host, (err) => {
	if (err) {
		console.error('peer: cannot listen:', err.message);
		process.exit(1);
	}
	console.log(`peer: listening on http://${host}:${port}/mcp (pool ${pool.options.max})`);
});

async function stop() {
	httpServer.close();
	for (const { transport } of sessions.values()) await transport.close().catch(() => {});
	await pool.end();
	process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
