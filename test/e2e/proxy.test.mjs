// The conformance harness's header-adding proxy (proxy.mjs): it must add
// the token, pass Host and Origin through, and stream SSE unbuffered --
// otherwise the conformance results would say nothing about the shim.
// Runs when run.sh exports MTMCP_E2E_PROXY_URL (the proxy's token is the
// conformance tenant's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.env.MTMCP_E2E_PROXY_URL;
const skip = !url && 'MTMCP_E2E_PROXY_URL is not set';

test('through the proxy: no Authorization of ours, the conformance tenant\'s catalog', { skip }, async () => {
	const client = new Client({ name: 'proxy-check', version: '1.0.0' });
	await client.connect(new StreamableHTTPClientTransport(new URL(url)));
	try {
		const { tools } = await client.listTools();
		assert.ok(tools.some((t) => t.name === 'test_simple_text'));
		assert.ok(!tools.some((t) => t.name === 'get_document'));
	} finally {
		await client.close();
	}
});

test('through the proxy: progress arrives before the result (unbuffered SSE)', { skip }, async () => {
	const client = new Client({ name: 'proxy-check', version: '1.0.0' });
	await client.connect(new StreamableHTTPClientTransport(new URL(url)));
	try {
		// A first call warms up the client (its first SSE event costs it tens
		// of milliseconds of one-time work), the second one is measured.
		await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: () => {} });
		const seen = [];
		const start = Date.now();
		await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
			onprogress: (p) => seen.push({ progress: p.progress, at: Date.now() - start }),
		});
		const end = Date.now() - start;
		assert.deepEqual(seen.map((p) => p.progress), [0, 50, 100]);
		// The tool pauses 50 ms twice after its first notification: a proxy
		// that buffered would deliver all three with the result.
		assert.ok(end - seen[0].at >= 60, `progress at ${seen.map((p) => `+${p.at}`)} ms, result at +${end} ms`);
	} finally {
		await client.close();
	}
});

test('through the proxy: Host and Origin reach the shim unchanged', { skip }, async () => {
	const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
		params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'p', version: '1' } } });
	const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
	const evil = await fetch(url, { method: 'POST', body, headers: { ...headers, Origin: 'http://evil.example.com' } });
	assert.equal(evil.status, 403);
	await evil.body?.cancel();
	const own = await fetch(url, { method: 'POST', body, headers: { ...headers, Origin: new URL(url).origin } });
	assert.equal(own.status, 200);
	await own.body?.cancel();
});
