-------------------------------------------------------------------------------
-- Cost ledger (src/cost.c)
-------------------------------------------------------------------------------

CREATE TABLE mtmcp.meters (
	meter		text PRIMARY KEY CONSTRAINT meter_name_format CHECK (meter ~ '^[A-Za-z0-9_.:-]{1,128}$'),
	unit_price_micros bigint NOT NULL CONSTRAINT price_not_negative CHECK (unit_price_micros >= 0),
	mode		text NOT NULL DEFAULT 'per_call' CONSTRAINT meter_mode CHECK (mode IN ('per_call', 'bucketed')),
	unit		text NOT NULL DEFAULT 'unit',
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mtmcp.meters IS
'What costs money: a unit price in integer micro-units, and whether charges are written per call or bucketed per transaction.';

CREATE TABLE mtmcp.cost_ledger (
	entry_id	uuid NOT NULL DEFAULT gen_random_uuid(),
	ts			timestamptz NOT NULL DEFAULT clock_timestamp(),
	tenant_id	text NOT NULL,
	meter		text NOT NULL,
	quantity	numeric NOT NULL CONSTRAINT quantity_not_negative CHECK (quantity >= 0),
	unit_price_micros bigint NOT NULL,
	amount_micros bigint NOT NULL,
	mode		text NOT NULL CONSTRAINT ledger_mode CHECK (mode IN ('per_call', 'bucketed', 'background')),
	subject		text,
	tool		text,
	event_id	uuid,
	reason		text
) PARTITION BY RANGE (ts);
CREATE TABLE mtmcp.cost_ledger_default PARTITION OF mtmcp.cost_ledger DEFAULT;
COMMENT ON TABLE mtmcp.cost_ledger IS
'Every charge, attributed to a tenant: amount = round(quantity * unit price), in micro-units.';

CREATE FUNCTION mtmcp.create_meter(meter text, unit_price_micros bigint, mode text DEFAULT 'per_call',
								   unit text DEFAULT 'unit', description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF meter IS NULL OR unit_price_micros IS NULL OR mode IS NULL THEN
		RAISE EXCEPTION 'meter, unit price and mode must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF meter !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
		RAISE EXCEPTION 'invalid meter name "%"', meter USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF unit_price_micros < 0 THEN
		RAISE EXCEPTION 'invalid unit price %', unit_price_micros
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Prices are micro-units of at least zero.';
	END IF;
	IF mode NOT IN ('per_call', 'bucketed') THEN
		RAISE EXCEPTION 'invalid meter mode "%"', mode
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use "per_call" or "bucketed".';
	END IF;
	IF EXISTS (SELECT 1 FROM mtmcp.meters m WHERE m.meter = create_meter.meter) THEN
		RAISE EXCEPTION 'meter "%" already exists', meter
			USING ERRCODE = 'duplicate_object', HINT = 'Use mtmcp.set_meter_price() to change its price.';
	END IF;
	INSERT INTO mtmcp.meters (meter, unit_price_micros, mode, unit, description)
	VALUES (meter, unit_price_micros, mode, coalesce(unit, 'unit'), description);
END
$$;
COMMENT ON FUNCTION mtmcp.create_meter(text, bigint, text, text, text) IS
'Creates a meter: unit price in integer micro-units, mode per_call or bucketed.';

CREATE FUNCTION mtmcp.set_meter_price(meter text, unit_price_micros bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF unit_price_micros < 0 THEN
		RAISE EXCEPTION 'invalid unit price %', unit_price_micros USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE mtmcp.meters m SET unit_price_micros = set_meter_price.unit_price_micros, updated_at = now()
	 WHERE m.meter = set_meter_price.meter;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'meter "%" does not exist', meter USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mtmcp.set_meter_price(text, bigint) IS
'Changes a meter''s price for charges from now on (ledger rows keep the price they were made at).';

CREATE FUNCTION mtmcp.charge(meter text, quantity numeric)
RETURNS void
AS 'MODULE_PATHNAME', 'mtmcp_charge'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mtmcp.charge(text, numeric) IS
'Charges the verified tenant for quantity units of meter; billed even if the calling tool then fails.';

CREATE FUNCTION mtmcp.charge_background(tenant_id text, meter text, quantity numeric, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	price bigint;
BEGIN
	IF tenant_id IS NULL OR meter IS NULL OR quantity IS NULL THEN
		RAISE EXCEPTION 'tenant id, meter and quantity must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'a background charge needs a reason' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Say what the cost was for, e.g. "re-indexing documents".';
	END IF;
	IF quantity < 0 OR quantity = 'NaN' OR quantity = 'Infinity' THEN
		RAISE EXCEPTION 'invalid charge quantity' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM mtmcp._tenant_must_exist(tenant_id);
	SELECT m.unit_price_micros INTO price FROM mtmcp.meters m WHERE m.meter = charge_background.meter;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'meter "%" does not exist', meter USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO mtmcp.cost_ledger (tenant_id, meter, quantity, unit_price_micros, amount_micros, mode, reason)
	VALUES (tenant_id, meter, quantity, price, round(quantity * price)::bigint, 'background', reason);
END
$$;
COMMENT ON FUNCTION mtmcp.charge_background(text, text, numeric, text) IS
'Charges a tenant for a cost no call triggered (re-indexing, ingestion): attributed to the tenant whose data it is.';

CREATE VIEW mtmcp.tenant_costs WITH (security_barrier) AS
	SELECT c.entry_id, c.ts, c.meter, c.quantity, c.unit_price_micros, c.amount_micros, c.mode,
		   c.subject, c.tool, c.event_id, c.reason
	  FROM mtmcp.cost_ledger c
	 WHERE c.tenant_id = (SELECT mtmcp.current_tenant());
COMMENT ON VIEW mtmcp.tenant_costs IS 'The verified tenant''s own cost ledger.';

CREATE VIEW mtmcp.cost_by_tenant_day AS
	SELECT c.tenant_id, (c.ts AT TIME ZONE 'UTC')::date AS day, c.meter,
		   sum(c.quantity) AS quantity, sum(c.amount_micros) AS amount_micros, count(*) AS entries
	  FROM mtmcp.cost_ledger c
	 GROUP BY 1, 2, 3;
COMMENT ON VIEW mtmcp.cost_by_tenant_day IS 'Admin view: cost per tenant, per UTC day, per meter.';

-- Privileges and pg_dump marks of this section
GRANT SELECT ON mtmcp.tenant_costs TO mtmcp_tenant, mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.charge(text, numeric) TO mtmcp_tool;
GRANT SELECT ON mtmcp.cost_ledger, mtmcp.cost_by_tenant_day TO mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.meters TO mtmcp_admin;
GRANT INSERT ON mtmcp.cost_ledger TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION
	mtmcp.create_meter(text, bigint, text, text, text),
	mtmcp.set_meter_price(text, bigint),
	mtmcp.charge_background(text, text, numeric, text)
	TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.meters', '');
SELECT pg_catalog.pg_extension_config_dump('mtmcp.cost_ledger_default', '');
