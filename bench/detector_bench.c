/*
 * detector_bench.c -- quality and speed of src/detect.c on the labelled corpus
 *
 *   detector_bench patterns.tsv corpus.tsv [-v]
 *
 * Scans every sample as tool arguments of tenant "acme" (other tenants:
 * globex, initech, umbrella-eu; links allowed to acme.com, acme-cdn.net) and
 * prints, per category, true/false positives, misses, precision and recall;
 * then the same micro-averaged over categories, and attack-vs-benign ("any
 * finding"); then all of that again for the held-out slice (ids "h..."),
 * samples written after the patterns were frozen.  The targets are checked
 * on the whole corpus.  -v lists every miss and false positive.  Then throughput on
 * about 8 MB of benign text scanned in 64 KB calls and in 1 MB calls.
 *
 * Exit status 1 when a target is missed: recall >= 0.90 and precision >=
 * 0.95 per category, cross_tenant recall 1.0.
 */
#include "../src/detect.h"
#include "../test/detect_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
ratio(int a, int b)
{
	return b ? (double) a / b : 1.0;
}

int
main(int argc, char **argv)
{
	static const char *const tenant_ids[] = {"acme", "globex", "initech", "umbrella-eu"};
	static const char *const hosts[] = {"acme.com", "acme-cdn.net"};
	DetectPattern *pats;
	char	   *pbuf,
			   *cbuf,
				err[256];
	DlRow	   *rows;
	int			np,
				nr,
				i,
				c,
				verbose = argc > 3 && strcmp(argv[3], "-v") == 0,
				fail = 0;
	DetectRules *rules;
	DetectTenants *tenants;
	DetectContext ctx;
	/* [0]: every sample; [1]: the held-out slice (ids "h...") */
	int			tp[2][DETECT_NCATEGORIES] = {{0}},
				fp[2][DETECT_NCATEGORIES] = {{0}},
				fn[2][DETECT_NCATEGORIES] = {{0}};
	int			any_tp[2] = {0},
				any_fp[2] = {0},
				any_fn[2] = {0},
				n_attack[2] = {0},
				n_benign[2] = {0},
				obf_attacks = 0,
				set;
	size_t		benign_bytes = 0;
	char	   *benign_text;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s patterns.tsv corpus.tsv [-v]\n", argv[0]);
		return 2;
	}
	np = dl_load_patterns(argv[1], &pats, &pbuf);
	nr = dl_read_rows(argv[2], &rows, &cbuf);
	if (np <= 0 || nr <= 0)
	{
		fprintf(stderr, "cannot load %s or %s\n", argv[1], argv[2]);
		return 2;
	}
	rules = detect_compile(pats, np, err, sizeof(err));
	if (rules == NULL)
	{
		fprintf(stderr, "patterns: %s\n", err);
		return 2;
	}
	tenants = detect_tenants_new(tenant_ids, 4);
	memset(&ctx, 0, sizeof(ctx));
	ctx.direction = DETECT_ARGUMENTS;
	ctx.own_tenant = "acme";
	ctx.tenants = tenants;
	ctx.allowed_hosts = hosts;
	ctx.n_allowed_hosts = 2;

	benign_text = malloc(1);
	for (i = 0; i < nr; i++)
	{
		const char *id = rows[i].f[0],
				   *label = rows[i].f[1],
				   *cats = rows[i].f[2];
		char	   *text = rows[i].f[3];
		size_t		len = dl_unescape(text);
		int			attack = strcmp(label, "attack") == 0;
		int			want[DETECT_NCATEGORIES] = {0},
					got[DETECT_NCATEGORIES] = {0};
		DetectFinding f[32];
		int			n = detect_scan(rules, &ctx, text, len, f, 32, NULL),
					k,
					held = id[0] == 'h';

		if (attack)
		{
			char		tmp[128];
			char	   *tok,
					   *save;

			n_attack[0]++;
			n_attack[1] += held;
			snprintf(tmp, sizeof(tmp), "%s", cats);
			for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			{
				int			cc = detect_category_from_name(tok);

				if (cc < 0)
				{
					fprintf(stderr, "sample %s: invalid category \"%s\"\n", id, tok);
					return 2;
				}
				want[cc] = 1;
			}
		}
		else
		{
			n_benign[0]++;
			n_benign[1] += held;
			if (strchr(cats, '+') == NULL)
			{
				benign_text = realloc(benign_text, benign_bytes + len + 2);
				memcpy(benign_text + benign_bytes, text, len);
				benign_bytes += len;
				benign_text[benign_bytes++] = '\n';
			}
		}
		for (k = 0; k < n; k++)
			got[f[k].category] = 1;
		for (k = 0; k < n; k++)
			if (attack && f[k].obfuscated)
			{
				obf_attacks++;
				break;
			}
		for (set = 0; set <= held; set++)
		{
			for (c = 0; c < DETECT_NCATEGORIES; c++)
			{
				if (want[c] && got[c])
					tp[set][c]++;
				else if (want[c])
					fn[set][c]++;
				else if (got[c])
					fp[set][c]++;
			}
			if (attack && n > 0)
				any_tp[set]++;
			else if (attack)
				any_fn[set]++;
			else if (n > 0)
				any_fp[set]++;
		}
		for (c = 0; verbose && c < DETECT_NCATEGORIES; c++)
		{
			if (want[c] && !got[c])
				printf("MISS %s [%s] %.110s\n", id, detect_category_name(c), text);
			else if (!want[c] && got[c])
			{
				printf("FP   %s [%s:", id, detect_category_name(c));
				for (k = 0; k < n; k++)
					if ((int) f[k].category == c)
						printf(" %s", f[k].pattern_id);
				printf("] %.100s\n", text);
			}
		}
	}

	for (set = 0; set < 2; set++)
	{
		int			stp = 0,
					sfp = 0,
					sfn = 0;

		if (set == 0)
			printf("corpus: %d samples (%d attack, %d benign), %d patterns\n\n", nr,
				   n_attack[0], n_benign[0], np);
		else
			printf("\nheld-out slice (written after the patterns were frozen, ids h*): %d attack, %d benign\n",
				   n_attack[1], n_benign[1]);
		printf("%-14s %5s %5s %5s %10s %8s\n", "category", "TP", "FP", "FN", "precision", "recall");
		for (c = 0; c < DETECT_NCATEGORIES; c++)
		{
			double		p = ratio(tp[set][c], tp[set][c] + fp[set][c]),
						r = ratio(tp[set][c], tp[set][c] + fn[set][c]);
			int			ok = p >= 0.95 && r >= (c == DETECT_CROSS_TENANT ? 1.0 : 0.90);

			printf("%-14s %5d %5d %5d %10.3f %8.3f%s\n", detect_category_name(c), tp[set][c],
				   fp[set][c], fn[set][c], p, r, ok ? "" : "   <- below target");
			if (set == 0)
				fail |= !ok;
			stp += tp[set][c];
			sfp += fp[set][c];
			sfn += fn[set][c];
		}
		printf("%-14s %5d %5d %5d %10.3f %8.3f\n", "micro-average", stp, sfp, sfn,
			   ratio(stp, stp + sfp), ratio(stp, stp + sfn));
		printf("%-14s %5d %5d %5d %10.3f %8.3f\n", "any finding", any_tp[set], any_fp[set], any_fn[set],
			   ratio(any_tp[set], any_tp[set] + any_fp[set]), ratio(any_tp[set], any_tp[set] + any_fn[set]));
		printf("benign samples with a finding: %d of %d\n", any_fp[set], n_benign[set]);
	}
	printf("attacks with a finding flagged as obfuscated: %d\n\n", obf_attacks);

	/* throughput: ~8 MB of benign text */
	{
		size_t		target = 8u << 20,
					len = 0,
					chunks[2] = {64u << 10, 1u << 20};
		char	   *big = malloc(target + benign_bytes);
		int			w;

		while (len < target)
		{
			memcpy(big + len, benign_text, benign_bytes);
			len += benign_bytes;
		}
		for (w = 0; w < 2; w++)
		{
			size_t		off;
			double		t0 = now_sec(),
						dt;
			int			hits = 0;
			DetectFinding f[8];

			ctx.max_bytes = chunks[w];
			for (off = 0; off < len; off += chunks[w])
			{
				size_t		l = len - off < chunks[w] ? len - off : chunks[w];

				hits += detect_scan(rules, &ctx, big + off, l, f, 8, NULL) > 0;
			}
			dt = now_sec() - t0;
			printf("throughput: %.1f MB of benign text in %zu KB calls: %.3f s, %.1f MB/s\n",
				   len / 1048576.0, chunks[w] >> 10, dt, len / 1048576.0 / dt);
		}
		free(big);
	}

	printf("targets (per category recall >= 0.90, precision >= 0.95, cross_tenant recall 1.0): %s\n",
		   fail ? "MISSED" : "met");
	detect_free(rules);
	detect_tenants_free(tenants);
	free(pats);
	free(pbuf);
	free(rows);
	free(cbuf);
	free(benign_text);
	return fail;
}
