/* An SSDP datagram: search reply, NOTIFY alive or byebye; and what the kernel filter would drop as its
 * repeats (the head and tail around its NT and USN lines). */
#include <string.h>

#include "fuzz.h"
#include "core/watch.h"
#include "natt/upnp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_ssdp_reply reply;
	int kind;
	(void)natt_ssdp_parse((const char *)data, size, &reply, &kind);
	static struct natt_ssdp_repeat repeat;
	natt_ssdp_repeat_of((const char *)data, size, &repeat);
	if (repeat.usable && (repeat.head_len + repeat.tail_len > size || memcmp(repeat.head, data, repeat.head_len) != 0 ||
	                      memcmp(repeat.tail, data + size - repeat.tail_len, repeat.tail_len) != 0))
		__builtin_trap();
	return 0;
}
