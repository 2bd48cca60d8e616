/*
 * detect.h -- prompt-injection detector (pure C, no PostgreSQL headers)
 *
 * Scans tool arguments, tool results, resource contents and rendered prompts
 * for four categories of trouble:
 *
 *   override       instruction override, role markers, fake system/assistant
 *                  turns, fake tool-call or JSON-RPC syntax inside data
 *   exfiltration   markdown images / links / URLs that carry data (or a
 *                  placeholder for it) to a host outside the allow list, and
 *                  instructions to do so
 *   cross_tenant   another tenant's id as a whole token, a resource URI with
 *                  a tenants/<other> path segment, a "tenant_id": "<other>" key
 *   session_state  JWT-shaped tokens, "Bearer <token>", session ids, request
 *                  states and access tokens keyed by name
 *
 * Every input is first normalised the way attackers hide things: bounded
 * decoding of JSON/C escapes (any nesting depth of backslashes, \uXXXX with
 * surrogate pairs), percent-escapes and HTML entities (two passes at most);
 * UTF-8 decoding with invalid bytes dropped; zero-width, bidi, tag-character
 * (ASCII smuggling is decoded), variation-selector and combining marks
 * dropped; fullwidth, mathematical, enclosed, small-capital, super/subscript
 * forms, Latin diacritics and Cyrillic/Greek/Armenian homoglyphs folded to
 * ASCII; lower case; whitespace runs (Unicode spaces too) collapsed to one
 * space.  Base64 runs of 16+ characters that decode to text are scanned too,
 * to depth 2.
 *
 * Patterns are data (see test/detect/patterns.tsv for the shipped global
 * set).  Pattern syntax, one pattern per row:
 *
 *     ignore|disregard * previous|prior *2 instruct*
 *
 *   - terms are separated by spaces; every term must match in order;
 *   - a|b|c   alternatives; an alternative may be several words ("api key")
 *             only when written with an escaped space: api\ key
 *   - word*   prefix match on the last word of an alternative
 *   - *  *N   up to 4 (N, 1..9) tokens may sit between the neighbouring terms
 *   - \x      the character x literally (\|  \*  \\  \ )
 *
 * A cue rule starts "&N/W " and lists groups instead of a sequence:
 *
 *     &3/20 ai|llm|model instruction*|rules ignore|no\ longer admin|developer
 *
 * it fires when words of N distinct groups occur within W tokens, in any
 * order (up to 8 groups, no gaps; W at most 64).  Weak cues that mean
 * little alone (an AI addressee, its rules, a nullifying verb, a claim of
 * privilege) catch paraphrases no fixed phrase anticipates.
 *
 * Text and patterns are tokenised alike after normalisation: runs of letters
 * and digits (and non-ASCII) are words, every other printable ASCII character
 * is a one-character token, except the separators  _ - ' ` * ~ ^  which only
 * split words.  So "<|im_start|>" is the tokens < | im start | > and matches
 * "< | IM-START | >" too.
 *
 * Matching is linear in the input: patterns compile into a trie over their
 * words plus, per pattern position, the latest token index at which it may
 * still match (bounded gaps make that a single integer); each token costs a
 * trie walk and constant work per pattern position that uses the word.  The
 * structural checks (URLs, keys, tenant ids) use forward scans with
 * watermarks.  No input is scanned beyond ctx->max_bytes, and decoded base64
 * shares the same budget.
 *
 * Working memory: two byte buffers of the input's length (plus 64; the
 * second is written only when a second unescape pass is needed), the decoded
 * runs, and per rule set a few integers per pattern position (about 50 kB
 * for the shipped set, allocated by the first scan that needs the matcher:
 * most small inputs are cleared by a prefilter that needs about 3 kB).  The offsets that findings report are not carried
 * through normalisation: they are computed again, by the same passes with
 * offset maps (4 more bytes per byte, three maps), only for a segment that
 * has a finding or a base64 run.  With ctx->scratch (detect_scratch_new)
 * all of it is kept between scans and nothing is cleared: the match state
 * holds token indices, and each scan starts its indices past the previous
 * one's, so what is left over reads as "long ago".  Without a scratch a
 * scan allocates its own and frees it before it returns.  When *truncated
 * comes back true the input was not scanned in full (too long, or too
 * much to decode): treat it as unscanned, not clean.
 *
 * Memory: malloc/free only, no global state, never longjmps.  A DetectRules
 * and a DetectTenants are immutable after construction (a DetectScratch is
 * not: one scan at a time each), so a backend can
 * compile them once, cache them, and share them between calls.
 */
#ifndef MTMCP_DETECT_H
#define MTMCP_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#define DETECT_DEFAULT_MAX_BYTES	(1024 * 1024)
#define DETECT_MAX_PATTERN_LEN		1024
#define DETECT_MAX_TENANT_ID_LEN	64

typedef enum DetectCategory
{
	DETECT_OVERRIDE = 0,
	DETECT_EXFILTRATION,
	DETECT_CROSS_TENANT,
	DETECT_SESSION_STATE,
	DETECT_NCATEGORIES
} DetectCategory;

#define DETECT_CAT_BIT(c)		(1u << (c))
#define DETECT_ALL_CATEGORIES	((1u << DETECT_NCATEGORIES) - 1)

typedef enum DetectSeverity
{
	DETECT_LOW = 1,
	DETECT_MEDIUM = 2,
	DETECT_HIGH = 3
} DetectSeverity;

/*
 * What is being scanned.  Decides the default category set:
 * ARGUMENTS (what the calling tenant sent): all four;
 * RESULT, RESOURCE, PROMPT: override, exfiltration and cross_tenant
 * (session_state is about arguments carrying state from another session).
 */
typedef enum DetectDirection
{
	DETECT_ARGUMENTS = 0,
	DETECT_RESULT,
	DETECT_RESOURCE,
	DETECT_PROMPT
} DetectDirection;

/* One pattern row.  Strings are copied by detect_compile. */
typedef struct DetectPattern
{
	const char *id;				/* stable, reported in findings */
	DetectCategory category;
	DetectSeverity severity;
	const char *text;			/* pattern syntax above */
} DetectPattern;

typedef struct DetectRules DetectRules;		/* compiled patterns */
typedef struct DetectTenants DetectTenants;	/* the set of known tenant ids */
typedef struct DetectScratch DetectScratch;	/* a scan's working memory, reusable */

typedef struct DetectContext
{
	DetectDirection direction;
	unsigned	categories;		/* DETECT_CAT_BIT mask; 0 = default for direction */
	const char *own_tenant;		/* the calling tenant; NULL = none */
	const DetectTenants *tenants;	/* all known tenant ids (own included is fine); may be NULL */
	const char *const *allowed_hosts;	/* host suffixes links may go to ("acme.com" allows
										 * "acme.com" and "x.acme.com") */
	int			n_allowed_hosts;
	const DetectRules *extra_rules;	/* e.g. the tenant's own rows; may be NULL */
	size_t		max_bytes;		/* input bytes scanned; 0 = DETECT_DEFAULT_MAX_BYTES */
	DetectScratch *scratch;		/* working memory kept between scans; NULL = a scan
								 * allocates its own and frees it */
} DetectContext;

/* Built-in (structural) finding ids; pattern ids come from the rules. */
#define DETECT_ID_TENANT_ID		"cross_tenant.tenant_id"
#define DETECT_ID_TENANT_PATH	"cross_tenant.resource_uri"
#define DETECT_ID_TENANT_KEY	"cross_tenant.tenant_key"
#define DETECT_ID_JWT			"session_state.jwt"
#define DETECT_ID_BEARER		"session_state.bearer"
#define DETECT_ID_SESSION_KEY	"session_state.keyed_secret"
#define DETECT_ID_MD_IMAGE		"exfiltration.markdown_image"
#define DETECT_ID_URL_TEMPLATE	"exfiltration.url_placeholder"

typedef struct DetectFinding
{
	DetectCategory category;
	DetectSeverity severity;
	const char *pattern_id;		/* a pattern's id (valid while its rules live) or a DETECT_ID_* */
	size_t		offset;			/* in the original input: where the match (or the
								 * encoded run that hid it) starts */
	size_t		length;			/* original bytes covered (the whole encoded run
								 * when depth > 0) */
	int			depth;			/* 0 = in the text, 1..2 = inside decoded base64 */
	bool		obfuscated;		/* the original bytes differ from what matched
								 * beyond case and whitespace (escapes, hidden or
								 * look-alike characters, base64) */
} DetectFinding;

/*
 * Compile n patterns.  NULL on error, with a message in err ("pattern
 * \"id\": ..."); a pattern that cannot compile fails the whole set.
 */
DetectRules *detect_compile(const DetectPattern *patterns, int n, char *err, size_t errlen);
void		detect_free(DetectRules *rules);
int			detect_rules_count(const DetectRules *rules);

/* Tenant set: ids are compared case-insensitively.  NULL on out of memory. */
DetectTenants *detect_tenants_new(const char *const *ids, int n);
void		detect_tenants_free(DetectTenants *tenants);

/*
 * Scan len bytes of text (not NUL-terminated; JSON or plain text).  Writes
 * at most max_out findings, one per distinct pattern id (its first
 * occurrence), and returns how many it wrote; -1 on out of memory.
 * *truncated (may be NULL) is set when the input or the decoded runs were
 * cut at ctx->max_bytes.  rules may be NULL (structural checks only).
 */
int			detect_scan(const DetectRules *rules, const DetectContext *ctx,
						const char *text, size_t len,
						DetectFinding *out, int max_out, bool *truncated);

/*
 * Working memory for detect_scan, kept between scans so that a scan of a
 * small input touches little memory and clears none: its buffers grow to
 * the largest input scanned with it.  One scan at a time per scratch (not
 * thread-safe); it works with any rules.  NULL on out of memory.
 */
#define DETECT_HAVE_SCRATCH 1
DetectScratch *detect_scratch_new(void);
void		detect_scratch_free(DetectScratch *scratch);

/*
 * The normalised form of text (depth 0 only, no base64): malloc'd,
 * NUL-terminated, *outlen without the NUL.  For tests and for showing an
 * operator what was matched.  NULL on out of memory.
 */
char	   *detect_normalize(const char *text, size_t len, size_t *outlen);

/* names: "override" "exfiltration" "cross_tenant" "session_state"; "low" "medium" "high" */
const char *detect_category_name(DetectCategory c);
int			detect_category_from_name(const char *name);	/* -1 if unrecognized */
const char *detect_severity_name(DetectSeverity s);
int			detect_severity_from_name(const char *name);	/* -1 if unrecognized */

#endif							/* MTMCP_DETECT_H */
