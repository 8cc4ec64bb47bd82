/*
 * ngx_cx_score -- see ngx_cx_score.h for the contract.
 */

#include <string.h>

#include "ngx_cx_score.h"


void
ngx_cx_tally_init(ngx_cx_tally_t *t, unsigned char type)
{
    memset(t, 0, sizeof(ngx_cx_tally_t));
    t->type = type;
}


int
ngx_cx_tally_add(ngx_cx_tally_t *t, int score)
{
    if (!ngx_cx_score_valid(t->type, score)) {
        return -1;
    }

    t->dist[score]++;
    t->answered++;

    return 0;
}


int
ngx_cx_score_valid(unsigned char type, long score)
{
    int  lo, hi;

    if (ngx_cx_score_range(type, &lo, &hi) == 0) {
        return 0;
    }

    return score >= lo && score <= hi;
}


double
ngx_cx_tally_score(const ngx_cx_tally_t *t)
{
    int       lo, hi, i;
    double    sum;
    uint64_t  promoters, detractors;

    if (t->answered == 0 || ngx_cx_score_range(t->type, &lo, &hi) == 0) {
        return 0.0;
    }

    switch (t->type) {

    case NGX_CX_TYPE_NPS:
        ngx_cx_tally_nps_groups(t, &promoters, NULL, &detractors);

        /* in doubles: the difference of two uint64_t may be negative */
        return ((double) promoters - (double) detractors) * 100.0
               / (double) t->answered;

    case NGX_CX_TYPE_CSAT:
        return ((double) t->dist[4] + (double) t->dist[5]) * 100.0
               / (double) t->answered;

    default: /* NGX_CX_TYPE_CES */

        /* in doubles: score * count could overflow uint64_t */
        sum = 0.0;

        for (i = lo; i <= hi; i++) {
            sum += (double) i * (double) t->dist[i];
        }

        return sum / (double) t->answered;
    }
}


void
ngx_cx_tally_nps_groups(const ngx_cx_tally_t *t, uint64_t *promoters,
    uint64_t *passives, uint64_t *detractors)
{
    int       i;
    uint64_t  pro, pas, det;

    pro = 0;
    pas = 0;
    det = 0;

    if (t->type == NGX_CX_TYPE_NPS) {
        for (i = 0; i <= 6; i++) {
            det += t->dist[i];
        }

        pas = t->dist[7] + t->dist[8];
        pro = t->dist[9] + t->dist[10];
    }

    if (promoters) {
        *promoters = pro;
    }

    if (passives) {
        *passives = pas;
    }

    if (detractors) {
        *detractors = det;
    }
}


int
ngx_cx_type_from_name(const char *s, size_t len)
{
    static const struct {
        const char     *name;
        size_t          len;
        unsigned char   type;
    } types[] = {
        { "nps", 3, NGX_CX_TYPE_NPS },
        { "csat", 4, NGX_CX_TYPE_CSAT },
        { "ces", 3, NGX_CX_TYPE_CES },
    };

    size_t  i, j;
    char    c;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (len != types[i].len) {
            continue;
        }

        for (j = 0; j < len; j++) {
            c = s[j];

            if (c >= 'A' && c <= 'Z') {
                c = (char) (c - 'A' + 'a');
            }

            if (c != types[i].name[j]) {
                break;
            }
        }

        if (j == len) {
            return types[i].type;
        }
    }

    return 0;
}


const char *
ngx_cx_type_name(unsigned char type)
{
    switch (type) {

    case NGX_CX_TYPE_NPS:
        return "nps";

    case NGX_CX_TYPE_CSAT:
        return "csat";

    case NGX_CX_TYPE_CES:
        return "ces";

    default:
        return "unknown";
    }
}


size_t
ngx_cx_score_range(unsigned char type, int *lo, int *hi)
{
    int  l, h;

    switch (type) {

    case NGX_CX_TYPE_NPS:
        l = NGX_CX_NPS_MIN;
        h = NGX_CX_NPS_MAX;
        break;

    case NGX_CX_TYPE_CSAT:
        l = NGX_CX_CSAT_MIN;
        h = NGX_CX_CSAT_MAX;
        break;

    case NGX_CX_TYPE_CES:
        l = NGX_CX_CES_MIN;
        h = NGX_CX_CES_MAX;
        break;

    default:
        return 0;
    }

    if (lo) {
        *lo = l;
    }

    if (hi) {
        *hi = h;
    }

    return (size_t) (h - l + 1);
}


static const char  *ngx_cx_stages[NGX_CX_STAGE_MAX + 1] = {
    "", "awareness", "consideration", "purchase", "usage", "loyalty",
    "advocacy"
};


const char *
ngx_cx_stage_name(unsigned stage)
{
    return ngx_cx_stages[stage <= NGX_CX_STAGE_MAX ? stage : 0];
}


unsigned
ngx_cx_stage_from_name(const char *s, size_t len)
{
    unsigned  i;

    for (i = 1; i <= NGX_CX_STAGE_MAX; i++) {
        if (strlen(ngx_cx_stages[i]) == len
            && memcmp(ngx_cx_stages[i], s, len) == 0)
        {
            return i;
        }
    }

    return 0;
}


/* ---- bands ---- */

static const char  *ngx_cx_band_names[] = {
    "", "detractor", "passive", "promoter"
};

/* per type: the top score of the detractor and of the passive band */
static const int  ngx_cx_band_tops[][2] = {
    { 0, 0 },                           /* unknown */
    { 6, 8 },                           /* NPS */
    { 2, 3 },                           /* CSAT */
    { 3, 5 }                            /* CES */
};


int
ngx_cx_band(unsigned char type, int score)
{
    int  lo, hi;

    if (ngx_cx_score_range(type, &lo, &hi) == 0 || score < lo || score > hi) {
        return 0;
    }

    if (score <= ngx_cx_band_tops[type][0]) {
        return NGX_CX_BAND_DETRACTOR;
    }

    return score <= ngx_cx_band_tops[type][1] ? NGX_CX_BAND_PASSIVE
                                              : NGX_CX_BAND_PROMOTER;
}


const char *
ngx_cx_band_name(int band)
{
    return (band >= 1 && band <= 3) ? ngx_cx_band_names[band] : "";
}
