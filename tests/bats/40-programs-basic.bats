#!/usr/bin/env bats
# Real programs under natt-run: socat (TCP and UDP), a node http server,
# a Java server on the JDK's com.sun.net.httpserver, and a shell script that starts two servers.
# Each must be reached from the internet host through the router's public address, and leave
# nothing at the router once it (and every process it started) has ended.
# python3 -m http.server alone is covered by 10-publish-dual.bats; here it runs inside a script.

load lib/lab
load lib/natt
load lib/programs

programs_suite

@test "socat TCP echo server (a child per connection) is reachable, twice, and retired on SIGTERM" {
	natt_start socat lan1 "${NATT_OPTS[@]}" -- socat TCP4-LISTEN:8101,reuseaddr,fork EXEC:cat
	wait_published tcp 8101
	assert_assignment tcp 8101 upnp "$PUBLIC_ADDR" 8101
	run inet_tcp_echo 8101 natt-tcp-probe-1
	assert_success
	assert_output natt-tcp-probe-1
	# the child that served the connection closed its copy of the listening socket and exited:
	# the socket still lives in the parent, so the mapping stays
	wait_until 5 no_children "$(natt_pid socat)"
	sleep 1
	assert_rule_present 8101
	run inet_tcp_echo 8101 natt-tcp-probe-2
	assert_success
	assert_output natt-tcp-probe-2
	assert_published_by_live_process tcp 8101
	natt_signal socat TERM
	natt_wait_exit socat 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8101
}

@test "socat UDP echo server (a child per datagram) is reachable, twice, and retired on SIGTERM" {
	natt_start socat lan1 "${NATT_OPTS[@]}" -- socat UDP4-RECVFROM:8102,fork EXEC:cat
	wait_published udp 8102
	assert_assignment udp 8102 upnp "$PUBLIC_ADDR" 8102
	run inet_udp_echo 8102 natt-udp-probe-1
	assert_success
	assert_output natt-udp-probe-1
	wait_until 5 no_children "$(natt_pid socat)"
	sleep 1
	assert_rule_present 8102
	run inet_udp_echo 8102 natt-udp-probe-2
	assert_success
	assert_output natt-udp-probe-2
	assert_published_by_live_process udp 8102
	natt_signal socat TERM
	natt_wait_exit socat 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone udp 8102
}

@test "node http server is reachable from the internet and retired on SIGTERM" {
	require_program node nodejs
	natt_start node lan1 "${NATT_OPTS[@]}" -- node -e '
		require("http").createServer((req, res) => res.end("natt-node-ok\n")).listen(8103);'
	wait_published tcp 8103
	assert_assignment tcp 8103 upnp "$PUBLIC_ADDR" 8103
	run inet_http 8103
	assert_success
	assert_output natt-node-ok
	assert_published_by_live_process tcp 8103
	natt_signal node TERM
	natt_wait_exit node 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8103
}

@test "node http server that closes itself on SIGTERM (server.close) is retired when it closes" {
	require_program node nodejs
	natt_start node lan1 "${NATT_OPTS[@]}" -- node -e '
		const server = require("http").createServer((req, res) => res.end("natt-node-ok\n")).listen(8104);
		process.on("SIGTERM", () => { console.log("closing"); server.close(); });'
	wait_published tcp 8104
	run inet_http 8104
	assert_success
	assert_output natt-node-ok
	natt_signal node TERM
	# node leaves once the server is closed and nothing else is pending
	natt_wait_exit node 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8104
}

@test "Java com.sun.net.httpserver server is reachable from the internet and retired on SIGTERM" {
	require_program javac default-jdk-headless
	require_program java default-jdk-headless
	local src=$BATS_FILE_TMPDIR/java
	mkdir -p "$src"
	cat >"$src/NattHttp.java" <<-'EOF'
		import com.sun.net.httpserver.HttpServer;
		import java.io.OutputStream;
		import java.net.InetSocketAddress;
		import java.nio.charset.StandardCharsets;

		public class NattHttp {
		    public static void main(String[] args) throws Exception {
		        HttpServer server = HttpServer.create(new InetSocketAddress(Integer.parseInt(args[0])), 0);
		        server.createContext("/", exchange -> {
		            byte[] body = "natt-java-ok\n".getBytes(StandardCharsets.UTF_8);
		            exchange.sendResponseHeaders(200, body.length);
		            try (OutputStream out = exchange.getResponseBody()) {
		                out.write(body);
		            }
		        });
		        server.start();
		        System.out.println("listening " + args[0]);
		    }
		}
	EOF
	javac -d "$src" "$src/NattHttp.java"
	natt_start java lan1 "${NATT_OPTS[@]}" -- java -cp "$src" NattHttp 8105
	wait_published tcp 8105 30
	assert_assignment tcp 8105 upnp "$PUBLIC_ADDR" 8105
	run inet_http 8105
	assert_success
	assert_output natt-java-ok
	assert_published_by_live_process tcp 8105
	# the JVM handles SIGTERM itself (shutdown hooks, then exit)
	natt_signal java TERM
	natt_wait_exit java 15
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8105
}

# The script of the next two tests: python's http.server (TCP) and a socat UDP echo server, both in
# the background, one status file; on SIGTERM the script stops both and waits for them.
two_servers_script() {
	cat <<-EOF
		python3 -m http.server $1 --bind 0.0.0.0 --directory "$NATT_TEST_DIR" &
		web=\$!
		socat UDP4-RECVFROM:$2,fork EXEC:cat &
		udp=\$!
		trap 'kill \$web \$udp; wait \$web \$udp; exit 0' TERM
		echo started
		wait
	EOF
}

@test "a shell script starting two servers under one natt-run: both published, both retired when it ends" {
	echo natt-script-ok >"$NATT_TEST_DIR/probe.txt"
	natt_start script lan1 "${NATT_OPTS[@]}" -- sh -c "$(two_servers_script 8106 8107)"
	wait_published tcp 8106
	wait_published udp 8107
	# one status file, both sockets, each with the pid of the server that holds it
	run jq -r '[.sockets[] | select(.local_port == 8106 or .local_port == 8107) | .protocol] | sort | join(" ")' "$NATT_STATUS"
	assert_output "tcp udp"
	assert_published_by_live_process tcp 8106
	assert_published_by_live_process udp 8107
	run inet_http 8106 probe.txt
	assert_success
	assert_output natt-script-ok
	run inet_udp_echo 8107 natt-udp-probe
	assert_success
	assert_output natt-udp-probe
	natt_signal script TERM
	natt_wait_exit script 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8106
	assert_status_gone udp 8107
}

@test "a shell script's servers are retired when its whole process group gets SIGTERM (as systemd stops it)" {
	echo natt-script-ok >"$NATT_TEST_DIR/probe.txt"
	# setsid: a process group of its own (natt_start's process shares the test's group)
	natt_start script lan1 "${NATT_OPTS[@]}" -- setsid sh -c "
		python3 -m http.server 8108 --bind 0.0.0.0 --directory '$NATT_TEST_DIR' &
		socat UDP4-RECVFROM:8109,fork EXEC:cat &
		wait"
	wait_published tcp 8108
	wait_published udp 8109
	run inet_http 8108 probe.txt
	assert_success
	assert_output natt-script-ok
	run inet_udp_echo 8109 natt-udp-probe
	assert_success
	assert_output natt-udp-probe
	kill -TERM -- "-$(natt_pid script)"
	natt_wait_exit script 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8108
	assert_status_gone udp 8109
}
