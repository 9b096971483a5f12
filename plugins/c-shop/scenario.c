/*
 * c-shop: the demo scenario for `stampede target` in C, the same flow as rust-shop.
 *
 * Each VU logs in once as `vu-<id>` and reads the product ids from `GET /products`. Then every
 * iteration runs one task picked by weight, and pauses for the `think_ms` param:
 *
 * | weight | task | requests (metric `name`) |
 * |---|---|---|
 * | 3 | browse | `GET /products` (`products`) |
 * | 2 | view a product | `GET /products/{id}` (`product`) |
 * | 1 | add to cart | `POST /cart` (`cart_add`), then `GET /cart` (`cart`) |
 *
 * Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
 *
 * JSON is read with a few string scans (like rust-shop's scan.rs): the demo's responses are small
 * and fixed. Task and product choices use the same seeds as the Rust SDK, so VU 3's iteration 7
 * does what it does in rust-shop. Build: make (see Makefile and README.md).
 */
#include <stdlib.h>
#include <string.h>

#include "stampede.h"

/* What one shopper carries between iterations. */
struct exports_stampede_scenario_runner_vu_t {
    char *base_url;
    char *products_url; /* base_url + "/products" */
    char *cart_url;     /* base_url + "/cart" */
    char *token;
    uint64_t *product_ids;
    size_t product_count;
    uint32_t think_ms;
};

/* ---- JSON scanning (not a parser: no escapes, no nesting) ---------------------------------- */

/* The next place at or after `text` where `"key"` is followed by `:`, as the text after the colon
 * (whitespace skipped), or NULL. */
static const char *value_of(const char *text, const char *key) {
    size_t key_len = strlen(key);
    for (const char *at = text; (at = strstr(at, "\"")) != NULL; at++) {
        if (strncmp(at + 1, key, key_len) != 0 || at[1 + key_len] != '"') {
            continue;
        }
        const char *rest = at + key_len + 2;
        while (*rest == ' ' || *rest == '\n' || *rest == '\r' || *rest == '\t') {
            rest++;
        }
        if (*rest != ':') {
            continue;
        }
        rest++;
        while (*rest == ' ' || *rest == '\n' || *rest == '\r' || *rest == '\t') {
            rest++;
        }
        return rest;
    }
    return NULL;
}

/* The first string value of `key`, malloc'd, or NULL. */
static char *string_field(const char *text, const char *key) {
    for (const char *v = text; (v = value_of(v, key)) != NULL;) {
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');
            if (end) {
                size_t n = (size_t)(end - v - 1);
                char *out = malloc(n + 1);
                if (!out) {
                    abort();
                }
                memcpy(out, v + 1, n);
                out[n] = '\0';
                return out;
            }
        }
    }
    return NULL;
}

/* Every unsigned integer value of `key`, in order: a malloc'd array (NULL when none) and its
 * length in *count. */
static uint64_t *number_fields(const char *text, const char *key, size_t *count) {
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (const char *v = text; (v = value_of(v, key)) != NULL;) {
        if (*v < '0' || *v > '9') {
            continue;
        }
        uint64_t id = 0;
        for (; *v >= '0' && *v <= '9'; v++) {
            id = id * 10 + (uint64_t)(*v - '0');
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = realloc(ids, cap * sizeof *ids);
            if (!ids) {
                abort();
            }
        }
        ids[n++] = id;
    }
    *count = n;
    return ids;
}

/* Whether the first value of `key` is an array with at least one element. */
static bool array_is_non_empty(const char *text, const char *key) {
    const char *v = value_of(text, key);
    if (!v || *v != '[') {
        return false;
    }
    v++;
    while (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t') {
        v++;
    }
    return *v != ']' && *v != '\0';
}

/* ---- requests ------------------------------------------------------------------------------- */

/* "status <n>" or the HTTP error, appended to `why`. */
static void describe(st_str *why, const st_response *res) {
    if (res->status == ST_HTTP_ERROR) {
        st_str_cat(why, res->error);
    } else {
        st_str_cat(why, "status ");
        st_str_cat_i64(why, res->status);
    }
}

/* `POST /login` as `vu-<id>`: the bearer token (malloc'd), or NULL with the reason in `why`. */
static char *login(const char *base_url, st_str *why) {
    st_str url = {0}, body = {0};
    st_str_cat(&url, base_url);
    st_str_cat(&url, "/login");
    st_str_cat(&body, "{\"username\":\"vu-");
    st_str_cat_u64(&body, st_vu_id());
    st_str_cat(&body, "\",\"password\":\"secret\"}");
    st_response res;
    st_http_post_json(url.ptr, "login", body.ptr, NULL, &res);
    st_str_free(&url);
    st_str_free(&body);
    char *token = res.status == 200 ? string_field(res.body, "token") : NULL;
    if (!st_check("logged in", token != NULL)) {
        st_str_cat(why, "login: ");
        describe(why, &res);
        if (res.body_len) {
            st_str_cat(why, ": ");
            st_str_cat(why, res.body);
        }
    }
    st_response_free(&res);
    return token;
}

/* `GET /products` into vu->product_ids; false with the reason in `why`. */
static bool list_products(st_vu *vu, st_str *why) {
    st_response res;
    st_http_get(vu->products_url, "products", NULL, &res);
    vu->product_ids = number_fields(res.body, "id", &vu->product_count);
    bool ok = st_check("status is 200", res.status == 200) && vu->product_count > 0;
    if (!ok) {
        st_str_cat(why, "products: ");
        describe(why, &res);
        st_str_cat(why, ", ");
        st_str_cat_u64(why, vu->product_count);
        st_str_cat(why, " product ids");
    }
    st_response_free(&res);
    return ok;
}

/* A product id drawn reproducibly from this VU's id and iteration. */
static uint64_t pick_product(const st_vu *vu) {
    st_rng rng = st_rng_for_iteration();
    return vu->product_ids[st_rng_below(&rng, vu->product_count)];
}

/* ---- tasks ---------------------------------------------------------------------------------- */

/* Weight 3: the product list. */
static bool browse(st_vu *vu, st_str *why) {
    st_response res;
    if (st_http_get(vu->products_url, "products", NULL, &res) == ST_HTTP_ERROR) {
        describe(why, &res);
        st_response_free(&res);
        return false;
    }
    st_check("status is 200", res.status == 200);
    size_t count = 0;
    free(number_fields(res.body, "id", &count));
    /* Listed: served as JSON (a response header), with every product's id. */
    char *type = st_header(&res, "Content-Type");
    bool json = type != NULL && strcmp(type, "application/json") == 0;
    free(type);
    st_check("products listed", json && count == vu->product_count);
    st_response_free(&res);
    return true;
}

/* Weight 2: one product page, under the metric name `product` whatever the id. */
static bool view_product(st_vu *vu, st_str *why) {
    st_str url = {0};
    st_str_cat(&url, vu->products_url);
    st_str_cat(&url, "/");
    st_str_cat_u64(&url, pick_product(vu));
    st_response res;
    bool answered = st_http_get(url.ptr, "product", NULL, &res) != ST_HTTP_ERROR;
    st_str_free(&url);
    if (answered) {
        st_check("status is 200", res.status == 200);
    } else {
        describe(why, &res);
    }
    st_response_free(&res);
    return answered;
}

/* `POST /cart` with one unit of product `id`. */
static int post_cart(const st_vu *vu, uint64_t id, st_response *res) {
    st_str body = {0};
    st_str_cat(&body, "{\"product_id\":");
    st_str_cat_u64(&body, id);
    st_str_cat(&body, ",\"quantity\":1}");
    int status = st_http_post_json(vu->cart_url, "cart_add", body.ptr, vu->token, res);
    st_str_free(&body);
    return status;
}

/* Weight 1: put one product in the cart, then read the cart back. */
static bool add_to_cart(st_vu *vu, st_str *why) {
    uint64_t id = pick_product(vu);
    st_response res;
    int status = post_cart(vu, id, &res);
    if (status == 401) {
        /* The demo target can end sessions: log in again and retry once. */
        st_str note = {0};
        st_str_cat(&note, "vu-");
        st_str_cat_u64(&note, st_vu_id());
        st_str_cat(&note, ": session ended, logging in again");
        st_log(ST_WARN, note.ptr);
        st_str_free(&note);
        st_response_free(&res);
        char *token = login(vu->base_url, why);
        if (!token) {
            return false;
        }
        free(vu->token);
        vu->token = token;
        status = post_cart(vu, id, &res);
    }
    if (status == ST_HTTP_ERROR) {
        describe(why, &res);
        st_response_free(&res);
        return false;
    }
    st_response_free(&res);
    if (st_check("status is 200", status == 200)) {
        st_counter_add("cart_items_added", 1.0);
    }
    if (st_http_get(vu->cart_url, "cart", vu->token, &res) == ST_HTTP_ERROR) {
        describe(why, &res);
        st_response_free(&res);
        return false;
    }
    st_check("status is 200", res.status == 200);
    st_check("cart has items", array_is_non_empty(res.body, "items"));
    st_response_free(&res);
    return true;
}

static const st_task TASKS[] = {
    {3, "browse", browse},
    {2, "view_product", view_product},
    {1, "add_to_cart", add_to_cart},
};

/* ---- exports -------------------------------------------------------------------------------- */

ST_NO_SETUP_TEARDOWN

static char *join(const char *a, const char *b) {
    st_str s = {0};
    st_str_cat(&s, a);
    st_str_cat(&s, b);
    return s.ptr;
}

exports_stampede_scenario_runner_own_vu_t
exports_stampede_scenario_runner_constructor_vu(scenario_list_u8_t *setup_data) {
    scenario_list_u8_free(setup_data); /* ours to free; this scenario has no setup data */
    st_vu *vu = calloc(1, sizeof *vu);
    if (!vu) {
        abort();
    }
    vu->base_url = st_param("base_url", "http://127.0.0.1:18080");
    vu->products_url = join(vu->base_url, "/products");
    vu->cart_url = join(vu->base_url, "/cart");
    int64_t think_ms;
    if (!st_param_int("think_ms", 100, &think_ms) || think_ms < 0 || think_ms > UINT32_MAX) {
        st_fatal("param think_ms: expected a number of milliseconds");
    }
    vu->think_ms = (uint32_t)think_ms;
    /* A failure here traps, which fails this VU's start (vu_init_errors); the host retries. */
    st_str why = {0};
    vu->token = login(vu->base_url, &why);
    if (!vu->token || !list_products(vu, &why)) {
        st_fatal(why.ptr);
    }
    return st_vu_handle(vu);
}

bool exports_stampede_scenario_runner_method_vu_iteration(st_vu *vu, scenario_string_t *scenario,
                                                          scenario_string_t *err) {
    scenario_string_free(scenario); /* ours to free; one plan scenario only */
    bool ok = st_run_task(TASKS, sizeof TASKS / sizeof TASKS[0], vu, err);
    if (vu->think_ms) {
        st_sleep_ms(vu->think_ms);
    }
    return ok;
}

void exports_stampede_scenario_runner_vu_destructor(st_vu *vu) {
    free(vu->base_url);
    free(vu->products_url);
    free(vu->cart_url);
    free(vu->token);
    free(vu->product_ids);
    free(vu);
}
