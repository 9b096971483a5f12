/*
 * {{name}}: one request and two checks per iteration, then a pause.
 *
 * Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
 * The helpers (st_*) are in sdk/c/stampede.h; its README explains who frees what.
 */
#include <stdlib.h>
#include <string.h>

#include "stampede.h"

/* What one virtual user keeps between iterations. */
struct exports_stampede_scenario_runner_vu_t {
    char *products_url;
    uint32_t think_ms;
};

/* No setup data, nothing to tear down. */
ST_NO_SETUP_TEARDOWN

/* Runs once per VU, before its first iteration. Calling st_fatal here (or trapping) fails this
 * VU's start (vu_init_errors); the host retries. */
exports_stampede_scenario_runner_own_vu_t
exports_stampede_scenario_runner_constructor_vu(scenario_list_u8_t *setup_data) {
    scenario_list_u8_free(setup_data);
    st_vu *vu = calloc(1, sizeof *vu);
    if (!vu) {
        abort();
    }
    char *base_url = st_param("base_url", "http://127.0.0.1:18080");
    st_str url = {0};
    st_str_cat(&url, base_url);
    st_str_cat(&url, "/products");
    free(base_url);
    vu->products_url = url.ptr;
    int64_t think_ms;
    if (!st_param_int("think_ms", 100, &think_ms) || think_ms < 0 || think_ms > UINT32_MAX) {
        st_fatal("param think_ms: expected a number of milliseconds");
    }
    vu->think_ms = (uint32_t)think_ms;
    return st_vu_handle(vu);
}

/* One iteration. Returning false (with `err` set, e.g. by st_fail) fails this iteration only. */
bool exports_stampede_scenario_runner_method_vu_iteration(st_vu *vu, scenario_string_t *scenario,
                                                          scenario_string_t *err) {
    scenario_string_free(scenario);
    st_response res = {0};
    int status = st_http_get(vu->products_url, "products", NULL, &res);
    bool ok = status != ST_HTTP_ERROR;
    if (ok) {
        st_check("status is 200", status == 200);
        st_check("body lists products", strstr(res.body, "\"id\"") != NULL);
    } else {
        ok = st_fail(err, res.error);
    }
    st_response_free(&res);
    st_sleep_ms(vu->think_ms);
    return ok;
}

/* The VU stopped: free its state. */
void exports_stampede_scenario_runner_vu_destructor(st_vu *vu) {
    free(vu->products_url);
    free(vu);
}
