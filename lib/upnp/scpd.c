/* Service descriptions (SCPD): the actions of a service and their arguments. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "natt/upnp.h"
#include "upnp/http.h"
#include "upnp/xml.h"

/* Far beyond any real service (WANIPConnection:2 has 16 actions of at most 12 arguments); they bound
 * what a hostile document can make us allocate. */
#define SCPD_MAX_ACTIONS 1024
#define SCPD_MAX_ARGUMENTS 256

struct state_var {
	const char *name;
	const char *data_type;
};

static int compare_var(const void *a, const void *b)
{
	return strcmp(((const struct state_var *)a)->name, ((const struct state_var *)b)->name);
}

/* The dataType of each state variable, sorted by name for lookup (documents can be large). */
static int state_table(const struct natt_xml_doc *doc, struct state_var **vars, size_t *n)
{
	*vars = NULL;
	*n = 0;
	int table = natt_xml_child(doc, 0, "serviceStateTable");
	size_t count = 0;
	for (int v = natt_xml_child(doc, table, "stateVariable"); v >= 0; v = natt_xml_next(doc, v, "stateVariable"))
		count++;
	if (!count)
		return 0;
	*vars = malloc(count * sizeof(**vars));
	if (!*vars)
		return -ENOMEM;
	for (int v = natt_xml_child(doc, table, "stateVariable"); v >= 0; v = natt_xml_next(doc, v, "stateVariable")) {
		(*vars)[*n].name = natt_xml_child_text(doc, v, "name");
		(*vars)[*n].data_type = natt_xml_child_text(doc, v, "dataType");
		(*n)++;
	}
	qsort(*vars, *n, sizeof(**vars), compare_var);
	return 0;
}

static const char *data_type_of(const struct state_var *vars, size_t n, const char *name)
{
	struct state_var key = { .name = name };
	const struct state_var *hit = n ? bsearch(&key, vars, n, sizeof(*vars), compare_var) : NULL;
	return hit ? hit->data_type : "";
}

/* Fills *a from an <action> element in one allocation, which starts with the name (freed through
 * a->name): the name, the argument array (aligned), then the argument strings. */
static int make_action(const struct natt_xml_doc *doc, int action, const struct state_var *vars, size_t nvars,
                       struct natt_upnp_action *a)
{
	const char *name = natt_xml_child_text(doc, action, "name");
	int list = natt_xml_child(doc, action, "argumentList");
	size_t nargs = 0, strings = 0;
	for (int g = natt_xml_child(doc, list, "argument"); g >= 0 && nargs < SCPD_MAX_ARGUMENTS;
	     g = natt_xml_next(doc, g, "argument")) {
		const char *gname = natt_xml_child_text(doc, g, "name");
		if (!gname[0])
			continue;
		const char *rsv = natt_xml_child_text(doc, g, "relatedStateVariable");
		strings += strlen(gname) + strlen(rsv) + strlen(data_type_of(vars, nvars, rsv)) + 3;
		nargs++;
	}
	size_t align = _Alignof(struct natt_upnp_argument);
	size_t args_at = (strlen(name) + 1 + align - 1) / align * align;
	size_t strings_at = args_at + nargs * sizeof(struct natt_upnp_argument);
	char *block = malloc(strings_at + strings);
	if (!block)
		return -ENOMEM;
	memcpy(block, name, strlen(name) + 1);
	a->name = block;
	a->argument_count = nargs;
	a->arguments = nargs ? (struct natt_upnp_argument *)(void *)(block + args_at) : NULL;
	char *s = block + strings_at;
	size_t i = 0;
	for (int g = natt_xml_child(doc, list, "argument"); g >= 0 && i < nargs; g = natt_xml_next(doc, g, "argument")) {
		const char *gname = natt_xml_child_text(doc, g, "name");
		if (!gname[0])
			continue;
		const char *rsv = natt_xml_child_text(doc, g, "relatedStateVariable");
		const char *fields[3] = { gname, rsv, data_type_of(vars, nvars, rsv) };
		char *copies[3];
		for (int f = 0; f < 3; f++) {
			size_t n = strlen(fields[f]) + 1;
			memcpy(s, fields[f], n);
			copies[f] = s;
			s += n;
		}
		a->arguments[i] = (struct natt_upnp_argument){
			.name = copies[0],
			.direction = strcasecmp(natt_xml_child_text(doc, g, "direction"), "out") == 0 ? NATT_UPNP_OUT
			                                                                                 : NATT_UPNP_IN,
			.retval = natt_xml_child(doc, g, "retval") >= 0,
			.related_state_variable = copies[1],
			.data_type = copies[2],
		};
		i++;
	}
	return 0;
}

NATT_API void natt_upnp_actions_free(struct natt_upnp_action *actions, size_t count)
{
	if (!actions)
		return;
	for (size_t i = 0; i < count; i++)
		free(actions[i].name);
	free(actions);
}

NATT_API int natt_upnp_parse_scpd(const char *xml, size_t len, struct natt_upnp_action **actions, size_t *count)
{
	if (actions)
		*actions = NULL;
	if (count)
		*count = 0;
	if (!xml || !actions || !count)
		return -EINVAL;
	struct natt_xml_doc doc;
	int rc = natt_xml_parse(xml, len, &doc);
	if (rc < 0)
		return rc;
	if (strcmp(doc.nodes[0].name, "scpd") != 0) {
		natt_xml_free(&doc);
		return -EINVAL;
	}
	struct state_var *vars;
	size_t nvars;
	rc = state_table(&doc, &vars, &nvars);
	int list = natt_xml_child(&doc, 0, "actionList");
	size_t n = 0;
	for (int a = natt_xml_child(&doc, list, "action"); rc == 0 && a >= 0; a = natt_xml_next(&doc, a, "action"))
		if (natt_xml_child_text(&doc, a, "name")[0] && n < SCPD_MAX_ACTIONS)
			n++;
	struct natt_upnp_action *out = NULL;
	size_t done = 0;
	if (rc == 0 && n) {
		out = calloc(n, sizeof(*out));
		if (!out)
			rc = -ENOMEM;
	}
	for (int a = natt_xml_child(&doc, list, "action"); rc == 0 && a >= 0 && done < n;
	     a = natt_xml_next(&doc, a, "action")) {
		if (!natt_xml_child_text(&doc, a, "name")[0])
			continue;
		rc = make_action(&doc, a, vars, nvars, &out[done]);
		if (rc == 0)
			done++;
	}
	free(vars);
	natt_xml_free(&doc);
	if (rc < 0) {
		natt_upnp_actions_free(out, done);
		return rc;
	}
	*actions = out;
	*count = n;
	return (int)n;
}

NATT_API int natt_upnp_get_actions(const struct natt_upnp_service *service, int timeout_ms,
                                   struct natt_upnp_action **actions, size_t *count)
{
	if (actions)
		*actions = NULL;
	if (count)
		*count = 0;
	if (!service || !service->scpd_url || !service->scpd_url[0] || !actions || !count || timeout_ms <= 0)
		return -EINVAL;
	char *body;
	size_t len;
	int rc = natt_upnp_fetch(service->scpd_url, timeout_ms, &body, &len);
	if (rc < 0)
		return rc;
	rc = natt_upnp_parse_scpd(body, len, actions, count);
	free(body);
	return rc;
}

NATT_API const struct natt_upnp_action *natt_upnp_find_action(const struct natt_upnp_action *actions,
                                                              size_t count, const char *name)
{
	if (!actions || !name)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}
