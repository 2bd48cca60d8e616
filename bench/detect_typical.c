/*
 * detect_typical.c -- instructions per scan of a typical tools/call
 *
 *   detect_typical patterns.tsv result.json [N [flush]]
 *
 * Compiles the patterns once, builds the scan contexts the way src/inspect.c
 * scan() does for tenant "acme" (tenants acme, globex, initech, umbrella-eu;
 * no allowed hosts; no tenant rows; the GUC's default max_bytes; one reused
 * scratch), then scans the result text (DETECT_RESULT, the categories whose
 * default result action is not off: override, exfiltration, cross_tenant)
 * and the arguments of the call (DETECT_ARGUMENTS, all four) N times each
 * (default 100), alternating as a backend does.  Meant for callgrind:
 *
 *   valgrind --tool=callgrind --toggle-collect=scan_result \
 *       --toggle-collect=scan_arguments build/detect_typical ...
 *
 * scan_result / scan_arguments are separate functions so that the profile
 * attributes each input's cost (noipa: not merged, though their bodies are
 * the same).
 * With "flush" the driver writes 16 MB of other memory before every scan,
 * so that each scan starts with cold caches as in a backend (run with
 * --cache-sim=yes: the misses are the lines the scan touches).  Prints the
 * findings of the first scans, so a changed result shows.
 */
#include "../src/detect.h"
#include "../test/detect_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_BYTES (16u << 20)

static const char args_text[] = "{\"limit\": 1, \"query\": \"quarterly report for the east region\"}";

__attribute__((noipa)) static int
scan_result(const DetectRules *rules, const DetectContext *ctx, const char *t, size_t n,
			DetectFinding *f, int max)
{
	return detect_scan(rules, ctx, t, n, f, max, NULL);
}

__attribute__((noipa)) static int
scan_arguments(const DetectRules *rules, const DetectContext *ctx, const char *t, size_t n,
			   DetectFinding *f, int max)
{
	return detect_scan(rules, ctx, t, n, f, max, NULL);
}

/* evict the caches between scans: a backend runs other code between them */
static void
flush(void)
{
	static unsigned char *junk;
	size_t		i;

	if (junk == NULL)
		junk = malloc(FLUSH_BYTES);
	for (i = 0; i < FLUSH_BYTES; i += 64)
		junk[i]++;
}

static void
show(const char *what, const DetectFinding *f, int n)
{
	int			i;

	printf("%s: %d finding(s)", what, n);
	for (i = 0; i < n; i++)
		printf(" %s@%zu+%zu", f[i].pattern_id, f[i].offset, f[i].length);
	printf("\n");
}

int
main(int argc, char **argv)
{
	static const char *const tenant_ids[] = {"acme", "globex", "initech", "umbrella-eu"};
	DetectPattern *pats;
	char	   *pbuf,
				err[256],
			   *text;
	int			np,
				i,
				iters = argc > 3 ? atoi(argv[3]) : 100,
				cold = argc > 4 && strcmp(argv[4], "flush") == 0;
	DetectRules *rules;
	DetectTenants *tenants;
	DetectScratch *scratch;
	DetectContext rctx,
				actx;
	FILE	   *fp;
	long		len;
	DetectFinding f[16];

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s patterns.tsv result.json [N]\n", argv[0]);
		return 2;
	}
	np = dl_load_patterns(argv[1], &pats, &pbuf);
	if (np <= 0 || (rules = detect_compile(pats, np, err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "cannot compile %s\n", argv[1]);
		return 2;
	}
	if ((fp = fopen(argv[2], "rb")) == NULL)
	{
		fprintf(stderr, "cannot open %s\n", argv[2]);
		return 2;
	}
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	text = malloc((size_t) len + 1);
	if (fread(text, 1, (size_t) len, fp) != (size_t) len)
		return 2;
	fclose(fp);

	tenants = detect_tenants_new(tenant_ids, 4);
	scratch = detect_scratch_new();
	memset(&rctx, 0, sizeof(rctx));
	rctx.direction = DETECT_RESULT;
	rctx.categories = DETECT_CAT_BIT(DETECT_OVERRIDE) | DETECT_CAT_BIT(DETECT_EXFILTRATION) |
		DETECT_CAT_BIT(DETECT_CROSS_TENANT);
	rctx.own_tenant = "acme";
	rctx.tenants = tenants;
	rctx.max_bytes = 256 * 1024;	/* mtmcp.inspect_max_bytes' default */
	rctx.scratch = scratch;
	actx = rctx;
	actx.direction = DETECT_ARGUMENTS;
	actx.categories = DETECT_ALL_CATEGORIES;

	for (i = 0; i < iters; i++)
	{
		int			na;

		/* a call scans its arguments, then its result */
		if (cold)
			flush();
		na = scan_arguments(rules, &actx, args_text, sizeof(args_text) - 1, f, 16);

		if (i == 0)
			show("arguments", f, na);
		if (cold)
			flush();
		na = scan_result(rules, &rctx, text, (size_t) len, f, 16);
		if (i == 0)
			show("result", f, na);
	}
	printf("%d scans of each (result %ld bytes, arguments %zu bytes)\n", iters, len,
		   sizeof(args_text) - 1);
	detect_scratch_free(scratch);
	detect_tenants_free(tenants);
	detect_free(rules);
	free(pats);
	free(pbuf);
	free(text);
	return 0;
}
