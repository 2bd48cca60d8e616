-- Y, Z: a typical tools/call through mcp_dispatch (-D tok=...): a short
-- query in, about 1 KB of a business document out (bench.document), so
-- the prompt-injection scan has real text on both sides.  A response that
-- is not a successful tool result aborts the run.
SELECT coalesce(r -> 'result' ->> 'isError' = 'false', false)::int AS ok
  FROM mtmcp.mcp_dispatch(:tok, '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "document", "arguments": {"query": "quarterly report for the east region", "limit": 1}}}') r \gset
\if :ok = 1
\else
SELECT 'mcp_dispatch did not return a successful tool result'::int;
\endif
