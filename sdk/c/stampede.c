/*
 * stampede.c: the helpers declared in stampede.h, over the generated bindings in scenario.h.
 *
 * Ownership rules of the bindings, as used here: arguments to an import (stampede_scenario_*) are
 * borrowed, so they may point at the stack or at string literals (scenario_string_set); what an
 * import returns through its out-pointers belongs to us and is released with the matching
 * generated *_free function. Lists and strings of length 0 may carry a dummy non-NULL pointer, so
 * they are never passed to free() or realloc() directly (the generated *_free functions check).
 */
#include "stampede.h"

#include <stdlib.h>
#include <string.h>

/* Out of memory: trap, as the bindings' cabi_realloc does. */
static void *xrealloc(void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (!p) {
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *copy = xrealloc(NULL, n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* A borrowed WIT string over a C string (NULL reads as ""). */
static scenario_string_t wit_str(const char *s) {
    scenario_string_t out;
    scenario_string_set(&out, s ? s : "");
    return out;
}

/* ---- strings ------------------------------------------------------------------------------ */

void st_str_cat_n(st_str *s, const char *text, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 32;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        s->ptr = xrealloc(s->ptr, cap);
        s->cap = cap;
    }
    memcpy(s->ptr + s->len, text, n);
    s->len += n;
    s->ptr[s->len] = '\0';
}

void st_str_cat(st_str *s, const char *text) {
    st_str_cat_n(s, text, strlen(text));
}

void st_str_cat_u64(st_str *s, uint64_t value) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    st_str_cat_n(s, digits + sizeof digits - n, n);
}

void st_str_cat_i64(st_str *s, int64_t value) {
    if (value < 0) {
        st_str_cat_n(s, "-", 1);
        st_str_cat_u64(s, (uint64_t)0 - (uint64_t)value);
    } else {
        st_str_cat_u64(s, (uint64_t)value);
    }
}

const char *st_str_c(const st_str *s) {
    return s->ptr ? s->ptr : "";
}

void st_str_free(st_str *s) {
    free(s->ptr);
    s->ptr = NULL;
    s->len = s->cap = 0;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

/* "<kind>: <message>" for an http-error, which is then freed. */
static char *describe_error(stampede_scenario_http_http_error_t *e) {
    static const char *const kinds[] = {"origin-not-allowed", "invalid-request", "connect",
                                        "timeout", "protocol"};
    st_str text = {0};
    st_str_cat(&text, e->tag < 5 ? kinds[e->tag] : "http error");
    scenario_string_t *detail = NULL;
    switch (e->tag) {
    case STAMPEDE_SCENARIO_HTTP_HTTP_ERROR_ORIGIN_NOT_ALLOWED:
        detail = &e->val.origin_not_allowed;
        break;
    case STAMPEDE_SCENARIO_HTTP_HTTP_ERROR_INVALID_REQUEST:
        detail = &e->val.invalid_request;
        break;
    case STAMPEDE_SCENARIO_HTTP_HTTP_ERROR_CONNECT:
        detail = &e->val.connect;
        break;
    case STAMPEDE_SCENARIO_HTTP_HTTP_ERROR_PROTOCOL:
        detail = &e->val.protocol;
        break;
    default:
        break;
    }
    if (detail && detail->len) {
        st_str_cat(&text, ": ");
        st_str_cat_n(&text, (const char *)detail->ptr, detail->len);
    }
    stampede_scenario_http_http_error_free(e);
    return text.ptr;
}

int st_http_send(const st_request *r, st_response *resp) {
    memset(resp, 0, sizeof *resp);

    scenario_tuple2_string_string_t headers[2];
    size_t header_count = 0;
    st_str authorization = {0};
    if (r->content_type) {
        headers[header_count].f0 = wit_str("content-type");
        headers[header_count].f1 = wit_str(r->content_type);
        header_count++;
    }
    if (r->bearer) {
        st_str_cat(&authorization, "Bearer ");
        st_str_cat(&authorization, r->bearer);
        headers[header_count].f0 = wit_str("authorization");
        headers[header_count].f1 = wit_str(authorization.ptr);
        header_count++;
    }

    stampede_scenario_http_request_t req;
    memset(&req, 0, sizeof req);
    req.method = wit_str(r->method ? r->method : "GET");
    req.url = wit_str(r->url);
    req.headers.ptr = headers;
    req.headers.len = header_count;
    if (r->body) {
        req.body.is_some = true;
        req.body.val.ptr = (uint8_t *)r->body;
        req.body.val.len = r->body_len;
    }
    if (r->name) {
        req.name.is_some = true;
        req.name.val = wit_str(r->name);
    }
    if (r->timeout_ms) {
        req.timeout_ms.is_some = true;
        req.timeout_ms.val = r->timeout_ms;
    }

    stampede_scenario_http_response_t ok;
    stampede_scenario_http_http_error_t error;
    bool answered = stampede_scenario_http_send(&req, &ok, &error);
    st_str_free(&authorization);

    if (!answered) {
        resp->status = ST_HTTP_ERROR;
        resp->body = xstrndup("", 0);
        resp->headers = xstrndup("", 0);
        resp->error = describe_error(&error);
        return ST_HTTP_ERROR;
    }
    resp->status = ok.status;
    resp->duration_ms = ok.timings.duration_ms;
    resp->body_len = ok.body.len;
    if (ok.body.len) {
        /* Keep the body's buffer (allocated through cabi_realloc, i.e. realloc) and add the NUL. */
        resp->body = xrealloc(ok.body.ptr, ok.body.len + 1);
        resp->body[ok.body.len] = '\0';
    } else {
        resp->body = xstrndup("", 0);
    }
    ok.body.ptr = NULL;
    ok.body.len = 0;
    if (ok.headers.len) {
        /* The same for the header block. */
        resp->headers = xrealloc(ok.headers.ptr, ok.headers.len + 1);
        resp->headers[ok.headers.len] = '\0';
    } else {
        resp->headers = xstrndup("", 0);
    }
    ok.headers.ptr = NULL;
    ok.headers.len = 0;
    stampede_scenario_http_response_free(&ok);
    return resp->status;
}

int st_http_get(const char *url, const char *name, const char *bearer, st_response *resp) {
    st_request req = {.url = url, .name = name, .bearer = bearer};
    return st_http_send(&req, resp);
}

int st_http_post_json(const char *url, const char *name, const char *json, const char *bearer,
                      st_response *resp) {
    st_request req = {
        .method = "POST",
        .url = url,
        .name = name,
        .body = json,
        .body_len = strlen(json),
        .content_type = "application/json",
        .bearer = bearer,
    };
    return st_http_send(&req, resp);
}

static char lower_ascii(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

char *st_header(const st_response *resp, const char *name) {
    if (name == NULL) {
        return NULL;
    }
    size_t name_len = strlen(name);
    for (const char *line = resp->headers; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t)(end - line) : strlen(line);
        bool same = line_len > name_len && line[name_len] == ':';
        for (size_t i = 0; same && i < name_len; i++) {
            same = line[i] == lower_ascii(name[i]);
        }
        if (same) {
            const char *value = line + name_len + 1;
            if (*value == ' ') value++;
            return xstrndup(value, (size_t)(line + line_len - value));
        }
        line = end ? end + 1 : line + line_len;
    }
    return NULL;
}

void st_response_free(st_response *resp) {
    free(resp->body);
    free(resp->headers);
    free(resp->error);
    memset(resp, 0, sizeof *resp);
}

/* ---- checks, metrics, logs ---------------------------------------------------------------- */

static stampede_scenario_types_tags_t no_tags(void) {
    stampede_scenario_types_tags_t tags = {NULL, 0};
    return tags;
}

bool st_check(const char *name, bool ok) {
    scenario_string_t n = wit_str(name);
    stampede_scenario_checks_tags_t tags = no_tags();
    return stampede_scenario_checks_check(&n, ok, &tags);
}

void st_counter_add(const char *name, double value) {
    scenario_string_t n = wit_str(name);
    stampede_scenario_metrics_tags_t tags = no_tags();
    stampede_scenario_metrics_counter_add(&n, value, &tags);
}

void st_rate_add(const char *name, bool value) {
    scenario_string_t n = wit_str(name);
    stampede_scenario_metrics_tags_t tags = no_tags();
    stampede_scenario_metrics_rate_add(&n, value, &tags);
}

void st_trend_add(const char *name, double value) {
    scenario_string_t n = wit_str(name);
    stampede_scenario_metrics_tags_t tags = no_tags();
    stampede_scenario_metrics_trend_add(&n, value, &tags);
}

void st_gauge_set(const char *name, double value) {
    scenario_string_t n = wit_str(name);
    stampede_scenario_metrics_tags_t tags = no_tags();
    stampede_scenario_metrics_gauge_set(&n, value, &tags);
}

void st_log(st_level level, const char *message) {
    scenario_string_t m = wit_str(message);
    stampede_scenario_log_write((stampede_scenario_log_level_t)level, &m);
}

void st_fatal(const char *message) {
    st_log(ST_ERROR, message);
    __builtin_trap();
}

/* ---- context and time --------------------------------------------------------------------- */

uint64_t st_vu_id(void) {
    return stampede_scenario_context_vu_id();
}

uint64_t st_iteration(void) {
    return stampede_scenario_context_iteration();
}

char *st_param(const char *name, const char *fallback) {
    scenario_string_t n = wit_str(name);
    scenario_string_t value;
    if (stampede_scenario_context_param(&n, &value)) {
        char *copy = xstrndup((const char *)value.ptr, value.len);
        scenario_string_free(&value);
        return copy;
    }
    return fallback ? xstrndup(fallback, strlen(fallback)) : NULL;
}

bool st_param_int(const char *name, int64_t fallback, int64_t *out) {
    *out = fallback;
    char *text = st_param(name, NULL);
    if (!text) {
        return true;
    }
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+') {
        p++;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    bool ok = *p != '\0';
    for (; ok && *p; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (digit > 9 || value > (limit - digit) / 10) {
            ok = false;
        } else {
            value = value * 10 + digit;
        }
    }
    free(text);
    if (ok) {
        *out = negative ? (int64_t)(0 - value) : (int64_t)value;
    }
    return ok;
}

void st_sleep_ms(uint32_t ms) {
    stampede_scenario_time_sleep(ms);
}

uint64_t st_now_ms(void) {
    return stampede_scenario_time_now_ms();
}

/* ---- reproducible random numbers and weighted tasks --------------------------------------- */

/* SplitMix64's increment and output function, as in sdk/rust/src/rng.rs. */
#define GAMMA UINT64_C(0x9E3779B97F4A7C15)
/* The Rust SDK's task stream ("task" in ASCII), so task choice matches Tasks::run_one. */
#define TASK_STREAM UINT64_C(0x7461736B)

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

st_rng st_rng_seeded(uint64_t vu_id, uint64_t iteration, uint64_t stream) {
    st_rng rng = {mix((vu_id * GAMMA) ^ mix(iteration ^ mix(stream + GAMMA)))};
    return rng;
}

st_rng st_rng_for_iteration(void) {
    return st_rng_seeded(st_vu_id(), st_iteration(), 0);
}

uint64_t st_rng_next(st_rng *rng) {
    rng->state += GAMMA;
    return mix(rng->state);
}

uint64_t st_rng_below(st_rng *rng, uint64_t n) {
    /* Multiply-high, like the Rust SDK: maps 64 random bits onto [0, n). */
    return (uint64_t)(((unsigned __int128)st_rng_next(rng) * n) >> 64);
}

bool st_run_task(const st_task *tasks, size_t count, st_vu *vu, scenario_string_t *err) {
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += tasks[i].weight;
    }
    if (total == 0) {
        return st_fail(err, "st_run_task: no task has a positive weight");
    }
    st_rng rng = st_rng_seeded(st_vu_id(), st_iteration(), TASK_STREAM);
    uint64_t ticket = st_rng_below(&rng, total);
    size_t index = 0;
    while (ticket >= tasks[index].weight) {
        ticket -= tasks[index].weight;
        index++;
    }
    st_str why = {0};
    if (tasks[index].run(vu, &why)) {
        st_str_free(&why);
        return true;
    }
    st_str message = {0};
    st_str_cat(&message, tasks[index].name);
    st_str_cat(&message, ": ");
    st_str_cat(&message, why.len ? why.ptr : "failed");
    st_str_free(&why);
    bool result = st_fail(err, message.ptr);
    st_str_free(&message);
    return result;
}

/* ---- exports ------------------------------------------------------------------------------ */

bool st_fail(scenario_string_t *err, const char *message) {
    scenario_string_dup(err, message ? message : "");
    return false;
}
