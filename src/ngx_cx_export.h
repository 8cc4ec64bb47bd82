/*
 * ngx_cx_export -- one stored response as a CSV row or an NDJSON line.
 *
 * The HTTP exports (responses.csv, responses.ndjson) and `cxctl export` both
 * format through this component, so the two can never drift apart. The
 * output goes to a caller-supplied write callback (an fwrite wrapper, an
 * nginx buffer chain, a test's memory buffer); the concatenation of all the
 * bytes it is given is the export.
 *
 * Fields, in this order (the CSV header row from ngx_cx_export_csv_header):
 *
 *   id           24 lowercase hex digits of the 12-byte prompt id (the key)
 *   received_at  ngx_cx_export_time(rec), ISO 8601 UTC "2025-01-10T12:00:00Z"
 *   survey       text
 *   type         "nps", "csat", "ces" ("unknown" for any other code)
 *   touchpoint   text
 *   stage        "awareness" .. "advocacy"; "" for none or out of range
 *   score        the score when ANSWERED; CSV empty, NDJSON null otherwise
 *   comment      text
 *   visitor      24 lowercase hex digits
 *   lang         the language of the texts the visitor was shown
 *   path         text
 *   attributes   CSV: key=value pairs joined by '&', with % & = and the
 *                control bytes (< 0x20 and 0x7f) percent-encoded as %XX
 *                (uppercase), in blob order, repeated keys kept;
 *                NDJSON: an object, the last of a repeated key wins, a
 *                value that was a number (rec->attr_numbers) and reads as
 *                a JSON number written as one, any other as a string
 *   displayed, answered, dismissed
 *                CSV 1 or 0; NDJSON true or false
 *   previous_score  the visitor's answer to the same survey before this
 *                one (a re-survey); CSV empty, NDJSON null when none
 *   received_at_utc  CSV only: received_at as "2025-01-10 12:00:00", the
 *                form spreadsheets read as a date and time (UTC, no zone)
 *   band         "detractor", "passive" or "promoter" (ngx_cx_band) when
 *                ANSWERED; CSV empty, NDJSON null otherwise
 *   followup     the follow-up question asked after the answer, text
 *   attr_KEY     CSV only: one column per key of the export's columns
 *                (ngx_cx_export_columns_t), in their order: the key's value
 *                (the last of a repeated key), empty without one; a number
 *                as in NDJSON, unguarded (it cannot be a formula)
 *
 * CSV is RFC 4180: rows end with CRLF; a cell holding a comma, a double
 * quote, CR or LF is quoted and its quotes doubled. A text cell (the
 * attributes cell included) whose first output byte is = + - @ TAB or CR
 * gets a leading single quote, so spreadsheets show it as text rather than
 * run it as a formula (CSV injection). Bytes that do not start a valid UTF-8
 * sequence are written as U+FFFD (EF BF BD): the output is always UTF-8.
 * The Excel variant (NGX_CX_EXPORT_EXCEL) starts with a UTF-8 BOM, by which
 * Excel knows the file is UTF-8; the rest is the same bytes.
 *
 * NDJSON: one JSON object per line, ended by LF, strings escaped by
 * ngx_cx_json_escape (so no raw < > & ' U+2028 U+2029, invalid UTF-8 as
 * \ufffd). Text is written as stored: no formula neutralising.
 *
 * Pure C99, no allocation, no nginx headers, no stdio. Any record is safe to
 * format, including a hand-built one with out-of-range type, stage or score
 * or a corrupt attributes blob (pairs up to the corruption are written);
 * byte fields must follow ngx_cx_bytes_t's rule (data NULL only when len 0).
 * Each call uses about 8 KB of stack.
 */

#ifndef NGX_CX_EXPORT_H
#define NGX_CX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_cx_record.h"


/*
 * Receives the next len bytes of output (len is never 0). Return 0 to go
 * on, or -1 to stop: the formatter then returns -1 at once without calling
 * it again, leaving a partial row or line behind (the caller abandons the
 * export). Output is buffered internally, so one call may carry several
 * fields, or part of a field, but every formatter call has handed over all
 * of its bytes by the time it returns 0.
 */
typedef int (*ngx_cx_export_write_pt)(void *data, const unsigned char *p,
    size_t len);


/*
 * The attr_ columns of a CSV export: the distinct keys of the exported
 * rows' attributes, which the header needs before the first row (a first
 * pass over the rows, or the key set from a database), sorted by their
 * bytes (memcmp, a prefix first). At most NGX_CX_EXPORT_COLUMNS: past that
 * the greatest keys are left out (and `dropped` set), so the columns are the
 * first keys in order whatever order the keys were added in. About 64 KB:
 * not for the stack.
 */
#define NGX_CX_EXPORT_COLUMNS  256

typedef struct {
    unsigned        n;
    unsigned        dropped;
    unsigned char   len[NGX_CX_EXPORT_COLUMNS];
    unsigned char   key[NGX_CX_EXPORT_COLUMNS][NGX_CX_ATTR_KEY_MAX];
} ngx_cx_export_columns_t;

void ngx_cx_export_columns_init(ngx_cx_export_columns_t *cols);

/* Adds the keys of rec's attributes (the pairs before any corruption). */
void ngx_cx_export_columns_add(ngx_cx_export_columns_t *cols,
    const ngx_cx_record_t *rec);

/* Adds one key: len 1 to NGX_CX_ATTR_KEY_MAX bytes, else ignored. */
void ngx_cx_export_columns_add_key(ngx_cx_export_columns_t *cols,
    const unsigned char *key, size_t len);


#define NGX_CX_EXPORT_EXCEL  1          /* a UTF-8 BOM before the header */

/*
 * Writes the CSV header row,
 * "id,received_at,survey,type,touchpoint,stage,score,comment,visitor,lang,"
 * "path,attributes,displayed,answered,dismissed,previous_score,"
 * "received_at_utc,band,followup", then ",attr_KEY" per column of cols
 * (NULL: none), and CRLF; with NGX_CX_EXPORT_EXCEL in flags, a BOM first.
 * Returns 0, or -1 when write returned -1.
 */
int ngx_cx_export_csv_header(ngx_cx_export_write_pt write, void *data,
    const ngx_cx_export_columns_t *cols, unsigned flags);

/*
 * Writes rec, stored under the prompt id `id`, as one CSV row ending in
 * CRLF, with the columns of cols (the header's). Returns 0, or -1 when
 * write returned -1.
 */
int ngx_cx_export_csv(ngx_cx_export_write_pt write, void *data,
    const unsigned char id[12], const ngx_cx_record_t *rec,
    const ngx_cx_export_columns_t *cols);

/*
 * Writes rec, stored under the prompt id `id`, as one JSON object followed
 * by LF. Returns 0, or -1 when write returned -1.
 */
int ngx_cx_export_ndjson(ngx_cx_export_write_pt write, void *data,
    const unsigned char id[12], const ngx_cx_record_t *rec);

/*
 * The time a response is dated by, in unix ms: answered_at, else
 * displayed_at, else dismissed_at, else issued_at (the first that is not 0).
 * This is the received_at of the rows, and what date filters should compare.
 */
uint64_t ngx_cx_export_time(const ngx_cx_record_t *rec);


#endif /* NGX_CX_EXPORT_H */
