#!/usr/bin/env bats
# make deb: the Debian packages natt, libnatt0 and libnatt-dev hold what they should, lintian finds no
# error, and the packages unpacked into a throwaway root work from there: the installed natt-run
# preloads the installed library and publishes a server at the lab's router, the installed natt waits
# for its address, and a program builds against libnatt-dev with pkg-config.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt

setup_file() {
	export DEB_DIR=$NATT_ROOT/build/deb
	DEB_SKIP=
	if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
		DEB_SKIP="dpkg-dev and debhelper are not installed (scripts/install-deps)"
	else
		# (built again only when a file of the tree changed since the last make deb)
		# (without the variables of an outer make, which would reach the package's build)
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$NATT_ROOT" --no-print-directory deb >"$BATS_FILE_TMPDIR/make-deb.out" 2>&1 ||
			DEB_SKIP=failed
	fi
	export DEB_SKIP
	MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
	VERSION=$(sed -n 's/^VERSION *:= *//p' "$NATT_ROOT/Makefile")
	ARCH=$(dpkg --print-architecture)
	export MULTIARCH VERSION ARCH
	# the throwaway root
	export ROOT=$BATS_FILE_TMPDIR/root
	if [ -z "$DEB_SKIP" ]; then
		for p in natt libnatt0 libnatt-dev; do
			dpkg -x "$DEB_DIR/${p}_${VERSION}_$ARCH.deb" "$ROOT"
		done
	fi
	require_root
	lab_up dual
}

teardown_file() {
	lab_down
}

teardown() {
	[ -z "${NATT_TEST_DIR:-}" ] || natt_test_teardown
}

deb_setup() {
	case $DEB_SKIP in
	"") ;;
	failed)
		sed 's/^/# /' "$BATS_FILE_TMPDIR/make-deb.out" >&3
		echo "make deb failed" >&2
		return 1
		;;
	*) skip "$DEB_SKIP" ;;
	esac
}

# deb_files PACKAGE — the files and links a package holds, one path per line (without the leading .).
deb_files() {
	dpkg-deb --fsys-tarfile "$DEB_DIR/${1}_${VERSION}_$ARCH.deb" | tar -tf - | sed 's|^\./|/|; /\/$/d' | sort
}

@test "deb: make deb builds the three packages, with the version of the Makefile; lintian finds no error" {
	deb_setup
	run cat "$BATS_FILE_TMPDIR/make-deb.out"
	refute_output --regexp '^E: '
	command -v lintian >/dev/null || skip "lintian is not installed (scripts/install-deps)"
	# make deb keeps lintian's report only when it found no error
	[ -f "$DEB_DIR/lintian.log" ]
	run grep -E '^E: ' "$DEB_DIR/lintian.log"
	assert_failure
	run dpkg-deb -f "$DEB_DIR/natt_${VERSION}_$ARCH.deb" Version
	assert_output "$VERSION"
	run dpkg-deb -f "$DEB_DIR/libnatt-dev_${VERSION}_$ARCH.deb" Depends
	assert_output --partial "libnatt0 (= $VERSION)"
	assert_output --partial "libminiupnpc-dev"
	run dpkg-deb -f "$DEB_DIR/libnatt0_${VERSION}_$ARCH.deb" Depends
	assert_output --partial "libnatpmp"
}

@test "deb: natt holds the commands, the preload library, man pages and completions" {
	deb_setup
	run deb_files natt
	for f in /usr/bin/natt /usr/bin/natt-run "/usr/lib/$MULTIARCH/natt/libnattpreload.so" \
		"/usr/lib/$MULTIARCH/natt/libnattpreload-engine.so" \
		/usr/share/man/man1/natt.1.gz /usr/share/man/man1/natt-run.1.gz \
		/usr/share/bash-completion/completions/natt /usr/share/bash-completion/completions/natt-run \
		/usr/share/doc/natt/copyright; do
		assert_line "$f"
	done
	# nothing of the library packages
	refute_output --partial libnatt.so
	refute_output --partial /usr/include
	# the installed natt-run looks for the library where the package puts it
	run grep -E '^NATT_INSTALLED_SHIM(_RELATIVE)?=' "$ROOT/usr/bin/natt-run"
	assert_line "NATT_INSTALLED_SHIM=/usr/lib/$MULTIARCH/natt/libnattpreload.so"
	assert_line "NATT_INSTALLED_SHIM_RELATIVE=../lib/$MULTIARCH/natt/libnattpreload.so"
	# the packaged completion is the one of the tree, and bash reads it
	cmp "$ROOT/usr/share/bash-completion/completions/natt" "$NATT_ROOT/scripts/bash-completion/natt"
	bash -n "$ROOT/usr/share/bash-completion/completions/natt-run"
}

@test "deb: libnatt0 holds the shared library, libnatt-dev the headers, static library and pkg-config file" {
	deb_setup
	run deb_files libnatt0
	assert_line "/usr/lib/$MULTIARCH/libnatt.so.0"
	[ "$(grep -c "^/usr/lib/$MULTIARCH/" <<<"$output")" = 1 ]
	run objdump -p "$ROOT/usr/lib/$MULTIARCH/libnatt.so.0"
	assert_output --regexp 'SONAME +libnatt\.so\.0'
	run deb_files libnatt-dev
	for f in /usr/include/natt.h /usr/include/natt/listener.h "/usr/lib/$MULTIARCH/libnatt.a" \
		"/usr/lib/$MULTIARCH/libnatt.so" "/usr/lib/$MULTIARCH/pkgconfig/natt.pc"; do
		assert_line "$f"
	done
	# a program builds against the unpacked packages with pkg-config, and runs with their library
	export PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_PATH=$ROOT/usr/lib/$MULTIARCH/pkgconfig
	run pkg-config --modversion natt
	assert_output "$VERSION"
	run sh -c "cc -o '$BATS_TEST_TMPDIR/udp-echo' '$NATT_ROOT/examples/udp-echo.c' \$(pkg-config --cflags --libs natt)"
	assert_success
	run env LD_LIBRARY_PATH="$ROOT/usr/lib/$MULTIARCH" ldd "$BATS_TEST_TMPDIR/udp-echo"
	assert_output --partial "$ROOT/usr/lib/$MULTIARCH/libnatt.so.0"
}

@test "deb: the installed natt-run publishes a server at the router with the installed library" {
	deb_setup
	natt_test_setup
	local shim=$ROOT/usr/lib/$MULTIARCH/natt/libnattpreload.so
	# the copy in the root, not the build tree's (NATT_PRELOAD_LIBRARY, set by sanitizer runs, would
	# choose another)
	run env -u NATT_PRELOAD_LIBRARY "$ROOT/usr/bin/natt-run" -- sh -c 'echo "$LD_PRELOAD"'
	assert_output "$shim"
	run "$ROOT/usr/bin/natt" --version
	assert_output "natt $VERSION"
	ext=$(lab_info ext_ip)
	ip netns exec "$(lab_ns lan1)" env -u NATT_PRELOAD_LIBRARY "$ROOT/usr/bin/natt-run" --status "$NATT_STATUS" -- \
		python3 -m http.server 8400 >"$NATT_TEST_DIR/web.out" 2>"$NATT_TEST_DIR/web.err" &
	echo $! >"$NATT_TEST_DIR/web.pid"
	run timeout 30 "$ROOT/usr/bin/natt" wait --port 8400 --timeout 20 "$NATT_STATUS"
	assert_success
	assert_output "$ext:8400"
	# the server runs with the root's library loaded, and the router forwards to it
	grep -qF "$shim" "/proc/$(cat "$NATT_TEST_DIR/web.pid")/maps"
	router_has_rule "dport 8400 dnat ip to 10.77.0.2:8400"
	run on_inet curl -sS --max-time 5 "http://$ext:8400/"
	assert_success
	assert_output --partial "Directory listing"
	natt_signal web TERM
	natt_wait_exit web 10
	run router_rules
	assert_output ""
}
