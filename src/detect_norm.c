/*
 * detect_norm.c -- normalisation for the prompt-injection detector
 *
 * Two stages, each a single forward pass that never grows its input, each
 * carrying for every output byte the offset of the original byte it came
 * from (so findings can point into the caller's text):
 *
 *   detect_unescape  JSON/C backslash escapes (a run of any number of
 *                    backslashes counts as one escape, which unwraps JSON
 *                    nested in JSON strings in one pass), %XX, HTML entities
 *   detect_fold      UTF-8 -> folded, lower-case UTF-8 with hidden
 *                    characters dropped and whitespace collapsed
 *
 * The folding tables are deliberately small and explicit: compatibility
 * forms that look like ASCII, and look-alike letters from the scripts
 * attackers use for homoglyphs.  Everything else passes through unchanged.
 */
#include "detect_int.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 4 hex digits at p (p[0..3] must exist) -> value, or -1 */
static long
hex4(const unsigned char *p)
{
	long		v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t
put_utf8(unsigned char *o, unsigned long cp)
{
	if (cp < 0x80)
	{
		o[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		o[0] = (unsigned char) (0xC0 | (cp >> 6));
		o[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		o[0] = (unsigned char) (0xE0 | (cp >> 12));
		o[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char) (0xF0 | (cp >> 18));
	o[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

/* bytes of put_utf8(cp) */
static size_t
utf8_len(unsigned long cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

typedef struct Entity
{
	const char *name;
	unsigned long cp;
} Entity;

/* named HTML entities worth decoding: markup, punctuation, hidden spaces */
static const Entity entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	{"nbsp", 0xA0}, {"sol", '/'}, {"bsol", '\\'}, {"colon", ':'}, {"semi", ';'},
	{"lpar", '('}, {"rpar", ')'}, {"lsqb", '['}, {"rsqb", ']'}, {"lbrack", '['},
	{"rbrack", ']'}, {"lcub", '{'}, {"rcub", '}'}, {"lbrace", '{'}, {"rbrace", '}'},
	{"excl", '!'}, {"quest", '?'}, {"equals", '='}, {"num", '#'}, {"period", '.'},
	{"comma", ','}, {"verbar", '|'}, {"vert", '|'}, {"ast", '*'}, {"plus", '+'},
	{"hyphen", '-'}, {"dash", '-'}, {"lowbar", '_'}, {"grave", '`'}, {"commat", '@'},
	{"dollar", '$'}, {"percnt", '%'}, {"newline", '\n'}, {"tab", '\t'},
	{"zwj", 0x200D}, {"zwnj", 0x200C}, {"shy", 0xAD}, {"lrm", 0x200E}, {"rlm", 0x200F},
	{"ensp", 0x2002}, {"emsp", 0x2003}, {"thinsp", 0x2009},
	{"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
	{NULL, 0}
};

/*
 * Try an HTML entity at in[i] == '&'.  Returns the bytes consumed (0 if
 * none) and the code point.
 */
static size_t
entity_at(const unsigned char *in, size_t i, size_t n, unsigned long *cp)
{
	size_t		j = i + 1;

	if (j < n && in[j] == '#')
	{
		unsigned long v = 0;
		size_t		start;
		int			hex = 0;

		j++;
		if (j < n && (in[j] == 'x' || in[j] == 'X'))
		{
			hex = 1;
			j++;
		}
		start = j;
		while (j < n && j - start < 8)
		{
			int			h = hexval(in[j]);

			if (hex ? h < 0 : !(in[j] >= '0' && in[j] <= '9'))
				break;
			v = v * (hex ? 16 : 10) + (unsigned long) (hex ? h : in[j] - '0');
			j++;
		}
		if (j == start || v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		if (j < n && in[j] == ';')
			j++;
		if (utf8_len(v) > j - i)
			return 0;			/* never grow */
		*cp = v;
		return j - i;
	}
	else
	{
		char		name[12];
		size_t		k = 0;
		int			e;

		while (j < n && k < sizeof(name) - 1 &&
			   ((in[j] >= 'a' && in[j] <= 'z') || (in[j] >= 'A' && in[j] <= 'Z')))
			name[k++] = (char) in[j++];
		name[k] = '\0';
		if (k == 0 || j >= n || in[j] != ';')
			return 0;
		for (e = 0; entities[e].name; e++)
		{
			if (strcmp(entities[e].name, name) == 0)
			{
				if (utf8_len(entities[e].cp) > j + 1 - i)
					return 0;
				*cp = entities[e].cp;
				return j + 1 - i;
			}
		}
		return 0;
	}
}

/*
 * Eight bytes at a time (exact tests of whether any byte qualifies, used
 * only to skip whole words of plain text; the bytes themselves are handled
 * one by one as before).
 */
#define ONES		0x0101010101010101ULL
#define HIGHS		0x8080808080808080ULL
#define HAS_ZERO(v)	(((v) - ONES) & ~(v) & HIGHS)
#define HAS_BYTE(v, b)	HAS_ZERO((v) ^ (ONES * (b)))

static inline uint64_t
load8(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

/* bytes that may start an escape */
static const unsigned char esc_start[256] = {['\\'] = 1, ['%'] = 1, ['&'] = 1};

/* where a pass wrote bytes that may start an escape (the first ESC_SEEN_MAX) */
#define ESC_SEEN_MAX 32
typedef struct EscSeen
{
	size_t		n;
	size_t		pos[ESC_SEEN_MAX];
} EscSeen;

/*
 * The body of detect_unescape; OFFS (a constant in each caller, so the
 * compiler makes two copies) says whether offsets are carried.  Runs of
 * bytes that start no escape are copied as they are.
 */
static inline __attribute__((always_inline)) size_t
unescape_impl(const unsigned char *in, const uint32_t *inoff, size_t n,
			  unsigned char *out, uint32_t *outoff, size_t *ndecoded, EscSeen *seen, const int OFFS)
{
	size_t		i = 0,
				o = 0;

	/* without offsets: note where a byte that may start an escape goes out */
#define SEEN(byte) do { if (!OFFS && esc_start[(unsigned char) (byte)]) { \
			if (seen->n < ESC_SEEN_MAX) \
				seen->pos[seen->n] = o; \
			seen->n++; \
		} } while (0)
#define EMIT(byte, off) do { SEEN(byte); out[o] = (unsigned char) (byte); if (OFFS) outoff[o] = (off); o++; } while (0)
#define EMIT_CP(cp, off) do { size_t l_, q_; \
		if ((cp) < 0x80) \
			SEEN(cp); \
		l_ = put_utf8(out + o, (cp)); \
		if (OFFS) \
			for (q_ = 0; q_ < l_; q_++) \
				outoff[o + q_] = (off); \
		o += l_; \
	} while (0)

	while (i < n)
	{
		unsigned char c;
		uint32_t	off;

		if (!OFFS && !esc_start[in[i]])
		{
			/*
			 * Copied eight bytes at a time while none starts an escape; a word
			 * that has one has it within its eight bytes (HAS_BYTE only errs
			 * above a true match), which the byte loop then reaches
			 */
#if defined(__SSE2__)
			/*
			 * sixteen at a time with SSE2: each block is stored whole and
			 * the output advances to its first escape byte, if any
			 */
			while (i + 16 <= n)
			{
				__m128i		v = _mm_loadu_si128((const __m128i *) (in + i));
				unsigned	e = (unsigned) _mm_movemask_epi8(
					_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
								 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
											  _mm_cmpeq_epi8(v, _mm_set1_epi8('&')))));

				_mm_storeu_si128((__m128i *) (out + o), v);
				if (e)
				{
					i += (size_t) __builtin_ctz(e);
					o += (size_t) __builtin_ctz(e);
					break;
				}
				i += 16;
				o += 16;
			}
			if (i < n && esc_start[in[i]])
				continue;
#endif
			for (;;)
			{
				if (i + 8 <= n)
				{
					uint64_t	v = load8(in + i);

					if (!(HAS_BYTE(v, '\\') | HAS_BYTE(v, '%') | HAS_BYTE(v, '&')))
					{
						memcpy(out + o, &v, 8);
						i += 8;
						o += 8;
						continue;
					}
				}
				while (i < n && !esc_start[in[i]])
					out[o++] = in[i++];
				break;
			}
			continue;
		}
		if (OFFS && !esc_start[in[i]])
		{
			size_t		r = i + 1;

			for (;;)
			{
				if (r + 8 <= n)
				{
					uint64_t	v = load8(in + r);

					if (!HAS_BYTE(v, '\\') && !HAS_BYTE(v, '%') && !HAS_BYTE(v, '&'))
					{
						r += 8;
						continue;
					}
				}
				if (r < n && !esc_start[in[r]])
				{
					r++;
					continue;
				}
				break;
			}
			memmove(out + o, in + i, r - i);
			if (OFFS)
				memmove(outoff + o, inoff + i, (r - i) * sizeof(uint32_t));
			o += r - i;
			i = r;
			continue;
		}
		c = in[i];
		off = OFFS ? inoff[i] : 0;
		if (c == '\\')
		{
			size_t		k = i;
			unsigned char ch;

			while (k < n && in[k] == '\\')
				k++;
			if (k >= n)
			{
				EMIT('\\', off);
				i = n;
				continue;
			}
			ch = in[k];
			if (ch == 'u' && k + 4 < n && hex4(in + k + 1) >= 0)
			{
				unsigned long cp = (unsigned long) hex4(in + k + 1);
				size_t		next = k + 5;

				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					/* a high surrogate: pair it with an escaped low one */
					size_t		m = next;

					while (m < n && in[m] == '\\')
						m++;
					if (m > next && m + 4 < n && in[m] == 'u' && hex4(in + m + 1) >= 0xDC00 &&
						hex4(in + m + 1) <= 0xDFFF)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long) hex4(in + m + 1) - 0xDC00);
						next = m + 5;
					}
					else
						cp = 0;
				}
				else if (cp >= 0xDC00 && cp <= 0xDFFF)
					cp = 0;
				if (cp != 0)
					EMIT_CP(cp, off);
				(*ndecoded)++;
				i = next;
				continue;
			}
			if (ch == 'x' && k + 2 < n && hexval(in[k + 1]) >= 0 && hexval(in[k + 2]) >= 0)
			{
				EMIT(hexval(in[k + 1]) * 16 + hexval(in[k + 2]), off);
				(*ndecoded)++;
				i = k + 3;
				continue;
			}
			if (ch == 'n' || ch == 'r' || ch == 't' || ch == 'f' || ch == 'b' || ch == 'v')
			{
				EMIT(ch == 'n' ? '\n' : ' ', off);
				(*ndecoded)++;
				i = k + 1;
				continue;
			}
			if (ch == '"' || ch == '\'' || ch == '/')
			{
				EMIT(ch, off);
				(*ndecoded)++;
				i = k + 1;
				continue;
			}
			/* anything else: one backslash, and the next byte as it comes */
			EMIT('\\', off);
			i = k;
			continue;
		}
		if (c == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0)
		{
			EMIT(hexval(in[i + 1]) * 16 + hexval(in[i + 2]), off);
			(*ndecoded)++;
			i += 3;
			continue;
		}
		if (c == '&')
		{
			unsigned long cp = 0;
			size_t		used = entity_at(in, i, n, &cp);

			if (used > 0)
			{
				EMIT_CP(cp, off);
				(*ndecoded)++;
				i += used;
				continue;
			}
		}
		EMIT(c, off);
		i++;
	}
#undef EMIT
#undef EMIT_CP
#undef SEEN
	return o;
}

/*
 * Would unescape_impl, at in[i] (a byte that may start an escape), do
 * anything but copy it and go on at i + 1?
 */
static int
escape_decodes(const unsigned char *in, size_t i, size_t n)
{
	unsigned char ch;

	if (in[i] == '%')
		return i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0;
	if (in[i] == '&')
	{
		unsigned long cp = 0;

		return entity_at(in, i, n, &cp) > 0;
	}
	/* a backslash: one alone, before a byte that makes no escape with it */
	if (i + 1 >= n)
		return 0;
	ch = in[i + 1];
	return ch == '\\' || (ch == 'u' && i + 5 < n && hex4(in + i + 2) >= 0) ||
		(ch == 'x' && i + 3 < n && hexval(in[i + 2]) >= 0 && hexval(in[i + 3]) >= 0) ||
		ch == 'n' || ch == 'r' || ch == 't' || ch == 'f' || ch == 'b' || ch == 'v' ||
		ch == '"' || ch == '\'' || ch == '/';
}

size_t
detect_unescape(const unsigned char *in, const uint32_t *inoff, size_t n,
				unsigned char *out, uint32_t *outoff, size_t *ndecoded)
{
	return unescape_impl(in, inoff, n, out, outoff, ndecoded, NULL, 1);
}

size_t
detect_unescape_bytes(const unsigned char *in, size_t n, unsigned char *out, size_t *ndecoded,
					  int *again)
{
	EscSeen		seen;
	size_t		o,
				k;

	seen.n = 0;
	o = unescape_impl(in, NULL, n, out, NULL, ndecoded, &seen, 0);
	/*
	 * Every byte of out that may start an escape is at a noted position: a
	 * second pass changes nothing unless one of them decodes
	 */
	*again = seen.n > ESC_SEEN_MAX;
	for (k = 0; k < seen.n && !*again; k++)
		*again = escape_decodes(out, seen.pos[k], o);
	return o;
}

/* ------------------------------------------------------------------------
 * Unicode folding
 * ------------------------------------------------------------------------ */

#define F_KEEP	(-1)			/* pass the code point through */
#define F_SPACE (-2)			/* whitespace */

/* Latin-1 Supplement and Latin Extended-A, U+00C0..U+017F: base letters */
static const char *const latin_fold[] = {
	/* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* D0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", NULL, "ss",
	/* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* F0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", NULL, "y",
	/* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
	/* 110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
	/* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
	/* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
	/* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
	/* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
	/* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
	/* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

typedef struct CpMap
{
	unsigned int cp;
	char		to[4];
} CpMap;

/* look-alikes and odd forms, sorted by code point (binary searched) */
static const CpMap cp_map[] = {
	{0x00B2, "2"}, {0x00B3, "3"}, {0x00B9, "1"},
	{0x01C0, "|"}, {0x01C3, "!"},
	{0x0251, "a"}, {0x0261, "g"}, {0x0262, "g"}, {0x0269, "i"}, {0x026A, "i"}, {0x0274, "n"},
	{0x0280, "r"}, {0x028B, "u"}, {0x028F, "y"}, {0x0299, "b"}, {0x029C, "h"}, {0x029F, "l"},
	{0x0391, "a"}, {0x0392, "b"}, {0x0395, "e"}, {0x0396, "z"}, {0x0397, "h"}, {0x0399, "i"},
	{0x039A, "k"}, {0x039C, "m"}, {0x039D, "n"}, {0x039F, "o"}, {0x03A1, "p"}, {0x03A4, "t"},
	{0x03A5, "y"}, {0x03A7, "x"}, {0x03AC, "a"}, {0x03AD, "e"}, {0x03AF, "i"}, {0x03B1, "a"},
	{0x03B2, "b"}, {0x03B5, "e"}, {0x03B7, "n"}, {0x03B9, "i"}, {0x03BA, "k"}, {0x03BD, "v"},
	{0x03BF, "o"}, {0x03C1, "p"}, {0x03C4, "t"}, {0x03C5, "u"}, {0x03C7, "x"}, {0x03C9, "w"},
	{0x03CC, "o"}, {0x03CD, "u"}, {0x03CE, "w"}, {0x03F2, "c"}, {0x03F3, "j"}, {0x03F9, "c"},
	{0x0401, "e"}, {0x0405, "s"}, {0x0406, "i"}, {0x0407, "i"}, {0x0408, "j"},
	{0x0410, "a"}, {0x0412, "b"}, {0x0415, "e"}, {0x041A, "k"}, {0x041C, "m"}, {0x041D, "h"},
	{0x041E, "o"}, {0x0420, "p"}, {0x0421, "c"}, {0x0422, "t"}, {0x0423, "y"}, {0x0425, "x"},
	{0x042C, "b"},
	{0x0430, "a"}, {0x0432, "b"}, {0x0433, "r"}, {0x0435, "e"}, {0x043A, "k"}, {0x043C, "m"},
	{0x043D, "h"}, {0x043E, "o"}, {0x043F, "n"}, {0x0440, "p"}, {0x0441, "c"}, {0x0442, "t"},
	{0x0443, "y"}, {0x0445, "x"}, {0x044C, "b"},
	{0x0451, "e"}, {0x0455, "s"}, {0x0456, "i"}, {0x0457, "i"}, {0x0458, "j"},
	{0x04AE, "y"}, {0x04AF, "y"}, {0x04BA, "h"}, {0x04BB, "h"}, {0x04C0, "l"}, {0x04CF, "l"},
	{0x0500, "d"}, {0x0501, "d"}, {0x050D, "g"}, {0x051A, "q"}, {0x051B, "q"}, {0x051C, "w"},
	{0x051D, "w"},
	{0x0566, "q"}, {0x0570, "h"}, {0x0578, "n"}, {0x057D, "u"}, {0x0581, "g"}, {0x0585, "o"},
	{0x0589, ":"},
	{0x1D00, "a"}, {0x1D04, "c"}, {0x1D05, "d"}, {0x1D07, "e"}, {0x1D0A, "j"}, {0x1D0B, "k"},
	{0x1D0D, "m"}, {0x1D0F, "o"}, {0x1D18, "p"}, {0x1D1B, "t"}, {0x1D1C, "u"}, {0x1D20, "v"},
	{0x1D21, "w"}, {0x1D22, "z"},
	{0x2010, "-"}, {0x2011, "-"}, {0x2012, "-"}, {0x2013, "-"}, {0x2014, "-"}, {0x2015, "-"},
	{0x2018, "'"}, {0x2019, "'"}, {0x201A, "'"}, {0x201B, "'"}, {0x201C, "\""}, {0x201D, "\""},
	{0x201E, "\""}, {0x201F, "\""}, {0x2024, "."}, {0x2026, "..."}, {0x2039, "<"}, {0x203A, ">"},
	{0x2044, "/"}, {0x2070, "0"}, {0x2071, "i"}, {0x2074, "4"}, {0x2075, "5"}, {0x2076, "6"},
	{0x2077, "7"}, {0x2078, "8"}, {0x2079, "9"}, {0x207F, "n"},
	{0x2080, "0"}, {0x2081, "1"}, {0x2082, "2"}, {0x2083, "3"}, {0x2084, "4"}, {0x2085, "5"},
	{0x2086, "6"}, {0x2087, "7"}, {0x2088, "8"}, {0x2089, "9"},
	{0x2102, "c"}, {0x210A, "g"}, {0x210B, "h"}, {0x210C, "h"}, {0x210D, "h"}, {0x210E, "h"},
	{0x2110, "i"}, {0x2111, "i"}, {0x2112, "l"}, {0x2113, "l"}, {0x2115, "n"}, {0x2119, "p"},
	{0x211A, "q"}, {0x211B, "r"}, {0x211C, "r"}, {0x211D, "r"}, {0x2124, "z"}, {0x2128, "z"},
	{0x212C, "b"}, {0x212D, "c"}, {0x212F, "e"}, {0x2130, "e"}, {0x2131, "f"}, {0x2133, "m"},
	{0x2134, "o"}, {0x2145, "d"}, {0x2146, "d"}, {0x2147, "e"}, {0x2148, "i"}, {0x2149, "j"},
	{0x2215, "/"}, {0x2236, ":"}, {0x24EA, "0"}, {0x27E8, "<"}, {0x27E9, ">"},
	{0x3008, "<"}, {0x3009, ">"}, {0xA730, "f"}, {0xA731, "s"}, {0xA789, ":"},
	{0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"},
	{0xFB05, "st"}, {0xFB06, "st"}, {0xFE64, "<"}, {0xFE65, ">"},
};

/* zero-width, bidi, joiners, variation selectors, combining marks, fillers */
static int
is_hidden(unsigned long cp)
{
	return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F || cp == 0x1160 ||
		cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) ||
		(cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
		(cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
		cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
		(cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
		(cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
		(cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
		(cp >= 0xE0000 && cp <= 0xE0FFF) || cp < 0x09 || (cp >= 0x0E && cp <= 0x1F) ||
		(cp >= 0x7F && cp <= 0x9F && cp != 0x85);
}

static int
is_space(unsigned long cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
		cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
		cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/*
 * Fold one code point.  Writes up to 3 ASCII bytes to to[] and returns the
 * count, 0 to drop it, F_SPACE for whitespace, F_KEEP to pass it through.
 */
static int
fold_cp(unsigned long cp, char *to)
{
	if (cp < 0x80)
	{
		if (is_space(cp))
			return F_SPACE;
		if (is_hidden(cp))
			return 0;
		to[0] = (char) ((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
		return 1;
	}
	if (is_space(cp))
		return F_SPACE;
	/* Unicode tag characters carry ASCII invisibly ("ASCII smuggling") */
	if (cp >= 0xE0020 && cp <= 0xE007E)
		return fold_cp(cp - 0xE0000, to);
	if (is_hidden(cp))
		return 0;
	if (cp >= 0xC0 && cp <= 0x17F)
	{
		const char *s = latin_fold[cp - 0xC0];

		if (s == NULL)
			return F_KEEP;
		memcpy(to, s, strlen(s));
		return (int) strlen(s);
	}
	if (cp >= 0xFF01 && cp <= 0xFF5E)	/* fullwidth ASCII */
		return fold_cp(cp - 0xFEE0, to);
	if (cp >= 0x1D400 && cp <= 0x1D6A3)	/* mathematical letters, 52 per style */
	{
		unsigned long k = (cp - 0x1D400) % 52;

		to[0] = (char) ('a' + (k < 26 ? k : k - 26));
		return 1;
	}
	if (cp == 0x1D6A4 || cp == 0x1D6A5)
	{
		to[0] = cp == 0x1D6A4 ? 'i' : 'j';
		return 1;
	}
	if (cp >= 0x1D7CE && cp <= 0x1D7FF)	/* mathematical digits */
	{
		to[0] = (char) ('0' + (cp - 0x1D7CE) % 10);
		return 1;
	}
	if ((cp >= 0x2460 && cp <= 0x2468) || (cp >= 0x2474 && cp <= 0x247C) ||
		(cp >= 0x2488 && cp <= 0x2490))
	{
		unsigned long base = cp <= 0x2468 ? 0x2460 : cp <= 0x247C ? 0x2474 : 0x2488;

		to[0] = (char) ('1' + (cp - base));
		return 1;
	}
	if (cp >= 0x249C && cp <= 0x24E9)	/* parenthesized and circled letters */
	{
		to[0] = (char) ('a' + (cp - 0x249C) % 26);
		return 1;
	}
	if ((cp >= 0x1F110 && cp <= 0x1F129) || (cp >= 0x1F130 && cp <= 0x1F149) ||
		(cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189))
	{
		to[0] = (char) ('a' + (cp - 0x1F110) % 32);
		return 1;
	}
	if (cp >= 0x1F1E6 && cp <= 0x1F1FF)	/* regional indicators */
	{
		to[0] = (char) ('a' + (cp - 0x1F1E6));
		return 1;
	}
	{
		size_t		lo = 0,
					hi = sizeof(cp_map) / sizeof(cp_map[0]);

		while (lo < hi)
		{
			size_t		mid = (lo + hi) / 2;

			if (cp_map[mid].cp == cp)
			{
				size_t		l = strlen(cp_map[mid].to);

				memcpy(to, cp_map[mid].to, l);
				return (int) l;
			}
			if (cp_map[mid].cp < cp)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return F_KEEP;
}

/*
 * Decode one UTF-8 sequence at in[i]; returns its length (0 if invalid:
 * truncated, overlong, surrogate, out of range).
 */
static size_t
utf8_decode(const unsigned char *in, size_t i, size_t n, unsigned long *cp)
{
	unsigned char c = in[i];
	size_t		len,
				k;
	unsigned long v;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		len = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		v = c & 0x07;
	}
	else
		return 0;
	if (i + len > n)
		return 0;
	for (k = 1; k < len; k++)
	{
		if ((in[i + k] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (in[i + k] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* printable ASCII but space, lower-cased; 0 for every other byte */
static const unsigned char fold_ascii[256] = {
#define R(c) [c] = c
#define U(c) [c] = c + 32
	R('!'), R('"'), R('#'), R('$'), R('%'), R('&'), R('\''), R('('), R(')'), R('*'), R('+'), R(','),
	R('-'), R('.'), R('/'), R('0'), R('1'), R('2'), R('3'), R('4'), R('5'), R('6'), R('7'), R('8'),
	R('9'), R(':'), R(';'), R('<'), R('='), R('>'), R('?'), R('@'),
	U('A'), U('B'), U('C'), U('D'), U('E'), U('F'), U('G'), U('H'), U('I'), U('J'), U('K'), U('L'),
	U('M'), U('N'), U('O'), U('P'), U('Q'), U('R'), U('S'), U('T'), U('U'), U('V'), U('W'), U('X'),
	U('Y'), U('Z'),
	R('['), R('\\'), R(']'), R('^'), R('_'), R('`'),
	R('a'), R('b'), R('c'), R('d'), R('e'), R('f'), R('g'), R('h'), R('i'), R('j'), R('k'), R('l'),
	R('m'), R('n'), R('o'), R('p'), R('q'), R('r'), R('s'), R('t'), R('u'), R('v'), R('w'), R('x'),
	R('y'), R('z'), R('{'), R('|'), R('}'), R('~'),
#undef R
#undef U
};

/* the body of detect_fold, with or without offsets (see unescape_impl) */
static inline __attribute__((always_inline)) size_t
fold_impl(const unsigned char *in, const uint32_t *inoff, size_t n,
		  unsigned char *out, uint32_t *outoff, const int OFFS)
{
	size_t		i = 0,
				o = 0;
	int			last_space = 1;	/* no leading space */

	while (i < n)
	{
		unsigned long cp;
		size_t		len;
		char		to[4];
		int			r,
					k;
		unsigned char c;

		/*
		 * Eight bytes of plain ASCII text at a time: printable or space (no
		 * control, no DEL, no high bit), no space after a space: every byte
		 * goes out in place, lower-cased, exactly as the loop below would.
		 */
		if (!OFFS)
		{
#if defined(__SSE2__)
			/* sixteen at a time with SSE2, the same tests */
			while (i + 16 <= n)
			{
				__m128i		v = _mm_loadu_si128((const __m128i *) (in + i)),
							d = _mm_sub_epi8(v, _mm_set1_epi8('A')),
							up = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8('Z' - 'A')), d);
				/* signed: a high bit is below 0x20 too */
				unsigned	bad = (unsigned) _mm_movemask_epi8(
					_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
								 _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)))),
							sp = (unsigned) _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));

				if (bad || (sp & ((sp << 1) | (unsigned) last_space)))
					break;
				_mm_storeu_si128((__m128i *) (out + o),
								 _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20))));
				last_space = (int) (sp >> 15);
				i += 16;
				o += 16;
			}
#endif
			while (i + 8 <= n)
			{
				uint64_t	v = load8(in + i),
							x = v ^ (ONES * ' '),
							sp = ~(((x & ~HIGHS) + ~HIGHS) | x | ~HIGHS),
							up;

				if ((v & HIGHS) || (((v - ONES * 0x20) | (v + ONES)) & HIGHS) ||
					(sp & ((sp << 8) | (uint64_t) last_space << 7)))
					break;
				up = (v + ONES * (0x80 - 'A')) & ~(v + ONES * (0x80 - 'Z' - 1)) & HIGHS;
				v |= up >> 2;
				memcpy(out + o, &v, 8);
				last_space = (int) (sp >> 63);
				i += 8;
				o += 8;
			}
			if (i >= n)
				break;
		}
		c = in[i];

		/* printable ASCII, the common case */
		if (fold_ascii[c])
		{
			do
			{
				out[o] = fold_ascii[in[i]];
				if (OFFS)
					outoff[o] = inoff[i];
				o++;
				i++;
			} while (i < n && fold_ascii[in[i]]);
			last_space = 0;
			continue;
		}
		/* ASCII whitespace (fold_cp's F_SPACE for these) */
		if (c == ' ' || (c >= 0x09 && c <= 0x0D))
		{
			if (!last_space)
			{
				out[o] = ' ';
				if (OFFS)
					outoff[o] = inoff[i];
				o++;
				last_space = 1;
			}
			i++;
			continue;
		}
		len = utf8_decode(in, i, n, &cp);

		if (len == 0)
		{
			i++;				/* invalid byte: dropped like a hidden character */
			continue;
		}
		r = fold_cp(cp, to);
		if (r == F_SPACE)
		{
			if (!last_space)
			{
				out[o] = ' ';
				if (OFFS)
					outoff[o] = inoff[i];
				o++;
				last_space = 1;
			}
		}
		else if (r == F_KEEP)
		{
			size_t		q;

			for (q = 0; q < len; q++)
			{
				out[o] = in[i + q];
				if (OFFS)
					outoff[o] = inoff[i];
				o++;
			}
			last_space = 0;
		}
		else if (r > 0)
		{
			/* every folded form is at most as long as its UTF-8 source */
			for (k = 0; k < r; k++)
			{
				out[o] = (unsigned char) to[k];
				if (OFFS)
					outoff[o] = inoff[i];
				o++;
			}
			last_space = 0;
		}
		i += len;
	}
	if (o > 0 && out[o - 1] == ' ')
		o--;
	return o;
}

size_t
detect_fold(const unsigned char *in, const uint32_t *inoff, size_t n,
			unsigned char *out, uint32_t *outoff)
{
	return fold_impl(in, inoff, n, out, outoff, 1);
}

size_t
detect_fold_bytes(const unsigned char *in, size_t n, unsigned char *out)
{
	return fold_impl(in, NULL, n, out, NULL, 0);
}
