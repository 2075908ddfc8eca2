/* SOAP calls and the HTTP under them (miniupnpc's): argument escaping and miniupnpc's size limits,
 * replies and faults, and whole exchanges with an HTTP server on loopback — descriptions, SCPDs, calls,
 * timeouts, refusals, oversized answers — then the IGD actions of lib/upnp/igd_client.c over them, and its lease
 * policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "upnp/igd_client.h"
#include "natt/upnp.h"
#include "upnp/call.h"
#include "upnp/desc.h"
#include "upnp/http.h"

#define WANIP "urn:schemas-upnp-org:service:WANIPConnection:1"

/* ---- Requests and replies ------------------------------------------------------------------------ */

/* The arguments of a call with one description of `len` bytes of 'x'. */
static int prepare_with(const char *service_type, const char *action, size_t len, struct natt_soap_request *req)
{
	static char text[4096];
	memset(text, 'x', len);
	text[len] = '\0';
	struct natt_upnp_arg args[] = { { "NewPortMappingDescription", text } };
	return natt_soap_prepare(service_type, action, args, 1, req);
}

static void test_soap_prepare(void **state)
{
	(void)state;
	struct natt_upnp_arg args[] = {
		{ "NewRemoteHost", NULL },
		{ "NewPortMappingDescription", "a<b>&\"c'" },
	};
	struct natt_soap_request req;
	assert_int_equal(natt_soap_prepare(WANIP, "AddPortMapping", args, 2, &req), 0);
	/* miniupnpc copies values verbatim: they are escaped here */
	assert_string_equal(req.args[0].elt, "NewRemoteHost");
	assert_string_equal(req.args[0].val, "");
	assert_string_equal(req.args[1].val, "a&lt;b&gt;&amp;&quot;c&apos;");
	assert_null(req.args[2].elt);
	/* the envelope miniupnpc builds from them */
	const char *expected = "<?xml version=\"1.0\"?>\r\n"
	                       "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	                       "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
	                       "<s:Body><u:AddPortMapping xmlns:u=\"" WANIP "\">"
	                       "<NewRemoteHost></NewRemoteHost>"
	                       "<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;</NewPortMappingDescription>"
	                       "</u:AddPortMapping></s:Body></s:Envelope>\r\n";
	assert_int_equal(req.body_len, strlen(expected));
	natt_soap_request_free(&req);
	assert_int_equal(natt_soap_prepare(WANIP, "GetExternalIPAddress", NULL, 0, &req), 0);
	assert_null(req.args[0].elt);
	natt_soap_request_free(&req);

	struct natt_upnp_arg bad_name[] = { { "New Port", "1" } };
	assert_int_equal(natt_soap_prepare(WANIP, "X", bad_name, 1, &req), -EINVAL);
	assert_int_equal(natt_soap_prepare(WANIP, "X></u:X><evil", NULL, 0, &req), -EINVAL);
	assert_int_equal(natt_soap_prepare("urn:x\"><y", "X", NULL, 0, &req), -EINVAL);
	assert_int_equal(natt_soap_prepare("urn:x\r\nX-Evil: 1", "X", NULL, 0, &req), -EINVAL);
	assert_int_equal(natt_soap_prepare("", "X", NULL, 0, &req), -EINVAL);
	assert_int_equal(natt_soap_prepare(WANIP, "X", NULL, 1, &req), -EINVAL);
	assert_null(req.args);

	/* miniupnpc's buffers: the envelope and its NUL in 2048 bytes, escaping counted */
	assert_int_equal(prepare_with(WANIP, "X", 100, &req), 0);
	size_t room = NATT_SOAP_BODY_MAX - 1 - req.body_len; /* what one more byte of value may take */
	natt_soap_request_free(&req);
	assert_int_equal(prepare_with(WANIP, "X", 100 + room, &req), 0);
	assert_int_equal(req.body_len, NATT_SOAP_BODY_MAX - 1);
	natt_soap_request_free(&req);
	assert_int_equal(prepare_with(WANIP, "X", 101 + room, &req), -EMSGSIZE);
	/* escaping counts: 400 bytes that escape to 2000 do not fit with the envelope around them */
	char amps[401];
	memset(amps, '&', 400);
	amps[400] = '\0';
	struct natt_upnp_arg amp[] = { { "V", amps } };
	assert_int_equal(natt_soap_prepare(WANIP, "X", amp, 1, &req), -EMSGSIZE);
	amps[300] = '\0'; /* 1500 escaped: fits */
	assert_int_equal(natt_soap_prepare(WANIP, "X", amp, 1, &req), 0);
	assert_string_equal(req.args[0].val + 1495, "&amp;");
	natt_soap_request_free(&req);
	/* the SOAPAction "SERVICE#ACTION" and its NUL in 128 bytes */
	char type[160];
	snprintf(type, sizeof(type), "urn:schemas-upnp-org:service:%0*d:1", NATT_SOAP_ACTION_MAX - 1 - 2 - 31, 0);
	assert_int_equal(strlen(type) + strlen("#X"), NATT_SOAP_ACTION_MAX - 1);
	assert_int_equal(natt_soap_prepare(type, "X", NULL, 0, &req), 0);
	natt_soap_request_free(&req);
	assert_int_equal(natt_soap_prepare(type, "XY", NULL, 0, &req), -EMSGSIZE);
}

static const char ok_reply[] =
        "<?xml version=\"1.0\"?>\r\n"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
        "<u:GetSpecificPortMappingEntryResponse xmlns:u=\"" WANIP "\">"
        "<NewInternalPort>8080</NewInternalPort>"
        "<NewInternalClient>10.77.0.2</NewInternalClient>"
        "<NewEnabled>1</NewEnabled>"
        "<NewPortMappingDescription>a long description &amp; more, longer than the 128 bytes miniupnpc would "
        "keep of it: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx end</NewPortMappingDescription>"
        "<NewLeaseDuration>3600</NewLeaseDuration>"
        "</u:GetSpecificPortMappingEntryResponse></s:Body></s:Envelope>\r\n";

static const char fault_reply[] =
        "<?xml version=\"1.0\"?>\r\n"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><s:Fault>"
        "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
        "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode>"
        "<errorDescription>ConflictInMappingEntry</errorDescription></UPnPError>"
        "</detail></s:Fault></s:Body></s:Envelope>\r\n";

static void test_soap_parse_reply(void **state)
{
	(void)state;
	struct natt_upnp_value *v;
	size_t n;
	struct natt_upnp_error e;
	assert_int_equal(natt_soap_parse_reply(ok_reply, strlen(ok_reply), &v, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "NewInternalPort");
	assert_string_equal(v[0].value, "8080");
	assert_string_equal(natt_upnp_value_get(v, n, "NewInternalClient"), "10.77.0.2");
	const char *desc = natt_upnp_value_get(v, n, "NewPortMappingDescription");
	assert_true(strlen(desc) > 128);
	assert_non_null(strstr(desc, "& more"));
	assert_null(natt_upnp_value_get(v, n, "Missing"));
	natt_upnp_values_free(v, n);

	/* a fault: UPnP code and description, recognised by the body (the HTTP status is not known) */
	assert_int_equal(natt_soap_parse_reply(fault_reply, strlen(fault_reply), &v, &n, &e), NATT_ERR_UPNP);
	assert_int_equal(e.upnp_code, 718);
	assert_string_equal(e.description, "ConflictInMappingEntry");
	assert_null(v);
	assert_int_equal(n, 0);

	/* a fault without UPnPError: not a UPnP error, faultstring kept */
	const char *soapfault = "<Envelope><Body><Fault><faultstring>Bad request</faultstring></Fault></Body></Envelope>";
	assert_int_equal(natt_soap_parse_reply(soapfault, strlen(soapfault), &v, &n, &e), NATT_ERR_BAD_REPLY);
	assert_int_equal(e.upnp_code, 0);
	assert_string_equal(e.description, "Bad request");

	/* the page of an HTTP error, garbage, an empty body */
	assert_int_equal(natt_soap_parse_reply("<html>nope</html>", 17, &v, &n, &e), NATT_ERR_BAD_REPLY);
	assert_string_equal(e.description, "not a SOAP reply");
	assert_int_equal(natt_soap_parse_reply("<<<", 3, &v, &n, &e), NATT_ERR_BAD_REPLY);
	assert_string_equal(e.description, "malformed SOAP reply");
	assert_int_equal(natt_soap_parse_reply("", 0, &v, &n, NULL), NATT_ERR_BAD_REPLY);
	const char *empty = "<Envelope><Body/></Envelope>";
	assert_int_equal(natt_soap_parse_reply(empty, strlen(empty), &v, &n, &e), NATT_ERR_BAD_REPLY);
	assert_string_equal(e.description, "empty SOAP reply");
	/* an action without results */
	const char *none = "<s:Envelope xmlns:s=\"x\"><s:Body><u:DeletePortMappingResponse xmlns:u=\"y\"/></s:Body></s:Envelope>";
	assert_int_equal(natt_soap_parse_reply(none, strlen(none), &v, &n, &e), 0);
	assert_null(v);
	assert_int_equal(n, 0);
	/* a non-numeric errorCode */
	const char *oddcode = "<Envelope><Body><Fault><detail><UPnPError><errorCode>7x</errorCode>"
	                      "<errorDescription>d</errorDescription></UPnPError></detail></Fault></Body></Envelope>";
	assert_int_equal(natt_soap_parse_reply(oddcode, strlen(oddcode), &v, &n, &e), NATT_ERR_BAD_REPLY);
}

/* ---- A small HTTP server on loopback ------------------------------------------------------------- */

/* HOSTILE_*: a status line, then without end (until the client hangs up or the server's life ends): a
 * body, a byte of body every 50 ms, one header line that never ends. */
enum behaviour { SERVE, NEVER_ANSWER, CLOSE_AT_ONCE, SLOW_PIECES, HOSTILE_BODY, HOSTILE_DRIP, HOSTILE_HEAD };

struct route {
	const char *path;
	const char *response; /* the whole raw HTTP response */
	const char *when;     /* NULL, or text the request must contain for this route to answer */
};

struct server {
	int fd;
	int port;
	enum behaviour behaviour;
	const struct route *routes;
	int life_ms;
	int connections;
	char last_request[8192];
	pthread_t thread;
};

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void read_request(int c, char *buf, size_t cap)
{
	size_t len = 0;
	long long until = now_ms() + 1000;
	while (len < cap - 1 && now_ms() < until) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t n = recv(c, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end) {
			const char *cl = strcasestr(buf, "Content-Length:");
			size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if (len >= (size_t)(end + 4 - buf) + want)
				break;
		}
	}
	buf[len] = '\0';
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	long long until = now_ms() + sv->life_ms;
	while (now_ms() < until) {
		struct pollfd pfd = { .fd = sv->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(until - now_ms())) <= 0)
			continue;
		int c = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		sv->connections++;
		if (sv->behaviour == CLOSE_AT_ONCE) {
			close(c);
			continue;
		}
		read_request(c, sv->last_request, sizeof(sv->last_request));
		if (sv->behaviour >= HOSTILE_BODY) {
			static char block[65536];
			memset(block, 'x', sizeof(block));
			const char *start = sv->behaviour == HOSTILE_HEAD ? "HTTP/1.1 200 OK\r\nX-Long: "
			                                                  : "HTTP/1.1 200 OK\r\n\r\n<root>";
			send(c, start, strlen(start), MSG_NOSIGNAL);
			size_t piece = sv->behaviour == HOSTILE_DRIP ? 1 : sizeof(block);
			while (now_ms() < until && send(c, block, piece, MSG_NOSIGNAL) > 0)
				if (sv->behaviour == HOSTILE_DRIP)
					usleep(50000);
			close(c);
			continue;
		}
		if (sv->behaviour == NEVER_ANSWER) {
			while (now_ms() < until)
				usleep(10000);
			close(c);
			continue;
		}
		const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 22\r\n\r\n<html>not found</html>";
		for (const struct route *r = sv->routes; r && r->path; r++) {
			char line[256];
			snprintf(line, sizeof(line), " %s HTTP/1.1\r\n", r->path);
			if (strstr(sv->last_request, line) && (!r->when || strstr(sv->last_request, r->when))) {
				resp = r->response;
				break;
			}
		}
		size_t len = strlen(resp);
		if (sv->behaviour == SLOW_PIECES) {
			for (size_t off = 0; off < len; off += 7) {
				send(c, resp + off, len - off < 7 ? len - off : 7, MSG_NOSIGNAL);
				usleep(2000);
			}
		} else {
			send(c, resp, len, MSG_NOSIGNAL);
		}
		close(c);
	}
	return NULL;
}

static void server_start_at(struct server *sv, const char *ip, enum behaviour b, const struct route *routes,
                            int life_ms)
{
	memset(sv, 0, sizeof(*sv));
	sv->behaviour = b;
	sv->routes = routes;
	sv->life_ms = life_ms;
	sv->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sv->fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = inet_addr(ip) };
	assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(sv->fd, 8), 0);
	socklen_t alen = sizeof(a);
	getsockname(sv->fd, (struct sockaddr *)&a, &alen);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&sv->thread, NULL, server_main, sv), 0);
}

static void server_start(struct server *sv, enum behaviour b, const struct route *routes, int life_ms)
{
	server_start_at(sv, "127.0.0.1", b, routes, life_ms);
}

static void server_stop(struct server *sv)
{
	pthread_join(sv->thread, NULL);
	close(sv->fd);
}

static char *url(const struct server *sv, const char *path)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%d%s", sv->port, path);
	return buf[i];
}

static char desc_response[1024];

/* The description, sent chunked in two uneven pieces. */
static void make_desc_response(void)
{
	static const char body[] =
	        "<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1"
	        "</serviceType><controlURL>ctl</controlURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList>"
	        "</device></root>";
	size_t cut = 31, len = strlen(body);
	snprintf(desc_response, sizeof(desc_response),
	         "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "%zx\r\n%.*s\r\n%zX\r\n%s\r\n0\r\n\r\n",
	         cut, (int)cut, body, len - cut, body + cut);
}

static const char scpd_response[] =
        "HTTP/1.0 200 OK\r\n\r\n"
        "<scpd><actionList><action><name>GetExternalIPAddress</name><argumentList><argument>"
        "<name>NewExternalIPAddress</name><direction>out</direction>"
        "<relatedStateVariable>ExternalIPAddress</relatedStateVariable></argument></argumentList></action>"
        "</actionList><serviceStateTable><stateVariable><name>ExternalIPAddress</name><dataType>string</dataType>"
        "</stateVariable></serviceStateTable></scpd>";

static char ctl_ok[1024];
static char ctl_fault[2048];

static void make_ctl_responses(void)
{
	static const char body_ok[] = "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
	                              "<s:Body><u:GetExternalIPAddressResponse xmlns:u=\"" WANIP "\">"
	                              "<NewExternalIPAddress>100.130.0.1</NewExternalIPAddress>"
	                              "</u:GetExternalIPAddressResponse></s:Body></s:Envelope>";
	snprintf(ctl_ok, sizeof(ctl_ok), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body_ok), body_ok);
	snprintf(ctl_fault, sizeof(ctl_fault), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: %zu\r\n\r\n%s",
	         strlen(fault_reply), fault_reply);
}

static void test_describe_actions_call(void **state)
{
	(void)state;
	make_ctl_responses();
	make_desc_response();
	const struct route routes[] = {
		{ "/rootDesc.xml", desc_response, NULL },
		{ "/scpd.xml", scpd_response, NULL },
		{ "/ctl", ctl_ok, NULL },
		{ "/bad", ctl_fault, NULL },
		{ NULL, NULL, NULL },
	};
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);

	struct natt_upnp_service *s;
	size_t n;
	/* the GET request, the chunked answer read */
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 1000, &s, &n), 1);
	assert_true(strstr(sv.last_request, "GET /rootDesc.xml HTTP/1.1\r\n") == sv.last_request);
	assert_non_null(strstr(sv.last_request, "Connection: Close\r\n"));
	assert_string_equal(s[0].control_url, url(&sv, "/ctl"));
	assert_string_equal(s[0].scpd_url, url(&sv, "/scpd.xml"));

	struct natt_upnp_action *a;
	size_t na;
	assert_int_equal(natt_upnp_get_actions(&s[0], 1000, &a, &na), 1); /* HTTP/1.0, to the connection's end */
	assert_string_equal(a[0].name, "GetExternalIPAddress");
	assert_int_equal(a[0].arguments[0].direction, NATT_UPNP_OUT);
	natt_upnp_actions_free(a, na);

	struct natt_upnp_value *v;
	size_t nv;
	struct natt_upnp_error e;
	assert_int_equal(natt_upnp_call(s[0].control_url, s[0].service_type, "GetExternalIPAddress", NULL, 0, 1000, &v,
	                                &nv, &e),
	                 0);
	assert_string_equal(natt_upnp_value_get(v, nv, "NewExternalIPAddress"), "100.130.0.1");
	natt_upnp_values_free(v, nv);
	/* simpleUPnPcommand's request */
	assert_true(strstr(sv.last_request, "POST /ctl HTTP/1.1\r\n") == sv.last_request);
	assert_non_null(strstr(sv.last_request, "SOAPAction: \"" WANIP "#GetExternalIPAddress\"\r\n"));
	assert_non_null(strstr(sv.last_request, "Content-Type: text/xml\r\n"));
	assert_non_null(strstr(sv.last_request, "<u:GetExternalIPAddress xmlns:u=\"" WANIP "\"></u:GetExternalIPAddress>"));

	/* values escaped, in the order given; the fault of a 500 answer */
	struct natt_upnp_arg args[] = { { "NewExternalPort", "80" }, { "NewProtocol", "TCP" },
		                        { "NewPortMappingDescription", "a<b>&\"c'" } };
	assert_int_equal(natt_upnp_call(url(&sv, "/bad"), WANIP, "AddPortMapping", args, 3, 1000, &v, &nv, &e),
	                 NATT_ERR_UPNP);
	assert_int_equal(e.upnp_code, 718);
	assert_string_equal(e.description, "ConflictInMappingEntry");
	assert_null(v);
	assert_non_null(strstr(sv.last_request, "<NewExternalPort>80</NewExternalPort><NewProtocol>TCP</NewProtocol>"
	                                        "<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;"
	                                        "</NewPortMappingDescription></u:AddPortMapping>"));

	/* results not wanted */
	assert_int_equal(natt_upnp_call(s[0].control_url, WANIP, "GetExternalIPAddress", NULL, 0, 1000, NULL, NULL, NULL), 0);
	/* 404 with an HTML page: miniupnpc hides the status, the body is no SOAP */
	assert_int_equal(natt_upnp_call(url(&sv, "/nowhere"), WANIP, "X", NULL, 0, 1000, &v, &nv, &e), NATT_ERR_BAD_REPLY);
	assert_string_equal(e.description, "not a SOAP reply");
	struct natt_upnp_service *s2;
	size_t n2;
	assert_int_equal(natt_upnp_describe(url(&sv, "/nowhere"), 1000, &s2, &n2), NATT_ERR_BAD_REPLY);
	assert_null(s2);
	server_stop(&sv);
	natt_upnp_services_free(s, n);
}

static void test_slow_pieces(void **state)
{
	(void)state;
	make_desc_response();
	const struct route routes[] = { { "/rootDesc.xml", desc_response, NULL }, { NULL, NULL, NULL } };
	struct server sv;
	server_start(&sv, SLOW_PIECES, routes, 2000);
	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 1500, &s, &n), 1);
	natt_upnp_services_free(s, n);
	server_stop(&sv);
}

static void test_timeouts_and_failures(void **state)
{
	(void)state;
	struct server sv;
	struct natt_upnp_service *s;
	size_t n;
	/* A server that takes the request and never answers, then hangs up at 700 ms. miniupnpc waits
	 * past timeout_ms (up to its own 5 s for each read): here until the hang-up, then the answer that
	 * did not come in time is a timeout. */
	server_start(&sv, NEVER_ANSWER, NULL, 700);
	long long t0 = now_ms();
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 300, &s, &n), -ETIMEDOUT);
	long long took = now_ms() - t0;
	assert_true(took >= 295 && took < 1500);
	server_stop(&sv);
	server_start(&sv, NEVER_ANSWER, NULL, 700);
	t0 = now_ms();
	assert_int_equal(natt_upnp_call(url(&sv, "/ctl"), WANIP, "X", NULL, 0, 300, NULL, NULL, NULL), -ETIMEDOUT);
	took = now_ms() - t0;
	assert_true(took >= 295 && took < 1500);
	server_stop(&sv);

	/* Hung up without answering, well within the time. */
	server_start(&sv, CLOSE_AT_ONCE, NULL, 300);
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 1000, &s, &n), -EPROTO);
	assert_int_equal(natt_upnp_call(url(&sv, "/ctl"), WANIP, "X", NULL, 0, 1000, NULL, NULL, NULL), -EPROTO);
	int port = sv.port;
	server_stop(&sv);

	/* nobody listens there any more: what a restarted miniupnpd's old port gives */
	char gone[64];
	snprintf(gone, sizeof(gone), "http://127.0.0.1:%d/ctl", port);
	assert_int_equal(natt_upnp_call(gone, WANIP, "GetExternalIPAddress", NULL, 0, 500, NULL, NULL, NULL), -ECONNREFUSED);
	assert_int_equal(natt_upnp_describe(gone, 500, &s, &n), -ECONNREFUSED);

	/* bad URLs and arguments */
	assert_int_equal(natt_upnp_describe("http://router.lan/d.xml", 100, &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_describe("http://127.0.0.1/d.xml", 0, &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_call("http://127.0.0.1:1/", WANIP, "Bad Name", NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(natt_upnp_call(NULL, WANIP, "X", NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(natt_upnp_call("http://router.lan/ctl", WANIP, "X", NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	struct natt_upnp_service empty = { .scpd_url = "" };
	struct natt_upnp_action *a;
	size_t na;
	assert_int_equal(natt_upnp_get_actions(&empty, 100, &a, &na), -EINVAL);
}

/* Connecting is ours, bounded by timeout_ms: a listener whose one-place queue is full drops the SYNs
 * of any further connection, which then never completes. */
static void test_connect_timeout(void **state)
{
	(void)state;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 0), 0);
	socklen_t alen = sizeof(a);
	getsockname(l, (struct sockaddr *)&a, &alen);
	int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
	char ctl[64];
	snprintf(ctl, sizeof(ctl), "http://127.0.0.1:%d/ctl", ntohs(a.sin_port));
	long long t0 = now_ms();
	assert_int_equal(natt_upnp_call(ctl, WANIP, "X", NULL, 0, 200, NULL, NULL, NULL), -ETIMEDOUT);
	long long took = now_ms() - t0;
	assert_true(took >= 195 && took < 800);
	close(filler);
	close(l);
}

/* A device's answer is bounded while it is read: the body's size, the head's size, the time of the
 * whole exchange; none of them waits for the device to stop sending. */
static void test_hostile_answers(void **state)
{
	(void)state;
	static const enum behaviour kinds[] = { HOSTILE_BODY, HOSTILE_HEAD, HOSTILE_DRIP };
	static const int expected[] = { -EMSGSIZE, -EMSGSIZE, -ETIMEDOUT };
	for (size_t k = 0; k < 3; k++) {
		struct server sv;
		server_start(&sv, kinds[k], NULL, 2200);
		char *body = NULL;
		size_t len = 0;
		long long t0 = now_ms();
		assert_int_equal(natt_upnp_fetch(url(&sv, "/rootDesc.xml"), 1000, &body, &len), expected[k]);
		long long took = now_ms() - t0;
		assert_null(body);
		if (expected[k] == -ETIMEDOUT)
			assert_true(took >= 990 && took < 1500);
		else
			assert_true(took < 900); /* stopped at the cap, long before the device stops */
		/* the same for a SOAP call's answer */
		t0 = now_ms();
		assert_int_equal(natt_upnp_call(url(&sv, "/ctl"), WANIP, "X", NULL, 0, 1000, NULL, NULL, NULL),
		                 expected[k]);
		took = now_ms() - t0;
		assert_true(expected[k] == -ETIMEDOUT ? took >= 990 && took < 1500 : took < 900);
		server_stop(&sv);
	}
}

/* Interim answers before the final one are skipped, whether they come with it in one piece or in
 * pieces (SLOW_PIECES: 7 bytes every 2 ms); a device that sends nothing but them is refused. */
static void test_interim_answers(void **state)
{
	(void)state;
	static char endless[40 * 32];
	endless[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(endless, "HTTP/1.1 100 Continue\r\n\r\n");
	const struct route routes[] = {
		{ "/one", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", NULL },
		{ "/two", "HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
		          "HTTP/1.1 200 OK\r\n\r\n<root/>", NULL },
		{ "/endless", endless, NULL },
		{ NULL, NULL, NULL }
	};
	for (int slow = 0; slow < 2; slow++) {
		struct server sv;
		server_start(&sv, slow ? SLOW_PIECES : SERVE, routes, 3000);
		char *body = NULL;
		size_t len = 0;
		assert_int_equal(natt_upnp_fetch(url(&sv, "/one"), 1000, &body, &len), 0);
		assert_int_equal(len, 5);
		assert_memory_equal(body, "hello", 5);
		free(body);
		body = NULL;
		assert_int_equal(natt_upnp_fetch(url(&sv, "/two"), 1000, &body, &len), 0);
		assert_string_equal(body, "<root/>");
		free(body);
		body = NULL;
		assert_int_equal(natt_upnp_fetch(url(&sv, "/endless"), 2000, &body, &len), -EPROTO);
		assert_null(body);
		server_stop(&sv);
	}
}

/* What would not fit miniupnpc's buffers is refused before anything is sent; what just fits is sent
 * whole. */
static void test_request_limits(void **state)
{
	(void)state;
	make_ctl_responses();
	const struct route routes[] = { { "/ctl", ctl_ok, NULL }, { NULL, NULL, NULL } };
	struct server sv;
	server_start(&sv, SERVE, routes, 800);
	struct natt_soap_request req;
	assert_int_equal(prepare_with(WANIP, "X", 100, &req), 0);
	size_t fill = 100 + (NATT_SOAP_BODY_MAX - 1 - req.body_len); /* the envelope is then 2047 bytes */
	natt_soap_request_free(&req);
	char *text = malloc(fill + 2);
	assert_non_null(text);
	memset(text, 'x', fill + 1);
	text[fill] = '\0';
	struct natt_upnp_arg args[] = { { "NewPortMappingDescription", text } };
	assert_int_equal(natt_upnp_call(url(&sv, "/ctl"), WANIP, "X", args, 1, 1000, NULL, NULL, NULL), 0);
	assert_non_null(strstr(sv.last_request, "Content-Length: 2047\r\n"));
	assert_non_null(strstr(sv.last_request, "</NewPortMappingDescription></u:X></s:Body></s:Envelope>\r\n"));
	assert_int_equal(sv.connections, 1);
	text[fill] = 'x';
	text[fill + 1] = '\0';
	assert_int_equal(natt_upnp_call(url(&sv, "/ctl"), WANIP, "X", args, 1, 1000, NULL, NULL, NULL), -EMSGSIZE);
	/* a path too long for the request head */
	char long_path[400] = "/";
	memset(long_path + 1, 'p', 300);
	assert_int_equal(natt_upnp_call(url(&sv, long_path), WANIP, "X", NULL, 0, 1000, NULL, NULL, NULL), -EMSGSIZE);
	server_stop(&sv);
	assert_int_equal(sv.connections, 1);
	free(text);
}

static void test_oversized(void **state)
{
	(void)state;
	size_t big = NATT_UPNP_MAX_DOCUMENT + 10;
	char *resp = malloc(big + 100);
	assert_non_null(resp);
	int h = sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", big);
	memset(resp + h, 'x', big);
	resp[h + big] = '\0';
	const struct route routes[] = { { "/big.xml", resp, NULL }, { NULL, NULL, NULL } };
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);
	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_describe(url(&sv, "/big.xml"), 1000, &s, &n), -EMSGSIZE);
	server_stop(&sv);
	free(resp);
}

/* ---- The IGD (lib/upnp/igd_client.c) over these calls ---------------------------------------------------------- */

static char soap_buf[16][2048];

/* An HTTP answer with this SOAP body; status 500 for a fault. Each call uses the next of 16 buffers
 * (a test's routes use fewer). */
static const char *soap_answer(const char *body)
{
	static int i;
	i = (i + 1) % 16;
	snprintf(soap_buf[i], sizeof(soap_buf[i]), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n\r\n%s",
	         strstr(body, "Fault>") ? "500 Internal Server Error" : "200 OK", strlen(body), body);
	return soap_buf[i];
}

static const char *fault_of(int code, const char *text)
{
	static char body[8][512];
	static int i;
	i = (i + 1) % 8;
	snprintf(body[i], sizeof(body[i]),
	         "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
	         "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError>"
	         "<errorCode>%d</errorCode><errorDescription>%s</errorDescription></UPnPError></detail>"
	         "</s:Fault></s:Body></s:Envelope>", code, text);
	return soap_answer(body[i]);
}

#define RESPONSE(action, inner)                                                                         \
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:" action "Response "    \
	"xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">" inner "</u:" action "Response>"         \
	"</s:Body></s:Envelope>"

/* A description listing the services of `types` (NULL-terminated), each at control URL /c<i>. */
static const char *igd_description(const char *const *types)
{
	static char body[2048], answer[2400];
	size_t o = (size_t)snprintf(body, sizeof(body), "<root><device><deviceList><device><serviceList>");
	for (int i = 0; types[i]; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o,
		                      "<service><serviceType>%s</serviceType><controlURL>/c%d</controlURL></service>",
		                      types[i], i);
	snprintf(body + o, sizeof(body) - o, "</serviceList></device></deviceList></device></root>");
	snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
	return answer;
}

/* Opens the IGD the description of `types` makes; returns natt_igd_open_url()'s result. */
static int open_igd_of(const char *const *types, struct natt_igd *igd)
{
	const struct route routes[] = { { "/rootDesc.xml", igd_description(types), NULL }, { NULL, NULL, NULL } };
	struct server sv;
	server_start(&sv, SERVE, routes, 300);
	int rc = natt_igd_open_url(url(&sv, "/rootDesc.xml"), igd);
	server_stop(&sv);
	return rc;
}

static void test_igd_open(void **state)
{
	(void)state;
	struct natt_igd igd;
	/* IGDv2 first whatever the document order, then v1, then PPP; lan_address toward the router */
	const char *const all[] = { NATT_UPNP_WANPPP1, "urn:schemas-upnp-org:service:Layer3Forwarding:1",
		                    NATT_UPNP_WANIP1, NATT_UPNP_WANIP2, NULL };
	assert_int_equal(open_igd_of(all, &igd), 0);
	assert_true(igd.open);
	assert_true(igd.v2);
	assert_string_equal(igd.service_type, NATT_UPNP_WANIP2);
	assert_non_null(strstr(igd.control_url, "/c3"));
	assert_string_equal(igd.lan_address, "127.0.0.1");
	assert_non_null(strstr(igd.location, "/rootDesc.xml"));
	const char *const v1[] = { NATT_UPNP_WANPPP1, NATT_UPNP_WANIP1, NULL };
	assert_int_equal(open_igd_of(v1, &igd), 0);
	assert_false(igd.v2);
	assert_non_null(strstr(igd.control_url, "/c1"));
	const char *const ppp[] = { "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1", NATT_UPNP_WANPPP1, NULL };
	assert_int_equal(open_igd_of(ppp, &igd), 0);
	assert_string_equal(igd.service_type, NATT_UPNP_WANPPP1);
	const char *const none[] = { "urn:schemas-upnp-org:service:Layer3Forwarding:1", NULL };
	assert_int_equal(open_igd_of(none, &igd), NATT_ERR_NO_IGD);
	assert_false(igd.open);
	/* nobody there */
	assert_int_equal(natt_igd_open_url("http://127.0.0.1:1/rootDesc.xml", &igd), NATT_ERR_NO_IGD);

	/* a control URL on another host than the description's: never called */
	static const char stranger[] =
	        "HTTP/1.1 200 OK\r\nContent-Length: 217\r\n\r\n"
	        "<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1"
	        "</serviceType><controlURL>http://127.0.0.2:9/ctl</controlURL><SCPDURL>/s</SCPDURL></service>"
	        "</serviceList></device></root>";
	assert_int_equal(strlen(strstr(stranger, "<root>")), 217);
	const struct route routes[] = { { "/rootDesc.xml", stranger, NULL }, { NULL, NULL, NULL } };
	struct server sv;
	server_start(&sv, SERVE, routes, 300);
	assert_int_equal(natt_igd_open_url(url(&sv, "/rootDesc.xml"), &igd), NATT_ERR_NO_IGD);
	assert_false(igd.open);
	server_stop(&sv);

	/* The IPv6 firewall service: kept when on the description's host, dropped when on another one (its
	 * pinhole calls then say unsupported), while the IGD itself stays usable. */
	const char *const fc[] = { NATT_UPNP_WANIP2, "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1", NULL };
	assert_int_equal(open_igd_of(fc, &igd), 0);
	assert_non_null(strstr(igd.fc_control_url, "/c1"));
	static const char fc_stranger[] =
	        "HTTP/1.1 200 OK\r\nContent-Length: 323\r\n\r\n"
	        "<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2"
	        "</serviceType><controlURL>/ctl</controlURL></service><service><serviceType>"
	        "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><controlURL>http://127.0.0.2:9/fc"
	        "</controlURL></service></serviceList></device></root>";
	assert_int_equal(strlen(strstr(fc_stranger, "<root>")), 323);
	const struct route fc_routes[] = { { "/rootDesc.xml", fc_stranger, NULL }, { NULL, NULL, NULL } };
	server_start(&sv, SERVE, fc_routes, 300);
	assert_int_equal(natt_igd_open_url(url(&sv, "/rootDesc.xml"), &igd), 0);
	server_stop(&sv);
	assert_true(igd.open);
	assert_string_equal(igd.fc_control_url, "");
	struct sockaddr_in6 router6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int code = -1;
	assert_int_equal(natt_igd_pinhole_delete(&igd, &router6, NULL, 1, &code), NATT_ERR_UNSUPPORTED);
	natt_igd_close(&igd);

	struct in_addr host;
	inet_pton(AF_INET, "10.0.0.1", &host);
	assert_true(natt_url_on_host("http://10.0.0.1:5000/x", &host));
	assert_false(natt_url_on_host("http://10.0.0.2:5000/x", &host));
	assert_false(natt_url_on_host("https://10.0.0.1/x", &host));
	/* An IPv6 URL is on no IPv4 host, not even 0.0.0.0 (its flow information reads as that). */
	inet_pton(AF_INET, "0.0.0.0", &host);
	assert_false(natt_url_on_host("http://[2a01:77:1::1]:5000/x", &host));
}

/* An IGD as an earlier opening found it (the host's cache): opened without its description when its
 * service answers GetExternalIPAddress there (the address kept), or answers it with a UPnP error or
 * no address;
 * NATT_ERR_NO_IGD when nothing answers; -EINVAL when what answers is not such a service, and for what
 * natt would not call, as when read from a description. */
static void test_igd_open_known(void **state)
{
	(void)state;
	const struct route routes[] = {
		{ "/ctl/IPConn", soap_answer(RESPONSE("GetExternalIPAddress", "<NewExternalIPAddress>100.130.0.1</NewExternalIPAddress>")), NULL },
		{ "/ctl/Reserved", fault_of(501, "Action Failed"), NULL },
		{ "/ctl/Unknown", fault_of(401, "Invalid Action"), NULL },
		{ "/ctl/Empty", soap_answer(RESPONSE("GetExternalIPAddress", "<NewExternalIPAddress></NewExternalIPAddress>")), NULL },
		{ NULL, NULL, NULL }
	};
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);
	struct natt_igd known, igd;
	natt_igd_close(&known);
	snprintf(known.location, sizeof(known.location), "%s", url(&sv, "/rootDesc.xml"));
	snprintf(known.control_url, sizeof(known.control_url), "%s", url(&sv, "/ctl/IPConn"));
	snprintf(known.service_type, sizeof(known.service_type), "%s", NATT_UPNP_WANIP2);
	snprintf(known.fc_control_url, sizeof(known.fc_control_url), "%s", url(&sv, "/ctl/IP6FCtl"));
	snprintf(known.fc_service_type, sizeof(known.fc_service_type), "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1");
	known.bootid = 5;
	struct in_addr external = { 0 };
	bool have = false;
	assert_int_equal(natt_igd_open_known(&known, 1000, &igd, &external, &have), 0);
	assert_true(igd.open);
	assert_true(igd.v2);
	assert_int_equal(igd.bootid, 5);
	assert_string_equal(igd.control_url, known.control_url);
	assert_string_equal(igd.location, known.location);
	assert_string_equal(igd.lan_address, "127.0.0.1");
	assert_string_equal(igd.fc_control_url, known.fc_control_url);
	assert_int_equal(igd.timeout_ms, NATT_UPNP_IGD_TIMEOUT_MS);
	assert_true(have);
	assert_int_equal(external.s_addr, inet_addr("100.130.0.1"));
	assert_int_equal(sv.connections, 1);
	assert_non_null(strstr(sv.last_request, "POST /ctl/IPConn "));
	assert_non_null(strstr(sv.last_request, "#GetExternalIPAddress"));

	/* a UPnP error is the service answering: opened, no address */
	struct natt_igd odd = known;
	snprintf(odd.control_url, sizeof(odd.control_url), "%s", url(&sv, "/ctl/Reserved"));
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), 0);
	assert_true(igd.open);
	assert_false(have);
	/* no usable external address (miniupnpd's answer when its own is reserved): opened, no address */
	snprintf(odd.control_url, sizeof(odd.control_url), "%s", url(&sv, "/ctl/Empty"));
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), 0);
	assert_true(igd.open);
	assert_false(have);
	/* no such action there, an HTML page: for the description to tell */
	snprintf(odd.control_url, sizeof(odd.control_url), "%s", url(&sv, "/ctl/Unknown"));
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), -EINVAL);
	assert_false(igd.open);
	snprintf(odd.control_url, sizeof(odd.control_url), "%s", url(&sv, "/ctl/Nothing"));
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), -EINVAL);
	assert_false(igd.open);
	int asked = sv.connections;

	/* not a WAN connection service; a control URL on another host; a firewall service of another
	 * type: nothing is asked of anyone */
	odd = known;
	snprintf(odd.service_type, sizeof(odd.service_type), "urn:schemas-upnp-org:service:Layer3Forwarding:1");
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), -EINVAL);
	assert_false(igd.open);
	odd = known;
	snprintf(odd.control_url, sizeof(odd.control_url), "http://127.0.0.2:%d/ctl/IPConn", sv.port);
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), -EINVAL);
	odd = known;
	snprintf(odd.fc_service_type, sizeof(odd.fc_service_type), "%s", NATT_UPNP_WANIP1);
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), -EINVAL);
	assert_int_equal(sv.connections, asked);

	/* a firewall service on another host is dropped, the IGD kept (as from a description) */
	odd = known;
	snprintf(odd.fc_control_url, sizeof(odd.fc_control_url), "http://127.0.0.2:%d/fc", sv.port);
	assert_int_equal(natt_igd_open_known(&odd, 1000, &igd, &external, &have), 0);
	assert_string_equal(igd.fc_control_url, "");
	server_stop(&sv);

	/* nothing listens there any more (a router restarted on another port) */
	assert_int_equal(natt_igd_open_known(&known, 1000, &igd, &external, &have), NATT_ERR_NO_IGD);
	assert_false(igd.open);
	assert_false(have);
	natt_igd_close(&igd);
}

/* An IGD whose control URL is a path of the server. */
static void igd_at(struct natt_igd *igd, const struct server *sv, const char *path, bool v2)
{
	natt_igd_close(igd);
	snprintf(igd->control_url, sizeof(igd->control_url), "%s", url(sv, path));
	snprintf(igd->service_type, sizeof(igd->service_type), "%s", v2 ? NATT_UPNP_WANIP2 : NATT_UPNP_WANIP1);
	snprintf(igd->lan_address, sizeof(igd->lan_address), "10.77.0.2");
	igd->v2 = v2;
	igd->open = true;
}

static void test_igd_actions(void **state)
{
	(void)state;
	const struct route routes[] = {
		{ "/ext", soap_answer(RESPONSE("GetExternalIPAddress", "<NewExternalIPAddress>100.130.0.1</NewExternalIPAddress>")), NULL },
		{ "/add", soap_answer(RESPONSE("AddPortMapping", "")), NULL },
		{ "/any", soap_answer(RESPONSE("AddAnyPortMapping", "<NewReservedPort>9001</NewReservedPort>")), NULL },
		{ "/entry", soap_answer(ok_reply), NULL },
		{ "/generic", soap_answer(RESPONSE("GetGenericPortMappingEntry",
		                                   "<NewRemoteHost></NewRemoteHost><NewExternalPort>9000</NewExternalPort>"
		                                   "<NewProtocol>UDP</NewProtocol><NewInternalPort>9000</NewInternalPort>"
		                                   "<NewInternalClient>10.77.0.3</NewInternalClient><NewEnabled>1</NewEnabled>"
		                                   "<NewPortMappingDescription>x</NewPortMappingDescription>"
		                                   "<NewLeaseDuration>0</NewLeaseDuration>")),
		  "<NewPortMappingIndex>0<" },
		{ "/generic", fault_of(713, "SpecifiedArrayIndexInvalid"), NULL },
		{ "/none", fault_of(714, "NoSuchEntryInArray"), NULL },
		{ "/conflict", fault_of(718, "ConflictInMappingEntry"), NULL },
		{ "/garbage", soap_answer(RESPONSE("GetExternalIPAddress", "<NewExternalIPAddress>x</NewExternalIPAddress>")), NULL },
		{ NULL, NULL, NULL },
	};
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);
	struct natt_igd igd;
	int code = -1;

	igd_at(&igd, &sv, "/ext", false);
	struct in_addr ext;
	assert_int_equal(natt_igd_external_address(&igd, &ext, &code), 0);
	assert_int_equal(code, 0);
	assert_int_equal(ext.s_addr, inet_addr("100.130.0.1"));
	assert_true(strstr(sv.last_request, "SOAPAction: \"" WANIP "#GetExternalIPAddress\""));

	/* AddPortMapping: the eight arguments in the SCPD's order, protocol upper case */
	igd_at(&igd, &sv, "/add", false);
	uint16_t granted = 0;
	assert_int_equal(natt_igd_add(&igd, NATT_TCP, 8000, "10.77.0.2", 8001, 600, "natt & co", true, &granted, &code), 0);
	assert_int_equal(granted, 8000); /* IGDv1: any_port asks the port itself */
	assert_non_null(strstr(sv.last_request,
	                       "<u:AddPortMapping xmlns:u=\"" WANIP "\"><NewRemoteHost></NewRemoteHost>"
	                       "<NewExternalPort>8000</NewExternalPort><NewProtocol>TCP</NewProtocol>"
	                       "<NewInternalPort>8001</NewInternalPort><NewInternalClient>10.77.0.2</NewInternalClient>"
	                       "<NewEnabled>1</NewEnabled><NewPortMappingDescription>natt &amp; co"
	                       "</NewPortMappingDescription><NewLeaseDuration>600</NewLeaseDuration></u:AddPortMapping>"));
	/* AddAnyPortMapping on IGDv2: the port the router reserved */
	igd_at(&igd, &sv, "/any", true);
	assert_int_equal(natt_igd_add(&igd, NATT_UDP, 9000, "10.77.0.2", 9000, 600, "d", true, &granted, &code), 0);
	assert_int_equal(granted, 9001);
	assert_non_null(strstr(sv.last_request, "#AddAnyPortMapping\"\r\n"));
	assert_non_null(strstr(sv.last_request, "<NewProtocol>UDP</NewProtocol>"));
	igd_at(&igd, &sv, "/conflict", true);
	assert_int_equal(natt_igd_add(&igd, NATT_TCP, 80, "10.77.0.2", 80, 600, "d", false, &granted, &code), NATT_ERR_UPNP);
	assert_int_equal(code, 718);

	/* entries: every value, a description longer than miniupnpc's 127 bytes intact */
	struct natt_igd_entry e;
	igd_at(&igd, &sv, "/entry", false);
	assert_int_equal(natt_igd_get_entry(&igd, NATT_TCP, 8080, &e, &code), 0);
	assert_int_equal(e.external_port, 8080);
	assert_int_equal(e.internal_port, 8080);
	assert_string_equal(e.internal_client, "10.77.0.2");
	assert_true(e.enabled);
	assert_int_equal(e.lease, 3600);
	assert_true(strlen(e.description) > 128);
	assert_non_null(strstr(sv.last_request, "<NewExternalPort>8080</NewExternalPort><NewProtocol>TCP</NewProtocol>"));
	igd_at(&igd, &sv, "/none", false);
	assert_int_equal(natt_igd_get_entry(&igd, NATT_TCP, 8080, &e, &code), NATT_ERR_NOT_FOUND);
	assert_int_equal(natt_igd_get_entry(&igd, NATT_TCP, 8080, &e, NULL), NATT_ERR_NOT_FOUND);
	assert_int_equal(natt_igd_delete(&igd, NATT_TCP, 8080, &code), NATT_ERR_UPNP);
	assert_int_equal(code, 714);
	assert_int_equal(natt_igd_delete_own(&igd, NATT_TCP, 8080, "10.77.0.2", 0, NULL, &code), NATT_ERR_NOT_FOUND);
	/* delete_own reads first: the entry is 10.77.0.2's, not 10.77.0.9's, so nothing is deleted */
	igd_at(&igd, &sv, "/entry", false);
	int before = sv.connections;
	assert_int_equal(natt_igd_delete_own(&igd, NATT_TCP, 8080, "10.77.0.9", 0, &e, &code), -EPERM);
	assert_int_equal(sv.connections, before + 1);
	assert_string_equal(e.internal_client, "10.77.0.2");
	assert_int_equal(natt_igd_delete_own(&igd, NATT_TCP, 8080, "10.77.0.2", 8081, &e, &code), -EPERM);

	/* the table: entry 0, then 713 ends it */
	igd_at(&igd, &sv, "/generic", false);
	struct natt_igd_entry *table;
	assert_int_equal(natt_igd_read_table(&igd, 100, &table, &code), 1);
	assert_int_equal(table[0].protocol, NATT_UDP);
	assert_int_equal(table[0].external_port, 9000);
	assert_string_equal(table[0].internal_client, "10.77.0.3");
	assert_int_equal(table[0].lease, 0);
	free(table);

	/* replies that do not make sense */
	igd_at(&igd, &sv, "/garbage", false);
	assert_int_equal(natt_igd_external_address(&igd, &ext, &code), NATT_ERR_BAD_REPLY);
	igd_at(&igd, &sv, "/nowhere", false);
	assert_int_equal(natt_igd_external_address(&igd, &ext, &code), NATT_ERR_BAD_REPLY);
	int port = sv.port;
	server_stop(&sv);

	/* a control URL that does not answer: the engine's cue to discover again */
	char gone[64];
	snprintf(gone, sizeof(gone), "http://127.0.0.1:%d/ext", port);
	snprintf(igd.control_url, sizeof(igd.control_url), "%s", gone);
	assert_int_equal(natt_igd_external_address(&igd, &ext, &code), -ECONNREFUSED);
	assert_int_equal(code, 0);
	natt_igd_close(&igd);
	assert_int_equal(natt_igd_external_address(&igd, &ext, &code), NATT_ERR_NO_IGD);
}

/* ---- The lease policy --------------------------------------------------------------------------- */

/* A router that answers each lease asked by a rule; it records what it was asked. */
struct fake_router {
	int permanent_only; /* 725 to any lease but 0 */
	int no_zero;        /* 402 to a lease of 0 (IGDv2) */
	int other_code;     /* when not 0: this UPnP error to everything */
	int transport_rc;   /* when not 0: this result to everything (no UPnP answer) */
	uint32_t asked[8];
	int calls;
};

static int fake_add(uint32_t lease, int *code, void *ctx)
{
	struct fake_router *r = ctx;
	r->asked[r->calls++] = lease;
	*code = 0;
	if (r->transport_rc)
		return r->transport_rc;
	if (r->other_code)
		*code = r->other_code;
	else if (r->permanent_only && lease != 0)
		*code = NATT_UPNP_ONLY_PERMANENT;
	else if (r->no_zero && lease == 0)
		*code = NATT_UPNP_INVALID_ARGS;
	return *code ? NATT_ERR_UPNP : 0;
}

static int run_policy(struct fake_router *r, uint32_t *lease, int *code)
{
	return natt_igd_with_lease_policy(lease, fake_add, r, code);
}

static void test_lease_policy(void **state)
{
	(void)state;
	uint32_t next = 77;
	assert_true(natt_igd_lease_fallback(600, 725, &next));
	assert_int_equal(next, 0);
	assert_true(natt_igd_lease_fallback(0, 402, &next));
	assert_int_equal(next, NATT_DEFAULT_LIFETIME);
	assert_int_equal(NATT_DEFAULT_LIFETIME, 3600);
	assert_false(natt_igd_lease_fallback(0, 725, &next));   /* already permanent */
	assert_false(natt_igd_lease_fallback(600, 402, &next)); /* 402 to a bounded lease: other arguments */
	assert_false(natt_igd_lease_fallback(600, 718, &next));

	int code;
	uint32_t lease = 600;
	struct fake_router only_permanent = { .permanent_only = 1 };
	assert_int_equal(run_policy(&only_permanent, &lease, &code), 0);
	assert_int_equal(lease, 0);
	assert_int_equal(code, 0);
	assert_int_equal(only_permanent.calls, 2);

	lease = 0;
	struct fake_router igdv2 = { .no_zero = 1 };
	assert_int_equal(run_policy(&igdv2, &lease, &code), 0);
	assert_int_equal(lease, 3600);
	assert_int_equal(igdv2.calls, 2);

	/* refuses everything it can: 600, 0, 3600 asked once each, then its last answer */
	lease = 600;
	struct fake_router both = { .permanent_only = 1, .no_zero = 1 };
	assert_int_equal(run_policy(&both, &lease, &code), NATT_ERR_UPNP);
	assert_int_equal(code, 725);
	assert_int_equal(both.calls, 3);
	assert_int_equal(both.asked[0], 600);
	assert_int_equal(both.asked[1], 0);
	assert_int_equal(both.asked[2], 3600);
	assert_int_equal(lease, 600); /* unchanged on failure */
	lease = 3600;                  /* the bounded lease asked first is not asked again */
	both.calls = 0;
	assert_int_equal(run_policy(&both, &lease, &code), NATT_ERR_UPNP);
	assert_int_equal(both.calls, 2);
	assert_int_equal(code, 402);

	/* other refusals and no answer: no second request */
	lease = 600;
	struct fake_router conflict = { .other_code = 718 };
	assert_int_equal(run_policy(&conflict, &lease, &code), NATT_ERR_UPNP);
	assert_int_equal(code, 718);
	assert_int_equal(conflict.calls, 1);
	struct fake_router gone = { .transport_rc = -ECONNREFUSED, .permanent_only = 1 };
	assert_int_equal(run_policy(&gone, &lease, &code), -ECONNREFUSED);
	assert_int_equal(code, 0);
	assert_int_equal(gone.calls, 1);
}

/* natt_igd_map end to end: a router that keeps only permanent mappings. */
static void test_igd_map_permanent(void **state)
{
	(void)state;
	const struct route routes[] = {
		{ "/c", soap_answer(RESPONSE("AddPortMapping", "")), "<NewLeaseDuration>0</NewLeaseDuration>" },
		{ "/c", fault_of(725, "OnlyPermanentLeasesSupported"), NULL },
		{ NULL, NULL, NULL },
	};
	struct server sv;
	server_start(&sv, SERVE, routes, 400);
	struct natt_igd igd;
	igd_at(&igd, &sv, "/c", false);
	uint32_t lease = 600;
	uint16_t granted = 0;
	int code = -1;
	assert_int_equal(natt_igd_map(&igd, NATT_TCP, 8000, "10.77.0.2", 8000, &lease, "d", false, &granted, &code), 0);
	assert_int_equal(lease, 0);
	assert_int_equal(granted, 8000);
	assert_int_equal(code, 0);
	server_stop(&sv);
	assert_int_equal(sv.connections, 2);
}

/* ---- Scan: SSDP answers from a loopback responder, descriptions from loopback servers ------------- */

struct ssdp_responder {
	int fd;
	struct sockaddr_in addr;
	int port_good, port_other;
	int life_ms;
	pthread_t thread;
};

static void *ssdp_main(void *arg)
{
	struct ssdp_responder *rs = arg;
	long long until = now_ms() + rs->life_ms;
	while (now_ms() < until) {
		struct pollfd pfd = { .fd = rs->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(until - now_ms())) <= 0)
			continue;
		char buf[1024], out[512];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		if (recvfrom(rs->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) <= 0)
			continue;
		/* one device answering twice (two USNs, one description), and a forged answer whose
		 * LOCATION names another host than the one answering */
		static const char *const usn[2] = { "uuid:a::upnp:rootdevice", "uuid:a::urn:x:device:y:1" };
		for (int i = 0; i < 2; i++) {
			snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: %s\r\n"
			                           "LOCATION: http://127.0.0.1:%d/rootDesc.xml\r\n\r\n", usn[i], rs->port_good);
			sendto(rs->fd, out, strlen(out), 0, (struct sockaddr *)&from, flen);
		}
		snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:b\r\n"
		                           "LOCATION: http://127.0.0.2:%d/rootDesc.xml\r\n\r\n", rs->port_other);
		sendto(rs->fd, out, strlen(out), 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

static void scan_once(const char *stop_at, int timeout_ms, int *nservices, long long *took, int *fetches_good,
                      int *fetches_other)
{
	make_desc_response();
	const struct route routes[] = { { "/rootDesc.xml", desc_response, NULL }, { NULL, NULL, NULL } };
	struct server good, other;
	server_start_at(&good, "127.0.0.1", SERVE, routes, timeout_ms + 300);
	server_start_at(&other, "127.0.0.2", SERVE, routes, timeout_ms + 300);
	struct ssdp_responder rs = { .port_good = good.port, .port_other = other.port, .life_ms = timeout_ms + 300 };
	rs.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rs.addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(rs.fd, (struct sockaddr *)&rs.addr, sizeof(rs.addr)), 0);
	socklen_t alen = sizeof(rs.addr);
	getsockname(rs.fd, (struct sockaddr *)&rs.addr, &alen);
	assert_int_equal(pthread_create(&rs.thread, NULL, ssdp_main, &rs), 0);

	struct natt_upnp_service *s;
	size_t n;
	long long t0 = now_ms();
	int rc = natt_upnp_scan_to(&rs.addr, NULL, NULL, timeout_ms, stop_at, &s, &n);
	*took = now_ms() - t0;
	assert_int_equal(rc, (int)n);
	*nservices = rc;
	if (n)
		assert_string_equal(s[0].location, url(&good, "/rootDesc.xml"));
	natt_upnp_services_free(s, n);
	pthread_join(rs.thread, NULL);
	close(rs.fd);
	server_stop(&good);
	server_stop(&other);
	*fetches_good = good.connections;
	*fetches_other = other.connections;
}

static void test_scan(void **state)
{
	(void)state;
	int n, good, other;
	long long took;
	/* The whole time: two searches (0, 200 ms) answered three times each; one description read. */
	scan_once(NULL, 500, &n, &took, &good, &other);
	assert_int_equal(n, 1);
	assert_true(took >= 490 && took < 800);
	assert_int_equal(good, 1);
	assert_int_equal(other, 0); /* the forged LOCATION is never fetched */

	/* Stop at the first matching service: WANIPConnection:1 is there. */
	scan_once(WANIP, 2000, &n, &took, &good, &other);
	assert_int_equal(n, 1);
	assert_true(took < 1000); /* (not the 2 s) */

	/* A :2 is wanted, only a :1 exists: the scan runs its whole time and still returns what it found. */
	scan_once("urn:schemas-upnp-org:service:WANIPConnection:2", 400, &n, &took, &good, &other);
	assert_int_equal(n, 1);
	assert_true(took >= 390);

	struct natt_upnp_service *s;
	size_t cnt;
	assert_int_equal(natt_upnp_scan(NULL, NULL, 0, NULL, &s, &cnt), -EINVAL);
}

static void test_no_fd_leak(void **state)
{
	(void)state;
	int before = dup(0);
	close(before);
	for (int i = 0; i < 5; i++)
		natt_upnp_call("http://127.0.0.1:1/ctl", WANIP, "X", NULL, 0, 200, NULL, NULL, NULL);
	int after = dup(0);
	close(after);
	assert_int_equal(before, after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soap_prepare),
		cmocka_unit_test(test_soap_parse_reply),
		cmocka_unit_test(test_describe_actions_call),
		cmocka_unit_test(test_slow_pieces),
		cmocka_unit_test(test_timeouts_and_failures),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_hostile_answers),
		cmocka_unit_test(test_interim_answers),
		cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_igd_open),
		cmocka_unit_test(test_igd_open_known),
		cmocka_unit_test(test_igd_actions),
		cmocka_unit_test(test_lease_policy),
		cmocka_unit_test(test_igd_map_permanent),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_no_fd_leak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
