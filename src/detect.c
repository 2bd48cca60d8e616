/*
 * detect.c -- prompt-injection detector: pattern compiler and scanner
 *
 * See detect.h for what is detected and the pattern syntax.  The layout:
 *
 *   names           category/severity names
 *   tokens          the tokeniser shared by patterns and text
 *   compiler        pattern text -> chains of slots -> trie of words, where
 *                   every word lists the pattern positions that consume it
 *   tenants         a hash set of lower-cased tenant ids
 *   scan            segments (the text, then decoded base64 runs) ->
 *                   unescape (twice at most) -> fold -> tokens + structural
 *                   checks -> findings
 *
 * Matching state is one integer per pattern position: the token index at
 * which the previous position last matched (a gap of N after a match at i
 * lets the next position match up to i+1+N).  A later match always
 * dominates an earlier one, so keeping the latest is exact, and each token
 * costs O(positions using its word): linear in the input, no backtracking.
 *
 * A segment of at most PF_MAX_SEGMENT bytes first goes through a prefilter
 * (segment_possible): its exact words are looked up by a hash of their
 * bytes (a bloom, then small tables of tags), its words' first four bytes
 * in the prefix words' (behind blooms), and the matcher runs only when
 * some chain has all of its words there, in order and within its gaps (a
 * cue rule: enough groups).  Otherwise nothing could be reported, and the
 * token indices advance as the matcher would have advanced them (its state
 * is not even allocated until a segment needs it: bind_matcher).  It is
 * checked under DETECT_CHECK_FAST (the unit tests) by running the matcher
 * anyway and aborting on any finding.  The same pass over the tokens finds
 * the structural checks' runs (check_run, after a quick rejection of
 * ordinary words); their findings are held back until the matcher's are
 * reported, the order a separate check_structure pass gives (which a
 * segment the prefilter does not read still gets); run_tests lets through
 * only the runs some test can be about, and tells check_run_tests which.
 * The normalisation passes take plain ASCII eight bytes at a time (folding
 * in place), and a second unescape pass runs only when it could change
 * anything.
 *
 * A scan runs with cold caches (a backend runs much other code between
 * two), so the prefilter's path is laid out for few cache lines: small
 * tables (blooms, 4-byte slots, 16-bit finds), what is read together kept
 * together (DetectRules' first two lines, a chain's record, the scratch's
 * and the segment queue's counters), nothing cleared that is not read.
 */
#include "detect.h"
#include "detect_int.h"

#include <stdint.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GAP			4
#define MAX_CHAINS			64		/* expansions of one pattern */
#define MAX_SEGMENTS		256		/* decoded base64 runs per scan */
#define MAX_DEPTH			2
#define MIN_BASE64_RUN		16
#define MAX_WORD			64
#define MAX_URL				4096
#define MAX_VALUE			512		/* bytes of a keyed value looked at */
#define MAX_GAP				64
#define SEGMENT_GAP			1000	/* token-index distance between segments (> MAX_GAP) */
#define SCAN_PAD			64		/* zero bytes kept after a normalised segment (class_bits' blocks) */
#define B64_SMALL			256		/* a base64 run decoding to this much is decoded on the stack */

/* ------------------------------------------------------------------------
 * names
 * ------------------------------------------------------------------------ */

static const char *const cat_names[DETECT_NCATEGORIES] = {
	"override", "exfiltration", "cross_tenant", "session_state"
};

const char *
detect_category_name(DetectCategory c)
{
	return ((int) c >= 0 && c < DETECT_NCATEGORIES) ? cat_names[c] : "invalid";
}

int
detect_category_from_name(const char *name)
{
	int			i;

	for (i = 0; name && i < DETECT_NCATEGORIES; i++)
		if (strcmp(name, cat_names[i]) == 0)
			return i;
	return -1;
}

const char *
detect_severity_name(DetectSeverity s)
{
	return s == DETECT_LOW ? "low" : s == DETECT_MEDIUM ? "medium" : s == DETECT_HIGH ? "high" : "invalid";
}

int
detect_severity_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "low") == 0)
		return DETECT_LOW;
	if (strcmp(name, "medium") == 0)
		return DETECT_MEDIUM;
	if (strcmp(name, "high") == 0)
		return DETECT_HIGH;
	return -1;
}

/* ------------------------------------------------------------------------
 * tokens
 * ------------------------------------------------------------------------ */

/* generated tables (see the functions they replace) */
/* 0: separator (is_sepch), 1: word character (is_wordch), 2: a one-character token */
static const unsigned char tok_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 2, 2, 2, 2, 2, 2, 0, 2, 2, 0, 2, 2, 0, 2, 2,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};
/* is_runch */
static const unsigned char runch_tab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* b64val */
static const signed char b64_tab[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/*
 * tok_class and WORD_BITS in one (class_bits without SSE2): TB_WORD |
 * WORD_BITS for a word character, TB_ONE for a one-character token, 0 for a
 * separator
 */
#if !defined(__SSE2__)
#define TB_ONE	8
#define TB_WORD 16
static const unsigned char tok_bits[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 8, 8, 8, 8, 8, 8, 0, 8, 8, 0, 8, 8, 0, 8, 8,
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 8, 8, 8, 8, 8, 8,
	8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
	8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 0, 0,
	0, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17,
	17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 8, 8, 8, 0, 0,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
};
#endif

/* in a word: 1 a letter, 2 a digit, 4 anything else (non-ASCII) */
#define WORD_BITS(c) ((c) >= 'a' && (c) <= 'z' ? 1 : (c) >= '0' && (c) <= '9' ? 2 : 4)

/*
 * Next token in normalised text s[*pos..n): sets *ts and *te, advances
 * *pos.  Returns 0 at the end.  Runs of letters and digits (and non-ASCII)
 * are words; _ - ' ` * ~ ^ space and controls only separate; every other
 * byte is a token of its own.
 */
static inline int
next_token(const unsigned char *s, size_t n, size_t *pos, size_t *ts, size_t *te)
{
	size_t		i = *pos;

	while (i < n && tok_class[s[i]] == 0)
		i++;
	if (i >= n)
	{
		*pos = n;
		return 0;
	}
	*ts = i;
	if (tok_class[s[i]] == 1)
		while (++i < n && tok_class[s[i]] == 1)
			;
	else
		i++;
	*te = i;
	*pos = i;
	return 1;
}

/* next_token that also ORs WORD_BITS of the word's bytes into *bits (0 for punctuation) */
static inline int
next_token_bits(const unsigned char *s, size_t n, size_t *pos, size_t *ts, size_t *te, int *bits)
{
	size_t		i = *pos;
	int			acc = 0;

	while (i < n && tok_class[s[i]] == 0)
		i++;
	if (i >= n)
	{
		*pos = n;
		return 0;
	}
	*ts = i;
	if (tok_class[s[i]] == 1)
	{
		do
		{
			acc |= WORD_BITS(s[i]);
		} while (++i < n && tok_class[s[i]] == 1);
	}
	else
		i++;
	*te = i;
	*pos = i;
	*bits = acc;
	return 1;
}

/* ------------------------------------------------------------------------
 * compiled rules
 * ------------------------------------------------------------------------ */

typedef struct Edge
{
	unsigned char c;
	int			to;
	int			next;
} Edge;

typedef struct Node
{
	int			edges;			/* first Edge, -1 = none */
	int			exact;			/* word list index for the word ending here, -1 */
	int			prefix;			/* word list index for a prefix ending here, -1 */
} Node;

typedef struct PosList
{
	int		   *pos;
	int			n;
	int			cap;
	int		   *first;			/* the first positions of pos, in order (finish_lists) */
	int			nfirst;
	int			maxgap;			/* largest gap of the other positions; -1: none */
	const int  *apos,			/* pos and first, copied into the rules' one arena (the scan reads these) */
			   *afirst;
	unsigned char *text;		/* the word (a prefix word without its '*'), for the prefilter */
	int			len;
	int			prefix;
} PosList;

typedef struct Position
{
	int			pattern;
	int			gap;			/* tokens allowed between the previous position and this one */
	unsigned char first;
	unsigned char last;
	signed char group;			/* cue rules: the group this chain belongs to */
} Position;

typedef struct Rule
{
	char	   *id;
	DetectCategory category;
	DetectSeverity severity;
	int			ngroups;		/* cue rule: groups; 0 = an ordinary sequence */
	int			min_groups;		/* cue rule: distinct groups needed ... */
	int			window;			/* ... within this many tokens */
} Rule;

#define MAX_GROUPS			8

struct DetectRules
{
	/*
	 * The prefilter (segment_possible): which words a segment holds, and
	 * which chains could then match at all.  A scan starts with cold
	 * caches, so what a lookup costs is mostly the cache lines it touches,
	 * and a text's words spread over all lines of a table: the tables are
	 * small, and this struct begins with all a scan reads of it for them
	 * (two lines; detect_compile aligns it).
	 *
	 * An exact word of two bytes or more is looked up by a hash of its
	 * first 16 bytes (one load up to 8 bytes, two past them: pf_key) and
	 * its length (one 128-bit product: pf_xhash): first in a bloom of
	 * about 8 bits per word (xbloom, two bits a word: about 1% of the
	 * corpus' words no pattern has get past it), then in the slots of a
	 * 16-bit tag and a word list, half of them empty: pexh for the common words
	 * (word_score 1: the, of, you, ...), which are most of the hits of
	 * ordinary text and so share a few lines, and pex for the others,
	 * looked at only when pexh has no slot with the tag (see pf_exact).
	 * The bytes are not compared: a word that only shares a hash marks a
	 * list that is not there, which can only send the segment to the
	 * matcher (never hide a match), and is rare (1 in 2^16 probes past the
	 * bloom).  For the shipped set the three take 1 kB, 512 bytes and 4 kB.
	 *
	 * A prefix word belongs to coarse group g, the prefix words whose first
	 * min(length, PF_COARSE_MAX) bytes, the head (pf_head; no byte of a
	 * word is 0, so the number also tells how many), are the same: a slot
	 * of pslots holds a head and the word lists of its groups,
	 * pgwl[first .. first + n).  Heads of four bytes are first looked for
	 * in a bloom (cbloom), shorter ones by first byte (shortk) and in a
	 * bloom (shortg).
	 *
	 * Then the chains anchored on a word list found (anchored, anc_off,
	 * anc) are checked, each from its record in crec.
	 */
	int			nwords,
				nrules;
	uint16_t	pxmask,			/* (fewer than PF_COARSE words: at most 65536 slots) */
				phmask,
				pmask;
	unsigned char pf_ok,		/* 0: too many words for the slots; every segment is possible */
				cmask,			/* bit k: some coarse group's key has k bytes */
				xbshift,		/* 32 - log2(words of xbloom) */
				pxshift,		/* 64 - log2(slots of pex) */
				phshift,		/* 64 - log2(slots of pexh) */
				pshift;			/* 32 - log2(slots of pslots) */
	uint16_t	pf_tokmarks;	/* at most this many finds by one token on pf_walk's common path */
	uint64_t   *xbloom;			/* PF_XBLOOM bits of the exact words */
	struct PfExact
	{
		uint16_t	tag;		/* 0: empty; else PF_TAG of the word */
		uint16_t	wl;			/* its word list | PF_MORE: a later slot of the run has the tag too */
	}		   *pex,			/* the other exact words */
			   *pexh;			/* the common ones (word_score 1) */
	struct PfSlot
	{
		uint32_t	head;		/* 0: empty */
		uint16_t	first,
					n;
	}		   *pslots;
	uint16_t   *pgwl;			/* per head slot: its groups' word lists */
	int		   *anc_off,		/* per word list: the chains anchored on it, as offset in crec << 4 | category bit */
			   *anc;
	uint64_t   *anchored;		/* a bit per word list: it has chains anchored on it */
	/*
	 * Per chain, what pf_possible reads of it, contiguous (a line or two,
	 * where the chain, its rule, its positions and their word lists were
	 * five arrays): CR_* header words, then per position its gap, its
	 * number of word lists and the lists
	 */
	uint16_t   *crec;
	uint64_t	cbloom[4];		/* PF_CBLOOM bits: the coarse groups' four-byte heads */
	/* (the rest: the matcher's and the compiler's) */
	Rule	   *rules;
	Node	   *nodes;
	int			nnodes,
				capnodes;
	Edge	   *edges;
	int			nedges,
				capedges;
	PosList    *words;
	int			capwords;
	Position   *pos;
	int			npos,
				cappos;
	int			root[256];		/* the root's children, directly indexed */
	int		   *memb_off;		/* per position: its word lists are memb[memb_off[p] .. memb_off[p + 1]) */
	int		   *memb;
	/* the trie's other edges hashed for the scan: key node * 256 + c + 1 (0 = empty) */
	struct EdgeSlot
	{
		uint32_t	key;
		int			to;
	}		   *eslots;
	uint32_t	emask;
	unsigned char *nflags;		/* per node: 1 a prefix word ends here, 2 an exact word */
	int		   *arena;			/* every word list's positions, contiguous */

	struct PfCand
	{
		uint16_t	val;
	}		   *hcand;			/* (while building; then pgwl) */
	int		   *pfid;			/* (while building) the prefilter's number of each word list */
	int16_t		one[256];		/* the word list of a one-byte exact word, -1 */
	unsigned char shortk[256];	/* by first byte, bit k (1..3): a coarse group's key of k bytes starts with it */
	uint64_t	shortg[64];		/* PF_SHORT bits: the heads of coarse groups of 1 to 3 bytes */
	int		   *cg_off,			/* coarse group g: its prefix word lists cg[cg_off[g] .. cg_off[g + 1]) */
			   *cg;
	int			ncg;
	struct Chain
	{
		int			start,		/* positions [start, end) */
					end;
	}		   *chains;
	int			nchains;
	int		   *pwl_off,		/* per position: its word lists pwl[pwl_off[p] .. pwl_off[p + 1]) */
			   *pwl;
};

/* a chain's record in crec: the header's words */
#define CR_CAT				0	/* category | group << 8 (cue rules) */
#define CR_MIN				1	/* cue rule: groups needed; 0 = an ordinary sequence */
#define CR_PAT				2	/* the rule: two words, low first */
#define CR_NPOS				4
#define CR_HEAD				5


#define PF_COARSE			0x8000
#define PF_COARSE_MAX		4
#define PF_MAX_SEGMENT		8192	/* longer segments go to the matcher at once */

/* a word's head: its first k (1..PF_COARSE_MAX) bytes as one number */
static inline uint32_t
pf_head(const unsigned char *w, int k)
{
	uint32_t	x;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (k == 4)
	{
		memcpy(&x, w, 4);		/* the same number, in one load */
		return x;
	}
#endif
	x = w[0];

	if (k > 1)
		x |= (uint32_t) w[1] << 8;
	if (k > 2)
		x |= (uint32_t) w[2] << 16;
	if (k > 3)
		x |= (uint32_t) w[3] << 24;
	return x;
}

#define PF_SLOT(r, head)	(((head) * 0x9E3779B1u) >> (r)->pshift)
/*
 * cbloom: two bits of one of its four words per head, from the top bits of
 * one product (each depends on all of the head's)
 */
#define PF_CBLOOM_H(head)	((uint64_t) (head) * 0x9E3779B97F4A7C15ull)
#define PF_CBLOOM_WORD(h)	((h) >> 62)
#define PF_CBLOOM_BITS(h)	(((uint64_t) 1 << (((h) >> 56) & 63)) | ((uint64_t) 1 << (((h) >> 50) & 63)))
static inline int
pf_cbloom_has(const uint64_t *cbloom, uint32_t head)
{
	uint64_t	h = PF_CBLOOM_H(head),
				x = cbloom[PF_CBLOOM_WORD(h)];

	return (int) ((x >> ((h >> 56) & 63)) & (x >> ((h >> 50) & 63)) & 1);
}

#define PF_CBLOOM_HAS(r, head) pf_cbloom_has((r)->cbloom, (head))

/*
 * The exact table's key of a word w of wl (1..) bytes: its first 16 bytes
 * as two numbers, zeros past its end, the second folded into the first by
 * a multiply (only for a word of more than 8 bytes: most words take one
 * load and a mask).  w must have 16 readable bytes (the scan's buffers
 * have SCAN_PAD more than the text).
 */
static inline uint64_t
pf_key(const unsigned char *w, size_t wl)
{
	uint64_t	a,
				b;

	memcpy(&a, w, 8);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
	a = __builtin_bswap64(a);
#endif
	if (wl < 8)
		a &= ~(uint64_t) 0 >> (64 - 8 * wl);
	else if (wl > 8)
	{
		memcpy(&b, w + 8, 8);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
		b = __builtin_bswap64(b);
#endif
		if (wl < 16)
			b &= ~(uint64_t) 0 >> (128 - 8 * wl);
		a ^= b * 0x9E3779B97F4A7C15ull;
	}
	return a;
}

/*
 * the hash of a key and length: the two halves of one 128-bit product
 * xored (each bit depends on every bit of the key), where the compiler has
 * 128-bit integers; else a 64-bit product with its high half folded down.
 * Its top bits pick the slot, bits 32..47 (never 0) are the tag, bits
 * 0..11 the bloom's two bits and the bits below bit 32 its word.
 */
static inline uint64_t
pf_xhash(uint64_t key, size_t wl)
{
	uint64_t	x = key ^ (uint64_t) wl;

#if defined(__SIZEOF_INT128__)
	unsigned __int128 p = (unsigned __int128) x * 0xC2B2AE3D27D4EB4Full;

	return (uint64_t) p ^ (uint64_t) (p >> 64);
#else
	x *= 0xC2B2AE3D27D4EB4Full;
	return x ^ (x >> 29);
#endif
}

#define PF_TAG(h)			((uint16_t) ((h) >> 32) | 1)
#define PF_MORE				0x8000	/* in PfExact.wl (word lists are below PF_COARSE) */
#define PF_XBLOOM_WORD(r, h) ((uint32_t) (h) >> (r)->xbshift)
#define PF_XBLOOM_BITS(h)	(((uint64_t) 1 << ((h) & 63)) | ((uint64_t) 1 << (((h) >> 6) & 63)))
/* both of h's bits in the bloom's word x (two shifts: no mask is built) */
#define PF_XBLOOM_HAS(x, h) ((((x) >> ((h) & 63)) & ((x) >> (((h) >> 6) & 63)) & 1) != 0)
#define PF_SHORT(head)		(((head) * 0x85EBCA6Bu) >> 20)
#define PF_SHORT_HAS(r, head) (((r)->shortg[PF_SHORT(head) >> 6] >> (PF_SHORT(head) & 63)) & 1)

static int
grow(void **arr, int *cap, int need, size_t elsize)
{
	if (need <= *cap)
		return 0;
	{
		int			nc = *cap ? *cap * 2 : 16;
		void	   *p;

		while (nc < need)
			nc *= 2;
		p = realloc(*arr, (size_t) nc * elsize);
		if (p == NULL)
			return -1;
		*arr = p;
		*cap = nc;
	}
	return 0;
}

static int
new_node(DetectRules *r)
{
	if (grow((void **) &r->nodes, &r->capnodes, r->nnodes + 1, sizeof(Node)) < 0)
		return -1;
	r->nodes[r->nnodes].edges = -1;
	r->nodes[r->nnodes].exact = -1;
	r->nodes[r->nnodes].prefix = -1;
	return r->nnodes++;
}

static int
child(const DetectRules *r, int node, unsigned char c)
{
	int			e;

	if (node == 0)
		return r->root[c];
	for (e = r->nodes[node].edges; e >= 0; e = r->edges[e].next)
		if (r->edges[e].c == c)
			return r->edges[e].to;
	return -1;
}

/* child() for the scan: the edge hash built by finish_lists */
static inline int
child_fast(const DetectRules *r, int node, unsigned char c)
{
	uint32_t	key,
				h;

	if (node == 0)
		return r->root[c];
	key = (uint32_t) node * 256 + c + 1;
	for (h = (key * 2654435761u) & r->emask;; h = (h + 1) & r->emask)
	{
		if (r->eslots[h].key == key)
			return r->eslots[h].to;
		if (r->eslots[h].key == 0)
			return -1;
	}
}

/* the word list for word w (exact or prefix); -1 on OOM */
static int
word_list(DetectRules *r, const unsigned char *w, size_t len, int prefix)
{
	int			node = 0;
	size_t		i;
	int		   *slot;

	for (i = 0; i < len; i++)
	{
		int			next = child(r, node, w[i]);

		if (next < 0)
		{
			if ((next = new_node(r)) < 0 ||
				grow((void **) &r->edges, &r->capedges, r->nedges + 1, sizeof(Edge)) < 0)
				return -1;
			r->edges[r->nedges].c = w[i];
			r->edges[r->nedges].to = next;
			r->edges[r->nedges].next = r->nodes[node].edges;
			r->nodes[node].edges = r->nedges++;
			if (node == 0)
				r->root[w[i]] = next;
		}
		node = next;
	}
	slot = prefix ? &r->nodes[node].prefix : &r->nodes[node].exact;
	if (*slot < 0)
	{
		if (grow((void **) &r->words, &r->capwords, r->nwords + 1, sizeof(PosList)) < 0)
			return -1;
		memset(&r->words[r->nwords], 0, sizeof(PosList));
		if ((r->words[r->nwords].text = malloc(len + 1)) == NULL)
			return -1;
		memcpy(r->words[r->nwords].text, w, len);
		r->words[r->nwords].len = (int) len;
		r->words[r->nwords].prefix = prefix;
		*slot = r->nwords++;
	}
	return *slot;
}

static int
add_pos(DetectRules *r, int wl, int pos)
{
	PosList    *l = &r->words[wl];

	if (l->n > 0 && l->pos[l->n - 1] == pos)
		return 0;
	if (grow((void **) &l->pos, &l->cap, l->n + 1, sizeof(int)) < 0)
		return -1;
	l->pos[l->n++] = pos;
	return 0;
}

/* a pattern, parsed: terms of alternatives of token sequences */
typedef struct Alt
{
	unsigned char *buf;			/* folded literal */
	size_t		len;
	size_t		tok[32][2];		/* token spans in buf */
	int			ntok;
	int			prefix;			/* last token is a prefix */
} Alt;

typedef struct Term
{
	Alt		   *alts;
	int			nalts;
	int			gap_before;
} Term;

static void
free_terms(Term *terms, int nterms)
{
	int			t,
				a;

	for (t = 0; t < nterms; t++)
	{
		for (a = 0; a < terms[t].nalts; a++)
			free(terms[t].alts[a].buf);
		free(terms[t].alts);
	}
	free(terms);
}

/* fold and tokenise one literal into alt; 0 ok, -1 OOM, -2 empty, -3 too many tokens */
static int
make_alt(const unsigned char *lit, size_t len, int prefix, Alt *alt)
{
	uint32_t   *o1 = malloc((len + 1) * sizeof(uint32_t));
	uint32_t   *o2 = malloc((len + 1) * sizeof(uint32_t));
	size_t		i,
				pos = 0,
				ts,
				te;

	memset(alt, 0, sizeof(*alt));
	alt->buf = malloc(len + 1);
	if (!o1 || !o2 || !alt->buf)
	{
		free(o1);
		free(o2);
		return -1;
	}
	for (i = 0; i < len; i++)
		o1[i] = (uint32_t) i;
	alt->len = detect_fold(lit, o1, len, alt->buf, o2);
	free(o1);
	free(o2);
	while (next_token(alt->buf, alt->len, &pos, &ts, &te))
	{
		if (alt->ntok == 32)
			return -3;
		alt->tok[alt->ntok][0] = ts;
		alt->tok[alt->ntok][1] = te;
		alt->ntok++;
	}
	alt->prefix = prefix;
	return alt->ntok == 0 ? -2 : 0;
}

/*
 * Parse pattern text into terms.  Returns the number of terms, or -1 with
 * a message in err.
 */
static int
parse_pattern(const char *text, Term **out, char *err, size_t errlen)
{
	size_t		n = strlen(text),
				i = 0;
	Term	   *terms = NULL;
	int			nterms = 0,
				pending_gap = 0;
	unsigned char *lit = malloc(n + 1);
	int			rc = -1;

	*out = NULL;
	if (lit == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n > DETECT_MAX_PATTERN_LEN)
	{
		snprintf(err, errlen, "longer than %d bytes", DETECT_MAX_PATTERN_LEN);
		goto done;
	}
	while (i < n)
	{
		size_t		start;
		Term		term;

		while (i < n && text[i] == ' ')
			i++;
		if (i >= n)
			break;
		start = i;
		/* a gap term: "*" or "*N" */
		if (text[i] == '*')
		{
			size_t		d = i + 1;
			int			g = 0;

			while (d < n && text[d] >= '0' && text[d] <= '9' && g <= MAX_GAP)
				g = g * 10 + (text[d++] - '0');
			if (d == n || text[d] == ' ')
			{
				pending_gap += d == i + 1 ? DEFAULT_GAP : g;
				if (pending_gap > MAX_GAP)
					pending_gap = MAX_GAP;
				i = d;
				continue;
			}
		}
		memset(&term, 0, sizeof(term));
		term.gap_before = pending_gap;
		pending_gap = 0;
		for (;;)
		{
			size_t		l = 0;
			int			prefix = 0,
						r;
			Alt		   *na;

			/* one alternative up to an unescaped '|' or ' ' */
			while (i < n && text[i] != ' ' && text[i] != '|')
			{
				if (text[i] == '\\' && i + 1 < n)
				{
					lit[l++] = (unsigned char) text[i + 1];
					i += 2;
				}
				else if (text[i] == '*' && (i + 1 == n || text[i + 1] == ' ' || text[i + 1] == '|') && l > 0)
				{
					prefix = 1;
					i++;
				}
				else
					lit[l++] = (unsigned char) text[i++];
			}
			na = realloc(term.alts, (size_t) (term.nalts + 1) * sizeof(Alt));
			if (na == NULL)
			{
				snprintf(err, errlen, "out of memory");
				goto fail_term;
			}
			term.alts = na;
			r = make_alt(lit, l, prefix, &term.alts[term.nalts]);
			term.nalts++;
			if (r < 0)
			{
				snprintf(err, errlen, r == -1 ? "out of memory" : r == -2 ?
						 "term \"%.*s\" has an empty alternative" :
						 "term \"%.*s\" has too many tokens", (int) (i - start), text + start);
				goto fail_term;
			}
			if (i < n && text[i] == '|')
			{
				i++;
				continue;
			}
			break;
		}
		{
			Term	   *nt = realloc(terms, (size_t) (nterms + 1) * sizeof(Term));

			if (nt == NULL)
			{
				snprintf(err, errlen, "out of memory");
				goto fail_term;
			}
			terms = nt;
			terms[nterms++] = term;
		}
		continue;
fail_term:
		{
			int			a;

			for (a = 0; a < term.nalts; a++)
				free(term.alts[a].buf);
			free(term.alts);
		}
		goto done;
	}
	if (nterms == 0)
	{
		snprintf(err, errlen, "pattern is empty");
		goto done;
	}
	if (pending_gap > 0)
	{
		snprintf(err, errlen, "pattern ends with a gap");
		goto done;
	}
	rc = nterms;
done:
	free(lit);
	if (rc < 0)
		free_terms(terms, nterms);
	else
		*out = terms;
	return rc;
}

/*
 * Branches of a term: all single-token alternatives share one branch (one
 * slot with several words); every multi-token alternative is a branch.
 */
static int
term_branches(const Term *t, int *has_single)
{
	int			a,
				multi = 0;

	*has_single = 0;
	for (a = 0; a < t->nalts; a++)
	{
		if (t->alts[a].ntok == 1)
			*has_single = 1;
		else
			multi++;
	}
	return multi + *has_single;
}

/* add the positions of one chain (choice[t] = branch index of term t) */
static int
add_chain(DetectRules *r, int pattern, const Term *terms, int nterms, const int *choice)
{
	int			t,
				first = 1;
	int			start = r->npos;

	for (t = 0; t < nterms; t++)
	{
		const Term *term = &terms[t];
		int			has_single,
					a,
					k;

		term_branches(term, &has_single);
		if (has_single && choice[t] == 0)
		{
			/* one slot: every single-token alternative */
			int			p;

			if (grow((void **) &r->pos, &r->cappos, r->npos + 1, sizeof(Position)) < 0)
				return -1;
			p = r->npos++;
			r->pos[p].pattern = pattern;
			r->pos[p].gap = term->gap_before;
			r->pos[p].first = (unsigned char) first;
			r->pos[p].last = 0;
			r->pos[p].group = -1;
			first = 0;
			for (a = 0; a < term->nalts; a++)
			{
				const Alt  *alt = &term->alts[a];
				int			wl;

				if (alt->ntok != 1)
					continue;
				wl = word_list(r, alt->buf + alt->tok[0][0], alt->tok[0][1] - alt->tok[0][0], alt->prefix);
				if (wl < 0 || add_pos(r, wl, p) < 0)
					return -1;
			}
		}
		else
		{
			/* the (choice - has_single)-th multi-token alternative */
			int			want = choice[t] - has_single,
						seen = 0;
			const Alt  *alt = NULL;

			for (a = 0; a < term->nalts; a++)
			{
				if (term->alts[a].ntok == 1)
					continue;
				if (seen++ == want)
				{
					alt = &term->alts[a];
					break;
				}
			}
			for (k = 0; alt && k < alt->ntok; k++)
			{
				int			p,
							wl;

				if (grow((void **) &r->pos, &r->cappos, r->npos + 1, sizeof(Position)) < 0)
					return -1;
				p = r->npos++;
				r->pos[p].pattern = pattern;
				r->pos[p].gap = k == 0 ? term->gap_before : 0;
				r->pos[p].first = (unsigned char) first;
				r->pos[p].last = 0;
				r->pos[p].group = -1;
				first = 0;
				wl = word_list(r, alt->buf + alt->tok[k][0], alt->tok[k][1] - alt->tok[k][0],
							   alt->prefix && k == alt->ntok - 1);
				if (wl < 0 || add_pos(r, wl, p) < 0)
					return -1;
			}
		}
	}
	if (r->npos > start)
		r->pos[r->npos - 1].last = 1;
	return 0;
}

/* set the group of the positions from start on */
static void
set_group(DetectRules *r, int start, int group)
{
	int			p;

	for (p = start; p < r->npos; p++)
		r->pos[p].group = (signed char) group;
}

/*
 * For matching (match_word): each word list's first positions on their own,
 * and the largest gap of its other positions; for every position, the word
 * lists it is in.  A word whose later positions were all last continued
 * longer ago than that gap can only start chains, so only its first
 * positions need looking at.
 */
static int
finish_lists(DetectRules *r)
{
	int			w,
				k,
				total = 0;
	int		   *fill;

	{
		uint32_t	cap = 16;
		int			node;

		while (cap < (uint32_t) r->nedges * 2 + 2)
			cap *= 2;
		r->eslots = calloc(cap, sizeof(struct EdgeSlot));
		r->nflags = calloc((size_t) r->nnodes + 1, 1);
		if (r->eslots == NULL || r->nflags == NULL)
			return -1;
		r->emask = cap - 1;
		for (node = 0; node < r->nnodes; node++)
			r->nflags[node] = (r->nodes[node].prefix >= 0 ? 1 : 0) | (r->nodes[node].exact >= 0 ? 2 : 0);
		for (node = 1; node < r->nnodes; node++)
		{
			int			e;

			for (e = r->nodes[node].edges; e >= 0; e = r->edges[e].next)
			{
				uint32_t	key = (uint32_t) node * 256 + r->edges[e].c + 1,
							h = (key * 2654435761u) & r->emask;

				while (r->eslots[h].key != 0)
					h = (h + 1) & r->emask;
				r->eslots[h].key = key;
				r->eslots[h].to = r->edges[e].to;
			}
		}
	}
	for (w = 0; w < r->nwords; w++)
	{
		PosList    *l = &r->words[w];

		l->first = malloc(((size_t) l->n + 1) * sizeof(int));
		if (l->first == NULL)
			return -1;
		l->nfirst = 0;
		l->maxgap = -1;
		for (k = 0; k < l->n; k++)
		{
			const Position *pos = &r->pos[l->pos[k]];

			if (pos->first)
				l->first[l->nfirst++] = l->pos[k];
			else
			{
				if (pos->gap > l->maxgap)
					l->maxgap = pos->gap;
				total++;
			}
		}
	}
	r->memb_off = calloc((size_t) r->npos + 2, sizeof(int));
	r->memb = malloc(((size_t) total + 1) * sizeof(int));
	fill = calloc((size_t) r->npos + 2, sizeof(int));
	if (r->memb_off == NULL || r->memb == NULL || fill == NULL)
	{
		free(fill);
		return -1;
	}
	for (w = 0; w < r->nwords; w++)
		for (k = 0; k < r->words[w].n; k++)
			if (!r->pos[r->words[w].pos[k]].first)
				r->memb_off[r->words[w].pos[k] + 1]++;
	for (k = 0; k <= r->npos; k++)
		r->memb_off[k + 1] += r->memb_off[k];
	for (w = 0; w < r->nwords; w++)
		for (k = 0; k < r->words[w].n; k++)
		{
			int			p = r->words[w].pos[k];

			if (!r->pos[p].first)
				r->memb[r->memb_off[p] + fill[p]++] = w;
		}
	free(fill);
	/* one block for the scan to read, in word order, instead of two allocations per word */
	{
		size_t		sz = 1,
					at = 0;

		for (w = 0; w < r->nwords; w++)
			sz += (size_t) r->words[w].n + r->words[w].nfirst;
		r->arena = malloc(sz * sizeof(int));
		if (r->arena == NULL)
			return -1;
		for (w = 0; w < r->nwords; w++)
		{
			PosList    *l = &r->words[w];

			if (l->n > 0)
				memcpy(r->arena + at, l->pos, (size_t) l->n * sizeof(int));
			l->apos = r->arena + at;
			at += (size_t) l->n;
			if (l->nfirst > 0)
				memcpy(r->arena + at, l->first, (size_t) l->nfirst * sizeof(int));
			l->afirst = r->arena + at;
			at += (size_t) l->nfirst;
		}
	}
	return 0;
}


/*
 * How rare a word is likely to be in ordinary text, roughly: the chain's
 * anchor (the position whose words score highest) decides only which chains
 * the prefilter looks at for a word it found, never whether a chain can
 * match.
 */
static int
word_score(const PosList *l)
{
	static const char *const common[] = {
		"the", "a", "an", "to", "of", "in", "on", "for", "by", "and", "or", "is", "are", "it",
		"this", "that", "these", "those", "with", "as", "at", "be", "you", "your", "all", "any",
		"new", "now", "from", "not", "do", "no", "if", "so", "up", "we", "will", "can", "have",
		"has", "was", "were", "what", "when", "one", "use", "get", "set", "run", "open", "see",
		"show", "read", "list", "id", "text", "data", "end", "start", "http", "https", "true",
		"false", "null", "before", "above", "over", "than", "about", "previous", "ignore", NULL
	};
	int			i;

	if (l->len == 1 && tok_class[l->text[0]] == 2)
		return strchr("\"':.,/{}[]()=-&?", l->text[0]) ? 0 : 1;
	for (i = 0; common[i]; i++)
		if ((size_t) l->len == strlen(common[i]) && memcmp(l->text, common[i], l->len) == 0)
			return 1;
	return l->prefix ? l->len : l->len + 1;
}

/* head's slot in the table being built (claimed when empty) */
static struct PfSlot *
pf_claim(DetectRules *r, uint32_t head)
{
	uint32_t	h = PF_SLOT(r, head);

	while (r->pslots[h].head != 0 && r->pslots[h].head != head)
		h = (h + 1) & r->pmask;
	r->pslots[h].head = head;
	return &r->pslots[h];
}

/*
 * The coarse groups' head table with cap slots: every coarse group (by its
 * first word) as a candidate of its head, counted, then placed.  -1 on OOM.
 */
static int
pf_slots(DetectRules *r, const int *grp, uint32_t cap, int entries)
{
	int			c,
				w;

	free(r->pslots);
	free(r->hcand);
	r->pslots = calloc(cap, sizeof(struct PfSlot));
	r->hcand = malloc(((size_t) entries + 1) * sizeof(struct PfCand));
	if (r->pslots == NULL || r->hcand == NULL)
		return -1;
	r->pmask = cap - 1;
	for (r->pshift = 32; (1u << (32 - r->pshift)) < cap; r->pshift--)
		;
	for (c = 0; c < 2; c++)
	{
		uint32_t	x,
					next = 0;

		for (w = 0; w < r->nwords; w++)
		{
			const PosList *l = &r->words[w];
			int			kl = l->len < PF_COARSE_MAX ? l->len : PF_COARSE_MAX;
			uint32_t	head = pf_head(l->text, kl);
			struct PfSlot *slot;

			if (!(l->prefix && r->words[r->cg[r->cg_off[grp[w]]]].text == l->text))
				continue;
			slot = pf_claim(r, head);
			if (c == 0)
			{
				slot->n++;
				continue;
			}
			r->hcand[slot->first + slot->n++].val = (uint16_t) (PF_COARSE | grp[w]);
			r->cmask |= (unsigned char) (1u << kl);
			if (kl < PF_COARSE_MAX)
			{
				uint32_t	sh = PF_SHORT(head);

				r->shortg[sh >> 6] |= (uint64_t) 1 << (sh & 63);
				r->shortk[l->text[0]] |= (unsigned char) (1u << kl);
			}
			else
				r->cbloom[PF_CBLOOM_WORD(PF_CBLOOM_H(head))] |= PF_CBLOOM_BITS(PF_CBLOOM_H(head));
		}
		/* after counting: each head's candidates after the previous head's */
		for (x = 0; c == 0 && x < cap; x++)
		{
			r->pslots[x].first = (uint16_t) next;
			next += r->pslots[x].n;
			r->pslots[x].n = 0;
		}
	}
	return 0;
}

/* the exact table's hash of a word list's word (two bytes or more) */
static uint64_t
pf_word_hash(const PosList *l)
{
	unsigned char k16[16] = {0};

	memcpy(k16, l->text, l->len < 16 ? (size_t) l->len : 16);
	return pf_xhash(pf_key(k16, (size_t) (l->len < 16 ? l->len : 16)), (size_t) l->len);
}

/* exact word w, hash h, into the slots tab (mask + 1 of them, home slot x) */
static void
pf_exact_put(struct PfExact *tab, uint32_t mask, uint32_t x, uint64_t h, int w)
{
	/* (an earlier slot with the same tag must not end the lookup) */
	for (; tab[x].tag != 0; x = (x + 1) & mask)
		if (tab[x].tag == PF_TAG(h))
			tab[x].wl |= PF_MORE;
	tab[x].tag = PF_TAG(h);
	tab[x].wl = (uint16_t) w;
}

/*
 * The most slots of tab (mask + 1 of them, some empty) with one tag in one
 * run of full slots: the most finds a lookup in it (pf_exact_find) makes
 */
static int
pf_tagrun(const struct PfExact *tab, uint32_t mask)
{
	uint32_t	x,
				y,
				e = 0;
	int			most = 0;

	while (tab[e].tag != 0)
		e++;					/* an empty slot: runs start after one */
	for (x = (e + 1) & mask; x != e; x = (x + 1) & mask)
	{
		int			n = 0;

		if (tab[x].tag == 0)
			continue;
		for (y = x; tab[y].tag != 0; y = (y + 1) & mask)
			n += tab[y].tag == tab[x].tag;
		if (n > most)
			most = n;
	}
	return most;
}

/*
 * The exact words' tables: a bloom of about 8 bits per word, then the
 * common words (word_score 1: the, of, you, ...) in pexh, 1.5 slots or
 * more per word (dense: ordinary text has most of them, and hits are what
 * probes it), and the others in pex, two slots or more per word.  Most
 * words of a text stop at the bloom; most of those that do not are common
 * words, whose slots then share a few lines, and pex is only looked at
 * when pexh has no slot with the word's tag.  So that this never hides a
 * word of pex, one whose tag some slot on its way in pexh has is put in
 * pexh too.  -1 on OOM.
 */
static int
pf_exact(DetectRules *r, int nexact)
{
	uint32_t	cap = 64,
				caph = 16,
				nb = 4;
	int			w,
				nhot = 0,
				again;

	for (w = 0; w < r->nwords; w++)
		nhot += !r->words[w].prefix && r->words[w].len >= 2 && word_score(&r->words[w]) <= 1;
	while (cap < (uint32_t) (nexact - nhot) * 2)
		cap *= 2;
	while (caph < (uint32_t) nhot * 3 / 2)
		caph *= 2;
	while (nb * 64 < (uint32_t) nexact * 8)
		nb *= 2;
	r->pex = calloc(cap, sizeof(struct PfExact));
	r->pexh = calloc(caph, sizeof(struct PfExact));
	r->xbloom = calloc(nb, sizeof(uint64_t));
	if (r->pex == NULL || r->pexh == NULL || r->xbloom == NULL)
		return -1;
	r->pxmask = cap - 1;
	for (r->pxshift = 64; ((uint64_t) 1 << (64 - r->pxshift)) < cap; r->pxshift--)
		;
	r->phmask = caph - 1;
	for (r->phshift = 64; ((uint64_t) 1 << (64 - r->phshift)) < caph; r->phshift--)
		;
	for (r->xbshift = 32; (1u << (32 - r->xbshift)) < nb; r->xbshift--)
		;
	for (w = 0; w < r->nwords; w++)
	{
		const PosList *l = &r->words[w];
		uint64_t	h;

		if (l->prefix || l->len < 2)
			continue;
		h = pf_word_hash(l);
		r->xbloom[PF_XBLOOM_WORD(r, h)] |= PF_XBLOOM_BITS(h);
		if (word_score(l) <= 1)
			pf_exact_put(r->pexh, r->phmask, (uint32_t) (h >> r->phshift), h, r->pfid[w]);
		else
			pf_exact_put(r->pex, r->pxmask, (uint32_t) (h >> r->pxshift), h, r->pfid[w]);
	}
	/*
	 * a word of pex whose tag is on its way in pexh goes there too (until
	 * none is: each such copy lengthens runs that other words pass)
	 */
	for (again = 1; again;)
	{
		again = 0;
		for (w = 0; w < r->nwords; w++)
		{
			const PosList *l = &r->words[w];
			uint64_t	h;
			uint32_t	x;
			int			tagged = 0,
						own = 0;

			if (l->prefix || l->len < 2 || word_score(l) <= 1)
				continue;
			h = pf_word_hash(l);
			for (x = (uint32_t) (h >> r->phshift); r->pexh[x].tag != 0; x = (x + 1) & r->phmask)
				if (r->pexh[x].tag == PF_TAG(h))
				{
					tagged = 1;
					own |= (r->pexh[x].wl & ~PF_MORE) == r->pfid[w];
				}
			if (tagged && !own)
			{
				/* (never more than 7/8 full: else no prefilter, which is always sound) */
				if (++nhot > (int) (caph - caph / 8))
				{
					r->pf_ok = 0;
					return 0;
				}
				pf_exact_put(r->pexh, r->phmask, (uint32_t) (h >> r->phshift), h, r->pfid[w]);
				again = 1;
			}
		}
	}
	/* a word's lookups: pexh, then pex; a one-byte token: one[] */
	r->pf_tokmarks = (uint16_t) (pf_tagrun(r->pexh, r->phmask) + pf_tagrun(r->pex, r->pxmask));
	if (r->pf_tokmarks < 1)
		r->pf_tokmarks = 1;
	return 0;
}

/*
 * The head slots' coarse groups replaced by their word lists, so that a
 * head found reads its slot and one array (pgwl), not the groups (hcand),
 * their bounds (cg_off) and their lists (cg).  -1 on OOM.
 */
static int
pf_flatten(DetectRules *r)
{
	uint32_t	x;
	int			n = 0;

	r->pgwl = malloc(((size_t) r->nwords + 1) * sizeof(uint16_t));
	if (r->pgwl == NULL)
		return -1;
	for (x = 0; x <= r->pmask; x++)
	{
		struct PfSlot *slot = &r->pslots[x];
		int			first = n,
					i,
					e;

		for (i = slot->first; i < slot->first + slot->n; i++)
		{
			int			g = r->hcand[i].val & ~PF_COARSE;

			for (e = r->cg_off[g]; e < r->cg_off[g + 1]; e++)
				r->pgwl[n++] = (uint16_t) r->pfid[r->cg[e]];
		}
		slot->first = (uint16_t) first;
		slot->n = (uint16_t) (n - first);
	}
	free(r->hcand);
	r->hcand = NULL;
	return 0;
}

/* the prefilter's tables (see segment_possible); -1 on OOM */
static int
build_prefilter(DetectRules *r)
{
	int			w,
				k,
				p,
				c,
				entries = 0,
				nexact = 0,
				*grp,
				*cnt,
				*crec_off;
	uint32_t	cap = 256;

	memset(r->one, -1, sizeof(r->one));
	r->pf_ok = r->nwords < PF_COARSE && r->nwords > 0;
	if (!r->pf_ok)
		return 0;

	/*
	 * The prefilter numbers the word lists its own way (pfid), the ones
	 * ordinary text has (word_score 1 or less: punctuation, the, of, ...)
	 * first: the per-list marks a scan writes (MatchState.head) then
	 * share a few lines
	 */
	r->pfid = malloc(((size_t) r->nwords + 1) * sizeof(int));
	if (r->pfid == NULL)
		return -1;
	for (k = 0, c = 1; c >= 0; c--)
		for (w = 0; w < r->nwords; w++)
			if ((word_score(&r->words[w]) <= 1) == c)
				r->pfid[w] = k++;

	/* per position its word lists; the chains */
	r->pwl_off = calloc((size_t) r->npos + 2, sizeof(int));
	cnt = calloc((size_t) r->npos + 2, sizeof(int));
	if (r->pwl_off == NULL || cnt == NULL)
	{
		free(cnt);
		return -1;
	}
	for (w = 0; w < r->nwords; w++)
		for (k = 0; k < r->words[w].n; k++)
			r->pwl_off[r->words[w].pos[k] + 1]++;
	for (p = 0; p <= r->npos; p++)
		r->pwl_off[p + 1] += r->pwl_off[p];
	r->pwl = malloc(((size_t) r->pwl_off[r->npos] + 1) * sizeof(int));
	r->chains = malloc(((size_t) r->npos + 1) * sizeof(struct Chain));
	if (r->pwl == NULL || r->chains == NULL)
	{
		free(cnt);
		return -1;
	}
	for (w = 0; w < r->nwords; w++)
		for (k = 0; k < r->words[w].n; k++)
		{
			p = r->words[w].pos[k];
			r->pwl[r->pwl_off[p] + cnt[p]++] = r->pfid[w];
		}
	free(cnt);
	for (p = 0; p < r->npos; p++)
	{
		if (r->pos[p].first)
			r->chains[r->nchains++].start = p;
		if (r->pos[p].last && r->nchains > 0)
			r->chains[r->nchains - 1].end = p + 1;
	}

	/* the chains' records */
	{
		size_t		nrec = 0;

		crec_off = malloc(((size_t) r->nchains + 1) * sizeof(int));

		for (c = 0; c < r->nchains; c++)
			nrec += CR_HEAD + 2 * (size_t) (r->chains[c].end - r->chains[c].start) +
				(size_t) (r->pwl_off[r->chains[c].end] - r->pwl_off[r->chains[c].start]);
		r->crec = malloc((nrec + 1) * sizeof(uint16_t));
		if (crec_off == NULL || r->crec == NULL || nrec > (INT32_MAX >> 4))
		{
			free(crec_off);
			return -1;
		}
		nrec = 0;
		for (c = 0; c < r->nchains; c++)
		{
			const Position *first = &r->pos[r->chains[c].start];
			const Rule *rule = &r->rules[first->pattern];
			uint16_t   *cr = r->crec + nrec;
			int			e;

			crec_off[c] = (int) nrec;
			cr[CR_CAT] = (uint16_t) (rule->category | (unsigned char) first->group << 8);
			cr[CR_MIN] = (uint16_t) (rule->ngroups ? rule->min_groups : 0);
			cr[CR_PAT] = (uint16_t) (first->pattern & 0xFFFF);
			cr[CR_PAT + 1] = (uint16_t) ((unsigned) first->pattern >> 16);
			cr[CR_NPOS] = (uint16_t) (r->chains[c].end - r->chains[c].start);
			nrec += CR_HEAD;
			for (p = r->chains[c].start; p < r->chains[c].end; p++)
			{
				r->crec[nrec++] = (uint16_t) r->pos[p].gap;
				r->crec[nrec++] = (uint16_t) (r->pwl_off[p + 1] - r->pwl_off[p]);
				for (e = r->pwl_off[p]; e < r->pwl_off[p + 1]; e++)
					r->crec[nrec++] = (uint16_t) r->pwl[e];
			}
		}
	}

	/* each chain anchored on the word lists of its rarest-looking position */
	{
		int		   *anchor = malloc(((size_t) r->nchains + 1) * sizeof(int)),
				   *score = malloc(((size_t) r->nwords + 1) * sizeof(int)),
				   *fill;

		r->anc_off = calloc((size_t) r->nwords + 2, sizeof(int));
		if (anchor == NULL || score == NULL || r->anc_off == NULL)
		{
			free(anchor);
			free(score);
			free(crec_off);
			return -1;
		}
		for (w = 0; w < r->nwords; w++)
			score[r->pfid[w]] = word_score(&r->words[w]);
		for (c = 0; c < r->nchains; c++)
		{
			int			best = -1,
						best_score = -1,
						best_n = 0;

			for (p = r->chains[c].start; p < r->chains[c].end; p++)
			{
				int			sc = 1 << 30,
							n = r->pwl_off[p + 1] - r->pwl_off[p],
							e;

				for (e = r->pwl_off[p]; e < r->pwl_off[p + 1]; e++)
				{
					int			ws = score[r->pwl[e]];

					sc = ws < sc ? ws : sc;
				}
				if (sc > best_score || (sc == best_score && n < best_n))
				{
					best = p;
					best_score = sc;
					best_n = n;
				}
			}
			anchor[c] = best;
			for (k = r->pwl_off[best]; k < r->pwl_off[best + 1]; k++)
				r->anc_off[r->pwl[k] + 1]++;
		}
		free(score);
		for (w = 0; w <= r->nwords; w++)
			r->anc_off[w + 1] += r->anc_off[w];
		r->anc = malloc(((size_t) r->anc_off[r->nwords] + 1) * sizeof(int));
		fill = calloc((size_t) r->nwords + 1, sizeof(int));
		if (r->anc == NULL || fill == NULL)
		{
			free(anchor);
			free(fill);
			free(crec_off);
			return -1;
		}
		for (c = 0; c < r->nchains; c++)
			for (k = r->pwl_off[anchor[c]]; k < r->pwl_off[anchor[c] + 1]; k++)
			{
				w = r->pwl[k];
				r->anc[r->anc_off[w] + fill[w]++] =
					crec_off[c] << 4 | (int) DETECT_CAT_BIT(r->crec[crec_off[c] + CR_CAT] & 0xFF);
			}
		free(fill);
		free(anchor);
		free(crec_off);
		/* anchors are the rarest words: most words a text has anchor nothing */
		r->anchored = calloc((size_t) r->nwords / 64 + 1, sizeof(uint64_t));
		if (r->anchored == NULL)
			return -1;
		for (w = 0; w < r->nwords; w++)
			if (r->anc_off[w + 1] > r->anc_off[w])
				r->anchored[w >> 6] |= (uint64_t) 1 << (w & 63);
	}

	/* coarse groups: prefix words by their first min(len, PF_COARSE_MAX) bytes */
	grp = malloc(((size_t) r->nwords + 1) * sizeof(int));
	r->cg_off = calloc((size_t) r->nwords + 2, sizeof(int));
	r->cg = malloc(((size_t) r->nwords + 1) * sizeof(int));
	if (grp == NULL || r->cg_off == NULL || r->cg == NULL)
	{
		free(grp);
		return -1;
	}
	for (w = 0; w < r->nwords; w++)
	{
		const PosList *l = &r->words[w];
		int			kl = l->len < PF_COARSE_MAX ? l->len : PF_COARSE_MAX;

		grp[w] = -1;
		if (!l->prefix)
		{
			if (l->len == 1)
				r->one[l->text[0]] = (int16_t) r->pfid[w];
			else
				nexact++;
			continue;
		}
		for (k = 0; k < w; k++)
		{
			const PosList *o = &r->words[k];

			if (o->prefix && (o->len < PF_COARSE_MAX ? o->len : PF_COARSE_MAX) == kl &&
				memcmp(o->text, l->text, kl) == 0)
			{
				grp[w] = grp[k];
				break;
			}
		}
		if (grp[w] < 0)
		{
			grp[w] = r->ncg++;
			entries++;
		}
		r->cg_off[grp[w] + 1]++;
	}
	if (r->ncg >= PF_COARSE)
	{
		free(grp);
		r->pf_ok = 0;
		return 0;
	}
	for (c = 0; c < r->ncg; c++)
		r->cg_off[c + 1] += r->cg_off[c];
	{
		int		   *fill = calloc((size_t) r->ncg + 1, sizeof(int));

		if (fill == NULL)
		{
			free(grp);
			return -1;
		}
		for (w = 0; w < r->nwords; w++)
			if (grp[w] >= 0)
				r->cg[r->cg_off[grp[w]] + fill[grp[w]]++] = w;
		free(fill);
	}

	if (pf_exact(r, nexact) < 0)
	{
		free(grp);
		return -1;
	}
	/* the slots, first with room for every candidate, then for the heads there are */
	while (cap < (uint32_t) entries * 2)
		cap *= 2;
	if (pf_slots(r, grp, cap, entries) < 0)
	{
		free(grp);
		return -1;
	}
	for (c = 0, w = 0; (uint32_t) w <= r->pmask; w++)
		c += r->pslots[w].head != 0;
	for (cap = 64; cap < (uint32_t) c * 2; cap *= 2)
		;
	if (cap < (uint32_t) r->pmask + 1 && pf_slots(r, grp, cap, entries) < 0)
	{
		free(grp);
		return -1;
	}
	free(grp);
	if (pf_flatten(r) < 0)
		return -1;
	free(r->pfid);
	r->pfid = NULL;
	return 0;
}

DetectRules *
detect_compile(const DetectPattern *patterns, int n, char *err, size_t errlen)
{
	/* at a line's start: a scan reads the first two lines (the prefilter's) */
	DetectRules *r = aligned_alloc(64, (sizeof(DetectRules) + 63) / 64 * 64);
	int			i;
	char		dummy[1];

	if (r != NULL)
		memset(r, 0, sizeof(DetectRules));

	if (err == NULL || errlen == 0)
	{
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (r != NULL)
		memset(r->root, -1, sizeof(r->root));
	if (r == NULL || new_node(r) != 0 || n < 0 || (n > 0 && patterns == NULL))
	{
		snprintf(err, errlen, n < 0 || (n > 0 && !patterns) ? "invalid pattern array" : "out of memory");
		detect_free(r);
		return NULL;
	}
	r->rules = calloc((size_t) (n > 0 ? n : 1), sizeof(Rule));
	if (r->rules == NULL)
	{
		snprintf(err, errlen, "out of memory");
		detect_free(r);
		return NULL;
	}
	for (i = 0; i < n; i++)
	{
		const DetectPattern *p = &patterns[i];
		Term	   *terms = NULL;
		int			nterms,
					t,
					nchains = 1;
		int			choice[64],
					nbr[64];
		char		perr[200];
		const char *text;
		int			min_groups,
					window;

		if (p->id == NULL || p->id[0] == '\0' || p->text == NULL ||
			(int) p->category < 0 || p->category >= DETECT_NCATEGORIES ||
			p->severity < DETECT_LOW || p->severity > DETECT_HIGH)
		{
			snprintf(err, errlen, "pattern %d: missing id or text, or invalid category or severity", i + 1);
			detect_free(r);
			return NULL;
		}
		text = p->text;
		min_groups = 0;
		window = 0;
		if (text[0] == '&')
		{
			/* a cue rule: "&N/W group group ..." */
			char	   *end;

			min_groups = (int) strtol(text + 1, &end, 10);
			if (*end == '/')
				window = (int) strtol(end + 1, &end, 10);
			if (*end != ' ' || min_groups < 1 || window < 1 || window > MAX_GAP)
			{
				snprintf(err, errlen, "pattern \"%s\": a cue rule starts \"&N/W \" with N >= 1 and W in 1..%d",
						 p->id, MAX_GAP);
				detect_free(r);
				return NULL;
			}
			text = end + 1;
		}
		nterms = parse_pattern(text, &terms, perr, sizeof(perr));
		if (nterms < 0)
		{
			snprintf(err, errlen, "pattern \"%s\": %s", p->id, perr);
			detect_free(r);
			return NULL;
		}
		if (nterms > 64)
		{
			snprintf(err, errlen, "pattern \"%s\": more than 64 terms", p->id);
			free_terms(terms, nterms);
			detect_free(r);
			return NULL;
		}
		for (t = 0; t < nterms; t++)
		{
			int			hs;

			nbr[t] = term_branches(&terms[t], &hs);
			choice[t] = 0;
			if (min_groups > 0)
				nchains = nbr[t] > nchains ? nbr[t] : nchains;	/* groups are chained separately */
			else
				nchains *= nbr[t];
			if (nchains > MAX_CHAINS)
				break;
		}
		if (nchains > MAX_CHAINS)
		{
			snprintf(err, errlen, "pattern \"%s\": more than %d multi-word combinations", p->id, MAX_CHAINS);
			free_terms(terms, nterms);
			detect_free(r);
			return NULL;
		}
		if (min_groups > 0)
		{
			int			gi;

			for (gi = 0; gi < nterms; gi++)
				if (terms[gi].gap_before > 0)
					break;
			if (nterms > MAX_GROUPS || min_groups > nterms || gi < nterms)
			{
				snprintf(err, errlen, "pattern \"%s\": a cue rule has 1..%d groups, no gaps, and needs at most that many",
						 p->id, MAX_GROUPS);
				free_terms(terms, nterms);
				detect_free(r);
				return NULL;
			}
		}
		r->rules[i].id = strdup(p->id);
		r->rules[i].category = p->category;
		r->rules[i].severity = p->severity;
		r->rules[i].ngroups = min_groups > 0 ? nterms : 0;
		r->rules[i].min_groups = min_groups;
		r->rules[i].window = window;
		r->nrules = i + 1;
		if (r->rules[i].id == NULL)
		{
			snprintf(err, errlen, "out of memory");
			free_terms(terms, nterms);
			detect_free(r);
			return NULL;
		}
		if (min_groups > 0)
		{
			/* a cue rule: every alternative of every group is a chain of its own */
			for (t = 0; t < nterms; t++)
			{
				int			hs,
							nb = term_branches(&terms[t], &hs),
							bi;

				for (bi = 0; bi < nb; bi++)
				{
					int			start = r->npos;

					if (add_chain(r, i, &terms[t], 1, &bi) < 0)
					{
						snprintf(err, errlen, "out of memory");
						free_terms(terms, nterms);
						detect_free(r);
						return NULL;
					}
					set_group(r, start, t);
				}
			}
			free_terms(terms, nterms);
			continue;
		}
		/* every combination of branches (odometer) */
		for (;;)
		{
			if (add_chain(r, i, terms, nterms, choice) < 0)
			{
				snprintf(err, errlen, "out of memory");
				free_terms(terms, nterms);
				detect_free(r);
				return NULL;
			}
			for (t = nterms - 1; t >= 0; t--)
			{
				if (++choice[t] < nbr[t])
					break;
				choice[t] = 0;
			}
			if (t < 0)
				break;
		}
		free_terms(terms, nterms);
	}
	if (finish_lists(r) < 0 || build_prefilter(r) < 0)
	{
		snprintf(err, errlen, "out of memory");
		detect_free(r);
		return NULL;
	}
	return r;
}

void
detect_free(DetectRules *r)
{
	int			i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrules; i++)
		free(r->rules[i].id);
	for (i = 0; i < r->nwords; i++)
	{
		free(r->words[i].pos);
		free(r->words[i].first);
		free(r->words[i].text);
	}
	free(r->pslots);
	free(r->hcand);
	free(r->pfid);
	free(r->pgwl);
	free(r->xbloom);
	free(r->pex);
	free(r->pexh);
	free(r->cg_off);
	free(r->cg);
	free(r->chains);
	free(r->anchored);
	free(r->crec);
	free(r->pwl_off);
	free(r->pwl);
	free(r->anc_off);
	free(r->anc);
	free(r->memb_off);
	free(r->memb);
	free(r->eslots);
	free(r->nflags);
	free(r->arena);
	free(r->rules);
	free(r->nodes);
	free(r->edges);
	free(r->words);
	free(r->pos);
	free(r);
}

int
detect_rules_count(const DetectRules *r)
{
	return r ? r->nrules : 0;
}

/* ------------------------------------------------------------------------
 * tenants
 * ------------------------------------------------------------------------ */

struct DetectTenants
{
	char	  **slots;			/* lower-cased ids, NULL = empty */
	size_t		mask;
	uint64_t	lens;			/* bit len - 1 set: some id is len bytes long */
	/*
	 * bit (c & 31) of firstlast[f & 31]: some id (lower case) starts with
	 * a byte f and ends with a byte c of those low bits.  With lens, what
	 * the structural checks ask of every run before they hash it
	 * (TENANT_MAYBE): a few instructions and 128 bytes (tables by whole
	 * bytes took two lines of 2 kB each per run)
	 */
	uint32_t	firstlast[32];
	unsigned char first[256];	/* some id starts with this byte (either case) */
};

/* could s[0 .. len) (lower case) be a known id?  (len 1..DETECT_MAX_TENANT_ID_LEN) */
#define TENANT_MAYBE(t, first, last, len) \
	((((t)->lens >> ((len) - 1)) & 1) && (((t)->firstlast[(first) & 31] >> ((last) & 31)) & 1))

static uint64_t
hash_bytes(const unsigned char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		unsigned char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

static int
eq_nocase(const unsigned char *a, size_t alen, const char *b)
{
	size_t		i;

	for (i = 0; i < alen; i++)
	{
		unsigned char x = a[i],
					y = (unsigned char) b[i];

		if (y == '\0')
			return 0;
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return 0;
	}
	return b[alen] == '\0';
}

DetectTenants *
detect_tenants_new(const char *const *ids, int n)
{
	DetectTenants *t = calloc(1, sizeof(DetectTenants));
	size_t		cap = 16,
				i;

	if (t == NULL)
		return NULL;
	while (cap < (size_t) (n > 0 ? n : 0) * 2 + 1)
		cap *= 2;
	t->slots = calloc(cap, sizeof(char *));
	if (t->slots == NULL)
	{
		free(t);
		return NULL;
	}
	t->mask = cap - 1;
	for (i = 0; ids && i < (size_t) (n > 0 ? n : 0); i++)
	{
		size_t		len,
					h,
					k;

		if (ids[i] == NULL || (len = strlen(ids[i])) == 0 || len > DETECT_MAX_TENANT_ID_LEN)
			continue;
		h = (size_t) hash_bytes((const unsigned char *) ids[i], len) & t->mask;
		while (t->slots[h] && !eq_nocase((const unsigned char *) ids[i], len, t->slots[h]))
			h = (h + 1) & t->mask;
		if (t->slots[h])
			continue;			/* duplicate */
		t->slots[h] = malloc(len + 1);
		if (t->slots[h] == NULL)
		{
			detect_tenants_free(t);
			return NULL;
		}
		for (k = 0; k < len; k++)
			t->slots[h][k] = (char) ((ids[i][k] >= 'A' && ids[i][k] <= 'Z') ? ids[i][k] + 32 : ids[i][k]);
		t->slots[h][len] = '\0';
		t->lens |= (uint64_t) 1 << (len - 1);
		t->firstlast[t->slots[h][0] & 31] |= (uint32_t) 1 << (t->slots[h][len - 1] & 31);
		t->first[(unsigned char) t->slots[h][0]] = 1;
		if (t->slots[h][0] >= 'a' && t->slots[h][0] <= 'z')
			t->first[(unsigned char) t->slots[h][0] - 32] = 1;
	}
	return t;
}

void
detect_tenants_free(DetectTenants *t)
{
	size_t		i;

	if (t == NULL)
		return;
	for (i = 0; i <= t->mask; i++)
		free(t->slots[i]);
	free(t->slots);
	free(t);
}

static int
tenant_known(const DetectTenants *t, const unsigned char *s, size_t len)
{
	size_t		h;

	if (t == NULL || len == 0 || len > DETECT_MAX_TENANT_ID_LEN)
		return 0;
	/* most words: no id of that length or first letter */
	if (!((t->lens >> (len - 1)) & 1) || !t->first[s[0]])
		return 0;
	h = (size_t) hash_bytes(s, len) & t->mask;
	while (t->slots[h])
	{
		if (eq_nocase(s, len, t->slots[h]))
			return 1;
		h = (h + 1) & t->mask;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * scan
 * ------------------------------------------------------------------------ */

typedef struct Segment
{
	unsigned char *buf;
	size_t		len;
	size_t		orig_off;		/* where the encoded run started in the input */
	size_t		orig_len;
	int			depth;
} Segment;

typedef struct MatchState
{
	const DetectRules *rules;
	/*
	 * The arrays live in a DetectScratch and are never cleared: every value
	 * is a token index, and each scan's token indices start SEGMENT_GAP
	 * past the last one of the scratch's previous scan, so what an earlier
	 * scan left is "long ago" for every gap and window, as zero was.
	 */
	struct PosState
	{
		long long	prev;		/* token index of the previous position's match */
		size_t		start;		/* b-offset of the chain's first token */
	}		   *pst;			/* per position, both in one cache line */
	long long  *reported;		/* per rule: this scan's first token index once reported */
	long long  *ghit;			/* cue rules: per rule and group, the token index of the last hit */
	int		   *upd_pos;		/* pending updates of one token (at most npos) */
	size_t	   *upd_start;
	long long  *touch;			/* per word list: token index of the last prev[] set for one of its later positions */
	/*
	 * the prefilter's per-segment marks, cleared after use: a bit per word
	 * list found, and the finds in token order, each list's linked.  pf_walk
	 * works on a copy in locals (registers: its stores through head and ev
	 * could otherwise alias the counts) and stores it back.
	 */
	struct PfMarks
	{
		uint64_t   *present;	/* per word list: one of its words is in the segment */
		uint16_t   *head;		/* per word list found: its latest find in ev */
		struct PfEvent
		{
			uint16_t	tok;	/* token index in the segment (at most PF_MAX_SEGMENT) */
			uint16_t	next;	/* the list's earlier find, PF_NONE */
		}		   *ev;			/* the finds (the scratch's: grown there, see pf_mark) */
		int			capev;
		int			nev;
		int			oom;		/* no room to record: the segment counts as possible */
		struct StateArrays *home;	/* the scratch's arrays these are */
	}			mk;
	unsigned char *cue;			/* per cue rule: groups with a chain whose words are all present */
	int		   *cuel;
	int			active;			/* the segment may match: match_tokens runs this rule set */
	int			matcher;		/* pst .. touch are bound (bind_matcher) */
} MatchState;

/* a MatchState's arrays, kept in a scratch for whichever rules use them next */
typedef struct StateArrays StateArrays;
struct StateArrays
{
	/* the prefilter's (bind_state), first: every scan reads them */
	uint64_t   *present;
	int		   *cuel;
	uint16_t   *head;
	unsigned char *cue;
	struct PfEvent *ev;
	int			capev,
				capcue,
				capmarks;
	/* the matcher's (bind_matcher) */
	int			cappos,
				caprules,
				capwords;
	struct PosState *pst;
	long long  *reported,
			   *ghit,
			   *touch;
	size_t	   *upd_start;
	int		   *upd_pos;
};

typedef struct SegQueue SegQueue;

struct DetectScratch
{
	/* (what every scan reads first, then the prefilter's arrays: two lines) */
	long long	tokbase;		/* the last token index any scan with this scratch used */
	unsigned char *x;			/* the segment unescaped (twice: into y), then folded */
	size_t		cap;
	SegQueue   *q;
	StateArrays st[2];
	unsigned char *y;
	/* the offset-carrying normalisation, run only when offsets are needed */
	unsigned char *ox_b,
			   *oy_b;
	uint32_t   *o0,
			   *o1,
			   *o2;
	size_t		ocap;
};

enum
{
	B_TENANT_ID, B_TENANT_PATH, B_TENANT_KEY, B_JWT, B_BEARER, B_SESSION_KEY,
	B_MD_IMAGE, B_URL_TEMPLATE, B_COUNT
};

static const struct
{
	const char *id;
	DetectCategory cat;
	DetectSeverity sev;
}			builtins[B_COUNT] = {
	{DETECT_ID_TENANT_ID, DETECT_CROSS_TENANT, DETECT_HIGH},
	{DETECT_ID_TENANT_PATH, DETECT_CROSS_TENANT, DETECT_HIGH},
	{DETECT_ID_TENANT_KEY, DETECT_CROSS_TENANT, DETECT_HIGH},
	{DETECT_ID_JWT, DETECT_SESSION_STATE, DETECT_HIGH},
	{DETECT_ID_BEARER, DETECT_SESSION_STATE, DETECT_HIGH},
	{DETECT_ID_SESSION_KEY, DETECT_SESSION_STATE, DETECT_MEDIUM},
	{DETECT_ID_MD_IMAGE, DETECT_EXFILTRATION, DETECT_HIGH},
	{DETECT_ID_URL_TEMPLATE, DETECT_EXFILTRATION, DETECT_HIGH},
};

typedef struct Scan
{
	const DetectContext *ctx;
	unsigned	mask;
	const unsigned char *input;	/* the original text */
	size_t		input_len;
	DetectFinding *out;
	int			max_out;
	int			nout;
	int			nms;
	unsigned char breported[B_COUNT];
	long long	tokidx;
	long long	scan_id;		/* this scan's first token index (MatchState.reported) */
	DetectScratch *w;
	int			oom;
	/* the current segment, normalised */
	const Segment *seg;
	const unsigned char *b;
	const uint32_t *boff;		/* NULL until seg_offsets() */
	const uint32_t *aoff;		/* offsets of the unescaped segment, likewise */
	size_t		blen;
	int			depth;
	size_t		seg_off,
				seg_len;
	unsigned	rt;				/* the structural tests the scan runs (run_tests_enabled) */
	const DetectTenants *tenants;	/* ctx->tenants */
	int			last_lbracket_img;
	size_t		lbr_at;			/* segment_possible: last_lbracket_img is b[lbr_at]'s (lbr_upto) */
	size_t		url_watermark;
	size_t		val_start,		/* the last token-shaped value scanned */
				val_end;
	/*
	 * segment_possible ran the structural checks along with its tokens
	 * (structured); their findings wait in pending until the matcher's
	 * are reported (defer), so that the order is check_structure's
	 */
	int			structured,
				defer,
				npending;
#ifdef DETECT_CHECK_FAST
	uint64_t	runsig;			/* the runs check_run saw */
#endif
	/* (from here on written before read: detect_scan does not clear them) */
	MatchState	ms[2];			/* (bind_state) */
	struct
	{
		int			b;
		size_t		bs,
					be;
	}			pending[B_COUNT];	/* (npending of them) */
} Scan;

static int	seg_offsets(Scan *s);
static inline void check_run(Scan *s, size_t i, size_t j);
static inline void check_run_at(Scan *s, const unsigned char *b, size_t i, size_t j,
								unsigned en, const DetectTenants *t);
static inline size_t run_tests_minlen(unsigned en, const DetectTenants *t);

static int	ensure(void **p, size_t need, size_t elsize);

/*
 * Did normalisation change the original span beyond ASCII case and
 * whitespace runs?  (The span of b is [bs, be).)
 */
static int
span_obfuscated(const Scan *s, size_t bs, size_t be)
{
	size_t		o = s->boff[bs],
				oend = s->boff[be - 1] + 1,
				k = bs;

	while (o < oend && k < be)
	{
		unsigned char c = s->input[o];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		{
			if (s->b[k] != ' ')
				return 1;
			while (o < oend && (s->input[o] == ' ' || s->input[o] == '\t' ||
								s->input[o] == '\n' || s->input[o] == '\r'))
				o++;
			k++;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != s->b[k])
			return 1;
		o++;
		k++;
	}
	return o != oend || k != be;
}

/* record a finding for the b-span [bs, be) */
static void
report(Scan *s, const char *id, DetectCategory cat, DetectSeverity sev, size_t bs, size_t be)
{
	DetectFinding *f;

	if (!(s->mask & DETECT_CAT_BIT(cat)) || s->nout >= s->max_out)
		return;
	if (s->depth == 0 && s->boff == NULL && seg_offsets(s) < 0)
		return;					/* out of memory: the scan fails */
	f = &s->out[s->nout++];
	f->category = cat;
	f->severity = sev;
	f->pattern_id = id;
	f->depth = s->depth;
	if (s->depth > 0)
	{
		f->offset = s->seg_off;
		f->length = s->seg_len;
		f->obfuscated = true;
	}
	else
	{
		f->offset = s->boff[bs];
		f->length = s->boff[be - 1] + 1 - s->boff[bs];
		f->obfuscated = span_obfuscated(s, bs, be) != 0;
	}
}

static void
report_builtin(Scan *s, int b, size_t bs, size_t be)
{
	if (s->breported[b] || !(s->mask & DETECT_CAT_BIT(builtins[b].cat)))
		return;
	s->breported[b] = 1;
	if (s->defer)
	{
		/* (each builtin at most once per scan: pending has room) */
		s->pending[s->npending].b = b;
		s->pending[s->npending].bs = bs;
		s->pending[s->npending].be = be;
		s->npending++;
		return;
	}
	report(s, builtins[b].id, builtins[b].cat, builtins[b].sev, bs, be);
}

/* the structural findings segment_possible deferred, in their order */
static void
report_pending(Scan *s)
{
	int			i;

	s->defer = 0;
	for (i = 0; i < s->npending; i++)
	{
		int			b = s->pending[i].b;

		report(s, builtins[b].id, builtins[b].cat, builtins[b].sev, s->pending[i].bs, s->pending[i].be);
	}
	s->npending = 0;
}

/*
 * One token (b-span [ts, te)) through one rule set.  prev[p] is the token
 * index at which position p-1 last matched: p may match at t when
 * prev[p] < t <= prev[p] + 1 + gap.  Updates are collected and applied
 * after the token, so a word used by two neighbouring positions ("# #")
 * never overwrites state a later position still has to read.
 */
static void
match_word(Scan *s, MatchState *m, const unsigned char *w, size_t wl, size_t ts, size_t te)
{
	const DetectRules *r = m->rules;
	int			node = 0,
				lists[MAX_WORD + 2],
				nl = 0,
				l,
				k;
	size_t		i;
	long long	t = s->tokidx;
	int			nupd = 0;

	if (wl > MAX_WORD)
		return;
	for (i = 0; i < wl; i++)
	{
		node = child_fast(r, node, w[i]);
		if (node < 0)
			break;
		if (r->nflags[node] & 1)
			lists[nl++] = r->nodes[node].prefix;
	}
	if (node >= 0 && (r->nflags[node] & 2))
		lists[nl++] = r->nodes[node].exact;
	if (nl == 0)
		return;					/* no word of any pattern: nothing to do */

	for (l = 0; l < nl; l++)
	{
		const PosList *pl = &r->words[lists[l]];
		const int  *ps = pl->apos;
		int			np = pl->n;

		/* no later position of this word can continue a chain now: only the first ones */
		if (t - m->touch[lists[l]] - 1 > pl->maxgap)
		{
			ps = pl->afirst;
			np = pl->nfirst;
		}
		for (k = 0; k < np; k++)
		{
			int			p = ps[k];
			const Position *pos = &r->pos[p];
			size_t		st;

			if (!pos->first && !(m->pst[p].prev < t && t - m->pst[p].prev - 1 <= pos->gap))
				continue;
			st = pos->first ? ts : m->pst[p].start;
			if (pos->last && pos->group >= 0)
			{
				/* a cue group hit: enough distinct groups inside the window? */
				const Rule *rule = &r->rules[pos->pattern];
				long long  *gh = m->ghit + (size_t) pos->pattern * MAX_GROUPS;
				int			g,
							cnt = 0;

				gh[pos->group] = t;
				for (g = 0; g < rule->ngroups; g++)
					cnt += t - gh[g] <= rule->window;
				if (cnt >= rule->min_groups && m->reported[pos->pattern] != s->scan_id &&
					(s->mask & DETECT_CAT_BIT(rule->category)))
				{
					m->reported[pos->pattern] = s->scan_id;
					report(s, rule->id, rule->category, rule->severity, st, te);
				}
				continue;
			}
			if (pos->last)
			{
				const Rule *rule = &r->rules[pos->pattern];

				if (m->reported[pos->pattern] != s->scan_id && (s->mask & DETECT_CAT_BIT(rule->category)))
				{
					m->reported[pos->pattern] = s->scan_id;
					report(s, rule->id, rule->category, rule->severity, st, te);
				}
				continue;
			}
			if (nupd >= r->npos)
				continue;		/* only duplicates can overflow: p matched through two words */
			m->upd_pos[nupd] = p + 1;
			m->upd_start[nupd] = st;
			nupd++;
		}
	}
	/* applied after every position has seen the old state */
	for (k = 0; k < nupd; k++)
	{
		int			q = m->upd_pos[k],
					e;

		m->pst[q].prev = t;
		m->pst[q].start = m->upd_start[k];
		for (e = r->memb_off[q]; e < r->memb_off[q + 1]; e++)
			m->touch[r->memb[e]] = t;
	}
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

/* tokens of the current segment through every rule set */
static void
match_tokens(Scan *s)
{
	size_t		pos = 0,
				ts,
				te;
	int			bits = 0;

	while (next_token_bits(s->b, s->blen, &pos, &ts, &te, &bits))
	{
		int			m;

		for (m = 0; m < s->nms; m++)
			if (s->ms[m].active && s->ms[m].rules->root[s->b[ts]] >= 0)	/* else no pattern word starts so */
				match_word(s, &s->ms[m], s->b + ts, te - ts, ts, te);
		/*
		 * light leetspeak: a word mixing letters and digits (nothing else) is
		 * tried with digits as letters
		 */
		if (bits == 3 && te - ts <= MAX_WORD && te - ts >= 3)
		{
			size_t		i;
			unsigned char leet[MAX_WORD];
			static const char lmap[] = "oizeasgtbg";	/* 0..9 */

			for (i = ts; i < te; i++)
				leet[i - ts] = is_digit(s->b[i]) ? (unsigned char) lmap[s->b[i] - '0'] : s->b[i];
			for (m = 0; m < s->nms; m++)
				if (s->ms[m].active)
					match_word(s, &s->ms[m], leet, te - ts, ts, te);
		}
		s->tokidx++;
	}
	s->tokidx += SEGMENT_GAP;
}


/* ---- the prefilter ---- */

typedef struct PfMarks PfMarks;

/*
 * the scratch's ev grown (doubled): its new capacity, -1 when out of
 * memory (not inlined: the marks stay in pf_walk's registers)
 */
static __attribute__((noinline)) int
pf_grow(StateArrays *home)
{
	int			cap = home->capev ? home->capev * 2 : 256;

	if (ensure((void **) &home->ev, (size_t) cap, sizeof(struct PfEvent)) < 0)
		return -1;
	return home->capev = cap;
}

/*
 * word list wl is found at token tok (a token index in the segment).  The
 * finds and the lists' heads are 16-bit (a segment has at most
 * PF_MAX_SEGMENT tokens): their lines are written, cold, by every scan.
 * Past PF_NONE finds there is no room, and the segment counts as possible.
 */
#define PF_NONE				0xFFFF

/*
 * pf_mark where there is room (pf_walk's common path: see pf_reserve), on
 * the marks' arrays and count (pf_walk's are locals)
 */
static inline __attribute__((always_inline)) void
pf_mark_room(uint64_t *present, uint16_t *head, struct PfEvent *ev, int *nev, int wl, long long tok)
{
	uint64_t	bit = (uint64_t) 1 << (wl & 63);

	if (!(present[wl >> 6] & bit))
	{
		present[wl >> 6] |= bit;
		head[wl] = PF_NONE;
	}
	ev[*nev].tok = (uint16_t) tok;
	ev[*nev].next = head[wl];
	head[wl] = (uint16_t) (*nev)++;
}

static inline __attribute__((always_inline)) void
pf_mark(PfMarks *mk, int wl, long long tok)
{
	if (__builtin_expect(mk->nev >= mk->capev, 0))
	{
		int			cap = mk->nev >= PF_NONE ? -1 : pf_grow(mk->home);

		if (cap < 0)
		{
			mk->oom = 1;
			return;
		}
		mk->ev = mk->home->ev;
		mk->capev = cap;
	}
	pf_mark_room(mk->present, mk->head, mk->ev, &mk->nev, wl, tok);
}

/*
 * room in m's finds for need more (the finds stay below PF_NONE), grown
 * when there is not; 0 when there cannot be (then oom is set: the segment
 * counts as possible)
 */
static __attribute__((noinline)) int
pf_reserve(MatchState *m, int need)
{
	PfMarks    *mk = &m->mk;

	while (mk->capev - mk->nev < need)
	{
		int			cap = mk->nev + need > PF_NONE ? -1 : pf_grow(mk->home);

		if (cap < 0)
		{
			mk->oom = 1;
			return 0;
		}
		mk->ev = mk->home->ev;
		mk->capev = cap;
	}
	return 1;
}

/* head's slot in the coarse groups' table, NULL when no group has it */
static inline const struct PfSlot *
pf_find(const DetectRules *r, uint32_t head)
{
	uint32_t	h = PF_SLOT(r, head);

	for (; r->pslots[h].head != 0; h = (h + 1) & r->pmask)
		if (r->pslots[h].head == head)
			return &r->pslots[h];
	return NULL;
}

/* mark the word lists of the coarse groups of head's slot */
static inline void
pf_mark_groups(PfMarks *mk, const DetectRules *r, const struct PfSlot *slot, long long tok)
{
	int			i;

	for (i = slot->first; i < slot->first + slot->n; i++)
		pf_mark(mk, r->pgwl[i], tok);
}

/*
 * the slots of the exact word with tag in tab (home slot x) that may be
 * its: those with its tag from x on, up to one without PF_MORE (so that
 * the word's own is among them) or an empty one.  pf_exact_find marks
 * their word lists and returns whether it met one without PF_MORE (else
 * pex may still have the word); PF_EXACT_EACH is its loop, found set
 * likewise (pf_walk's copy marks on its locals).
 */
#define PF_EXACT_EACH(tab, mask, x, tg, found, mark) \
	do { \
		uint16_t	t_; \
		for ((found) = 0; (t_ = (tab)[x].tag) != 0; (x) = ((x) + 1) & (mask)) \
			if (t_ == (tg)) \
			{ \
				mark((tab)[x].wl & ~PF_MORE); \
				if (!((tab)[x].wl & PF_MORE)) \
				{ \
					(found) = 1; \
					break; \
				} \
			} \
	} while (0)

static inline int
pf_exact_find(PfMarks *mk, const struct PfExact *tab, uint32_t mask, uint32_t x, uint16_t tag, long long tok)
{
	int			found;

#define PF_MARK_MK(l) pf_mark(mk, (l), tok)
	PF_EXACT_EACH(tab, mask, x, tag, found, PF_MARK_MK);
#undef PF_MARK_MK
	return found;
}

/*
 * mark the coarse groups of w (wl bytes): of its heads of 1 to 3 bytes
 * (shortk), or (four) of its four-byte head
 */
static inline __attribute__((always_inline)) void
pf_groups(PfMarks *mk, const DetectRules *r, const unsigned char *w, size_t wl, int four, long long tok)
{
	unsigned	shorter = four ? 1u << PF_COARSE_MAX :
		r->shortk[w[0]] & ((2u << (wl < 3 ? wl : 3)) - 1);	/* (bit 0 is never set) */
	const struct PfSlot *slot;

	for (; shorter; shorter &= shorter - 1)
	{
		int			hl = __builtin_ctz(shorter);
		uint32_t	hd = pf_head(w, hl);

		if ((hl == PF_COARSE_MAX || PF_SHORT_HAS(r, hd)) && (slot = pf_find(r, hd)) != NULL)
			pf_mark_groups(mk, r, slot, tok);
	}
}

/*
 * mark every word list whose word (or prefix word) w is (wl: 2..MAX_WORD;
 * 16 bytes readable at w): the coarse groups of its heads of 1 to 3 bytes
 * (by first byte, shortk) and of 4 (behind cbloom), then the exact word w
 * may be: the bloom, then pexh, then pex (see pf_exact).  (pf_walk's
 * common path has its own copy of the last.)
 */
static inline __attribute__((always_inline)) void
pf_word(PfMarks *mk, const DetectRules *r, const unsigned char *w, size_t wl, long long tok)
{
	uint64_t	h;

	if (r->shortk[w[0]] != 0)
		pf_groups(mk, r, w, wl, 0, tok);
	if (wl >= PF_COARSE_MAX && PF_CBLOOM_HAS(r, pf_head(w, PF_COARSE_MAX)))
		pf_groups(mk, r, w, wl, 1, tok);
	h = pf_xhash(pf_key(w, wl), wl);
	if (PF_XBLOOM_HAS(r->xbloom[PF_XBLOOM_WORD(r, h)], h) &&
		!pf_exact_find(mk, r->pexh, r->phmask, (uint32_t) (h >> r->phshift), PF_TAG(h), tok))
		(void) pf_exact_find(mk, r->pex, r->pxmask, (uint32_t) (h >> r->pxshift), PF_TAG(h), tok);
}

/* one token (w, wl bytes, 1..MAX_WORD) of the segment through m's rules, on m's marks (rare cases) */
static __attribute__((noinline)) void
pf_token_rare(MatchState *m, const unsigned char *w, size_t wl, long long tok)
{
	PfMarks		mk = m->mk;
	const DetectRules *r = m->rules;

	if (wl == 1)
	{
		/* a one-byte token (punctuation, mostly) or word: one[], or a coarse group of one byte */
		if (r->one[w[0]] >= 0)
			pf_mark(&mk, r->one[w[0]], tok);
		if (r->cmask & 2)
			pf_groups(&mk, r, w, 1, 0, tok);
	}
	else
		pf_word(&mk, r, w, wl, tok);
	m->mk = mk;
}

#define PF_PRESENT(m, wl) (((m)->mk.present[(wl) >> 6] >> ((wl) & 63)) & 1)

/*
 * Can chain c match on the recorded occurrences: one token per position,
 * in order, each within its position's gap of the one before (what
 * match_word requires)?  F holds the tokens at which the chain so far can
 * end.  Work is charged to *budget; when it runs out the answer is yes (the
 * matcher then decides, in linear time).
 */
static int
chain_in_order(const MatchState *m, const uint16_t *cr, long long *budget)
{
	const struct PfEvent *ev = m->mk.ev;
	const uint16_t *q = cr + CR_HEAD;
	long long	fa[64],
				fb[64],
			   *f = fa,
			   *g = fb;
	int			nf = 0,
				p,
				e,
				x;

	for (p = 0; p < cr[CR_NPOS]; p++, q += 2 + q[1])
	{
		int			ng = 0,
					gap = q[0];

		for (e = 0; e < q[1]; e++)
		{
			if (!PF_PRESENT(m, q[2 + e]))
				continue;
			for (x = m->mk.head[q[2 + e]]; x != PF_NONE; x = ev[x].next)
			{
				long long	t = ev[x].tok;
				int			k,
							ok = p == 0;

				for (k = 0; k < nf && !ok; k++)
					ok = f[k] < t && t - f[k] - 1 <= gap;
				*budget -= nf + 1;
				if (*budget < 0 || (ok && ng >= 64))
					return 1;
				if (ok)
					g[ng++] = t;
			}
		}
		if (ng == 0)
			return 0;
		{
			long long  *t = f;

			f = g;
			g = t;
			nf = ng;
		}
	}
	return 1;
}

/* after pf_word over a segment: could a chain of m's rules match?  Clears the marks. */
static int
pf_possible(const Scan *s, MatchState *m)
{
	const DetectRules *r = m->rules;
	int			i,
				k,
				e,
				ncue = 0,
				nw64 = (r->nwords + 63) / 64,
				possible = m->mk.oom;
	long long	budget[1] = {4096 + 4LL * m->mk.nev};

	for (i = 0; i < nw64 && !possible; i++)
	{
		uint64_t	bits;

		for (bits = m->mk.present[i] & r->anchored[i]; bits && !possible; bits &= bits - 1)
		{
			int			wl = 64 * i + __builtin_ctzll(bits);

			for (k = r->anc_off[wl]; k < r->anc_off[wl + 1] && !possible; k++)
			{
				const uint16_t *cr,
						   *q;
				int			p;

				if (!(s->mask & (r->anc[k] & 15)))
					continue;	/* could match, never report (and its record is not read) */
				cr = r->crec + (r->anc[k] >> 4);
				q = cr + CR_HEAD;
				for (p = 0; p < cr[CR_NPOS]; p++, q += 2 + q[1])
				{
					for (e = 0; e < q[1]; e++)
						if (PF_PRESENT(m, q[2 + e]))
							break;
					if (e == q[1])
						break;
				}
				if (p < cr[CR_NPOS])
					continue;	/* a position none of whose words is here */
				if (!chain_in_order(m, cr, budget))
					continue;	/* its words are here, never in order within the gaps */
				if (cr[CR_MIN] == 0)
					possible = 1;
				else
				{
					int			pat = cr[CR_PAT] | cr[CR_PAT + 1] << 16;
					unsigned char *g = &m->cue[pat];
					int			gb,
								cntg = 0;

					if (*g == 0)
						m->cuel[ncue++] = pat;
					*g |= (unsigned char) (1u << (cr[CR_CAT] >> 8));
					for (gb = *g; gb; gb &= gb - 1)
						cntg++;
					if (cntg >= cr[CR_MIN])
						possible = 1;
				}
			}
		}
	}
	for (i = 0; i < nw64; i++)
		m->mk.present[i] = 0;
	m->mk.nev = 0;
	m->mk.oom = 0;
	for (i = 0; i < ncue; i++)
		m->cue[m->cuel[i]] = 0;
	return possible;
}

/*
 * The normalised segment's byte classes as bit masks, 64 bytes a word (bit
 * k of word i: byte 64 i + k), so that segment_possible steps from token to
 * token and from run to run instead of from byte to byte.
 */
#define CB_WORDS			(PF_MAX_SEGMENT / 64 + 2)	/* the sentinel's block, and one of zeros */

typedef struct ClassBits
{
	/*
	 * by block of 64 bytes, its masks together (nw + 1 blocks: a short
	 * segment's fill the fewest cache lines, all of which are written,
	 * cold, by every scan; pf_walk reads a block's by one pointer)
	 */
	struct CbBlock
	{
		uint64_t	word,		/* tok_bits TB_WORD: a-z 0-9 and non-ASCII */
					one,		/* TB_ONE: a token of its own */
					digit,		/* 0-9 */
					run;		/* runch_tab: the structural checks' run characters */
	}			blk[CB_WORDS];
} ClassBits;

/* a mask's word k, m its block 0's (&blk[0].word, ...) */
#define CB_STRIDE			(sizeof(struct CbBlock) / sizeof(uint64_t))
#define CB_MASK(m, k)		((m)[CB_STRIDE * (k)])

#if defined(__SSE2__)
/* bytes of x in lo..hi, as 0xFF */
static inline __m128i
cb_range(__m128i x, unsigned char lo, unsigned char hi)
{
	__m128i		d = _mm_sub_epi8(x, _mm_set1_epi8((char) lo));

	return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((char) (hi - lo))), d);
}

#define CB_EQ(x, c) _mm_cmpeq_epi8((x), _mm_set1_epi8((char) (c)))
#endif

/*
 * Fill cb for the bytes b[0 .. n] (b[n] is the sentinel 0) and return the
 * number of words used; the next word is all zeros.  b must hold whole
 * blocks of 64 bytes past n (SCAN_PAD zeros: no class).
 */
static size_t
class_bits(const unsigned char *b, size_t n, ClassBits *cb)
{
	size_t		nw = n / 64 + 1,
				k;

	for (k = 0; k < nw; k++)
	{
		const unsigned char *p = b + 64 * k;
		uint64_t	m[4] = {0};
		int			q;

#if defined(__SSE2__)
		for (q = 0; q < 4; q++)
		{
			__m128i		x = _mm_loadu_si128((const __m128i *) (p + 16 * q)),
						az = cb_range(x, 'a', 'z'),
						d09 = cb_range(x, '0', '9'),
						dash = CB_EQ(x, '-'),
						/* the separators but '~' (no token is 0x7E: see one) and '_' ^ ` (a range) */
						sep = _mm_or_si128(_mm_or_si128(dash, cb_range(x, '^', '`')),
										   _mm_or_si128(CB_EQ(x, '\''), CB_EQ(x, '*'))),
						alnum = _mm_or_si128(az, d09),
						one = _mm_andnot_si128(_mm_or_si128(alnum, sep), cb_range(x, 0x21, 0x7D)),
						run = _mm_or_si128(alnum, _mm_or_si128(_mm_or_si128(dash, CB_EQ(x, '_')),
															   CB_EQ(x, '.')));
			int			sh = 16 * q;
			uint64_t	hi = (uint64_t) (unsigned) _mm_movemask_epi8(x);

			m[0] |= ((uint64_t) (unsigned) _mm_movemask_epi8(alnum) | hi) << sh;
			m[1] |= (uint64_t) (unsigned) _mm_movemask_epi8(one) << sh;
			m[2] |= (uint64_t) (unsigned) _mm_movemask_epi8(d09) << sh;
			m[3] |= (uint64_t) (unsigned) _mm_movemask_epi8(run) << sh;
		}
#else
		for (q = 0; q < 64; q++)
		{
			unsigned	t = tok_bits[p[q]];
			uint64_t	bit = (uint64_t) 1 << q;

			m[0] |= t & TB_WORD ? bit : 0;
			m[1] |= t == TB_ONE ? bit : 0;
			m[2] |= t & 2 ? bit : 0;
			m[3] |= runch_tab[p[q]] ? bit : 0;
		}
#endif
		cb->blk[k].word = m[0];
		cb->blk[k].one = m[1];
		cb->blk[k].digit = m[2];
		cb->blk[k].run = m[3];
	}
	cb->blk[nw].word = cb->blk[nw].digit = cb->blk[nw].run = 0;
	return nw;
}

/*
 * The end (one past the last bit) of the run of set bits of mask m that
 * holds bit p: the first clear bit after it (class_bits' word of zeros
 * ends every mask)
 */
static inline size_t
cb_run_end(const uint64_t *m, size_t p)
{
	size_t		k = p >> 6;
	uint64_t	x = ~CB_MASK(m, k) & (~(uint64_t) 0 << (p & 63));

	while (x == 0)
		x = ~CB_MASK(m, ++k);
	return 64 * k + (size_t) __builtin_ctzll(x);
}

/* a word with a digit: has it a letter, and nothing but letters and digits (match_tokens' bits == 3)? */
static int
pf_leet_word(const unsigned char *w, size_t wl)
{
	size_t		i;
	int			alpha = 0;

	for (i = 0; i < wl; i++)
	{
		if (w[i] >= 0x80)
			return 0;
		alpha |= w[i] >= 'a' && w[i] <= 'z';
	}
	return alpha;
}

/*
 * the leetspeak reading of the word w (wl bytes, with a digit) on m's
 * marks: when it has a letter and nothing but letters and digits
 * (match_tokens' bits == 3), read with the digits as letters
 */
static inline void
pf_leet_rare(MatchState *m, const unsigned char *w, size_t wl, long long tok)
{
	size_t		i;
	unsigned char leet[MAX_WORD + 16];	/* (pf_word reads 16 bytes) */
	static const char lmap[] = "oizeasgtbg";	/* 0..9, as match_tokens */

	if (wl < 3 || !pf_leet_word(w, wl))
		return;
	memset(leet + wl, 0, 16);
	for (i = 0; i < wl; i++)
		leet[i] = is_digit(w[i]) ? (unsigned char) lmap[w[i] - '0'] : w[i];
	if (m->rules->root[leet[0]] >= 0)
		pf_token_rare(m, leet, wl, tok);
}

/*
 * one token of the segment b at ts through m's rules, on m's marks,
 * whatever it is (pf_walk's rare cases): a one-byte token, or a word (its
 * end from the masks; not read when it is longer than MAX_WORD)
 */
static __attribute__((noinline)) void
pf_token_slow(MatchState *m, const unsigned char *b, const ClassBits *cb, size_t ts, long long tok)
{
	size_t		te = ts + 1;

	if ((cb->blk[ts >> 6].word >> (ts & 63)) & 1)
	{
		te = cb_run_end(&cb->blk[0].word, ts);
		if (te - ts > MAX_WORD)
			return;
	}
	pf_token_rare(m, b + ts, te - ts, tok);
}

/* the set bits of x (no popcount instruction in the baseline x86-64) */
static inline int
pf_popcount(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (int) ((x * 0x0101010101010101ull) >> 56);
}

/*
 * the leetspeak readings of the words that start in mask word k of the
 * segment b and have a digit (three bytes to MAX_WORD), on m's marks;
 * ntok: the tokens up to the end of that mask word's (a word's token
 * index is counted back from it).  After the mask word's tokens instead
 * of each after its own, so that pf_walk's loop has no digit to look
 * for: a list's finds need not be in token order (what chain_in_order
 * answers depends on which tokens a list has, not on their order: its
 * budget and its cap of 64 count them all alike).
 */
/*
 * Could a word that starts in the mask word of cbk have a leetspeak
 * reading?  Only with a digit next to a word character that is none (a
 * word has both when one is next to the other): in the mask word, across
 * its end, or in the next one's first bytes when its last word runs on.
 */
static inline int
pf_leet_maybe(const struct CbBlock *cbk)
{
	uint64_t	d = cbk->digit,
				l = cbk->word & ~d,
				d1 = cbk[1].digit,
				l1 = cbk[1].word & ~d1;

	return (d & ((l << 1) | (l >> 1) | (l1 << 63))) != 0 || ((l >> 63) & d1 & 1) != 0 ||
		((cbk->word >> 63) && (d1 & ((l1 << 1) | (l1 >> 1)) & ((~cbk[1].word & (cbk[1].word + 1)) - 1)) != 0);
}

static __attribute__((noinline)) void
pf_leet_block(MatchState *m, const unsigned char *b, const ClassBits *cb, size_t k, long long ntok)
{
	const struct CbBlock *cbk = &cb->blk[k];
	uint64_t	ws = cbk->word & ~((cbk->word << 1) | (k ? cbk[-1].word >> 63 : 0)),
				starts = cbk->one | ws,
				lead = ~cbk[1].word & (cbk[1].word + 1),	/* the next mask word's first non-word bit */
				dig = cbk->digit,
				leet = 0;

	/* the starts of the words with a digit: for each digit, the last start up to it */
	for (; dig; dig &= dig - 1)
	{
		uint64_t	up = ws & (((uint64_t) 2 << __builtin_ctzll(dig)) - 1);

		if (up)
			leet |= (uint64_t) 1 << (63 - __builtin_clzll(up));
	}
	/* and the last word's when it runs on with a digit there */
	if ((cbk->word >> 63) && ws && (cbk[1].digit & (lead - 1)))
		leet |= (uint64_t) 1 << (63 - __builtin_clzll(ws));
	for (; leet; leet &= leet - 1)
	{
		unsigned	sh = (unsigned) __builtin_ctzll(leet);
		size_t		ts = 64 * k + sh,
					te = cb_run_end(&cb->blk[0].word, ts);

		if (te - ts >= 3 && te - ts <= MAX_WORD)
			pf_leet_rare(m, b + ts, te - ts, ntok - pf_popcount(starts & (~(uint64_t) 0 << sh)) + 1);
	}
}

/*
 * The segment's tokens (cb: its class_bits, nw words) through the rule set
 * r of ms, as match_tokens reads them, leetspeak included: a token is a
 * one-character token or a word (its first byte: a word character after
 * none).  Returns the number of tokens.
 *
 * The inner loop does the common cases and calls nothing, so that the
 * marks and counts stay in registers: a one-byte token (one[]), and a word
 * of up to 64 bytes with no head of a coarse group (the first byte's
 * shortk, the four bytes' cbloom): one load for its key (two past 8
 * bytes), its hash, the bloom and the tags.  Room for its finds is made
 * for a mask word's tokens at a time (pf_reserve: at most 64 tokens,
 * pf_tokmarks finds each).  Any other token leaves the loop for
 * pf_token_slow; the leetspeak readings of a mask word's words with a
 * digit come after its tokens (pf_leet_block).
 */
static inline __attribute__((always_inline)) long long
pf_walk(const unsigned char *b, const ClassBits *cb, size_t nw, MatchState *ms, const DetectRules *r)
{
	/*
	 * the marks in locals: the loop only adds finds (nev), and the out of
	 * line functions, on ms's marks, may also move ev (PF_RARE)
	 */
	uint64_t   *present = ms->mk.present;
	uint16_t   *head = ms->mk.head;
	struct PfEvent *ev = ms->mk.ev;
	int			nev = ms->mk.nev,
				need = 64 * r->pf_tokmarks;
	long long	ntok = 0;
	size_t		k;

#define PF_RARE(call) (ms->mk.nev = nev, (call), nev = ms->mk.nev, ev = ms->mk.ev)
#define PF_MARK_HOT(l) pf_mark_room(present, head, ev, &nev, (l), ntok)
	for (k = 0; k < nw; k++)
	{
		const struct CbBlock *cbk = &cb->blk[k];
		uint64_t	starts = cbk->one | (cbk->word & ~((cbk->word << 1) | (k ? cbk[-1].word >> 63 : 0)));
		const unsigned char *bk = b + 64 * k;

		if (ms->mk.capev - nev < need)
			goto reserve;
		for (;;)
		{
			const unsigned char *w;
			size_t		wl;

			for (; starts; starts &= starts - 1)
			{
				unsigned	sh = (unsigned) __builtin_ctzll(starts);

				/*
				 * bit 0 of after: w[0] is no word character (a token of
				 * its own); else its first set bit is the word's end (in
				 * the next mask word's bits when it runs on: 0 only for a
				 * word of 64 bytes or more)
				 */
				uint64_t	after = ~cbk->word >> sh,
							h;
				uint32_t	x;
				int			found;

				w = bk + sh;
				ntok++;			/* (now this token's index + 1, in the segment) */
				if (__builtin_expect(after == 0, 0) && sh != 0)
					after = ~cbk[1].word << (64 - sh);
				if (after & 3)
				{
					/* a one-byte token (punctuation, mostly) or word: one[] (or a coarse group of one byte) */
					if (__builtin_expect(r->cmask & 2, 0))
						goto rare;
					if (r->one[w[0]] >= 0)
						PF_MARK_HOT(r->one[w[0]]);
					continue;
				}
				if (__builtin_expect(after == 0, 0))
					goto rare;
				wl = (size_t) __builtin_ctzll(after);
				if (__builtin_expect(r->shortk[w[0]] != 0 ||
									 (wl >= PF_COARSE_MAX && PF_CBLOOM_HAS(r, pf_head(w, PF_COARSE_MAX))), 0))
					goto rare;
				/* the exact word it may be (as pf_word) */
				h = pf_xhash(pf_key(w, wl), wl);
				if (PF_XBLOOM_HAS(r->xbloom[PF_XBLOOM_WORD(r, h)], h))
				{
					x = (uint32_t) (h >> r->phshift);
					PF_EXACT_EACH(r->pexh, r->phmask, x, PF_TAG(h), found, PF_MARK_HOT);
					if (!found)
					{
						x = (uint32_t) (h >> r->pxshift);
						PF_EXACT_EACH(r->pex, r->pxmask, x, PF_TAG(h), found, PF_MARK_HOT);
					}
				}
			}
			/*
			 * the leetspeak readings of its words with a digit next to
			 * another word character (in it, or in the next mask word
			 * when its last word runs on there)
			 */
			if (__builtin_expect(pf_leet_maybe(cbk), 0))
				PF_RARE(pf_leet_block(ms, b, cb, k, ntok));
			break;
	rare:
			PF_RARE(pf_token_slow(ms, b, cb, 64 * k + (size_t) __builtin_ctzll(starts), ntok));
			starts &= starts - 1;
			if (ms->mk.capev - nev >= need)
				continue;

			/*
			 * room for the finds of the rest of the mask word's tokens, at
			 * its start and after a token out of line (which may have
			 * used it up)
			 */
	reserve:
			{
				int			room;

				PF_RARE(room = pf_reserve(ms, need));
				if (!room)
					goto oom;
			}
		}
	}
oom:							/* (the segment is possible: its tokens need no count) */
#undef PF_MARK_HOT
#undef PF_RARE
	ms->mk.nev = nev;
	ms->mk.ev = ev;
	return ntok;
}

/*
 * Could any rule match in the current segment?  Every word of a chain that
 * matches occurs in its segment (chains never span segments: SEGMENT_GAP is
 * more than every gap and window), so a chain with a position none of whose
 * words occurs cannot match, nor can a cue rule with fewer groups than it
 * needs whose chains are all present.  One pass over the tokens (as
 * match_tokens reads them, leetspeak included: pf_walk) marks the word lists found by
 * hash -- one probe of a small table per word, where the trie walk touched a
 * cache line per byte -- then the chains anchored on those lists are
 * checked.  Sets each rule set's active flag; returns the number of tokens
 * when no rule set can match (match_tokens is then not run), or -1.
 */
static long long
segment_possible(Scan *s)
{
	const unsigned char *b = s->b;
	size_t		n = s->blen,
				nw,
				k;
	int			m,
				any = 0,
				filtered = 0;
	long long	ntok = 0;
	ClassBits	cb;
	const uint64_t *run;

	/*
	 * a long segment holds most pattern words somewhere and would pay for
	 * both passes: the matcher alone is cheaper there
	 */
	if (s->blen > PF_MAX_SEGMENT)
		return -1;
	for (m = 0; m < s->nms; m++)
		filtered += s->ms[m].rules->pf_ok;
	if (filtered == 0)
		return -1;
	/* check_structure's work rides along; what it finds waits for the matcher's */
	s->structured = 1;
	s->defer = 1;
	s->npending = 0;
	s->last_lbracket_img = 0;
	s->lbr_at = 0;
	s->url_watermark = 0;
	s->val_start = s->val_end = 0;
	nw = class_bits(b, n, &cb);
	for (m = 0; m < s->nms; m++)
		if (s->ms[m].rules->pf_ok)
			ntok = pf_walk(b, &cb, nw, &s->ms[m], s->ms[m].rules);
	/*
	 * check_structure's work: its runs in order, the scan's tests and
	 * tenants in locals (check_run_tests, rare, is the only call; a '[' is
	 * looked for only when check_url may ask, see check_run_at)
	 */
	run = &cb.blk[0].run;
	{
		unsigned	en = s->rt;
		const DetectTenants *t = s->tenants;
		uint64_t	carry = 0;
		size_t		minlen = run_tests_minlen(en, t);

		for (k = 0; k < nw; k++)
		{
			uint64_t	rk = CB_MASK(run, k),
						nk = CB_MASK(run, k + 1),
						st = rk & ~((rk << 1) | carry);

			/*
			 * only the runs of minlen bytes or more: a run character at
			 * each of the next minlen - 1 bytes, in this mask word or the
			 * next
			 */
#define RUN_ON(d) (minlen <= (d) ? ~(uint64_t) 0 : (rk >> (d)) | (nk << (64 - (d))))
			st &= RUN_ON(1) & RUN_ON(2) & RUN_ON(3) & RUN_ON(4) & RUN_ON(5);
#undef RUN_ON
			carry = rk >> 63;
			for (; st; st &= st - 1)
			{
				unsigned	sh = (unsigned) __builtin_ctzll(st);
				size_t		p = 64 * k + sh,
							e;
				uint64_t	after = ~rk >> sh;	/* (the run's end, as pf_walk finds a word's) */

				e = after ? p + (size_t) __builtin_ctzll(after) : cb_run_end(run, p);
#ifdef DETECT_CHECK_FAST
				s->runsig = s->runsig * 31 + p * 7 + e;
#endif
				check_run_at(s, b, p, e, en, t);
			}
		}
	}
	for (m = 0; m < s->nms; m++)
	{
		MatchState *ms = &s->ms[m];

		ms->active = !ms->rules->pf_ok || pf_possible(s, ms);
		any |= ms->active;
	}
	return any ? -1 : ntok;
}

/* ---- structural checks on the normalised segment ---- */

static inline int
is_runch(unsigned char c)
{
	return runch_tab[c];
}

static int
is_tokch(unsigned char c)
{
	return is_runch(c) || c == '~' || c == '+' || c == '/' || c == '=';
}

/* b[i..j) is exactly the literal w (the length decides first) */
#define RUN_IS(b, i, j, w) ((j) - (i) == sizeof(w) - 1 && memcmp((b) + (i), (w), sizeof(w) - 1) == 0)

static int
is_own(const Scan *s, const unsigned char *v, size_t len)
{
	return s->ctx->own_tenant != NULL && eq_nocase(v, len, s->ctx->own_tenant);
}

/*
 * Looks random (a token, not a word): 16+ characters with letters and
 * digits interleaved at least 3 times.
 */
static int
random_looking(const unsigned char *v, size_t len)
{
	size_t		i;
	int			trans = 0,
				last = 0;

	if (len < 16)
		return 0;
	if (len > 64)
		len = 64;
	for (i = 0; i < len; i++)
	{
		int			k = is_digit(v[i]) ? 1 : is_alpha(v[i]) ? 2 : 0;

		if (k == 0)
			continue;
		if (last && k != last)
			trans++;
		last = k;
	}
	return trans >= 3;
}

/*
 * End of the token-shaped value starting at b[v] (at most MAX_VALUE bytes).
 * A value starting inside the previous one ends where it ended, so
 * repeated keys ("sid=sid=sid=...") never rescan.
 */
static size_t
value_end(Scan *s, size_t v)
{
	size_t		e = v;

	if (v >= s->val_start && v < s->val_end)
		return s->val_end;
	while (e < s->blen && is_tokch(s->b[e]) && e - v < MAX_VALUE)
		e++;
	s->val_start = v;
	s->val_end = e;
	return e;
}

/*
 * After a key at b[j]: optional closing quote, optional space, ':' or '=',
 * optional space, optional opening quote.  Returns the value start or 0.
 */
static size_t
after_key(const unsigned char *b, size_t j, size_t n)
{
	if (j < n && (b[j] == '"' || b[j] == '\''))
		j++;
	if (j < n && b[j] == ' ')
		j++;
	if (j + 2 < n && b[j] == 'i' && b[j + 1] == 's' && b[j + 2] == ' ')
		j += 2;					/* "my session id is ..." */
	else if (j >= n || (b[j] != ':' && b[j] != '='))
		return 0;
	j++;
	if (j < n && b[j] == ' ')
		j++;
	if (j < n && (b[j] == '"' || b[j] == '\''))
		j++;
	return j < n ? j : 0;
}

static int
host_allowed(const Scan *s, const unsigned char *h, size_t hl)
{
	int			i;

	for (i = 0; s->ctx->allowed_hosts && i < s->ctx->n_allowed_hosts; i++)
	{
		const char *a = s->ctx->allowed_hosts[i];
		size_t		al = a ? strlen(a) : 0;

		if (al == 0 || al > hl)
			continue;
		if (eq_nocase(h + hl - al, al, a) && (al == hl || h[hl - al - 1] == '.'))
			return 1;
	}
	return 0;
}

/* a URL whose scheme starts at b[i]; p = after "://" */
static void
check_url(Scan *s, size_t i, size_t p)
{
	const unsigned char *b = s->b;
	size_t		n = s->blen,
				end = p,
				hs,
				he,
				k,
				q = 0;
	int			image = 0,
				placeholder = 0,
				data = 0;

	/* its end: the first of  " ' ) ` \ or a space (sixteen bytes at a time with SSE2) */
	{
		size_t		lim = n - p < MAX_URL ? n : p + MAX_URL;

#if defined(__SSE2__)
		/* (b has SCAN_PAD readable bytes past n) */
		while (end < lim)
		{
			__m128i		x = _mm_loadu_si128((const __m128i *) (b + end));
			unsigned	stop = (unsigned) _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_or_si128(CB_EQ(x, ' '), CB_EQ(x, '"')),
																					  _mm_or_si128(CB_EQ(x, '\''), CB_EQ(x, ')'))),
																		 _mm_or_si128(CB_EQ(x, '`'), CB_EQ(x, '\\'))));

			if (lim - end < 16)
				stop |= ~0u << (lim - end);
			if (stop)
			{
				end += (size_t) __builtin_ctz(stop);
				break;
			}
			end += 16;
		}
#else
		while (end < lim && b[end] != ' ' && b[end] != '"' && b[end] != '\'' && b[end] != ')' && b[end] != '`' &&
			   b[end] != '\\')
			end++;
#endif
	}
	s->url_watermark = end;
	/* authority: [userinfo@]host[:port] */
	hs = p;
	for (k = p; k < end && b[k] != '/' && b[k] != '?' && b[k] != '#'; k++)
		if (b[k] == '@')
			hs = k + 1;
	he = hs;
	while (he < end && (is_alpha(b[he]) || is_digit(b[he]) || b[he] == '.' || b[he] == '-' || b[he] >= 0x80))
		he++;
	if (he == hs || host_allowed(s, b + hs, he - hs))
		return;
	if (i >= 2 && b[i - 1] == '(' && b[i - 2] == ']' && s->last_lbracket_img)
		image = 1;
	else if (i >= 5 && (b[i - 1] == '"' || b[i - 1] == '\'') && memcmp(b + i - 5, "src=", 4) == 0)
		image = 1;
	else if (i >= 4 && memcmp(b + i - 4, "src=", 4) == 0)
		image = 1;
	else if (i >= 4 && memcmp(b + i - 4, "url(", 4) == 0)
		image = 1;
	/* the query, and a placeholder in it: "?d={conversation}", "?q=[DATA]" */
	for (k = he; k < end && b[k] != '?'; k++)
		;
	if (k < end)
		for (q = k++; k < end && !placeholder; k++)
			placeholder = b[k] == '{' || b[k] == '}' || b[k] == '<' || b[k] == '>' || b[k] == '[' || b[k] == ']';
	if (placeholder)
	{
		report_builtin(s, B_URL_TEMPLATE, i, end);
		return;
	}
	if (!image)
		return;
	if (q)
	{
		/* parameters: an empty value (to be filled in) or a long one (data) */
		size_t		v = q + 1;

		while (v < end && b[v] != '#')
		{
			size_t		e = v,
						eq = 0;

			while (e < end && b[e] != '&' && b[e] != '#')
			{
				if (b[e] == '=' && eq == 0)
					eq = e;
				e++;
			}
			if (eq && (e - eq - 1 == 0 || e - eq - 1 >= 12))
				data = 1;
			v = e + 1;
			if (e < end && b[e] == '#')
				break;
		}
	}
	/* a path segment carrying data */
	for (k = he; k < end && !data;)
	{
		size_t		e = k + 1;

		while (e < end && b[e] != '/' && b[e] != '?' && b[e] != '#')
			e++;
		if (b[k] == '/' && e - k - 1 >= 24 && random_looking(b + k + 1, e - k - 1))
			data = 1;
		if (e < end && b[e] != '/')
			break;
		k = e;
	}
	if (data)
		report_builtin(s, B_MD_IMAGE, i, end);
}

/*
 * What kind of key a run is, judged on its letters and digits only (so
 * "sessionToken", "x-mcp-session-id" and "user_session_id" all count):
 * KEY_TENANT, KEY_SESSION (session ids, tokens, API keys), KEY_STATE
 * (request state), or 0.
 */
enum
{
	KEY_NONE, KEY_TENANT, KEY_SESSION, KEY_STATE
};

static inline int
ends_with(const char *k, size_t kl, const char *suffix)
{
	size_t		l = strlen(suffix);

	return kl >= l && memcmp(k + kl - l, suffix, l) == 0;
}

static int
key_kind(const unsigned char *b, size_t i, size_t j)
{
	char		k[48];
	size_t		kl = 0,
				x;

	if (j - i > 40)
		return KEY_NONE;
	/*
	 * Most runs: the last three letters or digits already rule out every
	 * key below (they end in ant, jwt, tid, nid, sid, lug, ate, ken, ion or
	 * key, and none is shorter than three)
	 */
	{
		char		l3[3];
		int			got = 0;

		for (x = j; x > i && got < 3; x--)
			if (is_alpha(b[x - 1]) || is_digit(b[x - 1]))
				l3[2 - got++] = (char) b[x - 1];
		if (got < 3)
			return KEY_NONE;
		switch (l3[2])
		{
			case 't':
				if (!(l3[0] == 'a' && l3[1] == 'n') && !(l3[0] == 'j' && l3[1] == 'w'))
					return KEY_NONE;
				break;
			case 'd':
				if (l3[1] != 'i' || (l3[0] != 't' && l3[0] != 'n' && l3[0] != 's'))
					return KEY_NONE;
				break;
			case 'g':
				if (l3[0] != 'l' || l3[1] != 'u')
					return KEY_NONE;
				break;
			case 'e':
				if (l3[0] != 'a' || l3[1] != 't')
					return KEY_NONE;
				break;
			case 'n':
				if (!(l3[0] == 'k' && l3[1] == 'e') && !(l3[0] == 'i' && l3[1] == 'o'))
					return KEY_NONE;
				break;
			case 'y':
				if (l3[0] != 'k' || l3[1] != 'e')
					return KEY_NONE;
				break;
			default:
				return KEY_NONE;
		}
	}
	for (x = i; x < j; x++)
		if (is_alpha(b[x]) || is_digit(b[x]))
			k[kl++] = (char) b[x];
	k[kl] = '\0';
	if (kl == 0)
		return KEY_NONE;

	/*
	 * By the key's last letter (this runs for every word of the input):
	 * tenant keys "tenant", "...tenantid", "tenantslug"; request state
	 * "...requeststate"; session keys ending in sessionid, sessiontoken,
	 * sessionkey, session, sessid, sid, accesstoken, refreshtoken, idtoken,
	 * authtoken, apikey, token or jwt -- except the tokens that are meant to
	 * travel, MCP progress tokens and pagination.
	 */
	switch (k[kl - 1])
	{
		case 't':
			if (strcmp(k, "tenant") == 0)
				return KEY_TENANT;
			return ends_with(k, kl, "jwt") ? KEY_SESSION : KEY_NONE;
		case 'd':
			if (ends_with(k, kl, "tenantid"))
				return KEY_TENANT;
			return ends_with(k, kl, "sessionid") || ends_with(k, kl, "sid") ? KEY_SESSION : KEY_NONE;
		case 'g':
			return strcmp(k, "tenantslug") == 0 ? KEY_TENANT : KEY_NONE;
		case 'e':
			return ends_with(k, kl, "requeststate") ? KEY_STATE : KEY_NONE;
		case 'n':
			if (ends_with(k, kl, "progresstoken") || ends_with(k, kl, "pagetoken"))
				return KEY_NONE;
			return ends_with(k, kl, "token") || ends_with(k, kl, "session") ? KEY_SESSION : KEY_NONE;
		case 'y':
			return ends_with(k, kl, "sessionkey") || ends_with(k, kl, "apikey") ? KEY_SESSION : KEY_NONE;
		default:
			return KEY_NONE;
	}
}

/*
 * The tests of check_run_tests, as bits: run_tests tells which of them can
 * be about a run, from necessary conditions that cost a few instructions
 * (most runs are words none of them is about), and check_run_tests runs
 * only those.  Scan.rt holds the tests the scan's categories (and tenant
 * set) can report at all; a test that could not report is not run (none
 * has an effect besides its report: the watermarks it keeps serve only
 * itself).
 */
enum
{
	RT_TENANT_ID = 1,			/* a known tenant id */
	RT_TENANT_PATH = 2,			/* .../tenants/<id> */
	RT_KEY_TENANT = 4,			/* key_kind may say KEY_TENANT */
	RT_KEY_SESSION = 8,			/* key_kind may say KEY_SESSION or KEY_STATE */
	RT_JWT = 16,
	RT_WORD_KEY = 32,			/* "bearer <token>", two-word keys ("session id") */
	RT_URL = 64
};

/* the tests a scan with category mask mask (and tenants t) can report */
static unsigned
run_tests_enabled(unsigned mask, const DetectTenants *t)
{
	unsigned	rt = 0;

	if (mask & DETECT_CAT_BIT(DETECT_CROSS_TENANT))
		rt |= (t ? RT_TENANT_ID : 0) | RT_TENANT_PATH | RT_KEY_TENANT;
	if (mask & DETECT_CAT_BIT(DETECT_SESSION_STATE))
		rt |= RT_KEY_SESSION | RT_JWT | RT_WORD_KEY;
	if (mask & DETECT_CAT_BIT(DETECT_EXFILTRATION))
		rt |= RT_URL;
	return rt;
}

/*
 * run_tests' tables (below) each start on a cache line: a run reads them
 * by a letter (the lines of bytes 64..127) or by punctuation (0..63), and
 * key_prev's entries of key_last's letters share a line, so that a cold
 * scan touches the fewest of their lines, however the data before them
 * happens to fall
 */
#define RUN_TAB_ALIGN __attribute__((aligned(64)))

/*
 * By a run's last byte, the key kinds key_kind may find (RT_KEY_*): a key
 * ends in ant, tid, lug (tenant keys) or jwt, nid, sid, ate, ken, ion, key
 * (session keys and request state); a '.', '-' or '_' is skipped, so the
 * letters before it decide
 */
static const unsigned char key_last[256] RUN_TAB_ALIGN = {
	['t'] = RT_KEY_TENANT | RT_KEY_SESSION, ['d'] = RT_KEY_TENANT | RT_KEY_SESSION,
	['g'] = RT_KEY_TENANT, ['e'] = RT_KEY_SESSION, ['n'] = RT_KEY_SESSION, ['y'] = RT_KEY_SESSION,
	['.'] = RT_KEY_TENANT | RT_KEY_SESSION, ['-'] = RT_KEY_TENANT | RT_KEY_SESSION,
	['_'] = RT_KEY_TENANT | RT_KEY_SESSION,
};

/* for a last byte with a key kind: the letters some key of it has before it */
static const char key_prev[256][2] RUN_TAB_ALIGN = {
	['t'] = "nw", ['d'] = "ii", ['g'] = "uu", ['e'] = "tt", ['n'] = "eo", ['y'] = "ee",
};

/* by a run's first byte and by the byte after it: the other tests that may apply */
static const unsigned char rt_first[256] RUN_TAB_ALIGN = {
	['t'] = RT_TENANT_PATH, ['e'] = RT_JWT, ['h'] = RT_URL,
	['b'] = RT_WORD_KEY, ['s'] = RT_WORD_KEY, ['r'] = RT_WORD_KEY, ['a'] = RT_WORD_KEY,
};
static const unsigned char rt_next[256] RUN_TAB_ALIGN = {
	['/'] = RT_TENANT_PATH, [' '] = RT_WORD_KEY, [':'] = RT_URL,
};

#define S3(a, b, c) ((uint32_t) (a) << 16 | (uint32_t) (b) << 8 | (uint32_t) (c))
#define RUN_SEP(c) ((c) < '0' || (c) == '_')	/* in a run: '.' '-' '_', not a letter or digit */

/*
 * The key kinds (RT_KEY_*) key_kind may find in the run b[i..j): by its
 * last three letters or digits, as key_kind judges first
 */
static inline int
key_suffix(const unsigned char *b, size_t i, size_t j)
{
	uint32_t	l3 = 0;
	int			got = 0;
	size_t		x;

	if (j - i >= 3 && !RUN_SEP(b[j - 1]) && !RUN_SEP(b[j - 2]) && !RUN_SEP(b[j - 3]))
		l3 = S3(b[j - 3], b[j - 2], b[j - 1]);
	else
	{
		for (x = j; x > i && got < 3; x--)
			if (!RUN_SEP(b[x - 1]))
				l3 |= (uint32_t) b[x - 1] << (8 * got++);
		if (got < 3)
			return 0;
	}
	switch (l3)
	{
		case S3('a', 'n', 't'):
		case S3('t', 'i', 'd'):
		case S3('l', 'u', 'g'):
			return RT_KEY_TENANT;
		case S3('j', 'w', 't'):
		case S3('n', 'i', 'd'):
		case S3('s', 'i', 'd'):
		case S3('a', 't', 'e'):
		case S3('k', 'e', 'n'):
		case S3('i', 'o', 'n'):
		case S3('k', 'e', 'y'):
			return RT_KEY_SESSION;
		default:
			return 0;
	}
}

/* by first byte, the lengths (bits) of "bearer" and of the two-word keys' first words */
static const unsigned char two_word_len[256] RUN_TAB_ALIGN = {
	['b'] = 1 << 6, ['s'] = 1 << 7, ['r'] = 1 << 7, ['a'] = 1 << 3 | 1 << 4 | 1 << 6,
};

/*
 * The key kinds of en (RT_KEY_*) key_kind may find in the run b[i..j):
 * most runs are ruled out by their last two bytes (past the separators
 * that end a run: key_suffix does not read them), the rest by key_suffix
 */
static inline __attribute__((always_inline)) unsigned
key_maybe(const unsigned char *b, size_t i, size_t j, unsigned en)
{
	unsigned char c = b[j - 1],
				p;

	if (!(key_last[c] & en) || j - i > 40)
		return 0;
	if (RUN_SEP(c))
	{
		/* the letters before the separators decide ("...quarter." on 'r') */
		do
			j--;
		while (j > i && RUN_SEP(b[j - 1]));
		if (j == i || !(key_last[c = b[j - 1]] & en))
			return 0;
	}
	if (j - i < 3)
		return 0;				/* (fewer than three letters and digits) */
	p = b[j - 2];
	if (!RUN_SEP(p) && p != (unsigned char) key_prev[c][0] && p != (unsigned char) key_prev[c][1])
		return 0;
	return key_suffix(b, i, j) & en;
}

/* run_tests' candidates rt (tenant path, JWT, word keys, URL) narrowed by the run's length */
static inline __attribute__((always_inline)) unsigned
run_tests_narrow(const unsigned char *b, size_t i, size_t j, unsigned rt)
{
	size_t		len = j - i;

	if ((rt & RT_TENANT_PATH) && !(i > 0 && b[i - 1] == '/' && (len == 6 || len == 7)))
		rt &= ~RT_TENANT_PATH;
	if ((rt & RT_JWT) && len < 24)
		rt &= ~RT_JWT;
	if ((rt & RT_WORD_KEY) && !(len < 8 && ((two_word_len[b[i]] >> len) & 1)))
		rt &= ~RT_WORD_KEY;
	if ((rt & RT_URL) && len != 4 && len != 5)
		rt &= ~RT_URL;
	return rt;
}

/* the run b[i..j) with its dots trimmed: could it be a known tenant id? */
static int
tenant_maybe_trimmed(const DetectTenants *t, const unsigned char *b, size_t i, size_t j)
{
	while (i < j && b[i] == '.')
		i++;
	while (j > i && b[j - 1] == '.')
		j--;
	return j > i && j - i <= DETECT_MAX_TENANT_ID_LEN && TENANT_MAYBE(t, b[i], b[j - 1], j - i);
}

/*
 * Which tests of check_run_tests (RT_*) can be about the run b[i..j), of
 * those the scan runs: each test's necessary condition on the run's first
 * and last bytes and the byte after it (tables), then on its length and
 * more (run_tests_narrow); a tenant id's length and first and last bytes
 * must be some id's.  0 for most runs, in a few instructions.
 */
static inline __attribute__((always_inline)) unsigned
run_tests_at(const unsigned char *b, size_t i, size_t j, unsigned en, const DetectTenants *t)
{
	size_t		len = j - i;
	unsigned char first = b[i],
				last = b[j - 1],
				nx = b[j];		/* b[blen] is 0 */
	unsigned	rt = rt_first[first] & (rt_next[nx] | RT_JWT) & en;

	if (rt)
		rt = run_tests_narrow(b, i, j, rt);
	rt |= key_maybe(b, i, j, en);
	if (en & RT_TENANT_ID)
	{
		if (first == '.' || last == '.')
			rt |= tenant_maybe_trimmed(t, b, i, j) ? RT_TENANT_ID : 0;
		else if (len <= DETECT_MAX_TENANT_ID_LEN && TENANT_MAYBE(t, first, last, len))
			rt |= RT_TENANT_ID;
	}
	return rt;
}

/* run_tests_at on the scan's segment, tests and tenants */
/*
 * The fewest bytes (1 to 6) of a run that a test of en can be about: the
 * shortest tenant id (one with '.' trimmed is longer), "tenant" or its
 * keys (6: tenants path, tenant keys), "http" (4), the three letters of
 * the shortest session key, "api" ("api key") or the keys' suffixes (3),
 * a JWT (24).  run_tests_at is 0 on a shorter run (and check_run_tests not
 * run: none of its watermarks moves), so segment_possible passes over it.
 */
static inline size_t
run_tests_minlen(unsigned en, const DetectTenants *t)
{
	size_t		l = 6;

	if ((en & RT_TENANT_ID) && t->lens != 0)
		l = (size_t) __builtin_ctzll(t->lens) + 1;
	if ((en & (RT_KEY_SESSION | RT_WORD_KEY)) && l > 3)
		l = 3;
	if ((en & RT_URL) && l > 4)
		l = 4;
	if ((en & (RT_TENANT_PATH | RT_KEY_TENANT)) && l > 6)
		l = 6;
	return l < 6 ? l : 6;
}

static inline __attribute__((always_inline)) unsigned
run_tests(const Scan *s, size_t i, size_t j)
{
	return run_tests_at(s->b, i, j, s->rt, s->tenants);
}

/* the structural tests rt (run_tests) on one run b[i..j) of run characters */
static __attribute__((noinline)) void
check_run_tests(Scan *s, size_t i, size_t j, unsigned rt)
{
	const unsigned char *b = s->b;
	size_t		n = s->blen,
				a = i,
				z = j,
				v;
	int			kind = KEY_NONE;

	/* cross_tenant: a known tenant id, whole token */
	if ((rt & RT_TENANT_ID) && (b[a] == '.' || b[z - 1] == '.'))
	{
		while (a < z && b[a] == '.')
			a++;
		while (z > a && b[z - 1] == '.')
			z--;
	}
	if ((rt & RT_TENANT_ID) && z > a && tenant_known(s->ctx->tenants, b + a, z - a) && !is_own(s, b + a, z - a))
		report_builtin(s, B_TENANT_ID, a, z);

	/* cross_tenant: .../tenants/<id>/... */
	if ((rt & RT_TENANT_PATH) && b[i - 1] == '/' && (RUN_IS(b, i, j, "tenants") || RUN_IS(b, i, j, "tenant")) &&
		j + 1 < n && b[j] == '/' && is_runch(b[j + 1]))
	{
		size_t		e = j + 1;

		while (e < n && is_runch(b[e]))
			e++;
		while (e > j + 1 && b[e - 1] == '.')
			e--;
		if (e > j + 1 && !is_own(s, b + j + 1, e - j - 1))
			report_builtin(s, B_TENANT_PATH, i, e);
	}

	if (rt & (RT_KEY_TENANT | RT_KEY_SESSION))
		kind = key_kind(b, i, j);

	/* cross_tenant: "tenant_id": "<id>" */
	if (kind == KEY_TENANT &&
		(!RUN_IS(b, i, j, "tenant") || (i > 0 && (b[i - 1] == '"' || b[i - 1] == '\'' ||
												   b[i - 1] == '?' || b[i - 1] == '&'))) &&
		(v = after_key(b, j, n)) != 0 && is_runch(b[v]))
	{
		size_t		e = v;

		while (e < n && is_runch(b[e]))
			e++;
		while (e > v && b[e - 1] == '.')
			e--;
		if (e > v && !(e < n && b[e] == '(') && !is_own(s, b + v, e - v) && !RUN_IS(b, v, e, "null") &&
			!RUN_IS(b, v, e, "true") && !RUN_IS(b, v, e, "false"))
			report_builtin(s, B_TENANT_KEY, i, e);
	}

	/* session_state: JWT-shaped eyJ...eyJ... */
	if ((rt & RT_JWT) && memcmp(b + i, "eyj", 3) == 0)
	{
		const unsigned char *dot = memchr(b + i, '.', j - i);

		if (dot && dot - (b + i) >= 10 && (size_t) (dot + 4 - b) < j && memcmp(dot + 1, "eyj", 3) == 0 &&
			memchr(dot + 1, '.', (size_t) (b + j - dot - 1)) != NULL)
			report_builtin(s, B_JWT, i, j);
	}

	/* session_state: Bearer <token> */
	if ((rt & RT_WORD_KEY) && j + 1 < n && b[j] == ' ' && RUN_IS(b, i, j, "bearer"))
	{
		size_t		e = value_end(s, j + 1);

		if (random_looking(b + j + 1, e - j - 1))
			report_builtin(s, B_BEARER, i, e);
	}

	/* a two-word key: "session id", "request state", "access token" */
	if ((rt & RT_WORD_KEY) && j + 3 < n && b[j] == ' ' &&
		(RUN_IS(b, i, j, "session") || RUN_IS(b, i, j, "request") || RUN_IS(b, i, j, "access") ||
		 RUN_IS(b, i, j, "refresh") || RUN_IS(b, i, j, "auth") || RUN_IS(b, i, j, "api")))
	{
		size_t		e = j + 1;

		while (e < n && is_runch(b[e]))
			e++;
		if ((RUN_IS(b, j + 1, e, "id") || RUN_IS(b, j + 1, e, "token") || RUN_IS(b, j + 1, e, "key")) &&
			(v = after_key(b, e, n)) != 0)
		{
			size_t		f = value_end(s, v);

			if (random_looking(b + v, f - v))
				report_builtin(s, B_SESSION_KEY, i, f);
		}
		if (RUN_IS(b, j + 1, e, "state") && (v = after_key(b, e, n)) != 0 &&
			(is_tokch(b[v]) || b[v] == '{'))
			report_builtin(s, B_SESSION_KEY, i, v + 1);
	}

	/* session_state: "session_id": "<random>", "requestState": ... */
	if (kind == KEY_SESSION)
	{
		if ((v = after_key(b, j, n)) != 0)
		{
			size_t		e = value_end(s, v);

			if (random_looking(b + v, e - v))
				report_builtin(s, B_SESSION_KEY, i, e);
		}
		else if (j + 1 < n && b[j] == ' ' && is_tokch(b[j + 1]))
		{
			/* no separator ("session 2f8e..."): only a long random token */
			size_t		e = value_end(s, j + 1);

			if (e - j - 1 >= 24 && random_looking(b + j + 1, e - j - 1))
				report_builtin(s, B_SESSION_KEY, i, e);
		}
	}
	if (kind == KEY_STATE)
	{
		v = after_key(b, j, n);
		if (v == 0 && j + 1 < n && b[j] == ' ' && b[j + 1] == '{')
			v = j + 1;			/* "requestState {...}" */
		if (v != 0 && (is_tokch(b[v]) || b[v] == '{') && !(v + 4 <= n && memcmp(b + v, "null", 4) == 0))
			report_builtin(s, B_SESSION_KEY, i, v + 1);
	}

	/* exfiltration: URLs */
	if ((rt & RT_URL) && j + 3 <= n && b[j] == ':' && (RUN_IS(b, i, j, "http") || RUN_IS(b, i, j, "https")) &&
		memcmp(b + j, "://", 3) == 0 && i >= s->url_watermark)
		check_url(s, i, j + 3);
}

/*
 * check_structure's last_lbracket_img at b[i] (whether the last '[' before
 * it opens an image's text, "!["), from the '[' after s->lbr_at on: runs
 * come in order, so the bytes are read once at most
 */
static void
lbr_upto(Scan *s, const unsigned char *b, size_t i)
{
	size_t		q;

	for (q = s->lbr_at; q < i; q++)
		if (b[q] == '[')
			s->last_lbracket_img = q > 0 && b[q - 1] == '!';
	s->lbr_at = i;
}

/*
 * check_run for segment_possible: on b, the scan's tests en and tenants t
 * (its locals).  A '[' matters only to check_url's image test, "![...](",
 * which looks at last_lbracket_img after "](": only then are the '['
 * looked for (lbr_upto).
 */
static inline __attribute__((always_inline)) void
check_run_at(Scan *s, const unsigned char *b, size_t i, size_t j, unsigned en, const DetectTenants *t)
{
	unsigned	rt = run_tests_at(b, i, j, en, t);

	if (__builtin_expect(rt != 0, 0))
	{
		if ((rt & RT_URL) && i >= 2 && b[i - 1] == '(' && b[i - 2] == ']')
			lbr_upto(s, b, i);
		check_run_tests(s, i, j, rt);
	}
}

/* one run b[i..j) of run characters: its tests, when any can be about it */
static inline __attribute__((always_inline)) void
check_run(Scan *s, size_t i, size_t j)
{
#ifdef DETECT_CHECK_FAST
	s->runsig = s->runsig * 31 + i * 7 + j;
#endif
	unsigned	rt = run_tests(s, i, j);

	if (rt)
		check_run_tests(s, i, j, rt);
}

static void
check_structure(Scan *s)
{
	const unsigned char *b = s->b;
	size_t		n = s->blen,
				i = 0;

	s->last_lbracket_img = 0;
	s->url_watermark = 0;
	s->val_start = s->val_end = 0;
	while (i < n)
	{
		size_t		j;

		if (!is_runch(b[i]))
		{
			/* ('[' is no run character) */
			if (b[i] == '[')
				s->last_lbracket_img = i > 0 && b[i - 1] == '!';
			i++;
			continue;
		}
		j = i + 1;
		while (j < n && is_runch(b[j]))
			j++;
		check_run(s, i, j);
		i = j;
	}
}

#ifdef DETECT_CHECK_FAST
/*
 * check_structure's runs, as check_run adds them to runsig, but for those
 * segment_possible passes over (shorter than run_tests_minlen)
 */
static uint64_t
structure_sig(const Scan *s)
{
	const unsigned char *b = s->b;
	size_t		n = s->blen,
				i = 0;
	uint64_t	sig = 0;

	while (i < n)
	{
		size_t		j;

		if (!is_runch(b[i]))
		{
			i++;
			continue;
		}
		j = i + 1;
		while (j < n && is_runch(b[j]))
			j++;
		if (j - i >= run_tests_minlen(s->rt, s->tenants))
			sig = sig * 31 + i * 7 + j;
		i = j;
	}
	return sig;
}
#endif

/* ---- base64 runs ---- */

static inline int
b64val(unsigned char c)
{
	return b64_tab[c];
}

/* decoded bytes look like text: valid UTF-8 mostly, few control characters */
static int
text_like(const unsigned char *d, size_t n)
{
	size_t		i = 0,
				bad = 0,
				total = 0;

	while (i < n)
	{
		unsigned char c = d[i];

		total++;
		if (c < 0x80)
		{
			if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
				bad++;
			i++;
		}
		else
		{
			size_t		l = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 :
				(c >= 0xF0 && c <= 0xF4) ? 4 : 0,
						k;

			if (l == 0 || i + l > n)
			{
				bad++;
				i++;
				continue;
			}
			for (k = 1; k < l; k++)
				if ((d[i + k] & 0xC0) != 0x80)
					break;
			if (k < l)
			{
				bad++;
				i++;
				continue;
			}
			i += l;
		}
	}
	return total >= 6 && bad * 10 <= total;
}

struct SegQueue
{
	int			n;				/* (the counters first: in seg[0]'s line) */
	int			truncated;
	size_t		budget;			/* bytes left to scan */
	Segment		seg[MAX_SEGMENTS];
};

/*
 * Find base64 runs in a (the current segment unescaped, not folded) and
 * queue their decodings.  Offsets into the input are needed only for a run
 * that is queued (rare), so they are computed then.
 */
static int
queue_base64(Scan *s, SegQueue *q, const unsigned char *a, size_t n, int depth)
{
	size_t		i = 0;

	/*
	 * The maximal runs of base64 characters of MIN_BASE64_RUN or more:
	 * with a run boundary before i (or i = 0), the first such run at or
	 * after i starts at i when a[i .. p] (p = i + MIN_BASE64_RUN - 1) are
	 * all base64 characters, else after the last of them that is not.
	 */
	while (i + MIN_BASE64_RUN <= n)
	{
		size_t		j,
					k,
					p = i + MIN_BASE64_RUN - 1,
					dl = 0;
		unsigned long acc = 0;
		int			bits = 0;
		unsigned char *d,
					small[B64_SMALL];

		/*
		 * the next boundary is after the last byte of a[i .. p] that is
		 * none (text has one in most windows, a few bytes back; with SSE2
		 * the last byte out of '+' .. 'z' is found at once, and only the
		 * rest are looked at by bytes); when there is none, a run starts
		 * at i
		 */
#if defined(__SSE2__) && MIN_BASE64_RUN == 16
		{
			/* (signed: bytes from 0x80 on are below '+') */
			__m128i		x = _mm_loadu_si128((const __m128i *) (a + i));
			unsigned	out = ~(unsigned) _mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('+' - 1)),
																		 _mm_cmplt_epi8(x, _mm_set1_epi8('z' + 1)))) & 0xFFFF;

			if (out)
			{
				i += (size_t) (32 - __builtin_clz(out));
				continue;
			}
		}
#endif
		for (j = p + 1; j > i && b64_tab[a[j - 1]] >= 0; j--)
			;
		if (j > i)
		{
			i = j;
			continue;
		}
		j = i + MIN_BASE64_RUN;
		while (j < n && b64_tab[a[j]] >= 0)
			j++;
		if ((j - i) % 4 == 1)
		{
			i = j;
			continue;
		}
		if (q->n >= MAX_SEGMENTS || q->budget < (j - i) * 3 / 4)
		{
			q->truncated = 1;
			return 0;
		}
		/*
		 * decoded on the stack when it fits: most runs (paths, ids) decode
		 * to no text and are dropped, and need no allocation
		 */
		d = (j - i) * 3 / 4 + 1 <= sizeof(small) ? small : malloc((j - i) * 3 / 4 + 1);
		if (d == NULL)
			return -1;
		for (k = i; k < j; k++)
		{
			acc = (acc << 6) | (unsigned long) b64val(a[k]);
			bits += 6;
			if (bits >= 8)
			{
				bits -= 8;
				d[dl++] = (unsigned char) ((acc >> bits) & 0xFF);
			}
		}
		if (!text_like(d, dl))
		{
			if (d != small)
				free(d);
			i = j;
			continue;
		}
		if (d == small)
		{
			/* kept: the segment queue frees its buffers */
			if ((d = malloc(dl + 1)) == NULL)
				return -1;
			memcpy(d, small, dl);
		}
		if (depth == 0 && s->aoff == NULL && seg_offsets(s) < 0)
		{
			free(d);
			return -1;
		}
		q->budget -= dl;
		q->seg[q->n].buf = d;
		q->seg[q->n].len = dl;
		/* a decoded segment's bytes all come from its run: offset orig_off */
		q->seg[q->n].orig_off = depth == 0 ? s->aoff[i] : s->seg->orig_off;
		q->seg[q->n].orig_len = depth == 0 ? s->aoff[j - 1] + 1 - s->aoff[i] : 1;
		q->seg[q->n].depth = depth + 1;
		q->n++;
		i = j;
	}
	return 0;
}

/* grow a scratch buffer (contents not kept); -1 on OOM */
static int
ensure(void **p, size_t need, size_t elsize)
{
	void	   *n = realloc(*p, need * elsize);

	if (n == NULL)
		return -1;
	*p = n;
	return 0;
}

/*
 * The offsets of the current segment (depth 0): the offset-carrying
 * normalisation run again on it, into buffers of their own.  Its bytes are
 * the fast path's bytes (s->b); with DETECT_CHECK_FAST that is checked.
 */
static int
seg_offsets(Scan *s)
{
	DetectScratch *w = s->w;
	const Segment *g = s->seg;
	size_t		i,
				n,
				nd = 0;

	if (w->ocap < g->len + 1)
	{
		if (ensure((void **) &w->ox_b, g->len + 1, 1) < 0 || ensure((void **) &w->oy_b, g->len + 1, 1) < 0 ||
			ensure((void **) &w->o0, g->len + 1, sizeof(uint32_t)) < 0 ||
			ensure((void **) &w->o1, g->len + 1, sizeof(uint32_t)) < 0 ||
			ensure((void **) &w->o2, g->len + 1, sizeof(uint32_t)) < 0)
		{
			s->oom = 1;
			return -1;
		}
		w->ocap = g->len + 1;
	}
	for (i = 0; i < g->len; i++)
		w->o0[i] = (uint32_t) i;
	n = detect_unescape(g->buf, w->o0, g->len, w->ox_b, w->o1, &nd);
	if (nd > 0)
	{
		size_t		nd2 = 0;

		n = detect_unescape(w->ox_b, w->o1, n, w->oy_b, w->o0, &nd2);
		memcpy(w->ox_b, w->oy_b, n);
		memcpy(w->o1, w->o0, n * sizeof(uint32_t));
	}
	s->aoff = w->o1;
	n = detect_fold(w->ox_b, w->o1, n, w->oy_b, w->o2);
#ifdef DETECT_CHECK_FAST
	if (s->b != NULL && (n != s->blen || memcmp(w->oy_b, s->b, n) != 0))
		abort();
#endif
	s->boff = w->o2;
	return 0;
}

DetectScratch *
detect_scratch_new(void)
{
	return calloc(1, sizeof(DetectScratch));
}

void
detect_scratch_free(DetectScratch *w)
{
	int			m;

	if (w == NULL)
		return;
	free(w->x);
	free(w->y);
	free(w->ox_b);
	free(w->oy_b);
	free(w->o0);
	free(w->o1);
	free(w->o2);
	free(w->q);
	for (m = 0; m < 2; m++)
	{
		StateArrays *a = &w->st[m];

		free(a->pst);
		free(a->reported);
		free(a->ghit);
		free(a->touch);
		free(a->upd_start);
		free(a->upd_pos);
		free(a->present);
		free(a->cue);
		free(a->cuel);
		free(a->head);
		free(a->ev);
	}
	free(w);
}

/* a zeroed array of n elements replacing *p (zero: "long ago") */
static int
fresh(void **p, size_t n, size_t elsize)
{
	free(*p);
	*p = calloc(n, elsize);
	return *p ? 0 : -1;
}

/*
 * The scratch's arrays for rule set m, grown for r: the prefilter's here;
 * the matcher's only when a segment needs the matcher (bind_matcher), so
 * that scans the prefilter clears never allocate, clear or touch them
 * (some 40 kB for the shipped set)
 */
static int
bind_state(DetectScratch *w, int m, const DetectRules *r, MatchState *ms)
{
	StateArrays *a = &w->st[m];

	if (a->capcue < r->nrules + 1 || a->cue == NULL)
	{
		int			cap = r->nrules + 1;

		if (fresh((void **) &a->cue, (size_t) cap, 1) < 0 ||
			ensure((void **) &a->cuel, (size_t) cap, sizeof(int)) < 0)
			return -1;
		a->capcue = cap;
	}
	if (a->capmarks < r->nwords + 1 || a->present == NULL)
	{
		int			cap = r->nwords + 1;

		if (fresh((void **) &a->present, (size_t) cap / 64 + 1, sizeof(uint64_t)) < 0 ||
			ensure((void **) &a->head, (size_t) cap, sizeof(uint16_t)) < 0)
			return -1;
		a->capmarks = cap;
	}
	ms->rules = r;
	ms->matcher = 0;
	ms->mk.present = a->present;
	ms->cue = a->cue;
	ms->cuel = a->cuel;
	ms->mk.head = a->head;
	ms->mk.ev = a->ev;
	ms->mk.capev = a->capev;
	ms->mk.home = a;
	ms->mk.nev = 0;
	ms->mk.oom = 0;
	ms->active = 1;
	return 0;
}

/* the matcher's arrays of ms (its scratch's), grown for its rules; -1 on OOM */
static int
bind_matcher(MatchState *ms)
{
	StateArrays *a = ms->mk.home;
	const DetectRules *r = ms->rules;

	if (ms->matcher)
		return 0;
	if (a->cappos < r->npos + 1 || a->pst == NULL)
	{
		int			cap = r->npos + 1;

		if (fresh((void **) &a->pst, (size_t) cap, sizeof(struct PosState)) < 0 ||
			ensure((void **) &a->upd_pos, (size_t) cap, sizeof(int)) < 0 ||
			ensure((void **) &a->upd_start, (size_t) cap, sizeof(size_t)) < 0)
			return -1;
		a->cappos = cap;
	}
	if (a->caprules < r->nrules + 1 || a->reported == NULL)
	{
		int			cap = r->nrules + 1;

		if (fresh((void **) &a->reported, (size_t) cap, sizeof(long long)) < 0 ||
			fresh((void **) &a->ghit, (size_t) cap * MAX_GROUPS, sizeof(long long)) < 0)
			return -1;
		a->caprules = cap;
	}
	if (a->capwords < r->nwords + 1 || a->touch == NULL)
	{
		int			cap = r->nwords + 1;

		if (fresh((void **) &a->touch, (size_t) cap, sizeof(long long)) < 0)
			return -1;
		a->capwords = cap;
	}
	ms->pst = a->pst;
	ms->reported = a->reported;
	ms->ghit = a->ghit;
	ms->upd_pos = a->upd_pos;
	ms->upd_start = a->upd_start;
	ms->touch = a->touch;
	ms->matcher = 1;
	return 0;
}

/* before match_tokens: the matcher's arrays of every rule set it runs; -1 on OOM */
static int
bind_matchers(Scan *s)
{
	int			m;

	for (m = 0; m < s->nms; m++)
		if (s->ms[m].active && bind_matcher(&s->ms[m]) < 0)
		{
			s->oom = 1;
			return -1;
		}
	return 0;
}

char *
detect_normalize(const char *text, size_t len, size_t *outlen)
{
	unsigned char *a = malloc(len + 1),
			   *c = malloc(len + 1);
	uint32_t   *o0 = malloc((len + 1) * sizeof(uint32_t)),
			   *o1 = malloc((len + 1) * sizeof(uint32_t));
	size_t		i,
				n,
				nd = 0;

	if (!a || !c || !o0 || !o1)
	{
		free(a);
		free(c);
		free(o0);
		free(o1);
		return NULL;
	}
	for (i = 0; i < len; i++)
		o0[i] = (uint32_t) i;
	n = detect_unescape((const unsigned char *) text, o0, len, a, o1, &nd);
	if (nd > 0)
	{
		size_t		nd2 = 0;

		n = detect_unescape(a, o1, n, c, o0, &nd2);
		memcpy(a, c, n);
		memcpy(o1, o0, n * sizeof(uint32_t));
	}
	n = detect_fold(a, o1, n, c, o0);
	c[n] = '\0';
	free(a);
	free(o0);
	free(o1);
	if (outlen)
		*outlen = n;
	return (char *) c;
}

int
detect_scan(const DetectRules *rules, const DetectContext *ctx,
			const char *text, size_t len,
			DetectFinding *out, int max_out, bool *truncated)
{
	static const DetectContext empty_ctx;
	Scan		s;
	SegQueue   *q = NULL;
	DetectScratch *w,
			   *own = NULL;
	size_t		max_bytes;
	int			rc = -1,
				m,
				qi;

	if (truncated)
		*truncated = false;
	if (ctx == NULL)
		ctx = &empty_ctx;
	if (text == NULL)
		len = 0;
	w = ctx->scratch;
	if (w == NULL && (w = own = detect_scratch_new()) == NULL)
		return -1;
	memset(&s, 0, offsetof(Scan, ms));
	/* > every gap and window past anything this scratch holds: its state is "never" */
	s.scan_id = s.tokidx = w->tokbase + SEGMENT_GAP;
	s.w = w;
	s.ctx = ctx;
	s.mask = ctx->categories ? (ctx->categories & DETECT_ALL_CATEGORIES) :
		ctx->direction == DETECT_ARGUMENTS ? DETECT_ALL_CATEGORIES :
		(DETECT_ALL_CATEGORIES & ~DETECT_CAT_BIT(DETECT_SESSION_STATE));
	s.rt = run_tests_enabled(s.mask, ctx->tenants);
	s.tenants = ctx->tenants;
	s.input = (const unsigned char *) text;
	s.out = out;
	s.max_out = out ? max_out : 0;
	max_bytes = ctx->max_bytes ? ctx->max_bytes : DETECT_DEFAULT_MAX_BYTES;
	if (max_bytes > UINT32_MAX - 1)
		max_bytes = UINT32_MAX - 1;
	if (len > max_bytes)
	{
		len = max_bytes;
		if (truncated)
			*truncated = true;
	}
	s.input_len = len;

	if (rules)
		s.ms[s.nms++].rules = rules;
	if (ctx->extra_rules)
		s.ms[s.nms++].rules = ctx->extra_rules;
	for (m = 0; m < s.nms; m++)
		if (bind_state(w, m, s.ms[m].rules, &s.ms[m]) < 0)
			goto done;

	/* segments are written before they are read: only the counters need resetting */
	if (w->q == NULL && (w->q = malloc(sizeof(SegQueue))) == NULL)
		goto done;
	q = w->q;
	q->n = 0;
	q->truncated = 0;
	if (w->cap < len + SCAN_PAD)
	{
		if (ensure((void **) &w->x, len + SCAN_PAD, 1) < 0 || ensure((void **) &w->y, len + SCAN_PAD, 1) < 0)
			goto done;
		w->cap = len + SCAN_PAD;
	}
	q->budget = max_bytes - len;
	q->seg[0].buf = (unsigned char *) (uintptr_t) text;	/* not freed: index 0 */
	q->seg[0].len = len;
	q->seg[0].orig_off = 0;
	q->seg[0].orig_len = len;
	q->seg[0].depth = 0;
	q->n = 1;

	for (qi = 0; qi < q->n; qi++)
	{
		Segment    *g = &q->seg[qi];
		unsigned char *a = w->x;
		size_t		n,
					nd = 0;
		int			again;

		s.seg = g;
		s.b = NULL;
		s.boff = s.aoff = NULL;
		s.depth = g->depth;
		/* unescaped once (from the segment), then maybe again; bytes only */
		n = detect_unescape_bytes(g->buf, g->len, a, &nd, &again);
		if (nd > 0 && again)
		{
			size_t		nd2 = 0;

			n = detect_unescape_bytes(a, n, w->y, &nd2, &again);
			a = w->y;
		}
		if (g->depth < MAX_DEPTH && queue_base64(&s, q, a, n, g->depth) < 0)
			goto done;
		/*
		 * folded in place: a is not read again, and writing the bytes over
		 * themselves touches no more memory (a cold buffer costs a miss
		 * per line written)
		 */
		n = detect_fold_bytes(a, n, a);
		/* a sentinel for run_tests, and whole blocks of zeros for class_bits (the buffers hold len + SCAN_PAD) */
		memset(a + n, 0, SCAN_PAD);

		s.b = a;
		s.blen = n;
		s.seg_off = g->orig_off;
		s.seg_len = g->orig_len;
#ifdef DETECT_CHECK_FAST
		if (g->depth == 0 && seg_offsets(&s) < 0)
			goto done;
#endif
		if (n > 0)
		{
			long long	ntok;

			s.structured = 0;
#ifdef DETECT_CHECK_FAST
			s.runsig = 0;
#endif
			ntok = segment_possible(&s);

			if (ntok < 0)
			{
				if (bind_matchers(&s) < 0)
					goto done;
				match_tokens(&s);
			}
			else
			{
#ifdef DETECT_CHECK_FAST
				/* the prefilter is sound: the matcher finds nothing here either */
				int			before = s.nout;

				for (m = 0; m < s.nms; m++)
					s.ms[m].active = 1;
				if (bind_matchers(&s) < 0)
					goto done;
				match_tokens(&s);
				if (s.nout != before)
					abort();
				s.tokidx -= ntok + SEGMENT_GAP;
#endif
				s.tokidx += ntok + SEGMENT_GAP;		/* as match_tokens counts */
			}
			for (m = 0; m < s.nms; m++)
				s.ms[m].active = 1;
			if (s.structured)
			{
#ifdef DETECT_CHECK_FAST
				/* segment_possible saw the runs check_structure would have */
				if (s.runsig != structure_sig(&s))
					abort();
#endif
				report_pending(&s);
			}
			else
				check_structure(&s);
		}
		if (s.oom)
			goto done;
	}
	if (q->truncated && truncated)
		*truncated = true;
	rc = s.nout;

done:
	if (q)
	{
		for (qi = 1; qi < q->n; qi++)
			free(q->seg[qi].buf);
		q->n = 0;
	}
	w->tokbase = s.tokidx;
	detect_scratch_free(own);
	return rc;
}
