#!/usr/bin/env bats
# nginx under natt-run: master + 2 workers with `daemon on`. The process
# natt-run starts opens the listening sockets, then daemonizes (it exits, the master carries on in a
# new session) and the master forks the workers, which all accept on inherited copies. The mapping
# must live as long as the socket does: through the daemonizing, `nginx -s reload` (new workers, old
# ones close their copies and exit) and a binary upgrade (USR2: the master execs a new nginx that
# inherits the sockets), and go with `nginx -s quit`.

load lib/lab
load lib/natt
load lib/programs

programs_suite
setup() {
	programs_setup
	require_program nginx nginx
	NGINX_BIN=$(command -v nginx) # a full path: a binary upgrade execs argv[0]
	NGX=$NATT_TEST_DIR/nginx
	mkdir -p "$NGX/tmp"
}

# nginx_conf BODY: writes $NGX/nginx.conf, a server on 0.0.0.0:PORT for each of NGINX_PORTS that
# answers every request with BODY; NGINX_EXTRA: more directives for the main context. Workers drop
# to nobody, as they do when root starts nginx.
nginx_conf() {
	local body=$1 port
	{
		cat <<-EOF
			daemon on;
			master_process on;
			worker_processes 2;
			user nobody nogroup;
			pid $NGX/nginx.pid;
			error_log $NGX/error.log info;
			${NGINX_EXTRA:-}
			events { worker_connections 64; }
			http {
			    access_log off;
			    client_body_temp_path $NGX/tmp/body;
			    proxy_temp_path $NGX/tmp/proxy;
			    fastcgi_temp_path $NGX/tmp/fastcgi;
			    uwsgi_temp_path $NGX/tmp/uwsgi;
			    scgi_temp_path $NGX/tmp/scgi;
		EOF
		for port in "${NGINX_PORTS[@]}"; do
			printf '    server { listen 0.0.0.0:%s; location / { default_type text/plain; return 200 "%s\\n"; } }\n' \
				"$port" "$body"
		done
		echo "}"
	} >"$NGX/nginx.conf"
}

nginx_args() { echo "-p $NGX/ -c $NGX/nginx.conf -e $NGX/error.log"; }

# nginx_start PORT...: writes a config for PORTs (body natt-nginx-ok), starts nginx under natt-run
# and waits for the daemonized master and its two workers. Sets NGINX_MASTER.
nginx_start() {
	NGINX_PORTS=("$@")
	nginx_conf natt-nginx-ok
	# shellcheck disable=SC2046
	natt_start nginx lan1 "${NATT_OPTS[@]}" -- "$NGINX_BIN" $(nginx_args)
	# the process natt-run started daemonizes: it exits at once, with status 0
	local rc=0
	wait "$(natt_pid nginx)" || rc=$?
	[ $rc = 0 ] || fail "nginx exited with status $rc: $(cat "$(natt_stderr nginx)" "$NGX/error.log" 2>/dev/null)"
	wait_file "$NGX/nginx.pid"
	NGINX_MASTER=$(cat "$NGX/nginx.pid")
	wait_until 20 nginx_has_workers "$NGINX_MASTER" 2
}

# nginx_has_workers MASTER N [OLD_WORKERS...]: MASTER has N living workers, none of them in OLD_WORKERS.
nginx_has_workers() {
	local master=$1 n=$2 workers w old
	shift 2
	workers=$(children_of "$master")
	[ "$(echo "$workers" | grep -c .)" = "$n" ] || return 1
	for w in $workers; do
		for old in "$@"; do [ "$w" != "$old" ] || return 1; done
	done
	for old in "$@"; do ! alive "$old" || return 1; done
}

nginx_signal() {
	# shellcheck disable=SC2046
	on_lan1 "$NGINX_BIN" $(nginx_args) -s "$1"
}

# assert_kept PORT: the router forwards PORT and has not deleted it since wait_published saw it.
assert_kept() {
	assert_rule_present "$1"
	assert_not_deleted_since "$(published_mark tcp "$1")" tcp "$1"
}

# nginx_quit_and_check PORT...: nginx -s quit; every nginx process ends, nothing is left at the
# router and the status file lists none of the ports.
nginx_quit_and_check() {
	local port
	# up to now, no deletion of any of them at the router (a wrong one, even if made again, shows
	# in the router's log)
	for port in "$@"; do assert_kept "$port"; done
	nginx_signal quit
	wait_host_idle lan1 15
	assert_router_empty
	for port in "$@"; do assert_status_gone tcp "$port"; done
}

@test "nginx (daemon on, master + 2 workers) is published, reachable, and retired by nginx -s quit" {
	nginx_start 8201
	wait_published tcp 8201
	# the first process is gone (natt deletes before a process ends): what it did on its way out must
	# not have retired the socket; nginx_quit_and_check looks again for what came later
	assert_kept 8201
	run inet_http 8201
	assert_success
	assert_output natt-nginx-ok
	assert_published_by_live_process tcp 8201
	# every worker answers: a few requests, all served
	for _ in 1 2 3 4; do
		run inet_http 8201
		assert_output natt-nginx-ok
	done
	nginx_quit_and_check 8201
}

@test "nginx -s reload: new workers, old ones exit, the port stays published and reachable" {
	nginx_start 8202
	wait_published tcp 8202
	run inet_http 8202
	assert_output natt-nginx-ok
	local old_workers
	old_workers=$(children_of "$NGINX_MASTER")
	nginx_conf natt-nginx-reloaded
	nginx_signal reload
	wait_http 8202 natt-nginx-reloaded
	# shellcheck disable=SC2086
	wait_until 15 nginx_has_workers "$NGINX_MASTER" 2 $old_workers ||
		fail "the old workers ($old_workers) did not make way for two new ones: $(children_of "$NGINX_MASTER")"
	# the old workers closed their copies and exited (natt deletes before a process ends): the master's
	# socket is still there
	alive "$NGINX_MASTER"
	assert_kept 8202
	run inet_http 8202
	assert_success
	assert_output natt-nginx-reloaded
	assert_published_by_live_process tcp 8202
	nginx_quit_and_check 8202
}

@test "nginx -s reload that adds a port and drops one: the new one is published, the dropped one retired" {
	nginx_start 8203 8204
	wait_published tcp 8203
	wait_published tcp 8204
	local old_workers
	old_workers=$(children_of "$NGINX_MASTER")
	NGINX_PORTS=(8203 8205)
	nginx_conf natt-nginx-reloaded
	nginx_signal reload
	wait_published tcp 8205
	wait_http 8205 natt-nginx-reloaded
	# shellcheck disable=SC2086
	wait_until 15 nginx_has_workers "$NGINX_MASTER" 2 $old_workers
	# 8204: the master closed it at the reload, the old workers' copies went with them
	wait_rule_gone 8204 5
	# the status file is written just after the deletion at the router
	wait_until 5 assert_status_gone tcp 8204 || assert_status_gone tcp 8204
	assert_rule_present 8203
	run inet_http 8203
	assert_output natt-nginx-reloaded
	assert_published_by_live_process tcp 8203
	assert_published_by_live_process tcp 8205
	nginx_quit_and_check 8203 8205
}

@test "nginx binary upgrade (USR2, then QUIT to the old master): the new master keeps the port published" {
	# nginx clears the environment of what it execs except for the variables named by `env`
	# (and the sanitizers' settings, for make check-asan)
	NGINX_EXTRA="env LD_PRELOAD; env NATT_STATUS_FILE; env NATT_VERBOSE; env NATT_LOG; env ASAN_OPTIONS; env UBSAN_OPTIONS; env TSAN_OPTIONS;"
	nginx_start 8206
	wait_published tcp 8206
	local old_master=$NGINX_MASTER new_master
	kill -USR2 "$old_master"
	wait_until 10 eval "[ -s '$NGX/nginx.pid' ] && [ \"\$(cat '$NGX/nginx.pid')\" != $old_master ]" ||
		fail "no new master after USR2: $(tail -n 20 "$NGX/error.log")"
	new_master=$(cat "$NGX/nginx.pid")
	wait_until 10 nginx_has_workers "$new_master" 2
	kill -QUIT "$old_master"
	wait_until 15 eval "! alive $old_master"
	# only the new master and its workers hold the socket now; the old master, gone, deleted nothing
	alive "$new_master"
	assert_kept 8206
	run inet_http 8206
	assert_success
	assert_output natt-nginx-ok
	assert_published_by_live_process tcp 8206
	nginx_quit_and_check 8206
}
