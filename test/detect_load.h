/*
 * detect_load.h -- TSV loading shared by test/detect_test.c and
 * bench/detector_bench.c (header-only, test code; not part of the module)
 *
 * patterns.tsv: id <TAB> category <TAB> severity <TAB> pattern
 * corpus.tsv:   id <TAB> label <TAB> categories <TAB> text
 *               label "attack" (categories: comma list) or "benign"
 *               (categories: a style tag); text escapes \n \t \\ only.
 * Lines starting with '#' and empty lines are comments.
 */
#ifndef MTMCP_DETECT_LOAD_H
#define MTMCP_DETECT_LOAD_H

#include "../src/detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct DlRow
{
	char	   *f[4];
} DlRow;

/* split a file into rows of 4 tab-separated fields; returns row count or -1 */
static inline int
dl_read_rows(const char *path, DlRow **rows_out, char **buf_out)
{
	FILE	   *fp = fopen(path, "rb");
	long		sz;
	char	   *buf,
			   *line;
	DlRow	   *rows = NULL;
	int			n = 0,
				cap = 0;

	if (fp == NULL)
		return -1;
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t) sz + 1);
	if (buf == NULL || fread(buf, 1, (size_t) sz, fp) != (size_t) sz)
	{
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	buf[sz] = '\0';
	for (line = buf; line && *line;)
	{
		char	   *nl = strchr(line, '\n'),
				   *p = line;
		int			k;
		DlRow		r;

		if (nl)
			*nl = '\0';
		if (*line != '#' && *line != '\0')
		{
			for (k = 0; k < 4; k++)
			{
				r.f[k] = p;
				if (k < 3)
				{
					p = strchr(p, '\t');
					if (p == NULL)
						break;
					*p++ = '\0';
				}
			}
			if (k == 4)
			{
				if (n == cap)
				{
					cap = cap ? cap * 2 : 64;
					rows = realloc(rows, (size_t) cap * sizeof(DlRow));
				}
				rows[n++] = r;
			}
			else
				fprintf(stderr, "%s: skipping malformed line: %.60s\n", path, line);
		}
		line = nl ? nl + 1 : NULL;
	}
	*rows_out = rows;
	*buf_out = buf;
	return n;
}

/* load patterns.tsv; returns count or -1 */
static inline int
dl_load_patterns(const char *path, DetectPattern **out, char **buf)
{
	DlRow	   *rows = NULL;
	int			n = dl_read_rows(path, &rows, buf),
				i;
	DetectPattern *p;

	if (n < 0)
		return -1;
	p = calloc((size_t) n + 1, sizeof(DetectPattern));
	for (i = 0; i < n; i++)
	{
		int			c = detect_category_from_name(rows[i].f[1]);
		int			s = detect_severity_from_name(rows[i].f[2]);

		if (c < 0 || s < 0)
		{
			fprintf(stderr, "%s: pattern %s: invalid category or severity\n", path, rows[i].f[0]);
			free(rows);
			free(p);
			return -1;
		}
		p[i].id = rows[i].f[0];
		p[i].category = (DetectCategory) c;
		p[i].severity = (DetectSeverity) s;
		p[i].text = rows[i].f[3];
	}
	free(rows);
	*out = p;
	return n;
}

/* undo the corpus text escapes in place; returns the length */
static inline size_t
dl_unescape(char *s)
{
	char	   *o = s,
			   *i = s;

	while (*i)
	{
		if (i[0] == '\\' && (i[1] == 'n' || i[1] == 't' || i[1] == '\\'))
		{
			*o++ = i[1] == 'n' ? '\n' : i[1] == 't' ? '\t' : '\\';
			i += 2;
		}
		else
			*o++ = *i++;
	}
	*o = '\0';
	return (size_t) (o - s);
}

#endif							/* MTMCP_DETECT_LOAD_H */
