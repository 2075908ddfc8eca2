/* The XML reader under every UPnP document. */
#include "fuzz.h"
#include "upnp/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_xml_doc doc;
	if (natt_xml_parse((const char *)data, size, &doc) == 0) {
		for (int c = natt_xml_child(&doc, 0, NULL); c >= 0; c = natt_xml_next(&doc, c, NULL))
			(void)natt_xml_child_text(&doc, c, "x");
	}
	natt_xml_free(&doc);
	return 0;
}
