// End-to-end tests: the official MCP TypeScript SDK client against mtmcp
// through the HTTP shim.  Run by test/e2e/run.sh (node --test), which sets
// up the database (setup.sql), starts the shim and exports MTMCP_E2E_*.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	LoggingMessageNotificationSchema,
	ResourceUpdatedNotificationSchema,
	ElicitRequestSchema,
	McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { config, mintToken, connect, waitFor, sleep, rawPost } from './lib.mjs';

const acmeToken = () => mintToken({ tenant: 'acme', sub: 'alice@acme' });
const globexToken = () => mintToken({ tenant: 'globex', sub: 'gina@globex' });

// Every client a test opens is closed at the end of the file.
const open = [];
async function client(token, name, options = {}) {
	const c = await connect(token, { name, ...options });
	open.push(c);
	return c;
}
after(async () => {
	for (const { client: c } of open) await c.close().catch(() => {});
});

const INITIALIZE = {
	jsonrpc: '2.0', id: 1, method: 'initialize',
	params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function rejection(promise) {
	try {
		await promise;
	} catch (err) {
		return err;
	}
	assert.fail('expected a rejection');
}

describe('one tenant through the SDK', () => {
	let c;
	before(async () => {
		c = await client(acmeToken(), 'acme-basic');
	});

	test('initialize: server info, capabilities and a session', () => {
		const info = c.client.getServerVersion();
		assert.equal(info.name, 'mtmcp');
		const caps = c.client.getServerCapabilities();
		assert.ok(caps.tools && caps.resources && caps.prompts && caps.logging && caps.completions);
		assert.equal(caps.resources.subscribe, true);
		assert.match(c.transport.sessionId, /^[0-9a-f]{32,}$/);
	});

	test('ping', async () => {
		assert.deepEqual(await c.client.ping(), {});
	});

	test('tools/list: the tenant catalog, nothing of the conformance tenant', async () => {
		const { tools } = await c.client.listTools();
		const names = tools.map((t) => t.name).sort();
		assert.deepEqual(names, ['get_document', 'search_documents', 'slow_job', 'touch_document']);
		const get = tools.find((t) => t.name === 'get_document');
		assert.equal(get.inputSchema.type, 'object');
		assert.deepEqual(get.inputSchema.required, ['doc_id']);
		assert.equal(get.annotations.readOnlyHint, true);
	});

	test('tools/call: a JSON result becomes a text block', async () => {
		const r = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } });
		assert.notEqual(r.isError, true);
		const doc = JSON.parse(r.content[0].text);
		assert.equal(doc.title, 'Anvil launch plan');
	});

	test('tools/call: a handler error is a result with isError', async () => {
		const r = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 99 } });
		assert.equal(r.isError, true);
		assert.match(r.content[0].text, /not found/);
	});

	test('tools/call: arguments that break the schema are refused', async () => {
		// Either a JSON-RPC invalid-params error or a tool error result.
		let r;
		try {
			r = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 'one' } });
		} catch (err) {
			assert.ok(err instanceof McpError, String(err));
			assert.equal(err.code, -32602);
			return;
		}
		assert.equal(r.isError, true);
	});

	test('tools/call: an unknown tool', async () => {
		const err = await rejection(c.client.callTool({ name: 'no_such_tool', arguments: {} }));
		assert.ok(err instanceof McpError);
		assert.equal(err.code, -32602);
	});

	test('resources/read: text', async () => {
		const r = await c.client.readResource({ uri: 'kb://tenants/acme/documents/1' });
		assert.equal(r.contents.length, 1);
		assert.equal(r.contents[0].uri, 'kb://tenants/acme/documents/1');
		assert.equal(r.contents[0].mimeType, 'text/markdown');
		assert.match(r.contents[0].text, /^# Anvil launch plan/);
	});

	test('resources/read: blob', async () => {
		const r = await c.client.readResource({ uri: 'kb://tenants/acme/logo' });
		assert.equal(r.contents[0].mimeType, 'image/png');
		assert.equal(Buffer.from(r.contents[0].blob, 'base64').toString(), 'PNG:acme');
	});

	test('resources/read: a public resource', async () => {
		const r = await c.client.readResource({ uri: 'docs://help/tokens' });
		assert.match(r.contents[0].text, /bearer token/);
	});

	test('resources/list: only the tenant\'s own documents', async () => {
		const { resources } = await c.client.listResources();
		assert.deepEqual(resources.map((r) => r.uri).sort(),
			['kb://tenants/acme/documents/1', 'kb://tenants/acme/documents/2']);
		assert.ok(resources.every((r) => r.name));
	});

	test('resources/templates/list', async () => {
		const { resourceTemplates } = await c.client.listResourceTemplates();
		const byName = Object.fromEntries(resourceTemplates.map((t) => [t.name, t.uriTemplate]));
		assert.equal(byName.documents, 'kb://tenants/{tenant}/documents/{doc_id}');
		assert.equal(byName.logo, 'kb://tenants/{tenant}/logo');
		assert.equal(byName.help, 'docs://help/{topic}');
		assert.ok(!resourceTemplates.some((t) => t.uriTemplate.startsWith('test://')));
	});

	test('prompts/list and prompts/get (template)', async () => {
		const { prompts } = await c.client.listPrompts();
		assert.deepEqual(prompts.map((p) => p.name).sort(), ['document_context', 'summarize_document']);
		const r = await c.client.getPrompt({ name: 'summarize_document', arguments: { doc_id: '2', style: 'bullet' } });
		assert.equal(r.messages[0].role, 'user');
		assert.equal(r.messages[0].content.text, 'Summarize document 2 in bullet style.');
	});

	test('prompts/get (renderer): an embedded resource of the tenant', async () => {
		const r = await c.client.getPrompt({ name: 'document_context', arguments: { doc_id: '1' } });
		assert.equal(r.messages[0].content.type, 'resource');
		assert.equal(r.messages[0].content.resource.uri, 'kb://tenants/acme/documents/1');
		assert.equal(r.messages[1].content.text, 'Got it: Anvil launch plan');
	});

	test('prompts/get: a missing required argument is invalid params', async () => {
		const err = await rejection(c.client.getPrompt({ name: 'summarize_document', arguments: {} }));
		assert.ok(err instanceof McpError);
		assert.equal(err.code, -32602);
	});

	test('completion/complete: the tenant variable completes to the caller only', async () => {
		const r = await c.client.complete({
			ref: { type: 'ref/resource', uri: 'kb://tenants/{tenant}/documents/{doc_id}' },
			argument: { name: 'tenant', value: '' },
		});
		assert.deepEqual(r.completion.values, ['acme']);
	});
});

describe('live notifications during a tool call', () => {
	test('progress arrives while the tool runs (onprogress)', async () => {
		const { client: c } = await client(acmeToken(), 'acme-progress');
		const seen = [];
		const started = Date.now();
		const result = await c.callTool({ name: 'slow_job', arguments: { steps: 3, pause_ms: 300 } }, undefined, {
			onprogress: (p) => seen.push({ ...p, at: Date.now() }),
		});
		const done = Date.now();
		assert.equal(JSON.parse(result.content[0].text).done, true);
		assert.deepEqual(seen.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
		assert.equal(seen[0].message, 'step 1 of 3');
		// Live, not replayed at the end: the first step is reported about
		// 300 ms in, and the call ends about 600 ms after that.
		assert.ok(seen[0].at - started < done - started - 300,
			`first progress at +${seen[0].at - started} ms, result at +${done - started} ms`);
	});

	test('no progress token, no progress notifications (raw SSE)', async () => {
		const token = acmeToken();
		const init = await rawPost(INITIALIZE, { token });
		assert.equal(init.status, 200);
		const sessionId = init.headers.get('mcp-session-id');
		assert.ok(sessionId);
		const note = await rawPost({ jsonrpc: '2.0', method: 'notifications/initialized' }, { token, sessionId });
		assert.equal(note.status, 202);
		const call = (meta) => rawPost({ jsonrpc: '2.0', id: 2, method: 'tools/call',
			params: { name: 'slow_job', arguments: { steps: 2, pause_ms: 0 }, ...meta } }, { token, sessionId });
		const without = await call({});
		assert.equal(without.status, 200);
		assert.match(without.text, /"id":\s*2,.*"result"/);
		assert.ok(!without.text.includes('notifications/progress'), without.text);
		const withToken = await call({ _meta: { progressToken: 'raw-1' } });
		assert.equal((withToken.text.match(/notifications\/progress/g) || []).length, 2, withToken.text);
		assert.match(withToken.text, /"progressToken":\s*"raw-1"/);
	});

	test('logging/setLevel filters log notifications', async () => {
		const { client: c } = await client(acmeToken(), 'acme-logging');
		const logs = [];
		c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });

		assert.deepEqual(await c.setLoggingLevel('info'), {});
		await c.callTool({ name: 'slow_job', arguments: { steps: 2, pause_ms: 0 } });
		await sleep(100);
		assert.deepEqual(logs.map((l) => [l.level, l.logger, l.data]),
			[['info', 'slow_job', 'finished step 1'], ['info', 'slow_job', 'finished step 2']]);

		logs.length = 0;
		await c.setLoggingLevel('debug');
		await c.callTool({ name: 'slow_job', arguments: { steps: 1, pause_ms: 0 } });
		await sleep(100);
		assert.deepEqual(logs.map((l) => [l.level, l.data]), [['debug', { step: 1 }], ['info', 'finished step 1']]);

		logs.length = 0;
		await c.setLoggingLevel('error');
		await c.callTool({ name: 'slow_job', arguments: { steps: 1, pause_ms: 0 } });
		await sleep(100);
		assert.deepEqual(logs, []);
	});
});

describe('two tenants', () => {
	let a;
	let g;
	before(async () => {
		a = await client(acmeToken(), 'acme-iso');
		g = await client(globexToken(), 'globex-iso');
	});

	test('the same document id is a different document per tenant', async () => {
		const ra = JSON.parse((await a.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } })).content[0].text);
		const rg = JSON.parse((await g.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } })).content[0].text);
		assert.equal(ra.title, 'Anvil launch plan');
		assert.equal(rg.title, 'East coast expansion plan');
	});

	test('a tenant sees only its own documents', async () => {
		const found = JSON.parse((await a.client.callTool({ name: 'search_documents', arguments: { query: '' } }))
			.content[0].text).documents.map((d) => d.doc_id);
		assert.deepEqual(found, [1, 2]);
		const { resources } = await g.client.listResources();
		assert.deepEqual(resources.map((r) => r.uri).sort(),
			['kb://tenants/globex/documents/1', 'kb://tenants/globex/documents/3']);
		// globex's document 3 exists; acme has no document 3.
		const r = await a.client.callTool({ name: 'get_document', arguments: { doc_id: 3 } });
		assert.equal(r.isError, true);
	});

	test('reading another tenant\'s existing resource: -32002, like a missing one', async () => {
		// globex's document 1 really exists: globex reads it.
		const own = await g.client.readResource({ uri: 'kb://tenants/globex/documents/1' });
		assert.match(own.contents[0].text, /East coast/);

		const foreign = await rejection(a.client.readResource({ uri: 'kb://tenants/globex/documents/1' }));
		assert.ok(foreign instanceof McpError, String(foreign));
		assert.equal(foreign.code, -32002);
		const missing = await rejection(a.client.readResource({ uri: 'kb://tenants/acme/documents/999' }));
		assert.equal(missing.code, -32002);
		assert.equal(foreign.message.replace('globex/documents/1', 'X'), missing.message.replace('acme/documents/999', 'X'));
		const logo = await rejection(a.client.readResource({ uri: 'kb://tenants/globex/logo' }));
		assert.equal(logo.code, -32002);
	});

	test('an embedded resource never crosses: globex\'s prompt of document 3', async () => {
		const r = await g.client.getPrompt({ name: 'document_context', arguments: { doc_id: '3' } });
		assert.equal(r.messages[0].content.resource.uri, 'kb://tenants/globex/documents/3');
		const err = await a.client.getPrompt({ name: 'document_context', arguments: { doc_id: '3' } }).catch((e) => e);
		// acme has no document 3: an error, or at least nothing of globex's.
		assert.ok(!JSON.stringify(err?.messages ?? err?.message ?? '').includes('Volcano'));
	});
});

describe('refusals at the HTTP boundary', () => {
	test('a suspended tenant cannot connect (HTTP 403)', async () => {
		const err = await rejection(connect(mintToken({ tenant: 'initech', sub: 'peter@initech' }), { name: 'initech' }));
		assert.equal(err.code, 403, String(err));
	});

	test('no token: 401 with a Bearer challenge naming the resource metadata', async () => {
		const r = await rawPost(INITIALIZE);
		assert.equal(r.status, 401);
		const www = r.headers.get('www-authenticate') || '';
		assert.match(www, /^Bearer /);
		assert.match(www, /resource_metadata="[^"]+"/);
	});

	test('a forged token: 401', async () => {
		const forged = mintToken({ tenant: 'acme', secretHex: 'ab'.repeat(32) });
		const err = await rejection(connect(forged, { name: 'forged' }));
		assert.equal(err.code, 401, String(err));
	});

	test('a token of a tenant the issuer does not serve: refused', async () => {
		const err = await rejection(connect(mintToken({ tenant: 'umbrella' }), { name: 'umbrella' }));
		assert.ok([401, 403].includes(err.code), String(err));
	});

	test('a token without the access scope is refused, and the challenge names it (read from the database)', { skip: !config.requiredScope && 'no access scope set' }, async () => {
		const token = mintToken({ tenant: 'acme', scope: 'documents' });
		const err = await rejection(connect(token, { name: 'no-scope' }));
		assert.equal(err.code, 403, String(err));
		const r = await rawPost(INITIALIZE, { token });
		assert.equal(r.status, 403);
		const www = r.headers.get('www-authenticate') || '';
		assert.match(www, /error="insufficient_scope"/);
		assert.ok(www.includes(config.requiredScope), www);
		const meta = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', config.url))).json();
		assert.equal(meta.scopes_supported[0], config.requiredScope);
		assert.deepEqual(meta.authorization_servers, [config.issuer]);
		const noToken = await rawPost(INITIALIZE, {});
		assert.equal(noToken.status, 401);
		assert.ok((noToken.headers.get('www-authenticate') || '').includes(`scope="${config.requiredScope}"`));
	});

	test('a session id stolen from another tenant: 404 on POST, GET and DELETE', async () => {
		const a = await client(acmeToken(), 'acme-victim');
		const sid = a.transport.sessionId;
		assert.ok(sid);
		const g = globexToken();
		const ping = { jsonrpc: '2.0', id: 9, method: 'ping' };

		const post = await rawPost(ping, { token: g, sessionId: sid });
		assert.equal(post.status, 404);
		const tool = await rawPost({ jsonrpc: '2.0', id: 10, method: 'tools/call',
			params: { name: 'get_document', arguments: { doc_id: 1 } } }, { token: g, sessionId: sid });
		assert.equal(tool.status, 404);
		assert.ok(!tool.text.includes('Anvil'));

		const get = await fetch(config.url, { method: 'GET', headers: {
			Accept: 'text/event-stream', Authorization: `Bearer ${g}`, 'Mcp-Session-Id': sid,
			'MCP-Protocol-Version': '2025-11-25' } });
		assert.equal(get.status, 404);
		await get.body?.cancel();

		const del = await fetch(config.url, { method: 'DELETE', headers: {
			Authorization: `Bearer ${g}`, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' } });
		assert.equal(del.status, 404);

		// A stolen id looks exactly like one that never existed.
		const unknown = await rawPost(ping, { token: g, sessionId: 'f'.repeat(sid.length) });
		assert.equal(unknown.status, 404);
		assert.equal(post.text, unknown.text);

		// Another subject of the same tenant cannot use it either.
		const bob = await rawPost(ping, { token: mintToken({ tenant: 'acme', sub: 'bob@acme' }), sessionId: sid });
		assert.equal(bob.status, 404);

		// ... and the owner's session is untouched.
		assert.deepEqual(await a.client.ping(), {});
	});

	test('a request without its session id: 400', async () => {
		const r = await rawPost({ jsonrpc: '2.0', id: 3, method: 'ping' }, { token: acmeToken() });
		assert.equal(r.status, 400);
	});

	test('a terminated session answers 404', async () => {
		const { client: c, transport } = await connect(acmeToken(), { name: 'acme-terminate' });
		const sid = transport.sessionId;
		await transport.terminateSession();
		await c.close();
		const r = await rawPost({ jsonrpc: '2.0', id: 4, method: 'ping' }, { token: acmeToken(), sessionId: sid });
		assert.equal(r.status, 404);
	});
});

describe('resource subscriptions', () => {
	test('an update reaches the subscribed tenant only, on its GET stream', async () => {
		const a = await client(acmeToken(), 'acme-sub');
		const g = await client(globexToken(), 'globex-sub');
		const gotA = [];
		const gotG = [];
		a.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { gotA.push(n.params.uri); });
		g.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { gotG.push(n.params.uri); });

		// Both subscribe to their own document 1 (the same id, two documents).
		assert.deepEqual(await a.client.subscribeResource({ uri: 'kb://tenants/acme/documents/1' }), {});
		assert.deepEqual(await g.client.subscribeResource({ uri: 'kb://tenants/globex/documents/1' }), {});
		// Subscribing to the other tenant's document is "not found".
		const err = await rejection(a.client.subscribeResource({ uri: 'kb://tenants/globex/documents/1' }));
		assert.equal(err.code, -32002);

		// The SDK opens each GET stream in the background after initialize;
		// an update announced before a stream is open reaches nobody.  So
		// announce until the tenant's own notification arrives: that proves
		// its stream is live.  globex first, so that its stream is proven
		// open before acme's update is sent.
		async function touchUntilSeen(c, seen, uri) {
			const end = Date.now() + 10000;
			while (!seen.includes(uri)) {
				assert.ok(Date.now() < end, `no notifications/resources/updated for ${uri}`);
				const r = await c.callTool({ name: 'touch_document', arguments: { doc_id: 1 } });
				assert.equal(JSON.parse(r.content[0].text).announced, uri);
				await waitFor(() => seen.includes(uri), 500, uri).catch(() => {});
			}
		}
		await touchUntilSeen(g.client, gotG, 'kb://tenants/globex/documents/1');
		assert.deepEqual(gotA, []);
		gotG.length = 0;

		await touchUntilSeen(a.client, gotA, 'kb://tenants/acme/documents/1');
		await sleep(1000);
		assert.ok(gotA.every((u) => u === 'kb://tenants/acme/documents/1'));
		assert.deepEqual(gotG, [], 'globex received acme\'s update');

		// After unsubscribing, no more updates.
		await a.client.unsubscribeResource({ uri: 'kb://tenants/acme/documents/1' });
		gotA.length = 0;
		await a.client.callTool({ name: 'touch_document', arguments: { doc_id: 1 } });
		await sleep(700);
		assert.deepEqual(gotA, []);
	});
});

describe('a destructive tool that asks for confirmation (elicitation through the shim)', () => {
	const hooliToken = () => mintToken({ tenant: 'hooli', sub: 'hank@hooli' });
	// The user's answers, in order; each elicitation/create request is recorded.
	let answers = [];
	const asked = [];
	const elicitHandler = (c) => c.setRequestHandler(ElicitRequestSchema, async (request) => {
		asked.push(request.params);
		return answers.shift() ?? { action: 'cancel' };
	});
	const text = (r) => JSON.parse(r.content[0].text);

	test('decline keeps the document; the request came on the call\'s stream', async () => {
		const c = await client(hooliToken(), 'hooli-confirm', { capabilities: { elicitation: {} }, setup: elicitHandler });
		answers = [{ action: 'decline' }];
		const r = await c.client.callTool({ name: 'delete_document', arguments: { doc_id: 1 } });
		assert.notEqual(r.isError, true, JSON.stringify(r));
		assert.deepEqual(text(r), { deleted: false, doc_id: 1, title: 'Old roadmap' });
		assert.equal(asked.length, 1);
		assert.equal(asked[0].message, 'Delete "Old roadmap" for good?');
		assert.equal(asked[0].requestedSchema.properties.confirm.type, 'boolean');
		const doc = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } });
		assert.notEqual(doc.isError, true);
	});

	test('accept with confirm: deleted, and gone afterwards', async () => {
		const c = await client(hooliToken(), 'hooli-confirm-2', { capabilities: { elicitation: {} }, setup: elicitHandler });
		answers = [{ action: 'accept', content: { confirm: true } }];
		const r = await c.client.callTool({ name: 'delete_document', arguments: { doc_id: 1 } });
		assert.deepEqual(text(r), { deleted: true, doc_id: 1, title: 'Old roadmap' });
		const doc = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 1 } });
		assert.equal(doc.isError, true);
		assert.match(doc.content[0].text, /not found/);
	});

	test('a client that refuses the request (JSON-RPC error): the handler sees it, nothing deleted', async () => {
		const c = await client(hooliToken(), 'hooli-refuse', {
			capabilities: { elicitation: {} },
			setup: (cl) => cl.setRequestHandler(ElicitRequestSchema, async () => { throw new McpError(-32000, 'no UI here'); }),
		});
		const r = await c.client.callTool({ name: 'delete_document', arguments: { doc_id: 4 } });
		assert.equal(r.isError, true, JSON.stringify(r));
		const doc = await c.client.callTool({ name: 'get_document', arguments: { doc_id: 4 } });
		assert.notEqual(doc.isError, true);
	});

	test('a client without the elicitation capability is never asked: -32021', async () => {
		const c = await client(hooliToken(), 'hooli-no-elicitation');
		const err = await rejection(c.client.callTool({ name: 'delete_document', arguments: { doc_id: 4 } }));
		assert.ok(err instanceof McpError, String(err));
		assert.equal(err.code, -32021);
	});

	test('the destructive tool is off for a tenant that did not enable it', async () => {
		const c = await client(acmeToken(), 'acme-no-delete', { capabilities: { elicitation: {} }, setup: elicitHandler });
		const err = await rejection(c.client.callTool({ name: 'delete_document', arguments: { doc_id: 1 } }));
		assert.equal(err.code, -32602);
	});
});

describe('JSON-RPC batches in a 2025-03-26 session', () => {
	test('each message answered, in one array', async () => {
		const token = acmeToken();
		const init = await rawPost({ ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: '2025-03-26' } },
			{ token, headers: { 'MCP-Protocol-Version': '2025-03-26' } });
		assert.equal(init.status, 200);
		const sessionId = init.headers.get('mcp-session-id');
		const h = { 'MCP-Protocol-Version': '2025-03-26' };
		await rawPost({ jsonrpc: '2.0', method: 'notifications/initialized' }, { token, sessionId, headers: h });
		const res = await fetch(config.url, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
				Authorization: `Bearer ${token}`, 'Mcp-Session-Id': sessionId, ...h },
			body: JSON.stringify([
				{ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'get_document', arguments: { doc_id: 2 } } },
				{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'x', progress: 1 } },
				{ jsonrpc: '2.0', id: 'b', method: 'ping' },
				{ jsonrpc: '2.0', id: 'c', method: 'no/such/method' },
			]),
		});
		assert.equal(res.status, 200);
		const out = await res.json();
		assert.ok(Array.isArray(out));
		assert.deepEqual(out.map((m) => m.id), ['a', 'b', 'c']);
		assert.equal(JSON.parse(out[0].result.content[0].text).doc_id, 2);
		assert.deepEqual(out[1].result, {});
		assert.equal(out[2].error.code, -32601);
	});

	test('a later revision refuses batches', async () => {
		const c = await client(acmeToken(), 'acme-batch');
		const r = await fetch(config.url, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
				Authorization: `Bearer ${acmeToken()}`, 'Mcp-Session-Id': c.transport.sessionId, 'MCP-Protocol-Version': '2025-11-25' },
			body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }]),
		});
		assert.equal(r.status, 400);
		assert.equal((await r.json()).error.code, -32600);
	});
});

describe('event streams: ids, priming, Last-Event-ID replay (2025-11-25)', () => {
	test('a call\'s stream opens with a priming event; a GET with its id replays the rest', async () => {
		const c = await client(acmeToken(), 'acme-resume');
		const headers = {
			'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
			Authorization: `Bearer ${acmeToken()}`, 'Mcp-Session-Id': c.transport.sessionId, 'MCP-Protocol-Version': '2025-11-25',
		};
		const res = await fetch(config.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 900,
			method: 'tools/call', params: { name: 'slow_job', arguments: { steps: 2, pause_ms: 50 }, _meta: { progressToken: 'p' } } }) });
		assert.equal(res.headers.get('content-type'), 'text/event-stream');
		const events = (await res.text()).split('\n\n').filter((e) => e.trim()).map((e) => Object.fromEntries(
			e.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()])));
		assert.match(events[0].id, /^[0-9a-f]{16}-0$/);
		assert.equal(events[0].data, '');
		assert.ok(Number(events[0].retry) > 0);
		const messages = events.slice(1).filter((e) => e.data);
		assert.ok(messages.length >= 3, JSON.stringify(events));
		assert.equal(JSON.parse(messages.at(-1).data).id, 900);
		// the client "lost" everything after the priming event
		const again = await fetch(config.url, { method: 'GET', headers: { ...headers, 'Last-Event-ID': events[0].id } });
		assert.equal(again.status, 200);
		const replay = (await again.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
		assert.deepEqual(replay, messages.map((m) => JSON.parse(m.data)));
		// another session cannot replay it
		const other = await client(acmeToken(), 'acme-resume-other');
		const foreign = await fetch(config.url, { method: 'GET', headers: { ...headers, 'Mcp-Session-Id': other.transport.sessionId,
			'Last-Event-ID': events[0].id }, signal: AbortSignal.timeout(1500) });
		assert.equal(foreign.status, 200);
		const chunk = await foreign.body.getReader().read();
		assert.ok(!new TextDecoder().decode(chunk.value).includes('"id":900'));
		await foreign.body.cancel().catch(() => {});
	});
});
