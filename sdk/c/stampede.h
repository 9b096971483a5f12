/*
 * stampede.h: a small C helper layer over the generated bindings of the Stampede scenario world
 * (`stampede guest bindings-c DIR` writes scenario.h, scenario.c and scenario_component_type.o).
 *
 * The scenario still defines the five exports of the world itself (see README.md):
 * exports_stampede_scenario_runner_setup / _constructor_vu / _method_vu_iteration / _teardown and
 * exports_stampede_scenario_runner_vu_destructor. These helpers cover the calls a scenario makes:
 * HTTP, checks, metrics, params, logging, sleeping, reproducible random draws and weighted tasks.
 *
 * Memory: every `char *` a helper returns is malloc'd and belongs to the caller (free() it);
 * every `const char *` argument is only borrowed for the call. Nothing here uses libc I/O (printf,
 * stdio), so a scenario built with it does not import WASI preview1.
 */
#ifndef STAMPEDE_H
#define STAMPEDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The per-VU state: the scenario defines `struct exports_stampede_scenario_runner_vu_t { ... };`. */
typedef exports_stampede_scenario_runner_vu_t st_vu;

/* ---- strings ------------------------------------------------------------------------------ */

/*
 * A growable NUL-terminated string (there is no printf). Start from `st_str s = {0};`; after any
 * st_str_cat* call `s.ptr` is a valid C string. Release with st_str_free, or keep `s.ptr` (malloc'd).
 */
typedef struct st_str {
    char *ptr;
    size_t len;
    size_t cap;
} st_str;

void st_str_cat(st_str *s, const char *text);
void st_str_cat_n(st_str *s, const char *text, size_t n);
void st_str_cat_u64(st_str *s, uint64_t value);
void st_str_cat_i64(st_str *s, int64_t value);
/* The text so far ("" when nothing was added yet); valid until the next st_str_* call. */
const char *st_str_c(const st_str *s);
void st_str_free(st_str *s);

/* ---- HTTP --------------------------------------------------------------------------------- */

/* What st_http_* return, and `status` holds, when no response arrived (see `error`). */
#define ST_HTTP_ERROR (-1)

/* A response, or the reason there is none. Release with st_response_free. */
typedef struct st_response {
    /* The HTTP status, or ST_HTTP_ERROR when no response arrived. */
    int status;
    /* The whole body plus a NUL ("" on error). The body itself may contain NULs: see body_len. */
    char *body;
    size_t body_len;
    /* NULL, or when status is ST_HTTP_ERROR what went wrong, e.g. "connect: connection refused"
     * or "timeout". The host also recorded the request as failed (http_req_failed). */
    char *error;
    /* Request start to last body byte, as the host timed it (what http_req_duration recorded). */
    double duration_ms;
    /* The response headers plus a NUL ("" on error): one "name: value\n" line per header, in the
     * order received, names lower case. st_header finds one. */
    char *headers;
} st_response;

/* One request for st_http_send. Only `url` is required; zero/NULL fields are left out. */
typedef struct st_request {
    const char *method;       /* "GET" when NULL */
    const char *url;          /* absolute; its origin must be in the plan's `targets` */
    const char *name;         /* metric `name` tag; NULL = the URL without its query string */
    const char *body;         /* NULL = no body */
    size_t body_len;          /* bytes of `body` to send */
    const char *content_type; /* sent as `content-type` when not NULL */
    const char *bearer;       /* sent as `authorization: Bearer <bearer>` when not NULL */
    uint32_t timeout_ms;      /* 0 = the plan's http-timeout */
} st_request;

/*
 * Send `req` and wait for the whole response. Returns the status (and fills `resp`), or
 * ST_HTTP_ERROR with `resp->error` set. `resp` is overwritten (free an earlier response in it
 * first); either way it must be released with st_response_free.
 * For more request headers or tags, call stampede_scenario_http_send from scenario.h directly.
 */
int st_http_send(const st_request *req, st_response *resp);
/* GET `url`; `name` and `bearer` may be NULL. */
int st_http_get(const char *url, const char *name, const char *bearer, st_response *resp);
/* POST the NUL-terminated `json` to `url` as application/json; `name` and `bearer` may be NULL. */
int st_http_post_json(const char *url, const char *name, const char *json, const char *bearer,
                      st_response *resp);
/* The value of the first response header called `name` (any case), malloc'd (free it); NULL when
 * there is none (or `name` is NULL). */
char *st_header(const st_response *resp, const char *name);
/* Free what a response holds and zero it (safe on a zeroed or already freed response). */
void st_response_free(st_response *resp);

/* ---- checks, metrics, logs ---------------------------------------------------------------- */

/* Record the check `name` (counted in the `checks` rate) and return `ok`. */
bool st_check(const char *name, bool ok);

void st_counter_add(const char *name, double value);
void st_rate_add(const char *name, bool value);
/* Milliseconds when the trend measures time. */
void st_trend_add(const char *name, double value);
void st_gauge_set(const char *name, double value);

typedef enum st_level {
    ST_DEBUG = STAMPEDE_SCENARIO_TYPES_LEVEL_DEBUG,
    ST_INFO = STAMPEDE_SCENARIO_TYPES_LEVEL_INFO,
    ST_WARN = STAMPEDE_SCENARIO_TYPES_LEVEL_WARN,
    ST_ERROR = STAMPEDE_SCENARIO_TYPES_LEVEL_ERROR,
} st_level;

/* One log line, printed by the host with the VU id and scenario. */
void st_log(st_level level, const char *message);

/* Log `message` at error level, then trap. In the VU constructor this fails the VU's start
 * (reported by the host, which counts it in vu_init_errors); use it where Rust would panic. */
__attribute__((noreturn)) void st_fatal(const char *message);

/* ---- context and time --------------------------------------------------------------------- */

/* This VU's id, unique in the run, starting at 1. */
uint64_t st_vu_id(void);
/* Iterations this VU started before the current one (0 during the first). */
uint64_t st_iteration(void);
/* The plan's `[params]` entry `name`, else a copy of `fallback`; malloc'd (free it). NULL only
 * when the param is missing and `fallback` is NULL. */
char *st_param(const char *name, const char *fallback);
/* The param `name` as a decimal integer in *out, or `fallback` when it is missing. Returns false
 * (and stores `fallback`) when it is set but not an integer that fits in int64_t. */
bool st_param_int(const char *name, int64_t fallback, int64_t *out);
/* Pause this VU (think time) without blocking a host thread. */
void st_sleep_ms(uint32_t ms);
/* Milliseconds since the Unix epoch. */
uint64_t st_now_ms(void);

/* ---- reproducible random numbers and weighted tasks --------------------------------------- */

/* SplitMix64, seeded exactly like the Rust SDK's Rng: the same VU and iteration draw the same
 * numbers in every run (and in every SDK). Not for secrets. */
typedef struct st_rng {
    uint64_t state;
} st_rng;

st_rng st_rng_seeded(uint64_t vu_id, uint64_t iteration, uint64_t stream);
/* Seeded from this VU's id and current iteration (stream 0, like Rng::for_iteration). */
st_rng st_rng_for_iteration(void);
uint64_t st_rng_next(st_rng *rng);
/* A number in [0, n); 0 when n is 0. */
uint64_t st_rng_below(st_rng *rng, uint64_t n);

/* A task: does its work on the VU's state; on failure appends a message to `why` and returns false. */
typedef bool (*st_task_fn)(st_vu *vu, st_str *why);

typedef struct st_task {
    uint32_t weight; /* chance weight / total weight; 0 disables the task */
    const char *name; /* prefixes the task's error message */
    st_task_fn run;
} st_task;

/*
 * Run one of `tasks`, picked by weight from this VU's id and iteration (the same choice the Rust
 * SDK's Tasks::run_one makes). Returns true when it succeeded; otherwise sets `err` to
 * "<name>: <why>" (allocated for the bindings, which free it) and returns false, so an iteration
 * can end with `return st_run_task(TASKS, n, vu, err);`.
 */
bool st_run_task(const st_task *tasks, size_t count, st_vu *vu, scenario_string_t *err);

/* ---- exports ------------------------------------------------------------------------------ */

/* Set the export's `err` to a copy of `message` and return false: `return st_fail(err, "...");`. */
bool st_fail(scenario_string_t *err, const char *message);

/* Wrap a new VU state (malloc'd by the constructor) into the handle the constructor returns. */
static inline exports_stampede_scenario_runner_own_vu_t st_vu_handle(st_vu *vu) {
    return exports_stampede_scenario_runner_vu_new(vu);
}

/*
 * Define `setup` (returns no data) and `teardown` (does nothing) for scenarios that need neither.
 * Use once, at file scope, in the scenario's .c file.
 */
#define ST_NO_SETUP_TEARDOWN                                                                       \
    bool exports_stampede_scenario_runner_setup(scenario_list_u8_t *ret, scenario_string_t *err) { \
        (void)err;                                                                                 \
        ret->ptr = NULL;                                                                           \
        ret->len = 0;                                                                              \
        return true;                                                                               \
    }                                                                                              \
    bool exports_stampede_scenario_runner_teardown(scenario_list_u8_t *setup_data,                 \
                                                   scenario_string_t *err) {                       \
        (void)err;                                                                                 \
        scenario_list_u8_free(setup_data);                                                         \
        return true;                                                                               \
    }

#ifdef __cplusplus
}
#endif

#endif /* STAMPEDE_H */
