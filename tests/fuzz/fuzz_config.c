/* The values of NATT_* variables and of the CLI's options: numbers, port lists, techniques, log
 * levels. */
#include "fuzz.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	if (!s)
		return 0;
	unsigned long n;
	(void)natt_parse_ulong(s, 0, 604800, &n);
	struct natt_port_set ports;
	struct natt_parse_error err;
	if (natt_port_set_parse_ex(s, &ports, &err) == 0)
		(void)natt_port_set_contains(&ports, 8080);
	enum natt_technique order[NATT_TECH_COUNT];
	size_t count;
	(void)natt_parse_techniques_ex(s, order, NATT_TECH_COUNT, &count, &err);
	(void)natt_parse_log_level(s);
	free(s);
	return 0;
}
