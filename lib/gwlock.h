/* One queue per gateway (RFC 6886 asks clients to send one request at a time), across every natt
 * process of the host: an flock on a file named after the gateway, beside the status file. */
#ifndef NATT_GWLOCK_H
#define NATT_GWLOCK_H

#include <netinet/in.h>

/* Returns an fd holding the lock (give it to natt_gateway_unlock), or -1 when no lock could be made
 * (then the exchange goes ahead unserialized: a missing directory must not stop publishing). */
int natt_gateway_lock(const char *status_path, const struct in_addr *gateway);
void natt_gateway_unlock(int fd);

#endif
