// End-to-end tests of MCP 2026-07-28 (stateless): the official TypeScript SDK
// v2 client (@modelcontextprotocol/client, pinned in package.json) against
// mtmcp through the HTTP shim, on the same endpoint the SDK 1.x session
// client uses (sdk.test.mjs).  Run by test/e2e/run.sh.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport, ProtocolError } from '@modelcontextprotocol/client';
import { config, mintToken } from './lib.mjs';

const V = '2026-07-28';
const token = (tenant, sub) => mintToken({ tenant, sub });
const hooli = () => token('hooli', 'hana@hooli');
const acme = () => token('acme', 'alice@acme');

const open = [];
after(async () => {
	for (const c of open) await c.close().catch(() => {});
});

// A v2 client pinned to 2026-07-28.  elicit: the answers to elicitation/create, in order.
async function connect2(tok, { capabilities = {}, elicit } = {}) {
	const client = new Client({ name: 'mtmcp-e2e-v2', version: '1.0.0' },
		{ capabilities, versionNegotiation: { mode: { pin: V } } });
	const asked = [];
	if (elicit) {
		client.setRequestHandler('elicitation/create', async (request) => {
			asked.push(request.params);
			const next = elicit.shift();
			if (next instanceof Error) throw next;
			return next ?? { action: 'cancel' };
		});
	}
	const transport = new StreamableHTTPClientTransport(new URL(config.url), {
		requestInit: { headers: { Authorization: `Bearer ${tok}` } },
	});
	await client.connect(transport);
	open.push(client);
	return { client, transport, asked };
}

const meta = (caps = {}) => ({
	'io.modelcontextprotocol/protocolVersion': V,
	'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
	'io.modelcontextprotocol/clientCapabilities': caps,
});

// One raw 2026-07-28 POST with the standard headers.
async function raw(tok, method, params, { id = 1, headers = {} } = {}) {
	const h = {
		'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
		'MCP-Protocol-Version': V, 'Mcp-Method': method, Authorization: `Bearer ${tok}`, ...headers,
	};
	if (params?.name && !('Mcp-Name' in headers)) h['Mcp-Name'] = params.name;
	if (params?.uri && !('Mcp-Name' in headers)) h['Mcp-Name'] = params.uri;
	const res = await fetch(config.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) });
	const text = await res.text();
	let body = null;
	if ((res.headers.get('content-type') || '').includes('text/event-stream')) {
		const datas = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6).map((l) => JSON.parse(l.slice(6)));
		body = datas.find((m) => m.id === id) ?? null;
	} else if (text) {
		body = JSON.parse(text);
	}
	return { status: res.status, headers: res.headers, body };
}

async function rejection(promise) {
	try {
		await promise;
	} catch (err) {
		return err;
	}
	assert.fail('expected a rejection');
}

const parse = (r) => JSON.parse(r.content[0].text);

describe('2026-07-28 through the SDK v2 client', () => {
	test('connects statelessly: server/discover, no session', async () => {
		const { client, transport } = await connect2(acme());
		assert.equal(client.getServerVersion()?.name, 'mtmcp');
		const caps = client.getServerCapabilities();
		assert.ok(caps.tools && caps.resources && caps.prompts);
		assert.equal(transport.sessionId, undefined);
	});

	test('tools/list: the tenant catalog, cache hints private', async () => {
		const { client } = await connect2(acme());
		const r = await client.listTools();
		assert.deepEqual(r.tools.map((t) => t.name).sort(), ['get_document', 'search_documents', 'slow_job', 'touch_document']);
		const rawList = await raw(acme(), 'tools/list', { _meta: meta() });
		assert.equal(rawList.body.result.cacheScope, 'private');
		assert.equal(rawList.body.result.resultType, 'complete');
		assert.ok(Number.isInteger(rawList.body.result.ttlMs));
	});

	test('tools/call, resources/read and prompts/get as the tenant', async () => {
		const { client } = await connect2(acme());
		const doc = parse(await client.callTool({ name: 'get_document', arguments: { doc_id: 1 } }));
		assert.equal(doc.title, 'Anvil launch plan');
		const res = await client.readResource({ uri: 'kb://tenants/acme/documents/1' });
		assert.match(res.contents[0].text, /^# Anvil launch plan/);
		const p = await client.getPrompt({ name: 'summarize_document', arguments: { doc_id: '2', style: 'bullet' } });
		assert.match(p.messages[0].content.text, /document 2 in bullet style/);
	});

	test('another tenant\'s resource: -32602 with data.uri, never its contents', async () => {
		const { client } = await connect2(acme());
		const err = await rejection(client.readResource({ uri: 'kb://tenants/globex/documents/1' }));
		assert.equal(err.code, -32602, String(err));
	});

	test('the same document id is another document for another tenant', async () => {
		const a = await connect2(acme());
		const g = await connect2(token('globex', 'gina@globex'));
		const da = parse(await a.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } }));
		const dg = parse(await g.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } }));
		assert.notEqual(da.title, dg.title);
	});

	test('a suspended tenant is refused (403)', async () => {
		const r = await raw(token('initech', 'ivan@initech'), 'tools/list', { _meta: meta() });
		assert.equal(r.status, 403);
		assert.equal(r.body.error.code, -32001);
	});

	test('removed methods are 404 -32601, with the request id', async () => {
		for (const m of ['initialize', 'ping', 'logging/setLevel']) {
			const r = await raw(acme(), m, { _meta: meta() }, { id: 77 });
			assert.equal(r.status, 404, m);
			assert.equal(r.body.error.code, -32601, m);
			assert.equal(r.body.id, 77, m);
		}
	});

	test('header checks: Mcp-Name unlike the body is 400 -32020', async () => {
		const r = await raw(acme(), 'tools/call', { name: 'get_document', arguments: { doc_id: 1 }, _meta: meta() },
			{ id: 5, headers: { 'Mcp-Name': 'search_documents' } });
		assert.equal(r.status, 400);
		assert.equal(r.body.error.code, -32020);
		assert.equal(r.body.id, 5);
	});

	test('GET and DELETE have nothing to offer a stateless client: 405', async () => {
		for (const method of ['GET', 'DELETE']) {
			const r = await fetch(config.url, { method, headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': V,
				Authorization: `Bearer ${acme()}` } });
			assert.equal(r.status, 405, method);
			assert.equal(r.headers.get('allow'), 'POST');
		}
	});
});

describe('the destructive tool over 2026-07-28: the same handler, input_required rounds', () => {
	test('decline keeps the document', async () => {
		const { client, asked } = await connect2(hooli(), { capabilities: { elicitation: {} }, elicit: [{ action: 'decline' }] });
		const r = await client.callTool({ name: 'delete_document', arguments: { doc_id: 2 } });
		assert.deepEqual(parse(r), { deleted: false, doc_id: 2, title: 'Draft memo' });
		assert.equal(asked.length, 1);
		assert.equal(asked[0].message, 'Delete "Draft memo" for good?');
	});

	test('accept with confirm deletes it (elicitation round trip)', async () => {
		const { client, asked } = await connect2(hooli(), {
			capabilities: { elicitation: {} }, elicit: [{ action: 'accept', content: { confirm: true } }],
		});
		const r = await client.callTool({ name: 'delete_document', arguments: { doc_id: 2 } });
		assert.deepEqual(parse(r), { deleted: true, doc_id: 2, title: 'Draft memo' });
		assert.equal(asked.length, 1);
		const gone = await client.callTool({ name: 'get_document', arguments: { doc_id: 2 } });
		assert.equal(gone.isError, true);
	});

	test('without the elicitation capability: -32021 (HTTP 400), nothing asked', async () => {
		const { client } = await connect2(hooli());
		const err = await rejection(client.callTool({ name: 'delete_document', arguments: { doc_id: 3 } }));
		assert.equal(err.code, -32021, String(err));
		const r = await raw(hooli(), 'tools/call', { name: 'delete_document', arguments: { doc_id: 3 }, _meta: meta() });
		assert.equal(r.status, 400);
		assert.deepEqual(r.body.error.data.requiredCapabilities, { elicitation: {} });
	});

	test('a tampered requestState is refused before the handler runs', async () => {
		const caps = { elicitation: {} };
		const params = { name: 'delete_document', arguments: { doc_id: 3 }, _meta: meta(caps) };
		const first = await raw(hooli(), 'tools/call', params);
		assert.equal(first.body.result.resultType, 'input_required');
		const state = first.body.result.requestState;
		assert.equal(typeof state, 'string');
		const flipped = state.slice(0, -2) + (state.at(-2) === 'A' ? 'B' : 'A') + state.at(-1);
		const yes = { confirm: { action: 'accept', content: { confirm: true } } };
		const r = await raw(hooli(), 'tools/call', { ...params, inputResponses: yes, requestState: flipped });
		assert.equal(r.status, 400);
		assert.equal(r.body.error.code, -32602);
		const still = await raw(hooli(), 'tools/call', { name: 'get_document', arguments: { doc_id: 3 }, _meta: meta() });
		assert.notEqual(still.body.result.isError, true);
	});

	test('another tenant\'s requestState is refused', async () => {
		const caps = { elicitation: {} };
		// acme has no delete_document; its own document 1 through a state of hooli's
		const params = { name: 'delete_document', arguments: { doc_id: 3 }, _meta: meta(caps) };
		const first = await raw(hooli(), 'tools/call', params);
		const state = first.body.result.requestState;
		const yes = { confirm: { action: 'accept', content: { confirm: true } } };
		const other = await raw(token('hooli', 'someone-else@hooli'), 'tools/call', { ...params, inputResponses: yes, requestState: state });
		assert.equal(other.status, 400, JSON.stringify(other.body));
		assert.equal(other.body.error.code, -32602);
		const foreign = await raw(acme(), 'tools/call', { ...params, inputResponses: yes, requestState: state });
		assert.ok(foreign.body.error, JSON.stringify(foreign.body));
		const still = await raw(hooli(), 'tools/call', { name: 'get_document', arguments: { doc_id: 3 }, _meta: meta() });
		assert.notEqual(still.body.result.isError, true);
	});
});
