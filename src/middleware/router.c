/*
 * The router (middleware.h): job index -> handler, wrapped by layers in the order they were
 * added. Dispatch never fails on what a call or a handler does: an unknown index, a handler's
 * or a layer's failure becomes an error result. The router is frozen by its first dispatch, so
 * threads dispatch without a lock.
 */
#include "middleware/middleware_internal.h"

#include "core/err.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 16

struct route {
    bpt_job_handler fn;
    void *userdata;
};

struct bpt_router {
    struct route routes[256];
    bpt_layer layers[MAX_LAYERS];
    size_t n_layers;
    atomic_bool frozen;
};

/* Where a chain stands: layer i runs next (n_layers: the handler). */
struct bpt_job_next {
    const bpt_router *r;
    size_t i;
};

int bpt_router_new(bpt_router **out)
{
    if (!out) {
        return bpt_err(BPT_EINVAL, "router: no out pointer");
    }
    if (!(*out = calloc(1, sizeof(**out)))) {
        return bpt_err_nomem("router");
    }
    atomic_init(&(*out)->frozen, false);
    return 0;
}

void bpt_router_free(bpt_router *r)
{
    free(r);
}

static int changeable(const bpt_router *r)
{
    if (!r) {
        return bpt_err(BPT_EINVAL, "router: NULL");
    }
    if (atomic_load(&((bpt_router *)r)->frozen)) {
        return bpt_err(BPT_EBUSY, "router: routes and layers are set before the first dispatch");
    }
    return 0;
}

int bpt_router_route(bpt_router *r, uint8_t job_index, bpt_job_handler handler, void *userdata)
{
    int rc = changeable(r);
    if (rc < 0) {
        return rc;
    }
    if (!handler) {
        return bpt_err(BPT_EINVAL, "router: job %u: no handler", job_index);
    }
    r->routes[job_index] = (struct route){handler, userdata};
    return 0;
}

int bpt_router_add_layer(bpt_router *r, const bpt_layer *layer)
{
    int rc = changeable(r);
    if (rc < 0) {
        return rc;
    }
    if (!layer || layer->version != BPT_LAYER_VERSION || !layer->call) {
        return bpt_err(BPT_EINVAL, "router: a layer needs version %d and call()",
                       BPT_LAYER_VERSION);
    }
    if (r->n_layers == MAX_LAYERS) {
        return bpt_err(BPT_ELIMIT, "router: at most %d layers", MAX_LAYERS);
    }
    r->layers[r->n_layers++] = *layer;
    return 0;
}

bool bpt_router_has_route(const bpt_router *r, uint8_t job_index)
{
    return r && r->routes[job_index].fn;
}

/* A negative code from a handler or layer: the result says so, with this thread's message. */
static void failed(bpt_job_result *result, int rc, const char *who)
{
    const char *msg = bpt_error_last();
    bpt_job_result_error(result, bpt_error_name(rc), "%s%s%s", who, *msg ? ": " : "", msg);
}

int bpt_job_next_call(const bpt_job_next *next, const bpt_job_call *call, bpt_job_result *result,
                      const bpt_tee_context *tee)
{
    const bpt_router *r = next->r;
    int rc;
    if (next->i < r->n_layers) {
        const bpt_layer *l = &r->layers[next->i];
        bpt_job_next rest = {r, next->i + 1};
        rc = l->call(call, result, tee, &rest, l->state);
        if (rc < 0) {
            failed(result, rc, l->name ? l->name : "layer");
        }
        return 0;
    }
    if (!r->routes[call->job_index].fn) {
        bpt_job_result_error(result, "unknown_job", "no handler for job %u", call->job_index);
        return 0;
    }
    rc = r->routes[call->job_index].fn(call, result, tee, r->routes[call->job_index].userdata);
    if (rc < 0) {
        failed(result, rc, "handler");
    }
    return 0;
}

int bpt_router_dispatch(bpt_router *r, const bpt_job_call *call, bpt_job_result *result,
                        const bpt_tee_context *tee)
{
    bpt_job_next start = {r, 0};
    if (!r || !call || !result) {
        return bpt_err(BPT_EINVAL, "router: dispatch needs a router, a call and a result");
    }
    if (!atomic_load_explicit(&r->frozen, memory_order_relaxed)) {
        atomic_store(&r->frozen, true); /* once: a store on every call would bounce the line */
    }
    return bpt_job_next_call(&start, call, result, tee);
}
