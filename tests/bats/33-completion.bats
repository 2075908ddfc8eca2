#!/usr/bin/env bats
# Bash completion of natt and natt-run (scripts/bash-completion/), loaded with the bash-completion
# package's helpers as an interactive shell would: COMP_WORDS/COMP_CWORD set, the completion function
# called, COMPREPLY checked. Options are compared with what `natt COMMAND --help` and `natt-run --help`
# list, so that a new option missing from the completion fails here. Needs no root.

bats_require_minimum_version 1.5.0

load lib/lab

BASH_COMPLETION=/usr/share/bash-completion/bash_completion
NATT=$NATT_BUILD/natt

setup() {
	[ -r "$BASH_COMPLETION" ] || skip "bash-completion is not installed ($BASH_COMPLETION)"
}

# comp WORD... — the completions (sorted, one per line) of the command line WORD..., the last word
# being the one completed (give "" to complete a new word).
comp() {
	bash --norc --noprofile -c '
		source "$1" || exit 3
		shift
		for f in "$NATT_ROOT"/scripts/bash-completion/*; do source "$f" || exit 3; done
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		spec=$(complete -p "$1") || exit 4
		func=${spec#*-F }
		func=${func%% *}
		"$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$BASH_COMPLETION" "$@" | sed '/^$/d' | sort
}

# The options a help text lists at the start of its lines ("  -g, --gateway GATEWAY  ..."), sorted.
help_options() {
	grep -oE '^ +(-[A-Za-z0-9], )?--[a-z0-9-]+' | grep -oE -- '-[A-Za-z0-9]\b|--[a-z0-9-]+' | sort -u
}

@test "natt: the first word completes to the commands and --help/--version" {
	run comp natt ""
	assert_success
	# (a command with two forms, such as map and map -6, has two lines there)
	expected=$("$NATT" help | grep -oE '^  [a-z][a-z-]+' | tr -d ' ' | sort -u)
	assert_output "$expected"
	run comp natt st
	assert_output "status"
	run comp natt un
	assert_output "$(printf 'unmap\nunmap-all')"
	run comp natt --v
	assert_output "--version"
	run comp natt help wa
	assert_output "$(printf 'wait\nwatch')"
	run comp natt help wai
	assert_output "wait"
}

@test "natt: each command's options are those its --help lists" {
	for c in external-ip map unmap unmap-all list discover call status wait gateway interfaces watch; do
		want=$({ "$NATT" "$c" --help | help_options; echo --help; } | grep -vx -- -h | sort -u)
		got=$(comp natt "$c" -)
		[ "$got" = "$want" ] || {
			echo "natt $c -<TAB>: got:" $got "; --help lists:" $want >&2
			false
		}
	done
	run comp natt map --l
	assert_output "--lifetime"
	run comp natt status --f
	assert_output "--follow"
}

@test "natt: operands and option values" {
	dir=$BATS_TEST_TMPDIR/files
	mkdir -p "$dir"
	touch "$dir/status.json" "$dir/other.txt"
	run comp natt status "$dir/st"
	assert_output "$dir/status.json"
	run comp natt wait --port 8000 "$dir/o"
	assert_output "$dir/other.txt"
	# after the FILE operand, nothing more
	run comp natt wait "$dir/status.json" "$dir/"
	assert_output ""
	# a number is asked: no file names
	run comp natt wait --timeout ""
	assert_output ""
	run comp natt call WANIPC
	assert_output "WANIPConnection"
	run comp natt call WANIPConnection GetExt
	assert_output "GetExternalIPAddress"
	run comp natt call -t 1 WANIPConnection AddPo
	assert_output "AddPortMapping"
	# watch: --pid takes a process id, --status and --shim a file; then the command it starts
	run comp natt watch --pid ""
	assert_line "$$"
	run comp natt watch --shim "$dir/o"
	assert_output "$dir/other.txt"
	run comp natt watch --status "$dir/s" -- natt sta
	assert_output "status"
	run comp natt watch -v natt wait --p
	assert_output "--port"
}

@test "natt-run: its options, then the values some take" {
	want=$({ "$NATT_ROOT/scripts/natt-run" --help | help_options; echo --; } | sort -u)
	run comp natt-run -
	assert_output "$want"
	run comp natt-run --log ""
	assert_output "$(printf 'debug\nerror\ninfo\nwarn')"
	run comp natt-run --protocols nat
	assert_output "nat-pmp
nat-pmp,upnp"
	dir=$BATS_TEST_TMPDIR/files
	mkdir -p "$dir"
	touch "$dir/web.json"
	run comp natt-run -v --status "$dir/w"
	assert_output "$dir/web.json"
	run comp natt-run --lifetime ""
	assert_output ""
	run comp natt-run --pid ""
	assert_line "$$"
	run comp natt-run --pid 1 --outs
	assert_output "--outside"
}

@test "natt-run: the wrapped command completes with its own completion" {
	# natt as the wrapped command, after options with values and after --
	run comp natt-run --status /tmp/x.json -v natt sta
	assert_output "status"
	run comp natt-run --log debug -- natt wait --p
	assert_output "--port"
	run comp natt-run natt map -u --l
	assert_output "--lifetime"
	# the command word itself: commands on the PATH
	run comp natt-run -v bas
	assert_line "bash"
	run comp natt-run -- bas
	assert_line "bash"
	# an option of natt-run placed after the command belongs to the command
	run comp natt-run natt --v
	assert_output "--version"
}
