/* A service description (SCPD): actions and their arguments. */
#include "fuzz.h"
#include "natt/upnp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_upnp_action *actions;
	size_t count;
	if (natt_upnp_parse_scpd((const char *)data, size, &actions, &count) >= 0)
		natt_upnp_actions_free(actions, count);
	return 0;
}
