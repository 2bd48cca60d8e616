// A header-adding proxy for the MCP conformance suite, which cannot send an
// Authorization header.  It listens on 127.0.0.1, forwards every request to
// the shim with "Authorization: Bearer <token>" set (replacing any the
// client sent), keeps every other header as it came -- Host and Origin
// included, so the shim's own Host/Origin checks see what the client sent --
// and streams both bodies through unbuffered (SSE included).
//
// This is test harness only: the product has no unauthenticated mode.
//
//   MTMCP_PROXY_TOKEN=<jwt> node proxy.mjs --target http://127.0.0.1:8080 --port 8081
//
// Prints "proxy listening on http://127.0.0.1:PORT" once it accepts
// connections; exits on SIGTERM/SIGINT.
import http from 'node:http';

function arg(name, dflt) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const target = new URL(arg('target', process.env.MTMCP_PROXY_TARGET || ''));
const port = Number(arg('port', process.env.MTMCP_PROXY_PORT || '0'));
const token = process.env.MTMCP_PROXY_TOKEN;
if (!token) {
	console.error('proxy: MTMCP_PROXY_TOKEN is not set');
	process.exit(2);
}

// Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
	'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function endToEnd(rawHeaders, extra = {}) {
	const out = [];
	for (let i = 0; i < rawHeaders.length; i += 2) {
		const k = rawHeaders[i];
		if (HOP.has(k.toLowerCase()) || k.toLowerCase() in extra) continue;
		out.push(k, rawHeaders[i + 1]);
	}
	for (const [k, v] of Object.entries(extra)) out.push(k, v);
	return out;
}

const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
	req.socket.setNoDelay(true);
	const up = http.request({
		host: target.hostname,
		port: target.port,
		method: req.method,
		path: req.url,
		agent,
		// Host and Origin pass through unchanged; only Authorization is ours.
		headers: endToEnd(req.rawHeaders, { authorization: `Bearer ${token}` }),
	}, (ures) => {
		ures.socket.setNoDelay(true);
		res.writeHead(ures.statusCode, ures.statusMessage, endToEnd(ures.rawHeaders));
		res.flushHeaders();
		ures.on('data', (chunk) => res.write(chunk));
		ures.on('end', () => res.end());
		ures.on('error', () => res.destroy());
	});
	up.on('error', (err) => {
		if (!res.headersSent) {
			res.writeHead(502, { 'Content-Type': 'text/plain' });
			res.end(`proxy: ${err.message}\n`);
		} else {
			res.destroy();
		}
	});
	// A client that goes away (e.g. closes its SSE stream) takes the
	// upstream request with it.
	res.on('close', () => {
		if (!res.writableFinished) up.destroy();
	});
	req.pipe(up);
});

server.listen(port, '127.0.0.1', () => {
	console.log(`proxy listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		server.close();
		server.closeAllConnections?.();
		process.exit(0);
	});
}
