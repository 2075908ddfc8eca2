#!/usr/bin/env bats
# Renewal: a mapping asked with a 10 s lease stays at the router for more than
# three leases, renewed at half the lease (about 5 s before it would expire), through UPnP IGD and
# NAT-PMP alike, and the status file's "expires" follows each renewal.

load lib/lab
load lib/natt
load lib/resilience

natt_suite

LEASE=10
WATCH=31 # seconds: more than three leases

# listed_lease PROTO PORT LISTING: the longest lease the router's listing shows for the mapping.
listed_lease() {
	awk -v p="${1^^}" -v port="$2" '$1 == p && $2 == port && $4 > max { max = $4 }
		END { if (max != "") print max }' <<<"$3"
}

@test "renewal: --lifetime 10 keeps UPnP and NAT-PMP mappings alive for 31 s, renewed at half the lease" {
	natt_start up lan1 --lifetime $LEASE --protocols upnp -- "$SOCKCTL"
	natt_start pmp lan1 --lifetime $LEASE --protocols nat-pmp -- "$SOCKCTL"
	sockctl_open up tcp 8501
	sockctl_open up udp 8501
	sockctl_open pmp tcp 8502
	sockctl_open pmp udp 8502
	wait_published tcp 8501
	wait_published udp 8501
	wait_published tcp 8502
	wait_published udp 8502
	assert_equal "$(status_public tcp 8501 technique)" upnp
	assert_equal "$(status_public tcp 8502 technique)" nat-pmp
	assert_equal "$(status_public tcp 8501 lifetime)" $LEASE
	assert_equal "$(status_public udp 8502 lifetime)" $LEASE

	local start=$SECONDS key lease rules now_epoch exp
	declare -A min_lease last_lease raises expires_seen last_expires dense widest_read_gap
	local keys="tcp:8501 udp:8501 tcp:8502 udp:8502"
	for key in $keys; do
		min_lease[$key]=999 last_lease[$key]=0 raises[$key]=0 expires_seen[$key]="" dense[$key]=""
		widest_read_gap[$key]=0
	done
	local samples=0 read_at="" previous_read="" read_gap
	while [ $((SECONDS - start)) -lt $WATCH ]; do
		samples=$((samples + 1))
		rules=$(router_rules)
		mappings=$(router_mappings)
		now_epoch=$(date -u +%s)
		# how long since the status file was last read (ms): renewals come at least LEASE/2 - 1 s
		# apart, so reads closer than that cannot miss one between two expiry changes seen
		read_at=$(date +%s%3N)
		read_gap=$((previous_read ? read_at - previous_read : 0))
		previous_read=$read_at
		for key in $keys; do
			local proto=${key%%:*} port=${key##*:} code=0x6
			[ "$proto" = udp ] && code=0x11
			# the router forwards the port the whole time
			grep -qE "@nh,72,8 $code th dport $port dnat ip to 10.77.0.2:$port\$" <<<"$rules" ||
				fail "after $((SECONDS - start)) s, no rule for $key at the router: $rules"
			# (upnpc lists by index while renewals reorder the router's list: a mapping may show twice,
			# or be skipped by one listing, never by two in a row while its rule is there)
			lease=$(listed_lease "$proto" "$port" "$mappings")
			if [ -z "$lease" ]; then
				mappings=$(router_mappings)
				lease=$(listed_lease "$proto" "$port" "$mappings")
			fi
			[ -n "$lease" ] || fail "after $((SECONDS - start)) s, the router lists no $key mapping: $mappings"
			[ "$lease" -le $LEASE ] || fail "$key: the router shows a lease of $lease s, more than asked"
			[ "$lease" -ge "${min_lease[$key]}" ] || min_lease[$key]=$lease
			[ "$lease" -le "${last_lease[$key]}" ] || [ "${last_lease[$key]}" = 0 ] || raises[$key]=$((raises[$key] + 1))
			last_lease[$key]=$lease
			# the status file never claims a lease that has already run out
			exp=$(status_public "$proto" "$port" expires)
			[ -n "$exp" ] || fail "$key has no public assignment in the status file"
			[ "$(date -u -d "$exp" +%s)" -ge "$now_epoch" ] || fail "$key: status says it expired at $exp"
			[ "$read_gap" -le "${widest_read_gap[$key]}" ] || widest_read_gap[$key]=$read_gap
			if [ "$exp" != "${last_expires[$key]:-}" ]; then
				expires_seen[$key]+="$(date -u -d "$exp" +%s) "
				# whether every renewal since the previous change was seen (reads dense enough)
				dense[$key]+="$((widest_read_gap[$key] < (LEASE / 2 - 1) * 1000)) "
				widest_read_gap[$key]=0
			fi
			last_expires[$key]=$exp
		done
		sleep 0.5
	done

	for key in $keys; do
		# 32 s with a 10 s lease renewed every 5 s: about 6 renewals. Sampling every second or so sees
		# at least 3 of them; on a loaded machine a sample (upnpc -l) can take several seconds, and
		# fewer samples see fewer raises — the mapping outliving its 10 s lease three times over
		# (checked at every sample above) is the proof of renewal either way.
		local want=3
		[ "$samples" -ge 12 ] || want=1
		[ "${raises[$key]}" -ge $want ] ||
			fail "$key: the router's lease was refreshed only ${raises[$key]} times in ${WATCH} s ($samples samples)"
		# renewed when about half the lease is left, not at the last second
		[ "${min_lease[$key]}" -ge 3 ] ||
			fail "$key: the lease at the router fell to ${min_lease[$key]} s before renewal (expected about 5)"
		# consecutive expiry times in the status file are about half a lease apart
		local prev="" gaps="" e i=0
		local -a seen_all
		read -ra seen_all <<<"${dense[$key]}"
		for e in ${expires_seen[$key]}; do
			i=$((i + 1))
			if [ -n "$prev" ]; then
				gaps+="$((e - prev)) "
				# never before half the lease (1 s for the rounding of two times in seconds); never so
				# late that less than 2 s were left (a loaded machine delays an exchange by seconds)
				[ $((e - prev)) -ge $((LEASE / 2 - 1)) ] ||
					fail "$key: expiry moved by $((e - prev)) s at a renewal (all moves: $gaps): renewed before half of $LEASE s"
				# (only where the reads were close enough that no renewal between can have been missed)
				[ "${seen_all[i - 1]}" = 0 ] || [ $((e - prev)) -le $((LEASE - 2)) ] ||
					fail "$key: expiry moved by $((e - prev)) s at a renewal (all moves: $gaps): renewed with less than 2 s left"
			fi
			prev=$e
		done
		# each renewal comes at most LEASE - 2 s after the one before (checked above): that many at least
		local renewals_due=$((WATCH / (LEASE - 2)))
		[ "$(wc -w <<<"${expires_seen[$key]}")" -gt $renewals_due ] ||
			fail "$key: the status file's expiry changed only $(($(wc -w <<<"${expires_seen[$key]}") - 1)) times in $WATCH s (at least $renewals_due due)"
		tap_note "renewal $key: lowest lease left at the router ${min_lease[$key]} s, refreshed ${raises[$key]} times in ${WATCH} s, expiry steps: $gaps"
	done

	natt_send up "exit 0"
	natt_send pmp "exit 0"
	natt_wait_exit up 10
	natt_wait_exit pmp 10
	run router_rules
	assert_output ""
}
