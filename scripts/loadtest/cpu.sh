# CPU accounting for the load-test scripts (sourced by mixed.sh and
# deploy/rolling-restart.sh): where a run's CPU time went, per request.

# cpu_ticks PID...: user + system CPU clock ticks of those processes that
# still run, and of their children that ended (a postmaster's count holds
# the backends that exited). Processes gone meanwhile count 0.
cpu_ticks() {
	local t=0 p v
	for p in "$@"; do
		# Fields after the ")" that ends the process name (which may hold spaces):
		# utime stime cutime cstime are the 12th to 15th.
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }') || continue
		t=$((t + ${v:-0}))
	done
	echo $t
}

# tree_pids PID...: those processes and their children.
tree_pids() {
	local p
	for p in "$@"; do
		[ -n "$p" ] || continue
		echo "$p"
		pgrep -P "$p" 2>/dev/null || true
	done
}

# machine_ticks: busy clock ticks of all CPUs so far (/proc/stat: user, nice,
# system, irq, softirq; not steal, the time the hypervisor gave to others).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }

# cpu_per_request BEFORE AFTER REQUESTS: BEFORE and AFTER are snapshots
# "group1 group2 ... machine" of clock ticks (cpu_ticks of each group, then
# machine_ticks); prints each group's CPU microseconds per request and
# last the rest of the machine's busy time (wrk, the kernel's loopback,
# everything else).
cpu_per_request() {
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		k = split(a, x, " "); split(b, y, " ")
		f = (n > 0) ? 1e6 / hz / n : 0; sum = 0; out = ""
		for (i = 1; i < k; i++) { v = (y[i] - x[i]) * f; sum += v; out = out sprintf("%.0f ", v) }
		m = (y[k] - x[k]) * f
		printf "%s%.0f\n", out, (m - sum > 0 ? m - sum : 0)
	}'
}
