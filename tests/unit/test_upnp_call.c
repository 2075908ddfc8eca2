/* SOAP calls and the HTTP client under them: envelopes, replies and faults, HTTP framing (length,
 * chunked, to close), and whole exchanges with an HTTP server on loopback — descriptions, SCPDs, calls,
 * timeouts, refusals, oversized answers. */
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

#include "natt/upnp.h"
#include "upnp_internal.h"

#define WANIP "urn:schemas-upnp-org:service:WANIPConnection:1"

/* ---- Envelopes and replies ----------------------------------------------------------------------- */

static void test_soap_build(void **state)
{
	(void)state;
	struct natt_upnp_arg args[] = {
		{ "NewRemoteHost", NULL },
		{ "NewPortMappingDescription", "a<b>&\"c'" },
	};
	char *body;
	size_t len;
	assert_int_equal(natt_soap_build(WANIP, "AddPortMapping", args, 2, &body, &len), 0);
	assert_int_equal(strlen(body), len);
	assert_non_null(strstr(body, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	                             "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"));
	assert_non_null(strstr(body, "<s:Body><u:AddPortMapping xmlns:u=\"" WANIP "\">"
	                             "<NewRemoteHost></NewRemoteHost>"
	                             "<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;</NewPortMappingDescription>"
	                             "</u:AddPortMapping></s:Body></s:Envelope>"));
	/* our own reader reads it back */
	struct natt_xml_doc d;
	assert_int_equal(natt_xml_parse(body, len, &d), 0);
	int call = natt_xml_child(&d, natt_xml_child(&d, 0, "Body"), "AddPortMapping");
	assert_string_equal(natt_xml_child_text(&d, call, "NewPortMappingDescription"), "a<b>&\"c'");
	natt_xml_free(&d);
	free(body);

	assert_int_equal(natt_soap_build(WANIP, "GetExternalIPAddress", NULL, 0, &body, &len), 0);
	free(body);
	struct natt_upnp_arg bad_name[] = { { "New Port", "1" } };
	assert_int_equal(natt_soap_build(WANIP, "X", bad_name, 1, &body, &len), -EINVAL);
	assert_int_equal(natt_soap_build(WANIP, "X></u:X><evil", NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(natt_soap_build("urn:x\"><y", "X", NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(natt_soap_build("urn:x\r\nX-Evil: 1", "X", NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(natt_soap_build("", "X", NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(natt_soap_build(WANIP, "X", NULL, 1, &body, &len), -EINVAL);
	assert_null(body);
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
	assert_int_equal(natt_soap_parse_reply(200, "OK", ok_reply, strlen(ok_reply), &v, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "NewInternalPort");
	assert_string_equal(v[0].value, "8080");
	assert_string_equal(natt_upnp_value_get(v, n, "NewInternalClient"), "10.77.0.2");
	const char *desc = natt_upnp_value_get(v, n, "NewPortMappingDescription");
	assert_true(strlen(desc) > 128);
	assert_non_null(strstr(desc, "& more"));
	assert_null(natt_upnp_value_get(v, n, "Missing"));
	natt_upnp_values_free(v, n);

	/* a fault: UPnP code and description */
	assert_int_equal(natt_soap_parse_reply(500, "Internal Server Error", fault_reply, strlen(fault_reply), &v, &n,
	                                       &e),
	                 NATT_ERR_UPNP);
	assert_int_equal(e.upnp_code, 718);
	assert_int_equal(e.http_status, 500);
	assert_string_equal(e.description, "ConflictInMappingEntry");
	assert_null(v);
	assert_int_equal(n, 0);
	/* the same with status 200 (some devices) is still a failure */
	assert_int_equal(natt_soap_parse_reply(200, "OK", fault_reply, strlen(fault_reply), &v, &n, &e), NATT_ERR_UPNP);

	/* a fault without UPnPError: not a UPnP error, faultstring kept */
	const char *soapfault = "<Envelope><Body><Fault><faultstring>Bad request</faultstring></Fault></Body></Envelope>";
	assert_int_equal(natt_soap_parse_reply(500, "x", soapfault, strlen(soapfault), &v, &n, &e), NATT_ERR_BAD_REPLY);
	assert_int_equal(e.upnp_code, 0);
	assert_string_equal(e.description, "Bad request");

	/* HTTP errors with non-SOAP bodies */
	assert_int_equal(natt_soap_parse_reply(404, "Not Found", "<html>nope</html>", 17, &v, &n, &e),
	                 NATT_ERR_BAD_REPLY);
	assert_int_equal(e.http_status, 404);
	assert_string_equal(e.description, "HTTP 404 Not Found");
	assert_int_equal(natt_soap_parse_reply(401, "Unauthorized", "", 0, &v, &n, NULL), NATT_ERR_BAD_REPLY);
	/* 200 with garbage or an empty body */
	assert_int_equal(natt_soap_parse_reply(200, "OK", "<<<", 3, &v, &n, &e), NATT_ERR_BAD_REPLY);
	const char *empty = "<Envelope><Body/></Envelope>";
	assert_int_equal(natt_soap_parse_reply(200, "OK", empty, strlen(empty), &v, &n, &e), NATT_ERR_BAD_REPLY);
	/* an action without results */
	const char *none = "<s:Envelope xmlns:s=\"x\"><s:Body><u:DeletePortMappingResponse xmlns:u=\"y\"/></s:Body></s:Envelope>";
	assert_int_equal(natt_soap_parse_reply(200, "OK", none, strlen(none), &v, &n, &e), 0);
	assert_null(v);
	assert_int_equal(n, 0);
	/* a non-numeric errorCode */
	const char *oddcode = "<Envelope><Body><Fault><detail><UPnPError><errorCode>7x</errorCode>"
	                      "<errorDescription>d</errorDescription></UPnPError></detail></Fault></Body></Envelope>";
	assert_int_equal(natt_soap_parse_reply(500, "x", oddcode, strlen(oddcode), &v, &n, &e), NATT_ERR_BAD_REPLY);
}

/* ---- HTTP framing -------------------------------------------------------------------------------- */

static int parse_http(const char *raw, int eof, struct natt_http_response *r)
{
	return natt_http_parse_response(raw, strlen(raw), eof, 1000, r);
}

static void test_http_framing(void **state)
{
	(void)state;
	struct natt_http_response r;
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.reason, "OK");
	assert_string_equal(r.body, "hello");
	free(r.body);
	/* extra bytes after Content-Length are not body */
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\ncontent-length:2\r\n\r\nhello", 1, &r), 0);
	assert_string_equal(r.body, "he");
	free(r.body);
	/* waiting for more */
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 0, &r), -EAGAIN);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1, &r), -EPROTO);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Le", 0, &r), -EAGAIN);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Le", 1, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(parse_http("", 1, &r), -EPROTO);
	/* to the connection's end, LF-only lines */
	assert_int_equal(parse_http("HTTP/1.0 500 Internal Server Error\nServer: x\n\nbody", 0, &r), -EAGAIN);
	assert_int_equal(parse_http("HTTP/1.0 500 Internal Server Error\nServer: x\n\nbody", 1, &r), 0);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.reason, "Internal Server Error");
	assert_string_equal(r.body, "body");
	free(r.body);
	/* chunked, with extensions and a trailer */
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
	assert_int_equal(parse_http(chunked, 0, &r), 0);
	assert_string_equal(r.body, "hello 0123456789");
	assert_int_equal(r.body_len, 16);
	free(r.body);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, &r), -EAGAIN);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1, &r), -EPROTO);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, &r), -EPROTO);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 0, &r), -EPROTO);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n", 0, &r),
	                 -EPROTO);
	/* limits: max_body is 1000 here */
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 0, &r), -EMSGSIZE);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 0, &r), -EMSGSIZE);
	/* not HTTP */
	assert_int_equal(parse_http("SSH-2.0-OpenSSH\r\n\r\n", 0, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(parse_http("SSH-2.0", 0, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(parse_http("HTTP/1.1 2x0 OK\r\n\r\n", 1, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 1, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(parse_http("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 1, &r),
	                 NATT_ERR_BAD_REPLY);
	/* 204 has no body */
	assert_int_equal(parse_http("HTTP/1.1 204 No Content\r\n\r\n", 0, &r), 0);
	assert_int_equal(r.body_len, 0);
	free(r.body);
}

/* ---- A small HTTP server on loopback ------------------------------------------------------------- */

enum behaviour { SERVE, NEVER_ANSWER, CLOSE_AT_ONCE, SLOW_PIECES };

struct route {
	const char *path;
	const char *response; /* the whole raw HTTP response */
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
		if (sv->behaviour == NEVER_ANSWER) {
			while (now_ms() < until)
				usleep(10000);
			close(c);
			continue;
		}
		const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
		for (const struct route *r = sv->routes; r && r->path; r++) {
			char line[256];
			snprintf(line, sizeof(line), " %s HTTP/1.1\r\n", r->path);
			if (strstr(sv->last_request, line)) {
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
	static char buf[4][128];
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
		{ "/rootDesc.xml", desc_response },
		{ "/scpd.xml", scpd_response },
		{ "/ctl", ctl_ok },
		{ "/bad", ctl_fault },
		{ NULL, NULL },
	};
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);

	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 1000, &s, &n), 1);
	assert_true(strstr(sv.last_request, "GET /rootDesc.xml HTTP/1.1\r\n") == sv.last_request);
	assert_non_null(strstr(sv.last_request, "Connection: close\r\n"));
	assert_string_equal(s[0].control_url, url(&sv, "/ctl"));
	assert_string_equal(s[0].scpd_url, url(&sv, "/scpd.xml"));

	struct natt_upnp_action *a;
	size_t na;
	assert_int_equal(natt_upnp_get_actions(&s[0], 1000, &a, &na), 1);
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
	assert_true(strstr(sv.last_request, "POST /ctl HTTP/1.1\r\n") == sv.last_request);
	assert_non_null(strstr(sv.last_request, "SOAPAction: \"" WANIP "#GetExternalIPAddress\"\r\n"));
	assert_non_null(strstr(sv.last_request, "Content-Type: text/xml; charset=\"utf-8\"\r\n"));
	assert_non_null(strstr(sv.last_request, "<u:GetExternalIPAddress xmlns:u=\"" WANIP "\"></u:GetExternalIPAddress>"));

	struct natt_upnp_arg args[] = { { "NewExternalPort", "80" }, { "NewProtocol", "TCP" } };
	assert_int_equal(natt_upnp_call(url(&sv, "/bad"), WANIP, "AddPortMapping", args, 2, 1000, &v, &nv, &e),
	                 NATT_ERR_UPNP);
	assert_int_equal(e.upnp_code, 718);
	assert_int_equal(e.http_status, 500);
	assert_string_equal(e.description, "ConflictInMappingEntry");
	assert_null(v);
	assert_non_null(strstr(sv.last_request, "<NewExternalPort>80</NewExternalPort><NewProtocol>TCP</NewProtocol>"));

	/* results not wanted */
	assert_int_equal(natt_upnp_call(s[0].control_url, WANIP, "GetExternalIPAddress", NULL, 0, 1000, NULL, NULL, NULL), 0);
	/* 404 */
	assert_int_equal(natt_upnp_call(url(&sv, "/nowhere"), WANIP, "X", NULL, 0, 1000, &v, &nv, &e), NATT_ERR_BAD_REPLY);
	assert_int_equal(e.http_status, 404);
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
	const struct route routes[] = { { "/rootDesc.xml", desc_response }, { NULL, NULL } };
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
	server_start(&sv, NEVER_ANSWER, NULL, 700);
	long long t0 = now_ms();
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 300, &s, &n), -ETIMEDOUT);
	long long took = now_ms() - t0;
	assert_true(took >= 295 && took < 400);
	server_stop(&sv);

	server_start(&sv, CLOSE_AT_ONCE, NULL, 300);
	assert_int_equal(natt_upnp_describe(url(&sv, "/rootDesc.xml"), 1000, &s, &n), -EPROTO);
	int port = sv.port;
	server_stop(&sv);

	/* nobody listens there any more: what a restarted miniupnpd's old port gives */
	char gone[64];
	snprintf(gone, sizeof(gone), "http://127.0.0.1:%d/ctl", port);
	assert_int_equal(natt_upnp_call(gone, WANIP, "GetExternalIPAddress", NULL, 0, 500, NULL, NULL, NULL), -ECONNREFUSED);

	/* bad URLs and arguments */
	assert_int_equal(natt_upnp_describe("http://router.lan/d.xml", 100, &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_describe("http://127.0.0.1/d.xml", 0, &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_call("http://127.0.0.1:1/", WANIP, "Bad Name", NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(natt_upnp_call(NULL, WANIP, "X", NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	struct natt_upnp_service empty = { .scpd_url = "" };
	struct natt_upnp_action *a;
	size_t na;
	assert_int_equal(natt_upnp_get_actions(&empty, 100, &a, &na), -EINVAL);
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
	const struct route routes[] = { { "/big.xml", resp }, { NULL, NULL } };
	struct server sv;
	server_start(&sv, SERVE, routes, 1500);
	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_describe(url(&sv, "/big.xml"), 1000, &s, &n), -EMSGSIZE);
	server_stop(&sv);
	free(resp);
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
	const struct route routes[] = { { "/rootDesc.xml", desc_response }, { NULL, NULL } };
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
	assert_true(took >= 490 && took < 600);
	assert_int_equal(good, 1);
	assert_int_equal(other, 0); /* the forged LOCATION is never fetched */

	/* Stop at the first matching service: WANIPConnection:1 is there. */
	scan_once(WANIP, 2000, &n, &took, &good, &other);
	assert_int_equal(n, 1);
	assert_true(took < 300);

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
		cmocka_unit_test(test_soap_build),
		cmocka_unit_test(test_soap_parse_reply),
		cmocka_unit_test(test_http_framing),
		cmocka_unit_test(test_describe_actions_call),
		cmocka_unit_test(test_slow_pieces),
		cmocka_unit_test(test_timeouts_and_failures),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_no_fd_leak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
