#!/usr/bin/env bats
# What LD_PRELOAD cannot reach: setuid/setgid programs and those with file capabilities (the loader
# ignores LD_PRELOAD for them) and static binaries (no dynamic loader at all). natt-run runs them with
# a watcher outside instead (tests/bats/69-outside.bats publishes them); it says so with -v, and
# warns only where nothing can be done: a program that gains privileges, started by a user who cannot
# see its sockets. Ordinary programs get no word. A bad option is an error of natt-run itself: exit
# status 2, before anything runs. (Only the last tests need the lab.)

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt
load lib/programs

SOCKCTL=$NATT_BUILD/tests/progs/sockctl
SOCKCTL_SRC=$NATT_ROOT/tests/progs/sockctl.c
# The copies made setuid, setgid or capable: built plain here, since a sanitizer build's copy (make
# check-asan) would fail on its own at exit once privileged (LeakSanitizer cannot read a process that
# gained privileges, and the runtime then ignores ASAN_OPTIONS).
PRIV_SOCKCTL=$BATS_FILE_TMPDIR/sockctl-plain

setup_file() {
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O1 -o "$PRIV_SOCKCTL" "$SOCKCTL_SRC"
	lab_up dual
}
teardown_file() { lab_down; }

setup() {
	BIN=$BATS_TEST_TMPDIR/bin
	mkdir -p "$BIN"
	chmod 755 "$BATS_TEST_TMPDIR" "$BIN"
}

teardown() {
	[ -z "${NATT_TEST_DIR:-}" ] || programs_teardown
}

# static_build OUT [cc flags]: sockctl linked statically, or skip when the C library has no static archive.
static_build() {
	local out=$1
	shift
	[ -n "$(${CC:-cc} -print-file-name=libc.a)" ] && [ -f "$(${CC:-cc} -print-file-name=libc.a)" ] ||
		skip "no static C library (libc.a) to link a static test program"
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O1 "$@" -o "$out" "$SOCKCTL_SRC" ||
		skip "cannot link a static program here ($*)"
}

# run_natt PROGRAM: natt-run PROGRAM with no input (sockctl ends at end of input); stderr separate.
run_natt() {
	run --separate-stderr "$NATT_RUN" "$@" </dev/null
}

warns() {
	[[ $stderr == *"natt-run: warning: "*"$1"* ]] ||
		fail "$(printf 'natt-run printed no warning "%s"; stderr was:\n%s' "$1" "$stderr")"
}

# says_outside TEXT: -v told that the program is watched from outside, and why; no warning.
says_outside() {
	[[ $stderr == *"natt-run: "*"$1: publishing its sockets from outside"* ]] ||
		fail "$(printf 'natt-run -v did not say "%s: publishing its sockets from outside"; stderr was:\n%s' "$1" "$stderr")"
	[[ $stderr != *"warning"* ]] || fail "unexpected warning: $stderr"
}

# as_nobody CMD [ARGS]: runs CMD as user nobody (util-linux setpriv).
as_nobody() {
	setpriv --reuid nobody --regid nogroup --clear-groups "$@"
}

@test "natt-run runs a setuid program with a watcher outside it (said with -v), and the program runs" {
	require_root
	cp "$PRIV_SOCKCTL" "$BIN/suid"
	chown nobody "$BIN/suid"
	chmod 4755 "$BIN/suid"
	run_natt -v "$BIN/suid" --banner
	assert_success
	assert_output --regexp '^ready [0-9]+$'
	says_outside "$BIN/suid is setuid/setgid"
	# without -v: not a word
	run_natt "$BIN/suid" --banner
	assert_success
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "natt-run warns for a setuid program a user cannot see into, and still runs it" {
	require_root
	# (bats' own directories are root's alone: one that nobody can reach)
	local dir
	dir=$(mktemp -d /tmp/natt-suid.XXXXXX)
	chmod 755 "$dir"
	cp "$PRIV_SOCKCTL" "$dir/suid-root"
	chmod 4755 "$dir/suid-root"
	run --separate-stderr as_nobody "$NATT_RUN" "$dir/suid-root" --banner </dev/null
	rm -rf "$dir"
	assert_success
	assert_output --regexp '^ready [0-9]+$'
	warns "$dir/suid-root is setuid/setgid"
	warns "nothing will be published"
}

@test "natt-run runs a setgid program with a watcher outside it" {
	cp "$PRIV_SOCKCTL" "$BIN/sgid"
	chmod 2755 "$BIN/sgid"
	run_natt -v "$BIN/sgid"
	assert_success
	says_outside "$BIN/sgid is setuid/setgid"
}

@test "natt-run runs a program with file capabilities with a watcher outside it" {
	command -v setcap >/dev/null || skip "setcap (package libcap2-bin) is not installed"
	cp "$PRIV_SOCKCTL" "$BIN/caps"
	setcap cap_net_bind_service+ep "$BIN/caps" 2>/dev/null || skip "cannot set file capabilities here"
	run_natt -v "$BIN/caps"
	assert_success
	says_outside "$BIN/caps has file capabilities"
}

@test "natt-run finds a setuid program on PATH and watches it too" {
	cp "$PRIV_SOCKCTL" "$BIN/suid-on-path"
	chmod 4755 "$BIN/suid-on-path"
	PATH=$BIN:$PATH run_natt -v suid-on-path
	assert_success
	says_outside "$BIN/suid-on-path is setuid/setgid"
}

@test "natt-run runs a static binary with a watcher outside it, and the program runs" {
	static_build "$BIN/static" -static
	run_natt -v "$BIN/static" --banner
	assert_success
	assert_output --regexp '^ready [0-9]+$'
	says_outside "$BIN/static is statically linked"
}

@test "natt-run runs a static-pie binary with a watcher outside it" {
	static_build "$BIN/static-pie" -static-pie
	run_natt -v "$BIN/static-pie"
	assert_success
	says_outside "$BIN/static-pie is statically linked"
}

@test "natt-run: a command that is not there exits 127, one that cannot run 126" {
	run_natt "$BIN/no-such-program"
	assert_failure 127
	[[ $stderr == *"no-such-program"* ]]
	touch "$BIN/not-executable"
	run_natt "$BIN/not-executable"
	assert_failure 126
}

@test "natt-run prints no warning for an ordinary dynamic program" {
	run_natt "$SOCKCTL" --banner
	assert_success
	assert_output --regexp '^ready [0-9]+$'
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "natt-run with a bad option exits 2 before running anything" {
	local marker=$BATS_TEST_TMPDIR/ran
	local bad
	for bad in "--bogus" "-x" "--lifetime 0" "--lifetime 604801" "--lifetime ten" "--ports 0" "--ports 70000" \
		"--ports 9000-8000" "--protocols carrier-pigeon" "--protocols upnp,upnp" "--gateway 10.0.0" \
		"--gateway 10.0.0.256" "--log loud"; do
		# shellcheck disable=SC2086  # the option and its value are two words
		run --separate-stderr "$NATT_RUN" $bad -- touch "$marker"
		[ "$status" = 2 ] || fail "natt-run $bad: exit status $status, expected 2 (stderr: $stderr)"
		[ -n "$stderr" ] || fail "natt-run $bad: exit status 2 without a word on stderr"
		[ ! -e "$marker" ] || fail "natt-run $bad ran the command"
	done
	# an option without its value, an empty status file name, no command at all
	run --separate-stderr "$NATT_RUN" --lifetime
	assert_equal "$status" 2
	run --separate-stderr "$NATT_RUN" --status "" touch "$marker"
	assert_equal "$status" 2
	run --separate-stderr "$NATT_RUN" --lifetime 60
	assert_equal "$status" 2
	[ ! -e "$marker" ]
	# and a good option still runs it
	run "$NATT_RUN" --lifetime 60 -- touch "$marker"
	assert_success
	[ -e "$marker" ]
}

@test "a static-pie server under natt-run is published from outside, and is not disturbed" {
	lab_setup
	natt_test_setup
	static_build "$BIN/static-pie" -static-pie
	natt_start st lan1 "${NATT_OPTS[@]}" -- "$BIN/static-pie"
	natt_send st "tcp 0.0.0.0 8695"
	natt_expect st '^[0-9]+ 8695$'
	wait_published tcp 8695
	natt_send st "pid"
	natt_expect st "^$(natt_pid st)\$"
	natt_send st "exit 3"
	natt_wait_exit st 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8695
}

@test "natt-run -h and --help print the usage with every option; --version its version" {
	local opt
	for opt in -h --help; do
		run "$NATT_RUN" "$opt"
		assert_success
		assert_output --partial "natt-run [options] [--] command"
		for long in --status --lifetime --protocols --ports --gateway --on-change --verbose --log --version \
			--outside --no-seccomp --pid; do
			[[ $output == *"$long"* ]] || fail "$opt does not mention $long"
		done
	done
	run "$NATT_RUN" --version
	assert_success
	assert_output --regexp '^natt-run [0-9]+\.[0-9]+\.[0-9]+$'
	run "$NATT_RUN" --protocols pcp,nat-pmp -- true
	assert_success
	run "$NATT_RUN" --protocols pcp,PCP -- true
	assert_failure 2
	assert_output --partial "not a list of distinct techniques (upnp, nat-pmp, pcp)"
}

@test "libnattpreload.so exports the hooked calls and nothing else" {
	local exported listed
	exported=$(nm -D --defined-only "$NATT_BUILD/libnattpreload.so" | awk '$2 ~ /^[TWiV]$/ { sub(/@.*/, "", $3); print $3 }' | sort)
	listed=$(sed -n '/global:/,/local:/p' "$NATT_ROOT/shim/exports.map" | grep -v 'global:\|local:' | tr ';' '\n' | tr -d ' \t' | grep . | sort)
	assert_equal "$exported" "$listed"
	# every one of them is a libc function the shim stands in for (a typo would export a new symbol)
	local sym
	for sym in $listed; do
		nm -D --defined-only /lib/x86_64-linux-gnu/libc.so.6 | grep -qE " $sym(@|$)" || fail "$sym is not a libc function"
	done
}

@test "libnattpreload-engine.so exports its attach function and nothing else (miniupnpc, libnatpmp stay inside)" {
	local exported
	exported=$(nm -D --defined-only "$NATT_BUILD/libnattpreload-engine.so" | awk '$2 ~ /^[TWiVDBR]$/ { sub(/@.*/, "", $3); print $3 }')
	assert_equal "$exported" "natt_preload_engine_attach"
}

# The preload library whose layout the tests below look at. An AddressSanitizer build's .data (its
# instrumented variables with their red zones) fills pages of its own before ours, and its code is
# instrumented: there the plain build's library, when there is one (else it fails).
layout_library() {
	local lib=$NATT_BUILD/libnattpreload.so
	if nm -u "$lib" | grep -q __asan_; then
		lib=$NATT_ROOT/build/libnattpreload.so
		[ -f "$lib" ] && ! nm -u "$lib" | grep -q __asan_ || return 1
	fi
	echo "$lib"
}

@test "libnattpreload.so keeps its hot data and the fd table's first slots in a page the loader writes anyway" {
	# (a page with a relocation in it is written at every program's start; a variable of the hooks in
	# any other page costs a page fault at its first use: at start, at exit, or in the first bind().
	# completed.N is the C runtime's, set by its destructor at every exit.)
	local lib page sym addr
	lib=$(layout_library) || skip "an AddressSanitizer build, and no plain build beside it to look at"
	readelf -SW "$lib" | grep -q ' \.data\.nattshim ' ||
		fail "$lib was linked without shim/layout.ld (a linker other than GNU ld or lld?)"
	page() { echo $(( 0x$1 / 4096 )); }
	local written
	written=$(readelf -rW "$lib" | awk '$1 ~ /^[0-9a-f]+$/ && length($1) >= 8 { print $1 }' |
		while read -r off; do page "$off"; done | sort -u)
	address_of() { # the one address of the symbol whose name matches the regular expression $1
		local found
		found=$(nm "$lib" | awk -v re="^($1)\$" '$3 ~ re { print $1 }')
		[ "$(wc -w <<<"$found")" = 1 ] || fail "not one symbol matching $1 in $lib: ${found:-none}"
		echo "$found"
	}
	for sym in engine_state self_pid natt_fd_chunk0 real_close real_bind deferred 'completed\.[0-9]+'; do
		addr=$(address_of "$sym") || return 1
		grep -qx "$(page "$addr")" <<<"$written" || fail "$sym (0x$addr) lies in a page without relocations"
	done
	# and so does the fd table's slot of fd 3 (8-byte slots), a program's first socket as a rule
	addr=$(address_of first_chunk) || return 1
	addr=$(printf '%x' $(( 0x$addr + 3 * 8 )))
	grep -qx "$(page "$addr")" <<<"$written" || fail "fd 3's slot (0x$addr) lies in a page without relocations"
}

@test "libnattpreload.so keeps the hooks of the often-called functions and their calls on to libc in one page of code" {
	# (where every system call empties the TLB, each page a hook touches between two calls costs a
	# page walk: these hooks touch this one page of code and the hot data's)
	local lib sym line addr size first last pages=""
	lib=$(layout_library) || skip "an AddressSanitizer build, and no plain build beside it to look at"
	readelf -SW "$lib" | grep -q ' \.text\.nattshim ' ||
		fail "$lib was linked without shim/layout.ld (a linker other than GNU ld or lld?)"
	for sym in close dup dup2 dup3 fcntl fcntl64 socket connect \
		libc_close libc_dup libc_dup2 libc_dup3 libc_fcntl libc_fcntl64 libc_socket libc_connect; do
		line=$(nm -S "$lib" | awk -v s="$sym" '$4 == s && $3 ~ /^[tT]$/')
		[ "$(wc -l <<<"$line")" = 1 ] && [ -n "$line" ] || fail "not one function $sym in $lib: ${line:-none}"
		read -r addr size _ <<<"$line"
		first=$(( 0x$addr / 4096 )) last=$(( (0x$addr + 0x$size - 1) / 4096 ))
		[ "$first" = "$last" ] || fail "$sym (0x$addr, 0x$size bytes) straddles two pages"
		pages+="$first "
	done
	[ "$(tr ' ' '\n' <<<"$pages" | grep . | sort -u | wc -l)" = 1 ] ||
		fail "the hooks lie in more than one page: $pages"
	# and these pass the call on as their last act (a jump, never a return through the hook)
	for sym in close dup dup2 dup3 connect socket; do
		objdump -d --no-show-raw-insn --disassemble="$sym" "$lib" | grep -qE '^ +[0-9a-f]+:\s+jmp' ||
			fail "objdump shows no code of $sym"
		! objdump -d --no-show-raw-insn --disassemble="$sym" "$lib" | grep -qE '^ +[0-9a-f]+:\s+ret' ||
			fail "$sym returns through the hook after the call it passes on"
	done
}

@test "libnattpreload-engine.so keeps its thread-local storage small: opened later, it takes static TLS from the loader's spare" {
	# (glibc keeps about 1.6 KiB spare for libraries opened later with static TLS; a sanitizer's runtime
	# and the program's own libraries take from it too. Past it, dlopen() fails and nothing is published.)
	local hex size
	hex=$(readelf -lW "$NATT_BUILD/libnattpreload-engine.so" | awk '$1 == "TLS" { print $6 }')
	size=$((${hex:-0}))
	[ "$size" -le 256 ] || fail "the engine's TLS segment is $size bytes (at most 256)"
}
