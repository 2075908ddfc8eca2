#!/usr/bin/env bats
# make install: the library, headers, pkg-config file, natt, natt-run and the man pages land under
# PREFIX, a program builds against them with pkg-config, and natt-run finds the installed shim.

load lib/lab

setup_file() {
	export PREFIX_DIR="$BATS_FILE_TMPDIR/prefix"
	make -C "$NATT_ROOT" --no-print-directory install PREFIX="$PREFIX_DIR" >/dev/null
}

@test "install: files land under PREFIX" {
	for f in bin/natt bin/natt-run lib/libnatt.so.0 lib/libnatt.a lib/natt/libnattpreload.so lib/natt/libnattpreload-engine.so \
		include/natt.h include/natt/listener.h lib/pkgconfig/natt.pc share/man/man1/natt.1 share/man/man1/natt-run.1 \
		share/bash-completion/completions/natt share/bash-completion/completions/natt-run; do
		[ -e "$PREFIX_DIR/$f" ] || { echo "missing $f" >&2; return 1; }
	done
}

@test "install: a program builds against the installed library with pkg-config" {
	export PKG_CONFIG_PATH="$PREFIX_DIR/lib/pkgconfig"
	run sh -c "cc -o '$BATS_FILE_TMPDIR/udp-echo' '$NATT_ROOT/examples/udp-echo.c' \$(pkg-config --cflags --libs natt)"
	assert_success
	run env LD_LIBRARY_PATH="$PREFIX_DIR/lib" ldd "$BATS_FILE_TMPDIR/udp-echo"
	assert_output --partial "$PREFIX_DIR/lib/libnatt.so.0"
}

@test "install: natt-run preloads the installed shim and keeps an existing LD_PRELOAD" {
	# (NATT_PRELOAD_LIBRARY, which the sanitizer runs set, would choose another shim)
	run env -u NATT_PRELOAD_LIBRARY LD_PRELOAD=/nonexistent-keep-me.so "$PREFIX_DIR/bin/natt-run" -- sh -c 'echo "$LD_PRELOAD"'
	assert_output --partial "$PREFIX_DIR/lib/natt/libnattpreload.so /nonexistent-keep-me.so"
	run "$PREFIX_DIR/bin/natt" --version
	assert_success
}
