/*
 * ngx_cx_score -- the scales of the three survey types and their scores.
 *
 * A tally counts answers per scale point for one survey type; the score is
 * then computed as the README defines it (Reports):
 *
 *   NPS   0..10  % promoters (9-10) - % detractors (0-6), -100..100
 *   CSAT  1..5   % of answers that are 4 or 5, 0..100
 *   CES   1..7   mean of the answers, 1..7
 *
 * Every score is 0.0 for a tally without answers, so a report never divides
 * by zero; readers tell "no data" from a real 0 by `answered`.
 *
 * Pure C99, no allocation, no nginx headers. The type codes and scale bounds
 * are defined in ngx_cx_record.h, which this header includes.
 */

#ifndef NGX_CX_SCORE_H
#define NGX_CX_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_cx_record.h"


typedef struct {
    unsigned char  type;        /* NGX_CX_TYPE_* */
    uint64_t       answered;    /* sum of dist[] */
    uint64_t       dist[11];    /* count per score; index = score */
} ngx_cx_tally_t;


/* Empties t and sets its type. An unknown type gives a tally that refuses
 * every answer. */
void ngx_cx_tally_init(ngx_cx_tally_t *t, unsigned char type);

/*
 * Counts one answer. Returns 0, or -1 (nothing counted) when score is
 * outside the scale of the tally's type or the type is unknown.
 */
int ngx_cx_tally_add(ngx_cx_tally_t *t, int score);

/* Returns 1 when score lies on the scale of type, 0 otherwise (also for an
 * unknown type). Takes a long so parsed JSON numbers can be checked before
 * they are narrowed. */
int ngx_cx_score_valid(unsigned char type, long score);

/*
 * The tally's score as defined above: NPS -100.0..100.0, CSAT 0.0..100.0,
 * CES 1.0..7.0. Returns 0.0 when nothing was answered or the type is
 * unknown. Not rounded: reports round for display.
 */
double ngx_cx_tally_score(const ngx_cx_tally_t *t);

/*
 * Sets promoters (scores 9-10), passives (7-8) and detractors (0-6) of an
 * NPS tally. For any other type all three are 0. Any pointer may be NULL.
 */
void ngx_cx_tally_nps_groups(const ngx_cx_tally_t *t, uint64_t *promoters,
    uint64_t *passives, uint64_t *detractors);

/* "nps", "csat", "ces" (ASCII case-insensitive, exactly len bytes) to
 * NGX_CX_TYPE_*; 0 for anything else. s may be NULL when len is 0. */
int ngx_cx_type_from_name(const char *s, size_t len);

/* "nps", "csat" or "ces"; "unknown" for any other value, never NULL. */
const char *ngx_cx_type_name(unsigned char type);

/* "purchase" for 3; "" for 0 (no stage) and anything out of range */
const char *ngx_cx_stage_name(unsigned stage);

/* 1..NGX_CX_STAGE_MAX for a stage name (exact, lowercase); 0 unknown */
unsigned ngx_cx_stage_from_name(const char *s, size_t len);

/*
 * Bands: where an answer lies on its scale, in the widget's words (it asks
 * the follow-up of the band, cx_survey "followup BAND"), used by cx_alert's
 * band= and the exports' band column:
 *
 *   NPS   detractor 0-6, passive 7-8, promoter 9-10
 *   CSAT  detractor 1-2, passive 3,   promoter 4-5
 *   CES   detractor 1-3, passive 4-5, promoter 6-7
 */
#define NGX_CX_BAND_DETRACTOR       1
#define NGX_CX_BAND_PASSIVE         2
#define NGX_CX_BAND_PROMOTER        3

/* The band of an answer (NGX_CX_BAND_*), 0 for an unknown type or score. */
int ngx_cx_band(unsigned char type, int score);

/* "detractor", "passive", "promoter", or "" for 0. */
const char *ngx_cx_band_name(int band);

/*
 * Sets *lo and *hi to the lowest and highest score of type and returns the
 * number of points on the scale (11, 5 or 7). For an unknown type returns 0
 * and leaves *lo and *hi untouched. lo and hi may be NULL.
 */
size_t ngx_cx_score_range(unsigned char type, int *lo, int *hi);


#endif /* NGX_CX_SCORE_H */
