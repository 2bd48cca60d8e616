-- B, C, D: tools/call of noop through mcp_dispatch with one token (-D tok=...);
-- after the first call every verification is a verified-token cache hit.
-- A response that is not a successful tool result aborts the run: a benchmark
-- of refusals would be worthless.
SELECT coalesce(r -> 'result' ->> 'isError' = 'false', false)::int AS ok
  FROM mtmcp.mcp_dispatch(:tok, '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "noop", "arguments": {}}}') r \gset
\if :ok = 1
\else
SELECT 'mcp_dispatch did not return a successful tool result'::int;
\endif
