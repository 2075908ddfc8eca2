/* What listener.c offers the other front ends of the library beyond natt/listener.h. */
#ifndef NATT_LISTENER_INTERNAL_H
#define NATT_LISTENER_INTERNAL_H

#include "natt/listener.h"

/* For persistent.c: a listener with per-entry options (listener.c), and an immediate renewal. */
struct natt_persistent_options;
int natt_listener_publish_persistent(enum natt_protocol protocol, const struct sockaddr *local,
                                     const struct natt_persistent_options *options, natt_change_fn on_change,
                                     void *ctx, struct natt_listener **out);
void natt_listener_refresh(struct natt_listener *listener);

#endif
