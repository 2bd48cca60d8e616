/*
 * detect_int.h -- internals shared by detect.c and detect_norm.c
 */
#ifndef MTMCP_DETECT_INT_H
#define MTMCP_DETECT_INT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode escapes once (JSON/C backslash escapes, %XX, HTML entities).
 * out must hold n bytes (decoding never grows); outoff[i] = inoff[i'] of the
 * input byte the output byte came from.  Returns the output length and adds
 * the number of escapes decoded to *ndecoded.
 */
size_t		detect_unescape(const unsigned char *in, const uint32_t *inoff, size_t n,
							unsigned char *out, uint32_t *outoff, size_t *ndecoded);

/*
 * Unicode folding: UTF-8 in, normalised UTF-8 out (see detect.h), never
 * longer than the input.  Offsets carried as above.
 */
size_t		detect_fold(const unsigned char *in, const uint32_t *inoff, size_t n,
						unsigned char *out, uint32_t *outoff);

/*
 * the same two without offsets (the scan's fast path; identical bytes);
 * detect_unescape_bytes sets *again when a second pass over its output
 * could change it (when not, that pass would copy it as it is);
 * detect_fold_bytes may fold in place (out == in: it never writes ahead of
 * what it has read)
 */
size_t		detect_unescape_bytes(const unsigned char *in, size_t n, unsigned char *out, size_t *ndecoded,
								  int *again);
size_t		detect_fold_bytes(const unsigned char *in, size_t n, unsigned char *out);

#endif							/* MTMCP_DETECT_INT_H */
