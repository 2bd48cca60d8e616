-------------------------------------------------------------------------------
-- Prompt-injection detection (src/inspect.c; the detector is src/detect.c)
-------------------------------------------------------------------------------

-- Why a pattern row cannot be compiled, or NULL: the table's check, so a
-- row that would break every backend's compiled set is refused at INSERT.
CREATE FUNCTION mtmcp._injection_pattern_error(category text, severity text, pattern text)
RETURNS text
AS 'MODULE_PATHNAME', 'mtmcp_injection_pattern_error'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp._injection_pattern_error(text, text, text) IS
'Why a prompt-injection pattern does not compile (NULL when it does); the check of mtmcp.injection_patterns.';

-- Patterns are data: global rows (tenant_id NULL) apply to every tenant, a
-- tenant's rows to its own calls as well.  Compiled once per backend and
-- recompiled when this table (or the tenant list) changes.  The shipped
-- rows (builtin) are test/detect/patterns.tsv.
CREATE TABLE mtmcp.injection_patterns (
	tenant_id	text REFERENCES mtmcp.tenants (tenant_id),
	id			text NOT NULL CONSTRAINT injection_pattern_id CHECK (id ~ '^[a-z0-9][a-z0-9_.:-]{0,63}$'),
	category	text NOT NULL CONSTRAINT injection_pattern_category CHECK (category IN
				('override', 'exfiltration', 'cross_tenant', 'session_state')),
	severity	text NOT NULL CONSTRAINT injection_pattern_severity CHECK (severity IN ('low', 'medium', 'high')),
	pattern		text NOT NULL CONSTRAINT injection_pattern_compiles CHECK
				(mtmcp._injection_pattern_error(category, severity, pattern) IS NULL),
	enabled		boolean NOT NULL DEFAULT true,
	builtin		boolean NOT NULL DEFAULT false,
	CONSTRAINT injection_patterns_key UNIQUE NULLS NOT DISTINCT (tenant_id, id)
);
COMMENT ON TABLE mtmcp.injection_patterns IS
'Prompt-injection patterns (syntax in src/detect.h): tenant_id NULL = every tenant, else that tenant''s calls too; builtin rows ship with mtmcp.';
CREATE TRIGGER injection_patterns_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mtmcp.injection_patterns
	FOR EACH STATEMENT EXECUTE FUNCTION mtmcp._config_changed();

-- The shipped defaults (test/detect/patterns.tsv).
INSERT INTO mtmcp.injection_patterns (id, category, severity, pattern, builtin)
SELECT v.id, v.category, v.severity, v.pattern, true FROM (VALUES
	('ov.ignore_instructions', 'override', 'high', $p$ignore|disregard|forget|skip|override|overwrite|bypass|abandon|discard|neglect|dismiss * previous|prior|above|earlier|preceding|former|initial|original|existing|all|any|your|system|developer|these|those|safety *2 instruction*|direction*|rule|rules|guideline*|guidance|prompt|prompts|context|guardrail*|constraint*|directive*|command*|polic*|restriction*|programming|safeguard*|filter*|training$p$),
	('ov.forget_everything', 'override', 'high', $p$forget|ignore|disregard|erase|clear|wipe * everything|anything|all *4 told|instructed|above|before|previously|prior|so\ far|up\ to\ now$p$),
	('ov.new_instructions', 'override', 'high', $p$your *2 new|real|actual|true|updated|only|primary|revised *2 instruction*|directive*|orders|mission *2 is|are|:|now$p$),
	('ov.new_instructions_header', 'override', 'medium', $p$new|real|actual|true|secret|hidden|updated|revised *1 system *1 instruction*|prompt|directive*|message :$p$),
	('ov.hidden_instructions', 'override', 'high', $p$new|real|actual|true|secret|hidden|override *1 instruction*|directive*|orders *2 for\ the|for\ you|to\ the *2 ai|assistant|agent|model|llm|bot$p$),
	('ov.set_aside', 'override', 'high', $p$ignore|disregard|forget|set\ aside|put\ aside|throw\ out|abandon|drop|discard|dismiss * whatever|everything|anything|all|any *4 given|told|received|instructed|provided|taught *2 earlier|before|previously|above|so\ far|until\ now|up\ to\ now$p$),
	('ov.revoked', 'override', 'high', $p$previous|prior|above|earlier|original|old|existing|system|your *1 instruction*|directive*|rule|rules|guideline*|guidance|prompt|programming *3 no\ longer\ apply|no\ longer\ valid|are\ revoked|is\ revoked|have\ been\ revoked|revoked|are\ void|null\ and\ void|cancelled|canceled|do\ not\ apply|don\ t\ apply|are\ suspended|are\ lifted$p$),
	('ov.revoked_after', 'override', 'high', $p$instruction*|directive*|rules|guideline*|guidance|prompt above|before|earlier *3 no\ longer\ apply|no\ longer\ valid|are\ revoked|revoked|are\ void|cancelled|canceled|do\ not\ apply|don\ t\ apply|are\ suspended$p$),
	('ov.new_directive', 'override', 'high', $p$new|updated|revised|real|actual|override|priority directive|directives|orders|objective|mission|system\ prompt|system\ instructions *1 :$p$),
	('ov.ignore_user', 'override', 'high', $p$ignore|disregard|forget *2 what|the|whatever *2 user|human|customer *1 asked|said|wants|wrote|requested|question|request|query|typed$p$),
	('ov.call_tool_instead', 'override', 'high', $p$instead|now|immediately *3 call|invoke|run|execute|trigger *4 tool|function$p$),
	('ov.objective_switch', 'override', 'high', $p$from\ now\ on|from\ this\ point|henceforth|going\ forward|from\ here\ on *4 your|you *3 objective|goal|task|purpose|mission|role|instructions|directive *1 is|are|:|will\ be$p$),
	('ov.cues', 'override', 'medium', $p$&3/20 ai|llm|llms|bot|bots|chatbot|gpt|chatgpt|claude|copilot|gemini|model|agent|automated\ assistant|language\ model instruction*|directive*|guideline*|guidance|rule|rules|restriction*|filter*|setup|programming|system\ prompt|prompt|polic*|safety|guardrail* ignore|ignoring|disregard|forget|override|outdated|revoked|void|obsolete|disabled|lifted|suspended|no\ longer|not\ bound|don\ t\ follow|stop\ following|do\ not\ follow|was\ a\ test|were\ a\ test|fake|bypass|unlocked admin|administrator|developer|root|elevated|granted|permission*|authorized|authorised|sudo|superuser reveal|print|export|wire|transfer|email|delete|leak|dump|exfiltrate|secret*|password*|credential*|config|configuration|internal|api\ key*$p$),
	('ov.your_rules_void', 'override', 'high', $p$&2/5 your\ instructions|your\ guidelines|your\ rules|your\ setup|your\ programming|your\ system\ prompt|your\ restrictions|your\ original\ instructions|your\ guidance|your\ filters|your\ safety ignore|disregard|forget|override|outdated|revoked|void|no\ longer|not\ bound|don\ t\ follow|stop\ following|do\ not\ follow|bypass|disabled|lifted|suspended$p$),
	('ov.priority_claim', 'override', 'high', $p$take*|have|has|given|override* *1 precedence|priority|preference *3 over|than *2 your|the\ system|any\ system|system\ prompt|safety|guidelines|original\ instructions|programming|previous\ instructions$p$),
	('ov.reveal_prompt', 'override', 'high', $p$reveal|print|output|repeat|show|display|leak|dump|disclose|tell\ me|write\ out|give\ me|recite|expose * your|system|initial|hidden|secret|developer|verbatim|internal *2 prompt|prompts|instructions|system\ message|configuration|guidelines$p$),
	('ov.you_are_now', 'override', 'high', $p$you *1 are|re *2 now|henceforth|officially *4 dan|jailbroken|unrestricted|unfiltered|uncensored|unbound|evil|rogue|liberated|unchained|unlimited$p$),
	('ov.mode_switch', 'override', 'high', $p$dan|god|jailbreak|jailbroken|unrestricted|unfiltered|evil|stan|chaos|opposite *1 mode *3 enabled|activated|on|engaged|unlocked$p$),
	('ov.mode_enable', 'override', 'high', $p$enable|activate|enter|switch\ to|turn\ on|unlock * dan|god|jailbreak|unrestricted|unfiltered|evil|stan|chaos *1 mode$p$),
	('ov.do_anything_now', 'override', 'high', $p$do anything now$p$),
	('ov.no_restrictions', 'override', 'high', $p$pretend|imagine|act|roleplay|role|behave|respond|answer * without|no|free\ of|ignoring|ignore|unrestricted\ by *2 restriction*|limit*|filter*|guideline*|rule|rules|censorship|ethic*|moral*|polic*|safety|guardrail*$p$),
	('ov.do_not_tell', 'override', 'high', $p$do\ not|don|never|dont *2 tell|inform|mention|reveal|disclose|alert|notify|let *2 user|human|operator *4 instruction*|this\ message|this\ note|this\ request|were\ told|have\ been\ told|hidden|secret|about\ this$p$),
	('ov.ai_address', 'override', 'high', $p$attention|note|message|instruction*|important|urgent|notice|attn|memo *3 ai|llm|chatbot|gpt|claude|chatgpt|copilot|gemini|ai\ assistant|ai\ agent|ai\ model|language\ model|ai\ system|automated\ assistant|automated\ agent|automated\ system$p$),
	('ov.ai_conditional', 'override', 'high', $p$if|when|since *1 you *1 are|re an|a ai|llm|language\ model|ai\ assistant|ai\ agent|large\ language|chatbot$p$),
	('ov.ai_reading', 'override', 'high', $p$ai|llm|llms|gpt|claude|chatgpt|copilot|gemini|chatbot|ai\ assistant|ai\ assistants|ai\ agent|ai\ agents|language\ model|language\ models *1 reading|processing|parsing|summarizing|summarising|analyzing|analysing|scanning|ingesting *3 this|these$p$),
	('ov.must_call_tool', 'override', 'high', $p$you|assistant|agent *1 must|should|shall|will|need\ to *2 now|immediately *4 call|invoke|run|execute|trigger|use *3 tool|function$p$),
	('ov.chat_template', 'override', 'high', $p$< \| im\ start|im\ end|system|assistant|user|endoftext|begin\ of\ text|start\ header\ id|end\ header\ id|eot\ id|tool\ call|channel|message|end|start|return|call|constrain|fim\ prefix$p$),
	('ov.inst_tags', 'override', 'high', $p$[ inst|/inst|sys|/sys|system|/system|system\ prompt ]$p$),
	('ov.llama_sys', 'override', 'high', $p$< < sys > >$p$),
	('ov.important_tag', 'override', 'high', $p$< important|critical|urgent|secret|hidden|admin|instruction|instructions|system\ instructions|ai\ instructions >$p$),
	('ov.conceal', 'override', 'high', $p$do\ not|don|dont|never *1 mention|reveal|disclose|tell *1 this|these|that|it *3 user|human|operator$p$),
	('ov.real_system_prompt', 'override', 'high', $p$real|actual|true|new|updated|correct|genuine|official system\ prompt|system\ instructions|system\ message|developer\ instructions|developer\ message$p$),
	('ov.role_tag_open', 'override', 'high', $p$< system|assistant|developer|admin|instructions|system\ prompt|sys > *6 you|your|ignore|must|instruction*|always|never|follow|disregard|new$p$),
	('ov.role_tag_close', 'override', 'high', $p$< / tool\ result|tool\ output|function\ results|function\ result|tool\ response|untrusted\ data|external\ content|document\ content|search\ results|context|user\ input >$p$),
	('ov.role_json', 'override', 'medium', $p$" role " : " system|developer|assistant "$p$),
	('ov.chat_turns', 'override', 'high', $p$human|user : *24 assistant|ai :$p$),
	('ov.heading_role', 'override', 'medium', $p$# # system|assistant *1 prompt|message|instructions|override|:$p$),
	('ov.system_override', 'override', 'high', $p$system|admin|administrator|developer|root|security|safety|priority override|directive *1 :|enabled|activated|accepted|granted|engaged|in\ effect|mode$p$),
	('ov.end_of_data', 'override', 'high', $p$end|ignore *1 of *1 document|context|data|input|file|email|text|content|untrusted|user\ input|tool\ output|results *6 begin|start|system|instruction*|ignore|assistant|new\ instruction*|new\ task|real\ task|new\ rules$p$),
	('ov.tool_call_tags', 'override', 'high', $p$< function\ calls|function\ call|invoke|tool\ call|tool\ calls|tool\ use|tool\ code|antml|parameter\ name|function\ results$p$),
	('ov.tool_call_json', 'override', 'medium', $p$" tool\ calls|function\ call|tool\ use|tool\ call|tool\ choice " : [|{$p$),
	('ov.jsonrpc_envelope', 'override', 'medium', $p$jsonrpc *4 2 . 0 *12 method$p$),
	('ov.mcp_method', 'override', 'high', $p$method " : " tools/call|sampling/createmessage|resources/read|elicitation/create|roots/list|prompts/get|notifications/$p$),
	('ov.de_ignore', 'override', 'high', $p$ignoriere|ignorieren|vergiss|vergessen *4 vorherigen|bisherigen|obigen|alle|vorigen *3 anweisungen|instruktionen|befehle|regeln$p$),
	('ov.es_ignore', 'override', 'high', $p$ignora|ignore|olvida|ignorar|olvidar *4 instrucciones|indicaciones|reglas|ordenes *2 anteriores|previas|previos$p$),
	('ov.fr_ignore', 'override', 'high', $p$ignorez|ignore|oubliez|oublie|ignorer *4 instructions|consignes|regles *2 precedentes|anterieures|ci\ dessus$p$),
	('ov.it_ignore', 'override', 'high', $p$ignora|dimentica|ignorare *4 istruzioni|indicazioni|regole *2 precedenti$p$),
	('ov.pt_ignore', 'override', 'high', $p$ignore|ignora|esqueca|esquece *4 instrucoes|orientacoes|regras *2 anteriores|previas$p$),
	('ex.send_to_url', 'exfiltration', 'high', $p$send|post|upload|forward|transmit|exfiltrate|leak|submit|beacon|ship|relay|copy * conversation|chat|history|transcript|secret|secrets|credential*|password*|api\ key*|tokens|system\ prompt|previous\ messages|the\ user\ s *8 http|https|webhook|endpoint|pastebin|ngrok|requestbin|pipedream|attacker|collector$p$),
	('ex.append_to_url', 'exfiltration', 'high', $p$append|add|include|insert|embed|encode|put|attach|concatenate|substitute|replace * conversation|chat\ history|transcript|secret*|credential*|password*|system\ prompt|previous\ messages|user\ data|personal\ data|the\ user\ s|private\ data *6 url|query|parameter|querystring|query\ string|src|image\ link|image\ url|http|https$p$),
	('ex.fill_placeholder', 'exfiltration', 'high', $p$replace|fill|substitute|swap *12 with|by *3 conversation|chat\ history|chat|history|transcript|secret*|credential*|password*|personal\ data|user\ data|system\ prompt$p$),
	('ex.encode_and_send', 'exfiltration', 'high', $p$base64|encode|encoded|hex|rot13|url\ encode *4 then|and|before *4 send|append|include|post|add|attach|upload|embed|put *6 url|http|https|webhook|link|query|endpoint|image$p$),
	('ex.render_image_url', 'exfiltration', 'medium', $p$render|display|show|output|print|embed|load *4 markdown|following|this *2 image|img|picture|pixel *3 with|containing|including|where *6 data|conversation|history|secret*|summary|replace*$p$),
	('ex.invisible_image', 'exfiltration', 'high', $p$invisible|hidden|1x1|one\ pixel|zero\ size|tiny *2 image|img|pixel *6 http|https|url|src|query$p$),
	('ct.tenant_switch', 'cross_tenant', 'high', $p$switch|change|impersonate|become|assume|override|spoof *3 tenant|tenant\ id|tenantid|org\ id|organization\ id|x\ tenant|x\ tenant\ id *2 to|as|=|:|header$p$),
	('ct.other_tenant_data', 'cross_tenant', 'high', $p$read|fetch|list|show|get|export|query|access|retrieve|dump|download|copy|search|open|see|view *3 another|other|different|foreign|neighbouring|neighboring|every *1 tenant|tenants|tenant\ s *4 data|records|documents|files|resources|database|schema|rows|tables|invoices|customers|uris|namespace|knowledge\ base|kb$p$),
	('ct.set_tenant_guc', 'cross_tenant', 'high', $p$set|reset|set\ config|set\ local *2 mtmcp|app|request *1 . *1 tenant|current\ tenant|tenant\ id$p$),
	('ct.rls_disable', 'cross_tenant', 'high', $p$disable|bypass|turn\ off|skip|ignore|drop|circumvent *2 row\ level\ security|rls|tenant\ isolation|tenant\ filter|tenant\ check|tenant\ boundary$p$),
	('ct.rls_bypass', 'cross_tenant', 'high', $p$bypassrls|row\ level\ security|rls|tenant\ isolation|tenant\ filter|tenant\ check *2 off|disable|disabled|bypass|skip|ignore|false|turned\ off$p$),
	('ss.reuse_session', 'session_state', 'high', $p$use|reuse|resume|continue|attach\ to|join|hijack|replay|take\ over|borrow *4 session|conversation|token|credentials *1 of|from|belonging\ to|owned\ by *4 another|other|different|admin|tenant$p$),
	('ss.other_session', 'session_state', 'high', $p$continue|resume|reuse|hijack|use|take\ over|join|replay *3 another|other|different|admin *3 session|sessions|conversation|token|cookie$p$),
	('ss.basic_auth', 'session_state', 'high', $p$authorization *1 : *1 basic$p$),
	('ss.cookie_session', 'session_state', 'high', $p$cookie *1 : *6 sessionid|jsessionid|phpsessid|sid|session|connect|auth|token *1 =$p$)
) AS v(id, category, severity, pattern);

-- One row per finding of the verified tenant's calls.
CREATE VIEW mtmcp.tenant_findings WITH (security_barrier) AS
	SELECT a.event_id, a.ts, a.method, a.target, a.result_kind, a.severity AS event_severity,
		   f.value ->> 'direction' AS direction, f.value ->> 'category' AS category,
		   f.value ->> 'pattern' AS pattern, f.value ->> 'severity' AS severity,
		   f.value ->> 'action' AS action, (f.value ->> 'offset')::bigint AS "offset",
		   (f.value ->> 'length')::bigint AS length, (f.value ->> 'obfuscated')::boolean AS obfuscated
	  FROM mtmcp.audit_log a CROSS JOIN LATERAL jsonb_array_elements(a.findings) f
	 WHERE a.tenant_id = (SELECT mtmcp.current_tenant()) AND a.findings IS NOT NULL;
COMMENT ON VIEW mtmcp.tenant_findings IS
'The verified tenant''s prompt-injection findings, one row per finding (the audit row is event_id in mtmcp.tenant_audit).';

-- Counters since the server started, by direction, category and action (no
-- tenant): what the HTTP shim's /metrics shows.
CREATE FUNCTION mtmcp.finding_counts()
RETURNS TABLE (direction text, category text, action text, findings bigint)
AS 'MODULE_PATHNAME', 'mtmcp_finding_counts'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION mtmcp.finding_counts() IS
'Prompt-injection findings counted since the server started, by direction, category and action; no tenant names.';

-- Privileges and pg_dump marks of this section
GRANT SELECT ON mtmcp.tenant_findings TO mtmcp_tenant, mtmcp_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON mtmcp.injection_patterns TO mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp.finding_counts() TO mtmcp_gateway, mtmcp_admin;
GRANT EXECUTE ON FUNCTION mtmcp._injection_pattern_error(text, text, text) TO mtmcp_admin;
SELECT pg_catalog.pg_extension_config_dump('mtmcp.injection_patterns', 'WHERE NOT builtin');
