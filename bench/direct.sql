-- A: the tool handler called directly (no token, no dispatch).
SELECT bench.noop('{}'::jsonb);
