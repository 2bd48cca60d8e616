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

/*
 * With AVX2 (x86-64 with GCC or clang; chosen at run time, so the build
 * needs no more than SSE2), the loops over blocks of plain text -- the bulk
 * of a typical text -- take 32-byte vectors and three-operand instructions
 * instead of 16-byte ones; everything else stays SSE2.  The test
 * (__builtin_cpu_supports) reads a word that libgcc fills when the library
 * is loaded.  DETECT_NO_AVX2 leaves them out (to test the SSE2 loops where
 * AVX2 is there).
 */
#if defined(__SSE2__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
	!defined(DETECT_NO_AVX2)
#define NORM_AVX2 1
#include <immintrin.h>
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))
#define AVX2_FUNC static __attribute__((target("avx2"), noinline))
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

/* a byte that may start an escape (compares, not a table: no cache line to load) */
static inline int
starts_escape(unsigned char c)
{
	return c == '\\' || c == '%' || c == '&';
}

/*
 * What a lone backslash before ch decodes to when the escape is those two
 * bytes (the escape code's \n \r \t \f \b \v \" \' \/); 0 for the others
 * (another backslash, u, x: longer escapes, or none)
 */
static inline unsigned char
esc_one(unsigned char ch)
{
	if (__builtin_expect(ch == '"', 1))	/* by far the commonest */
		return ch;
	if (ch == '\'' || ch == '/')
		return ch;
	if (ch == 'n')
		return '\n';
	if (ch == 'r' || ch == 't' || ch == 'f' || ch == 'b' || ch == 'v')
		return ' ';
	return 0;
}

/*
 * where a pass wrote bytes that may start an escape (the first ESC_SEEN_MAX;
 * 32 bits, which a text of 4 GB or more would overflow: then it does not
 * count, see detect_unescape_bytes; a smaller struct on the stack touches
 * fewer cache lines)
 */
#define ESC_SEEN_MAX 32
typedef struct EscSeen
{
	size_t		n;
	uint32_t	pos[ESC_SEEN_MAX];
} EscSeen;

/* note that out[o] is a byte that may start an escape (see unescape_impl) */
static inline void
seen_note(EscSeen *seen, size_t o)
{
	if (seen->n < ESC_SEEN_MAX)
		seen->pos[seen->n] = (uint32_t) o;
	seen->n++;
}

#if defined(__SSE2__)
/*
 * the bytes of v that may start an escape: 0xFF, the others 0 ('%' and '&'
 * in one compare: (c + 1) & ~1 is '&' for exactly those two)
 */
static inline __m128i
esc_bytes(__m128i v)
{
	return _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
						_mm_cmpeq_epi8(_mm_and_si128(_mm_add_epi8(v, _mm_set1_epi8(1)),
													 _mm_set1_epi8((char) 0xFE)),
									   _mm_set1_epi8('&')));
}

/* 16 bytes from in to out */
static inline void
copy16(unsigned char *out, const unsigned char *in)
{
	_mm_storeu_si128((__m128i *) out, _mm_loadu_si128((const __m128i *) in));
}

/*
 * Blocks of 64 bytes from in[0..lim), each stored whole at out, up to the
 * first that has a byte that may start an escape: how many bytes come
 * before that one, and *mask its bytes that may (bit k: in[k] of the
 * block), or 0 when no block has one before lim
 */
static inline size_t
plain_blocks_sse2(const unsigned char *in, size_t lim, unsigned char *out, uint64_t *mask)
{
	size_t		k;

	for (k = 0; k + 64 <= lim; k += 64)
	{
		__m128i		v0 = _mm_loadu_si128((const __m128i *) (in + k)),
					v1 = _mm_loadu_si128((const __m128i *) (in + k + 16)),
					v2 = _mm_loadu_si128((const __m128i *) (in + k + 32)),
					v3 = _mm_loadu_si128((const __m128i *) (in + k + 48)),
					e0 = esc_bytes(v0),
					e1 = esc_bytes(v1),
					e2 = esc_bytes(v2),
					e3 = esc_bytes(v3);

		_mm_storeu_si128((__m128i *) (out + k), v0);
		_mm_storeu_si128((__m128i *) (out + k + 16), v1);
		_mm_storeu_si128((__m128i *) (out + k + 32), v2);
		_mm_storeu_si128((__m128i *) (out + k + 48), v3);
		if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3))) != 0)
		{
			*mask = (uint64_t) ((unsigned) _mm_movemask_epi8(e0) | (unsigned) _mm_movemask_epi8(e1) << 16) |
				(uint64_t) ((unsigned) _mm_movemask_epi8(e2) | (unsigned) _mm_movemask_epi8(e3) << 16) << 32;
			return k;
		}
	}
	*mask = 0;
	return k;
}

#ifdef NORM_AVX2
/* esc_bytes with AVX2 */
AVX2_INLINE __m256i
esc_bytes_avx2(__m256i v)
{
	return _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')),
						   _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_add_epi8(v, _mm256_set1_epi8(1)),
															  _mm256_set1_epi8((char) 0xFE)),
											 _mm256_set1_epi8('&')));
}

/* plain_blocks with AVX2: two 32-byte vectors a block */
AVX2_INLINE size_t
plain_blocks_avx2(const unsigned char *in, size_t lim, unsigned char *out, uint64_t *mask)
{
	size_t		k;

	for (k = 0; k + 64 <= lim; k += 64)
	{
		__m256i		v0 = _mm256_loadu_si256((const __m256i *) (in + k)),
					v1 = _mm256_loadu_si256((const __m256i *) (in + k + 32)),
					e0 = esc_bytes_avx2(v0),
					e1 = esc_bytes_avx2(v1),
					e = _mm256_or_si256(e0, e1);

		_mm256_storeu_si256((__m256i *) (out + k), v0);
		_mm256_storeu_si256((__m256i *) (out + k + 32), v1);
		if (!_mm256_testz_si256(e, e))
		{
			*mask = (uint64_t) (unsigned) _mm256_movemask_epi8(e0) |
				(uint64_t) (unsigned) _mm256_movemask_epi8(e1) << 32;
			return k;
		}
	}
	*mask = 0;
	return k;
}
#endif

/* where the copy of plain text is: in[i], out[o] */
typedef struct CopyPos
{
	size_t		i,
				o;
} CopyPos;

/*
 * The copy of plain text without offsets (copy_plain_sse2, copy_plain_avx2)
 * goes from p.i, p.o in blocks of 64 bytes (16 near the end; with AVX2 32,
 * then 16) until an escape that it leaves to unescape_impl or the end is
 * near, and returns where it stopped.  Each block is stored whole and its
 * bytes that may start an escape are then taken in turn (block_escapes);
 * two kinds, the commonest by far, are done there exactly as the code of
 * unescape_impl would do them:
 *
 *   a lone backslash before a byte that makes a one-byte escape with it
 *   (\" in JSON nested in a JSON string): the byte it decodes to, which
 *   starts no escape, and the rest of the block stored again one byte
 *   further back, sixteen bytes at a time as far as it is needed;
 *   '%' before anything but two hex digits (a percentage): the byte as it
 *   is (already stored), noted in seen.
 *
 * (Every '&' is left to unescape_impl: entity_at is a call, and a call
 * anywhere in the loop would have it keep its values on the stack.)
 *
 * Every load stays within in[0..n) (17 bytes past a block are there, for
 * the byte after a backslash and the copies after an escape) and every
 * store within out[0..n) (out[o + k] for in[i + k]: o <= i).  *since is
 * where the bytes that went out as they are begin: in[*since..i) went to
 * out[..o).
 */

/*
 * The bytes of the block in[p->i..end), stored at out[p->o..], that may
 * start an escape (bit k of e: in[p->i + k]); false at one that it leaves
 * to unescape_impl (*p there), else true with *p at the end of the block
 */
static inline __attribute__((always_inline)) int
block_escapes(const unsigned char *in, unsigned char *out, CopyPos *p, size_t *since, uint64_t e,
			  size_t end, EscSeen *seen)
{
	size_t		i = p->i,
				o = p->o,
				c = end;		/* in[i..c) is stored at out[o..] (c >= i) */

	do
	{
		unsigned	z = (unsigned) __builtin_ctzll(e);
		unsigned char d;

		/* through in[i + z] itself, which may go out as it is */
		for (; c <= i + z; c += 16)
			copy16(out + o + (c - i), in + c);
		i += z;
		o += z;
		e >>= z;
		if (in[i] == '\\' && (d = esc_one(in[i + 1])) != 0)
		{
			out[o++] = d;
			i += 2;
			*since = i;
			e >>= 2;			/* in[i - 1] starts no escape */
			copy16(out + o, in + i);
			c = i + 16;
		}
		else if (in[i] == '%' && !(hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0))
		{
			seen_note(seen, o);
			i++;
			o++;
			e >>= 1;
		}
		else
		{
			p->i = i;
			p->o = o;
			return 0;
		}
	} while (e != 0);
	for (; c < end; c += 16)
		copy16(out + o + (c - i), in + c);
	if (i < end)
	{
		o += end - i;
		i = end;
	}
	p->i = i;
	p->o = o;
	return 1;
}

/*
 * A block of 16 bytes at p->i (with 17 more after it), as above; false
 * at an escape left to unescape_impl
 */
static inline __attribute__((always_inline)) int
block16(const unsigned char *in, unsigned char *out, CopyPos *p, size_t *since, EscSeen *seen)
{
	__m128i		v = _mm_loadu_si128((const __m128i *) (in + p->i));
	unsigned	e = (unsigned) _mm_movemask_epi8(esc_bytes(v));

	_mm_storeu_si128((__m128i *) (out + p->o), v);
	if (e == 0)
	{
		p->i += 16;
		p->o += 16;
		return 1;
	}
	return block_escapes(in, out, p, since, e, p->i + 16, seen);
}

/*
 * The last bytes (fewer than 33): blocks of 16 to the first escape but a
 * lone backslash's one-byte one, then fewer than sixteen as the block that
 * ends with them, if they start no escape, stored over the output of the
 * bytes before them when that is those bytes as they are (the same bytes
 * again)
 */
static inline __attribute__((always_inline)) CopyPos
copy_last(const unsigned char *in, size_t n, unsigned char *out, CopyPos p, size_t since)
{
	unsigned char d;

	while (p.i + 16 <= n)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (in + p.i));
		unsigned	m = (unsigned) _mm_movemask_epi8(esc_bytes(v));

		_mm_storeu_si128((__m128i *) (out + p.o), v);
		if (m == 0)
		{
			p.i += 16;
			p.o += 16;
			continue;
		}
		p.i += (size_t) __builtin_ctz(m);
		p.o += (size_t) __builtin_ctz(m);
		if (in[p.i] != '\\' || p.i + 1 >= n || (d = esc_one(in[p.i + 1])) == 0)
			return p;
		out[p.o++] = d;
		p.i += 2;
		since = p.i;
	}
	if (p.i < n && n >= 16 && n - 16 >= since)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (in + n - 16));

		if (((unsigned) _mm_movemask_epi8(esc_bytes(v)) >> (16 - (n - p.i))) == 0)
		{
			_mm_storeu_si128((__m128i *) (out + p.o - (p.i - (n - 16))), v);
			p.o += n - p.i;
			p.i = n;
		}
	}
	return p;
}

/* the copy of plain text with SSE2 */
static inline CopyPos
copy_plain_sse2(const unsigned char *in, size_t n, unsigned char *out, CopyPos p, EscSeen *seen)
{
	size_t		since = p.i;

	for (;;)
	{
		if (p.i + 64 + 17 <= n)
		{
			/* blocks of 64 bytes, to one that has something */
			uint64_t	e;
			size_t		k = plain_blocks_sse2(in + p.i, n - 17 - p.i, out + p.o, &e);

			p.i += k;
			p.o += k;
			if (e != 0 && !block_escapes(in, out, &p, &since, e, p.i + 64, seen))
				return p;
		}
		else if (p.i + 16 + 17 <= n)
		{
			if (!block16(in, out, &p, &since, seen))
				return p;
		}
		else
			return copy_last(in, n, out, p, since);
	}
}

#ifdef NORM_AVX2
/* the copy of plain text with AVX2 (plain_blocks_avx2), the same otherwise */
AVX2_FUNC CopyPos
copy_plain_avx2(const unsigned char *in, size_t n, unsigned char *out, CopyPos p, EscSeen *seen)
{
	size_t		since = p.i;

	for (;;)
	{
		if (p.i + 64 + 17 <= n)
		{
			uint64_t	e;
			size_t		k = plain_blocks_avx2(in + p.i, n - 17 - p.i, out + p.o, &e);

			p.i += k;
			p.o += k;
			if (e != 0 && !block_escapes(in, out, &p, &since, e, p.i + 64, seen))
				return p;
		}
		else if (p.i + 32 + 17 <= n)
		{
			/* a block of 32 bytes near the end */
			__m256i		v = _mm256_loadu_si256((const __m256i *) (in + p.i));
			unsigned	e = (unsigned) _mm256_movemask_epi8(esc_bytes_avx2(v));

			_mm256_storeu_si256((__m256i *) (out + p.o), v);
			if (e == 0)
			{
				p.i += 32;
				p.o += 32;
			}
			else if (!block_escapes(in, out, &p, &since, e, p.i + 32, seen))
				return p;
		}
		else if (p.i + 16 + 17 <= n)
		{
			if (!block16(in, out, &p, &since, seen))
				return p;
		}
		else
			return copy_last(in, n, out, p, since);
	}
}
#endif
#endif

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
#define SEEN(byte) do { if (!OFFS && starts_escape((unsigned char) (byte))) \
			seen_note(seen, o); \
		} while (0)
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
		unsigned char c,
					d;
		uint32_t	off;

		if (!OFFS && !starts_escape(in[i]))
		{
#if defined(__SSE2__)
			/* in blocks with SSE2, with the commonest escapes */
			CopyPos		p = {i, o};

#ifdef NORM_AVX2
			if (i + 64 + 17 <= n && __builtin_cpu_supports("avx2"))
				p = copy_plain_avx2(in, n, out, p, seen);
			else
#endif
				p = copy_plain_sse2(in, n, out, p, seen);
			*ndecoded += (p.i - p.o) - (i - o);		/* each shrank by one */
			i = p.i;
			o = p.o;
			if (i < n && starts_escape(in[i]))
				continue;
#endif
			/*
			 * Copied eight bytes at a time while none starts an escape; a word
			 * that has one has it within its eight bytes (HAS_BYTE only errs
			 * above a true match), which the byte loop then reaches
			 */
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
				while (i < n && !starts_escape(in[i]))
					out[o++] = in[i++];
				/* the commonest escape here too (see copy_plain_sse2) */
				if (i + 1 < n && in[i] == '\\' && (d = esc_one(in[i + 1])) != 0)
				{
					out[o++] = d;
					(*ndecoded)++;
					i += 2;
					continue;
				}
				break;
			}
			continue;
		}
		if (OFFS && !starts_escape(in[i]))
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
				if (r < n && !starts_escape(in[r]))
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
#if SIZE_MAX > UINT32_MAX
	if (n > UINT32_MAX)
		*again = 1;				/* its positions may not fit */
#endif
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

#if defined(__SSE2__)
/*
 * each byte of v minus 0x20: at most 0x5E for exactly printable ASCII and
 * space (so that the largest of several blocks' tells whether any is not)
 */
static inline __m128i
fold_rel(__m128i v)
{
	return _mm_sub_epi8(v, _mm_set1_epi8(0x20));
}

/* the bit mask of the bytes of r (fold_rel's) above 0x5E */
static inline unsigned
fold_bad(__m128i r)
{
	return (unsigned) _mm_movemask_epi8(_mm_adds_epu8(r, _mm_set1_epi8(0x21)));
}

/* the bit mask of the spaces of v */
static inline unsigned
fold_spaces(__m128i v)
{
	return (unsigned) _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
}

/* v (printable ASCII or space) lower-cased */
static inline __m128i
fold_lower(__m128i v)
{
	/* 'A'..'Z' + 0x3F are 0x80..0x99, the lowest (signed) that 0x20..0x7E make */
	__m128i		up = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x3F)), _mm_set1_epi8((char) 0x9A));

	return _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
}

/*
 * fold_plain_sse2's blocks of 64 bytes from in[0..lim): how many bytes
 * come before the first block that has a byte that is no printable ASCII or
 * space, or a space after a space (*ls: in[-1] went out as one, updated);
 * those written to out lower-cased
 */
static inline size_t
fold_blocks_sse2(const unsigned char *in, size_t lim, unsigned char *out, uint64_t *ls)
{
	uint64_t	last = *ls;
	size_t		k;

	for (k = 0; k + 64 <= lim; k += 64)
	{
		__m128i		v0 = _mm_loadu_si128((const __m128i *) (in + k)),
					v1 = _mm_loadu_si128((const __m128i *) (in + k + 16)),
					v2 = _mm_loadu_si128((const __m128i *) (in + k + 32)),
					v3 = _mm_loadu_si128((const __m128i *) (in + k + 48));
		uint64_t	sp = (uint64_t) (fold_spaces(v0) | fold_spaces(v1) << 16) |
			(uint64_t) (fold_spaces(v2) | fold_spaces(v3) << 16) << 32;

		if ((fold_bad(_mm_max_epu8(_mm_max_epu8(fold_rel(v0), fold_rel(v1)),
								   _mm_max_epu8(fold_rel(v2), fold_rel(v3)))) |
			 (sp & ((sp << 1) | last))) != 0)
			break;
		_mm_storeu_si128((__m128i *) (out + k), fold_lower(v0));
		_mm_storeu_si128((__m128i *) (out + k + 16), fold_lower(v1));
		_mm_storeu_si128((__m128i *) (out + k + 32), fold_lower(v2));
		_mm_storeu_si128((__m128i *) (out + k + 48), fold_lower(v3));
		last = sp >> 63;
	}
	/* in place, the last bytes as the block that ends with them (see fold_blocks_avx2) */
	if (out == in && k < lim && k + 64 > lim && lim > 64)
	{
		const unsigned char *b = in + lim - 64;
		__m128i		v0 = _mm_loadu_si128((const __m128i *) b),
					v1 = _mm_loadu_si128((const __m128i *) (b + 16)),
					v2 = _mm_loadu_si128((const __m128i *) (b + 32)),
					v3 = _mm_loadu_si128((const __m128i *) (b + 48));
		uint64_t	sp = (uint64_t) (fold_spaces(v0) | fold_spaces(v1) << 16) |
			(uint64_t) (fold_spaces(v2) | fold_spaces(v3) << 16) << 32;

		if ((fold_bad(_mm_max_epu8(_mm_max_epu8(fold_rel(v0), fold_rel(v1)),
								   _mm_max_epu8(fold_rel(v2), fold_rel(v3)))) |
			 (sp & ((sp << 1) | (uint64_t) (b[-1] == ' ')))) == 0)
		{
			_mm_storeu_si128((__m128i *) b, fold_lower(v0));
			_mm_storeu_si128((__m128i *) (b + 16), fold_lower(v1));
			_mm_storeu_si128((__m128i *) (b + 32), fold_lower(v2));
			_mm_storeu_si128((__m128i *) (b + 48), fold_lower(v3));
			last = sp >> 63;
			k = lim;
		}
	}
	*ls = last;
	return k;
}

#ifdef NORM_AVX2
/*
 * fold_blocks_sse2 with AVX2: two 32-byte vectors a block, the same tests
 * and lower-casing (see fold_rel, fold_bad, fold_spaces, fold_lower), but
 * a space after a space found with the block loaded again one byte on
 * (each pair of bytes from the block's first to its last and the byte
 * after it: one more byte must be there) instead of bit masks
 */
AVX2_INLINE __m256i
fold_lower_avx2(__m256i v)
{
	__m256i		up = _mm256_cmpgt_epi8(_mm256_set1_epi8((char) 0x9A), _mm256_add_epi8(v, _mm256_set1_epi8(0x3F)));

	return _mm256_or_si256(v, _mm256_and_si256(up, _mm256_set1_epi8(0x20)));
}

AVX2_FUNC size_t
fold_blocks_avx2(const unsigned char *in, size_t lim, unsigned char *out, uint64_t *ls)
{
	const __m256i sp = _mm256_set1_epi8(' ');
	size_t		k;

	if (*ls && in[0] == ' ')
		return 0;
	for (k = 0; k + 64 < lim; k += 64)
	{
		__m256i		v0 = _mm256_loadu_si256((const __m256i *) (in + k)),
					v1 = _mm256_loadu_si256((const __m256i *) (in + k + 32)),
					n0 = _mm256_loadu_si256((const __m256i *) (in + k + 1)),
					n1 = _mm256_loadu_si256((const __m256i *) (in + k + 33)),
					rel = _mm256_max_epu8(_mm256_sub_epi8(v0, _mm256_set1_epi8(0x20)),
										  _mm256_sub_epi8(v1, _mm256_set1_epi8(0x20))),
					two = _mm256_or_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v0, sp), _mm256_cmpeq_epi8(n0, sp)),
										  _mm256_and_si256(_mm256_cmpeq_epi8(v1, sp), _mm256_cmpeq_epi8(n1, sp)));

		if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_adds_epu8(rel, _mm256_set1_epi8(0x21)), two)) != 0)
			break;
		_mm256_storeu_si256((__m256i *) (out + k), fold_lower_avx2(v0));
		_mm256_storeu_si256((__m256i *) (out + k + 32), fold_lower_avx2(v1));
	}

	/*
	 * Folding in place with nothing dropped yet (out == in), the last bytes,
	 * fewer than 65, as the block that ends with them: the bytes before them
	 * went out already (they pass the tests only if they would as text, and
	 * lower-casing leaves them as they are), and the pairs of bytes are
	 * those with the byte before each
	 */
	if (out == in && k < lim && k + 64 >= lim && lim >= 65)
	{
		const unsigned char *b = in + lim - 64;
		__m256i		v0 = _mm256_loadu_si256((const __m256i *) b),
					v1 = _mm256_loadu_si256((const __m256i *) (b + 32)),
					p0 = _mm256_loadu_si256((const __m256i *) (b - 1)),
					p1 = _mm256_loadu_si256((const __m256i *) (b + 31)),
					rel = _mm256_max_epu8(_mm256_sub_epi8(v0, _mm256_set1_epi8(0x20)),
										  _mm256_sub_epi8(v1, _mm256_set1_epi8(0x20))),
					two = _mm256_or_si256(_mm256_and_si256(_mm256_cmpeq_epi8(v0, sp), _mm256_cmpeq_epi8(p0, sp)),
										  _mm256_and_si256(_mm256_cmpeq_epi8(v1, sp), _mm256_cmpeq_epi8(p1, sp)));

		if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_adds_epu8(rel, _mm256_set1_epi8(0x21)), two)) == 0)
		{
			_mm256_storeu_si256((__m256i *) b, fold_lower_avx2(v0));
			_mm256_storeu_si256((__m256i *) (b + 32), fold_lower_avx2(v1));
			k = lim;
		}
	}
	/* in[k - 1] (or what went out for it, in place) is a space if it went out as one */
	if (k > 0)
		*ls = in[k - 1] == ' ';
	return k;
}
#endif

/*
 * fold_impl's plain ASCII text without offsets, with SSE2: from in[*ip] to
 * out[*op] (which may be in: every block is read before it is written), 64
 * bytes at a time, then 16, while every byte is printable or a space, and no
 * space follows a space (*last_space: the byte before in[*ip] went out as
 * one): each goes out in place, lower-cased, exactly as fold_impl's byte
 * loop would write it.
 */
static inline void
fold_plain_sse2(const unsigned char *in, size_t n, unsigned char *out, size_t *ip, size_t *op,
				int *last_space)
{
	size_t		i = *ip,
				o = *op;
	uint64_t	ls = (uint64_t) *last_space;

	if (i + 64 <= n)
	{
		size_t		k;

#ifdef NORM_AVX2
		if (__builtin_cpu_supports("avx2"))
			k = fold_blocks_avx2(in + i, n - i, out + o, &ls);
		else
#endif
			k = fold_blocks_sse2(in + i, n - i, out + o, &ls);
		i += k;
		o += k;
	}
	while (i + 16 <= n)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (in + i));
		unsigned	sp = fold_spaces(v);

		if ((fold_bad(fold_rel(v)) | (sp & ((sp << 1) | (unsigned) ls))) != 0)
			goto done;
		_mm_storeu_si128((__m128i *) (out + o), fold_lower(v));
		ls = sp >> 15;
		i += 16;
		o += 16;
	}
	/*
	 * The last bytes, fewer than sixteen, when folding in place with
	 * nothing dropped yet: the block that ends with them, stored whole (the
	 * bytes before them are output already, which lower-casing leaves as
	 * they are)
	 */
	if (i < n && out == in && o == i && n >= 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (in + n - 16));
		unsigned	sh = 16 - (unsigned) (n - i),
					sp = fold_spaces(v) >> sh;

		if ((fold_bad(fold_rel(v)) >> sh) == 0 && (sp & ((sp << 1) | (unsigned) ls)) == 0)
		{
			_mm_storeu_si128((__m128i *) (out + n - 16), fold_lower(v));
			ls = (sp >> (n - i - 1)) & 1;
			i = o = n;
		}
	}
done:
	*ip = i;
	*op = o;
	*last_space = (int) ls;
}
#endif

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
			fold_plain_sse2(in, n, out, &i, &o, &last_space);
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
