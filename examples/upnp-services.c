/* upnp-services — lists the UPnP services on the network and the actions of each, with arguments;
 * or calls one action of one service.
 *
 *   upnp-services [-t SECONDS] [-s SEARCH_TARGET] [-i INTERFACE_ADDRESS] [-n]
 *   upnp-services [-t SECONDS] [-i INTERFACE_ADDRESS] -c SERVICE_TYPE ACTION [NAME=VALUE]...
 *
 * -t  how long to scan (default 2; fractions allowed). -s  SSDP search target (default upnp:rootdevice).
 * -i  send the search from this local IPv4 address. -n  services only, do not read their actions.
 * -c  call ACTION of the first service whose type matches SERVICE_TYPE (natt_upnp_service_type_matches:
 *     e.g. urn:schemas-upnp-org:service:WANIPConnection:1 also finds a :2), with the arguments in the
 *     order given; prints the results as NAME=VALUE lines. The scan ends as soon as such a service
 *     answers.
 * Exit status: 0 success, 1 nothing found or an error (a UPnP error prints its code and description),
 * 2 bad usage.
 *
 * Uses libnatt's UPnP low level: natt_upnp_scan(), natt_upnp_get_actions(), natt_upnp_call(). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natt/upnp.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: upnp-services [-t SECONDS] [-s SEARCH_TARGET] [-i INTERFACE_ADDRESS] [-n]\n"
	            "       upnp-services [-t SECONDS] [-i INTERFACE_ADDRESS] -c SERVICE_TYPE ACTION [NAME=VALUE]...\n");
}

/* -c: find the service, call the action, print the results. */
static int call(const char *type, const struct in_addr *iface, int timeout_ms, int argc, char **argv)
{
	if (argc < 1)
		return 2;
	const char *action = argv[0];
	struct natt_upnp_arg args[64];
	size_t nargs = 0;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] || nargs == sizeof(args) / sizeof(args[0])) {
			fprintf(stderr, "upnp-services: not NAME=VALUE: %s\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		args[nargs].name = argv[i];
		args[nargs].value = eq + 1;
		nargs++;
	}

	struct natt_upnp_service *services;
	size_t count;
	int rc = natt_upnp_scan(NULL, iface, timeout_ms, type, &services, &count);
	if (rc < 0) {
		fprintf(stderr, "upnp-services: %s\n", natt_strerror(rc));
		return 1;
	}
	const struct natt_upnp_service *s = NULL;
	for (size_t i = 0; i < count && !s; i++)
		if (natt_upnp_service_type_matches(services[i].service_type, type))
			s = &services[i];
	if (!s) {
		fprintf(stderr, "upnp-services: no %s answered\n", type);
		natt_upnp_services_free(services, count);
		return 1;
	}
	struct natt_upnp_value *results;
	size_t nresults;
	struct natt_upnp_error error;
	rc = natt_upnp_call(s->control_url, s->service_type, action, args, nargs, 5000, &results, &nresults, &error);
	natt_upnp_services_free(services, count);
	if (rc == NATT_ERR_UPNP) {
		printf("UPnP error %d: %s\n", error.upnp_code, error.description);
		return 1;
	}
	if (rc < 0) {
		printf("error: %s%s%s\n", natt_strerror(rc), error.description[0] ? ": " : "", error.description);
		return 1;
	}
	for (size_t i = 0; i < nresults; i++)
		printf("%s=%s\n", results[i].name, results[i].value);
	natt_upnp_values_free(results, nresults);
	return 0;
}

static void print_actions(const struct natt_upnp_service *s, int timeout_ms)
{
	struct natt_upnp_action *actions;
	size_t n;
	int rc = natt_upnp_get_actions(s, timeout_ms, &actions, &n);
	if (rc < 0) {
		printf("  (actions unavailable: %s)\n", natt_strerror(rc));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		printf("  action %s\n", actions[i].name);
		for (size_t k = 0; k < actions[i].argument_count; k++) {
			const struct natt_upnp_argument *g = &actions[i].arguments[k];
			printf("    %-3s %s", g->direction == NATT_UPNP_OUT ? "out" : "in", g->name);
			if (g->data_type[0])
				printf(" %s", g->data_type);
			if (g->related_state_variable[0])
				printf(" (%s)", g->related_state_variable);
			if (g->retval)
				printf(" retval");
			printf("\n");
		}
	}
	natt_upnp_actions_free(actions, n);
}

int main(int argc, char **argv)
{
	double seconds = 2;
	const char *target = NULL, *call_type = NULL;
	struct in_addr iface;
	int have_iface = 0, with_actions = 1, opt;
	while ((opt = getopt(argc, argv, "+t:s:i:nc:h")) != -1) {
		char *end;
		switch (opt) {
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || end == optarg || seconds <= 0 || seconds > 3600) {
				fprintf(stderr, "upnp-services: bad time: %s\n", optarg);
				return 2;
			}
			break;
		case 's':
			target = optarg;
			break;
		case 'i':
			if (inet_pton(AF_INET, optarg, &iface) != 1) {
				fprintf(stderr, "upnp-services: not an IPv4 address: %s\n", optarg);
				return 2;
			}
			have_iface = 1;
			break;
		case 'n':
			with_actions = 0;
			break;
		case 'c':
			call_type = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (call_type) {
		int rc = call(call_type, have_iface ? &iface : NULL, (int)(seconds * 1000), argc - optind, argv + optind);
		if (rc == 2)
			usage(stderr);
		return rc;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct natt_upnp_service *services;
	size_t count;
	int rc = natt_upnp_scan(target, have_iface ? &iface : NULL, (int)(seconds * 1000), NULL, &services, &count);
	if (rc < 0) {
		fprintf(stderr, "upnp-services: %s\n", natt_strerror(rc));
		return 1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct natt_upnp_service *s = &services[i];
		printf("service %s\n", s->service_type);
		printf("  id       %s\n", s->service_id);
		printf("  device   %s %s%s%s\n", s->device_type, s->device_udn, s->friendly_name[0] ? " " : "",
		       s->friendly_name);
		printf("  location %s\n", s->location);
		printf("  control  %s\n", s->control_url);
		printf("  event    %s\n", s->event_url);
		printf("  scpd     %s\n", s->scpd_url);
		if (with_actions)
			print_actions(s, 2000);
	}
	natt_upnp_services_free(services, count);
	if (count == 0) {
		fprintf(stderr, "upnp-services: no UPnP service answered within %g s\n", seconds);
		return 1;
	}
	return 0;
}
