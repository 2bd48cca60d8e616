/*
 * fuzz_detect.c -- libFuzzer harness for src/detect.c
 *
 * The first input byte chooses the mode, the rest is the payload:
 *   bits 0-1  direction (arguments, result, resource, prompt)
 *   bit 2     no tenant set (path and key checks only)
 *   bit 3     a small byte bound (payload length / 2), to exercise truncation
 *   bit 4     the payload's first line is compiled as a pattern too, and the
 *             rest is scanned with it as the extra (per-tenant) rule set
 *   bit 5     all categories, whatever the direction
 * The payload goes through detect_normalize and detect_scan with a fixed
 * rule set modelled on test/detect/patterns.tsv (every syntax feature).
 * Checked contracts: findings within max_out and within the scanned bytes,
 * valid categories/severities/depths, ids not NULL, the same result twice
 * (the second time with a DetectScratch kept across inputs),
 * normalised text never longer than its input.  Everything allocated per
 * input is freed (LeakSanitizer is on); the fixed rules and the scratch stay
 * reachable.  Built with DETECT_CHECK_FAST, the scan also checks its
 * offset-free normalisation against the offset-carrying one on every input.
 */
#include "../src/detect.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const DetectPattern fz_patterns[] = {
	{"ov.ignore", DETECT_OVERRIDE, DETECT_HIGH,
	"ignore|disregard|forget * previous|prior|above|all *2 instruction*|rule|rules|prompt"},
	{"ov.template", DETECT_OVERRIDE, DETECT_HIGH, "< \\| im\\ start|im\\ end|system|eot\\ id"},
	{"ov.inst", DETECT_OVERRIDE, DETECT_HIGH, "[ inst|/inst|sys ]"},
	{"ov.role", DETECT_OVERRIDE, DETECT_MEDIUM, "\" role \" : \" system|assistant \""},
	{"ov.method", DETECT_OVERRIDE, DETECT_HIGH, "method \" : \" tools/call|sampling/createmessage"},
	{"ov.turns", DETECT_OVERRIDE, DETECT_HIGH, "human|user : *24 assistant|ai :"},
	{"ex.append", DETECT_EXFILTRATION, DETECT_HIGH, "append|add * conversation|chat\\ history|secret* *6 url|query"},
	{"ct.switch", DETECT_CROSS_TENANT, DETECT_HIGH, "switch|impersonate *3 tenant|tenant\\ id *2 to|as|="},
	{"ss.cookie", DETECT_SESSION_STATE, DETECT_HIGH, "cookie *1 : *6 sessionid|jsessionid|sid *1 ="},
	{"ov.de", DETECT_OVERRIDE, DETECT_HIGH, "ignoriere *4 vorherigen *3 anweisungen"},
	{"ov.cues", DETECT_OVERRIDE, DETECT_MEDIUM,
	"&3/20 ai|model|bot rule|rules|guideline* ignore|no\\ longer|not\\ bound admin|developer reveal|secret*"},
};

static DetectRules *fz_rules;
static DetectScratch *fz_scratch;	/* the second scan of each input uses it, kept across inputs */
static DetectTenants *fz_tenants;
static const char *const fz_tenant_ids[] = {"acme", "globex", "initech", "umbrella-eu", "a.b"};
static const char *const fz_hosts[] = {"acme.com", "example.org"};

#define FZ_MAX_OUT 8

static void
fz_init(void)
{
	char		err[256];

	fz_rules = detect_compile(fz_patterns, (int) (sizeof(fz_patterns) / sizeof(fz_patterns[0])),
							  err, sizeof(err));
	fz_tenants = detect_tenants_new(fz_tenant_ids, 5);
	fz_scratch = detect_scratch_new();
	if (fz_rules == NULL || fz_tenants == NULL || fz_scratch == NULL)
	{
		fprintf(stderr, "fuzz init: %s\n", err);
		abort();
	}
}

static int
fz_scan(const DetectRules *extra, const DetectContext *ctx0, const char *text, size_t len,
		DetectFinding *out, bool *trunc, DetectScratch *scratch)
{
	DetectContext ctx = *ctx0;
	int			n,
				i;
	size_t		bound;

	ctx.extra_rules = extra;
	ctx.scratch = scratch;
	n = detect_scan(fz_rules, &ctx, text, len, out, FZ_MAX_OUT, trunc);
	if (n < 0 || n > FZ_MAX_OUT)
		abort();
	bound = ctx.max_bytes && ctx.max_bytes < len ? ctx.max_bytes : len;
	for (i = 0; i < n; i++)
	{
		const DetectFinding *f = &out[i];

		if ((int) f->category < 0 || f->category >= DETECT_NCATEGORIES ||
			f->severity < DETECT_LOW || f->severity > DETECT_HIGH ||
			f->pattern_id == NULL || f->depth < 0 || f->depth > 2 ||
			f->offset > bound || f->length > bound - f->offset ||
			(f->depth > 0 && !f->obfuscated))
			abort();
		if (ctx.categories && !(ctx.categories & DETECT_CAT_BIT(f->category)))
			abort();
	}
	return n;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DetectContext ctx;
	DetectFinding a[FZ_MAX_OUT],
				b[FZ_MAX_OUT];
	DetectRules *extra = NULL;
	const char *text;
	size_t		len,
				nl;
	bool		ta,
				tb;
	int			na,
				nb,
				i;
	char	   *norm;
	uint8_t		mode;

	if (fz_rules == NULL)
		fz_init();
	if (size == 0)
		return 0;
	mode = data[0];
	text = (const char *) data + 1;
	len = size - 1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.direction = (DetectDirection) (mode & 3);
	ctx.own_tenant = "acme";
	ctx.tenants = (mode & 4) ? NULL : fz_tenants;
	ctx.allowed_hosts = fz_hosts;
	ctx.n_allowed_hosts = 2;
	if (mode & 8)
		ctx.max_bytes = len / 2 + 1;
	if (mode & 32)
		ctx.categories = DETECT_ALL_CATEGORIES;

	if (mode & 16)
	{
		const char *eol = memchr(text, '\n', len);
		size_t		pl = eol ? (size_t) (eol - text) : len;
		char	   *pt = malloc(pl + 1);
		char		err[128];
		DetectPattern p = {"fz.extra", DETECT_EXFILTRATION, DETECT_LOW, NULL};

		if (pt == NULL)
			return 0;
		memcpy(pt, text, pl);
		pt[pl] = '\0';
		p.text = pt;
		extra = detect_compile(&p, 1, err, sizeof(err));
		if (extra == NULL && err[0] == '\0')
			abort();			/* a failure always says why */
		free(pt);
		if (eol)
		{
			text = eol + 1;
			len -= pl + 1;
		}
	}

	norm = detect_normalize(text, len, &nl);
	if (norm == NULL || nl > len || strlen(norm) > nl)
		abort();
	free(norm);

	/* the same result twice: without a scratch, and with one that scanned other inputs before */
	na = fz_scan(extra, &ctx, text, len, a, &ta, NULL);
	nb = fz_scan(extra, &ctx, text, len, b, &tb, fz_scratch);
	if (na != nb || ta != tb)
		abort();
	for (i = 0; i < na; i++)
		if (strcmp(a[i].pattern_id, b[i].pattern_id) != 0 || a[i].offset != b[i].offset ||
			a[i].length != b[i].length || a[i].depth != b[i].depth || a[i].obfuscated != b[i].obfuscated)
			abort();
	detect_free(extra);
	return 0;
}
