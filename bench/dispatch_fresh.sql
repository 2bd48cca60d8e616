-- E, F (G): like dispatch.sql, but every transaction presents a different token
-- (-D alg=HS256|RS256|ES256 -D ntok=N -D i=0).  Each client walks all N tokens
-- in order from its own offset, so a backend sees N-1 other tokens before it
-- meets one again: with N well above mtmcp.token_cache_size (256) nearly every
-- call is a full cryptographic verification.  The token is fetched by primary
-- key inside the same statement.  (T runs this with ntok=1: always cached.)
\set i :i + 1
\set k 1 + (:i + :client_id * 1009) % :ntok
SELECT coalesce(r -> 'result' ->> 'isError' = 'false', false)::int AS ok
  FROM mtmcp.mcp_dispatch((SELECT t.token FROM bench.tokens t WHERE t.alg = :alg AND t.n = :k),
                          '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "noop", "arguments": {}}}') r \gset
\if :ok = 1
\else
SELECT 'mcp_dispatch did not return a successful tool result'::int;
\endif
