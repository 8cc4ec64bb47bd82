/*
 * ngx_cx_forward -- the outbox's entries and the rows forwarded to
 * ClickHouse (cx_forward; the fleet tables).
 *
 * The outbox is a database of the store ("outbox").  Each entry is written
 * in the same transaction as the record it forwards, and deleted once
 * ClickHouse answered 200 to the INSERT that carried it:
 *
 *   key    16 bytes: unix ms (8, big-endian), pid (4), seq (4), as a
 *          journey event's key (ngx_cx_journey_key), so the outbox reads
 *          oldest first and the first key dates the oldest entry
 *   value  a kind byte, then
 *            'R'  the response id (12): the response is read when it is
 *                 sent, so it goes out as it is then (a display and its
 *                 answer in the same second go out as one row)
 *            'A'  the alert key (16): the same, for an alert
 *            'B'  the journey events of one commit (up to
 *                 NGX_CX_OUTBOX_BATCH), each its length (2, big-endian)
 *                 and its 'E' value: one entry to add and delete per
 *                 commit rather than per event
 *            'X'  a visitor id (12): `cxctl erase` of that visitor, for
 *                 ClickHouse to delete their rows (ALTER TABLE ... DELETE)
 *            'E'  the event's key (16), its outbox extras (what the
 *                 visitor's cookie said: from_seconds 4, purchase_seconds
 *                 8 signed, first_arrival 1, from_len 1, from), then the
 *                 event's value as the events database holds it (events
 *                 never change, so the event travels with its entry)
 *
 * Rows are JSONEachRow lines, each ended by LF, for the tables that
 * ngx_cx_forward_ddl() creates: <db>.responses, <db>.events, <db>.alerts.
 * ReplacingMergeTree keyed by the record's id (and its issue day, or the
 * event's time), with `version` the record's last change in ms (an
 * event's: 1 sent live, 0 backfilled by cxctl forward without what the
 * cookie said, first_arrival NGX_CX_JOURNEY_UNKNOWN), so a batch
 * sent twice, or a record sent again after it changed, leaves one row per
 * record once merged (queries use FINAL).
 *
 * Pure C99, no allocation, no nginx headers.
 */

#ifndef NGX_CX_FORWARD_H
#define NGX_CX_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_cx_record.h"
#include "ngx_cx_alert.h"


#define NGX_CX_DB_OUTBOX            "outbox"

#define NGX_CX_OUTBOX_KEY_LEN       16

#define NGX_CX_OUTBOX_RESPONSE      'R'
#define NGX_CX_OUTBOX_EVENT         'E'
#define NGX_CX_OUTBOX_ALERT         'A'
#define NGX_CX_OUTBOX_ERASE         'X'
#define NGX_CX_OUTBOX_EVENTS        'B'

/* events per 'B' entry at most, and the room one needs */
#define NGX_CX_OUTBOX_BATCH         256
#define NGX_CX_OUTBOX_BATCH_MAX                                               \
    (1 + NGX_CX_OUTBOX_BATCH * (2 + NGX_CX_OUTBOX_VAL_MAX))

/* meta: "1" once the store's nginx has forwarded (cxctl erase then queues
 * the erasure for ClickHouse too) */
#define NGX_CX_META_FORWARD         "forward"

#define NGX_CX_OUTBOX_VAL_MAX                                                 \
    (1 + NGX_CX_JOURNEY_KEY_LEN + 14 + NGX_CX_NAME_MAX + NGX_CX_JOURNEY_VAL_MAX)

/* the most bytes a node name may have (cx_node) */
#define NGX_CX_NODE_MAX             64

/* the tables, in the order ngx_cx_forward_ddl() numbers them (1..3) */
#define NGX_CX_FORWARD_RESPONSES    0
#define NGX_CX_FORWARD_EVENTS       1
#define NGX_CX_FORWARD_ALERTS       2
#define NGX_CX_FORWARD_TABLES       3


/* An outbox entry's value: the response's or the alert's. Returns length. */
size_t ngx_cx_outbox_ref(unsigned char dst[NGX_CX_OUTBOX_VAL_MAX], int kind,
    const unsigned char *key, size_t klen);

/*
 * An event's entry: its key in the events database, the event (with the
 * extras the events database does not keep).  Returns the length, or 0
 * when the event cannot be encoded (a name too long).
 */
size_t ngx_cx_outbox_event(unsigned char dst[NGX_CX_OUTBOX_VAL_MAX],
    const unsigned char key[NGX_CX_JOURNEY_KEY_LEN],
    const ngx_cx_journey_t *ev);

/*
 * A 'B' entry: ngx_cx_outbox_batch_add() appends an 'E' value (made by
 * ngx_cx_outbox_event) to dst, which holds *len bytes and has room for
 * NGX_CX_OUTBOX_BATCH_MAX ('B' itself is written with the first);
 * ngx_cx_outbox_batch_next() walks one: *pos starts at 0; 1 with the next
 * 'E' value in *val, *vlen; 0 at the end; -1 when malformed.
 */
void ngx_cx_outbox_batch_add(unsigned char *dst, size_t *len,
    const unsigned char *val, size_t vlen);
int ngx_cx_outbox_batch_next(const unsigned char *batch, size_t len,
    size_t *pos, const unsigned char **val, size_t *vlen);

/*
 * Reads an entry's value: *kind, and for R and A the referenced key
 * (*ref, *ref_len pointing into val); for E the event, decoded into *ev
 * with its key at *ref.  0, or -1 for a value that is not one of these.
 */
int ngx_cx_outbox_parse(const unsigned char *val, size_t len, int *kind,
    const unsigned char **ref, size_t *ref_len, ngx_cx_journey_t *ev);


/*
 * The most bytes ngx_cx_forward_response() writes for rec with a node name
 * of node_len bytes.
 */
size_t ngx_cx_forward_response_max(const ngx_cx_record_t *rec,
    size_t node_len);

/*
 * One row of <db>.responses, LF-ended: every export column (ngx_cx_export.h)
 * with its times in ms, the attributes as attr_keys/attr_values arrays and
 * attr_numeric (1 for a value the hook gave as a number), node and version.  Returns the end of what was written; dst needs
 * ngx_cx_forward_response_max() bytes.
 */
unsigned char *ngx_cx_forward_response(unsigned char *dst,
    const unsigned char id[NGX_CX_RESPONSE_KEY_LEN],
    const ngx_cx_record_t *rec, const unsigned char *node, size_t node_len);

/* The most bytes an event's row takes. */
#define NGX_CX_FORWARD_EVENT_MAX    (640 + 12 * NGX_CX_NAME_MAX               \
                                     + 6 * NGX_CX_NODE_MAX)

/* One row of <db>.events; key: the event's key (its id). */
unsigned char *ngx_cx_forward_event(unsigned char *dst,
    const unsigned char key[NGX_CX_JOURNEY_KEY_LEN],
    const ngx_cx_journey_t *ev, const unsigned char *node, size_t node_len);

/* One row of <db>.alerts; dst needs ngx_cx_forward_alert_max() bytes. */
size_t ngx_cx_forward_alert_max(const ngx_cx_alert_t *a, size_t node_len);
unsigned char *ngx_cx_forward_alert(unsigned char *dst,
    const ngx_cx_alert_t *a, const unsigned char *node, size_t node_len);


/*
 * 1 when name may be a ClickHouse database name here: 1 to 64 bytes of
 * ASCII letters, digits and '_', not starting with a digit.
 */
int ngx_cx_forward_db_valid(const unsigned char *name, size_t len);

/*
 * The schema, one statement per call: which 0 is CREATE DATABASE, 1..3
 * the tables (NGX_CX_FORWARD_* + 1), all IF NOT EXISTS.  Writes at most
 * size bytes with a NUL and returns the length (snprintf's contract), or
 * -1 for which out of range.  db must satisfy ngx_cx_forward_db_valid().
 */
#define NGX_CX_FORWARD_DDL_COUNT    4

int ngx_cx_forward_ddl(char *dst, size_t size, const char *db, size_t db_len,
    unsigned which);

/*
 * A responses table made by an earlier version lacks the columns added
 * since (followup, attr_numeric), and CREATE ... IF NOT EXISTS leaves it
 * so.  ClickHouse before 19 has no ADD COLUMN IF NOT EXISTS, so the table's
 * columns are asked first: ngx_cx_forward_columns_sql() writes that query
 * (its answer: a name a line); ngx_cx_forward_upgrade() reads the answer
 * (len bytes at columns) and writes the ALTER TABLE that adds the missing
 * ones where the CREATE has them, returning its length, or 0 when none is
 * missing (dst then holds ""), or -1 when size is too small.  Both write
 * a NUL; db as for ngx_cx_forward_ddl().
 */
int ngx_cx_forward_columns_sql(char *dst, size_t size, const char *db,
    size_t db_len);
int ngx_cx_forward_upgrade(char *dst, size_t size, const char *db,
    size_t db_len, const unsigned char *columns, size_t len);

/* "responses", "events", "alerts". */
const char *ngx_cx_forward_table(unsigned table);


#endif /* NGX_CX_FORWARD_H */
