-- bench/versus.lua -- wrk script of bench/versus.sh: every request is one MCP
-- tools/call of get_document {"doc_id": 1} as POST with a bearer token and an
-- Mcp-Session-Id, the SSE answer checked for the document's title.
--
-- VERSUS_CLIENTS names a file of "token session-id" lines: wrk thread i (run
-- with -t N -c N, so one connection per thread) is client i mod the number of
-- lines, with its own token and session.  One line = every connection shares
-- one token and one session.
local clients = {}
for line in io.lines(os.getenv("VERSUS_CLIENTS")) do
	local tok, sid = line:match("^(%S+)%s+(%S+)$")
	if tok then clients[#clients + 1] = {tok, sid} end
end
local expect = os.getenv("VERSUS_EXPECT") or "Anvil launch plan"
local threads = {}
local n = 0

function setup(thread)
	local c = clients[(n % #clients) + 1]
	thread:set("token", c[1])
	thread:set("sid", c[2])
	thread:set("bad", 0)
	thread:set("index", n + 1)
	n = n + 1
	threads[#threads + 1] = thread
end

-- JSON-RPC ids are unique per session while in flight: thread index and a counter
local headers, seq, me
function init(args)
	me = index
	seq = 0
	headers = {
		["Authorization"] = "Bearer " .. token,
		["Mcp-Session-Id"] = sid,
		["MCP-Protocol-Version"] = "2025-11-25",
		["Content-Type"] = "application/json",
		["Accept"] = "application/json, text/event-stream",
	}
end

function request()
	seq = seq + 1
	return wrk.format("POST", nil, headers, string.format(
		'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}',
		me * 1000000000 + seq))
end

function response(status, headers, body)
	if status ~= 200 or not body:find(expect, 1, true) or not body:find('"result"', 1, true) then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local total = 0
	for _, t in ipairs(threads) do total = total + t:get("bad") end
	io.write(string.format("BAD %d\n", total))
end
