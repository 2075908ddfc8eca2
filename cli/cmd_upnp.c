/* discover and call: any UPnP service, through the low level of natt/upnp.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "upnp/igd_client.h"
#include "natt/upnp.h"

/* Each HTTP exchange (a description, an SCPD, a SOAP call) may take this long. */
#define HTTP_TIMEOUT_MS 5000

/* "urn:schemas-upnp-org:service:WANIPConnection:2" -> "WANIPConnection:2"; other strings unchanged. */
static const char *short_type(const char *type)
{
	const char *kind = strstr(type, ":service:");
	if (!kind)
		kind = strstr(type, ":device:");
	if (!kind || strncmp(type, "urn:", 4) != 0)
		return type;
	return strchr(kind + 1, ':') + 1;
}

static void print_arguments(const struct natt_upnp_action *a, enum natt_upnp_direction direction)
{
	bool first = true;
	for (size_t i = 0; i < a->argument_count; i++) {
		if (a->arguments[i].direction != direction)
			continue;
		printf("%s", first ? "" : ", ");
		natt_cli_put_text(stdout, a->arguments[i].name);
		first = false;
	}
}

static void print_action(const struct natt_upnp_action *a)
{
	printf("    ");
	natt_cli_put_text(stdout, a->name);
	printf("(");
	print_arguments(a, NATT_UPNP_IN);
	printf(")");
	bool has_out = false;
	for (size_t i = 0; i < a->argument_count; i++)
		has_out |= a->arguments[i].direction == NATT_UPNP_OUT;
	if (has_out) {
		printf(" -> ");
		print_arguments(a, NATT_UPNP_OUT);
	}
	printf("\n");
}

static void print_field(const char *label, const char *value)
{
	if (!value || !value[0])
		return;
	printf("  %-9s ", label);
	natt_cli_put_text(stdout, value);
	printf("\n");
}

int natt_cli_discover(const struct natt_cli_cmd *cmd)
{
	struct natt_upnp_service *services = NULL;
	size_t count = 0;
	int rc = natt_upnp_scan(NULL, NULL, cmd->timeout_ms, NULL, &services, &count);
	if (rc < 0) {
		natt_cli_error(cmd, "the SSDP search could not be sent: %s", natt_strerror(rc));
		return NATT_EXIT_FAILED;
	}
	if (count == 0) {
		natt_cli_error(cmd, "no UPnP device answered within %g s", cmd->timeout_ms / 1000.0);
		return NATT_EXIT_FAILED;
	}
	const char *last_location = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct natt_upnp_service *s = &services[i];
		if (!last_location || strcmp(last_location, s->location) != 0) {
			printf("%sdevice ", i ? "\n" : "");
			natt_cli_put_text(stdout, s->location);
			printf("\n");
			last_location = s->location;
		}
		printf("\n");
		natt_cli_put_text(stdout, short_type(s->service_type));
		printf("  ");
		natt_cli_put_text(stdout, s->service_type);
		printf("\n");
		char device[512];
		snprintf(device, sizeof(device), "%s%s%s%s", short_type(s->device_type), s->friendly_name[0] ? " \"" : "",
		         s->friendly_name, s->friendly_name[0] ? "\"" : "");
		print_field("device", device);
		print_field("id", s->service_id);
		print_field("control", s->control_url);
		print_field("events", s->event_url);
		print_field("scpd", s->scpd_url);

		struct natt_upnp_action *actions = NULL;
		size_t nactions = 0;
		int arc = natt_upnp_get_actions(s, HTTP_TIMEOUT_MS, &actions, &nactions);
		if (arc < 0) {
			printf("  actions:  unknown (the service description could not be read: %s)\n", natt_strerror(arc));
			continue;
		}
		printf("  actions:\n");
		for (size_t a = 0; a < nactions; a++)
			print_action(&actions[a]);
		natt_upnp_actions_free(actions, nactions);
	}
	natt_upnp_services_free(services, count);
	return NATT_EXIT_OK;
}

/* ---- call ---- */

/* The names of the in-arguments (or of the actions) for an error message: "A, B, C". */
static void list_names(char *buf, size_t len, const struct natt_upnp_action *actions, size_t nactions,
                       const struct natt_upnp_action *of)
{
	size_t used = 0;
	buf[0] = '\0';
	size_t n = of ? of->argument_count : nactions;
	for (size_t i = 0; i < n && used + 1 < len; i++) {
		const char *name;
		if (of) {
			if (of->arguments[i].direction != NATT_UPNP_IN)
				continue;
			name = of->arguments[i].name;
		} else {
			name = actions[i].name;
		}
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	if (!buf[0])
		snprintf(buf, len, "none");
}

static bool pair_is(const struct natt_cli_pair *p, const char *name)
{
	return strlen(name) == p->name_len && memcmp(p->name, name, p->name_len) == 0;
}

int natt_cli_call(const struct natt_cli_cmd *cmd)
{
	char want[300];
	if (strchr(cmd->service, ':'))
		snprintf(want, sizeof(want), "%s", cmd->service);
	else
		snprintf(want, sizeof(want), "urn:schemas-upnp-org:service:%s", cmd->service);

	int status = NATT_EXIT_FAILED;
	struct natt_upnp_service *services = NULL;
	size_t count = 0;
	struct natt_upnp_action *actions = NULL;
	size_t nactions = 0;
	struct natt_upnp_value *results = NULL;
	size_t nresults = 0;
	char *name_of[NATT_CLI_MAX_PAIRS] = { 0 };
	struct natt_upnp_arg args[NATT_CLI_MAX_PAIRS];
	size_t nargs = 0;

	/* The scan ends at the first service of that type. */
	int rc = natt_upnp_scan(NULL, NULL, cmd->timeout_ms, want, &services, &count);
	if (rc < 0) {
		natt_cli_error(cmd, "the SSDP search could not be sent: %s", natt_strerror(rc));
		goto out;
	}
	const struct natt_upnp_service *s = NULL;
	for (size_t i = 0; i < count && !s; i++)
		if (natt_upnp_service_type_matches(services[i].service_type, want))
			s = &services[i];
	if (!s) {
		natt_cli_error(cmd, "no UPnP device offering %s answered within %g s", cmd->service,
		               cmd->timeout_ms / 1000.0);
		goto out;
	}

	/* NUL-terminated copies of the names (they point into argv, followed by '=VALUE'). */
	for (size_t i = 0; i < cmd->npairs; i++) {
		name_of[i] = strndup(cmd->pairs[i].name, cmd->pairs[i].name_len);
		if (!name_of[i]) {
			natt_cli_error(cmd, "out of memory");
			goto out;
		}
	}

	/* With the service's description, the action and argument names are checked and the arguments
	 * sent in the order of the description, as UPnP requires; without it, as given. */
	int arc = natt_upnp_get_actions(s, HTTP_TIMEOUT_MS, &actions, &nactions);
	const struct natt_upnp_action *action = arc >= 0 ? natt_upnp_find_action(actions, nactions, cmd->action) : NULL;
	if (arc < 0) {
		natt_cli_error(cmd, "note: the description of %s could not be read (%s); sending the arguments as given",
		               short_type(s->service_type), natt_strerror(arc));
	} else if (!action) {
		char known[1024];
		list_names(known, sizeof(known), actions, nactions, NULL);
		natt_cli_error(cmd, "%s has no action %s (its actions: %s)", short_type(s->service_type), cmd->action,
		               known);
		goto out;
	}
	if (action) {
		for (size_t i = 0; i < cmd->npairs; i++) {
			bool known = false;
			for (size_t a = 0; a < action->argument_count && !known; a++)
				known = action->arguments[a].direction == NATT_UPNP_IN &&
				        strcmp(action->arguments[a].name, name_of[i]) == 0;
			if (!known) {
				char list[1024];
				list_names(list, sizeof(list), NULL, 0, action);
				natt_cli_error(cmd, "%s has no argument %s (its arguments: %s)", cmd->action, name_of[i], list);
				goto out;
			}
		}
		char missing[1024] = "";
		size_t used = 0;
		for (size_t a = 0; a < action->argument_count; a++) {
			const struct natt_upnp_argument *arg = &action->arguments[a];
			if (arg->direction != NATT_UPNP_IN)
				continue;
			size_t i;
			for (i = 0; i < cmd->npairs && !pair_is(&cmd->pairs[i], arg->name); i++)
				;
			if (i < cmd->npairs) {
				args[nargs++] = (struct natt_upnp_arg){ .name = name_of[i], .value = cmd->pairs[i].value };
			} else if (used < sizeof(missing)) {
				int w = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "", arg->name);
				used += w > 0 ? (size_t)w : 0;
			}
		}
		if (missing[0])
			natt_cli_error(cmd, "note: arguments not given: %s", missing);
	} else {
		for (size_t i = 0; i < cmd->npairs; i++)
			args[nargs++] = (struct natt_upnp_arg){ .name = name_of[i], .value = cmd->pairs[i].value };
	}

	struct natt_upnp_error error;
	rc = natt_upnp_call(s->control_url, s->service_type, cmd->action, args, nargs, HTTP_TIMEOUT_MS, &results,
	                    &nresults, &error);
	if (rc == NATT_ERR_UPNP) {
		const char *meaning = error.description[0] ? error.description : natt_upnp_error_text(error.upnp_code);
		natt_cli_error(cmd, "%s failed: UPnP error %d (%s)", cmd->action, error.upnp_code, meaning);
		goto out;
	}
	if (rc == NATT_ERR_BAD_REPLY) {
		natt_cli_error(cmd, "%s failed: the device's answer is not a SOAP reply%s%s", cmd->action,
		               error.description[0] ? ": " : "", error.description);
		goto out;
	}
	if (rc < 0) {
		natt_cli_error(cmd, "%s failed: %s (control URL %s)", cmd->action, natt_strerror(rc), s->control_url);
		goto out;
	}
	for (size_t i = 0; i < nresults; i++) {
		natt_cli_put_text(stdout, results[i].name);
		printf("=");
		natt_cli_put_text(stdout, results[i].value);
		printf("\n");
	}
	status = NATT_EXIT_OK;
out:
	natt_upnp_values_free(results, nresults);
	natt_upnp_actions_free(actions, nactions);
	natt_upnp_services_free(services, count);
	for (size_t i = 0; i < NATT_CLI_MAX_PAIRS; i++)
		free(name_of[i]);
	return status;
}
