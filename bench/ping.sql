-- P: a dispatched ping with one token: authentication, tenant check and envelope, no tool.
SELECT (r ? 'result')::int AS ok
  FROM mtmcp.mcp_dispatch(:tok, '{"jsonrpc": "2.0", "id": 1, "method": "ping"}') r \gset
\if :ok = 1
\else
SELECT 'mcp_dispatch did not answer the ping'::int;
\endif
