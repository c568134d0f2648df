# Helpers shared by the benchmark scripts; sourced, never run. The script
# sets NAME (its name, the prefix of its messages) and may set
# BENCH_QUIET_WAIT before sourcing this file.
#
# shellcheck shell=bash disable=SC2034 # TFMT, CPU, OTHER, WAITED are for the scripts

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$NAME" "$*" >&2
	exit 1
}

# ensure_tools CMD=PACKAGE...: installs, with apt-get, the package of
# every CMD (a name on PATH or an absolute path) that is missing.
ensure_tools() {
	local pair need=()
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || need+=("${pair#*=}")
	done
	[ ${#need[@]} -eq 0 ] && return
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	[ "$(id -u)" -eq 0 ] || die "missing packages ${need[*]}; install them as root (apt-get install ${need[*]})"
	log "installing ${need[*]} (apt-get install)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
}

# need_gnu_time: GNU time at /usr/bin/time, which measures peak RSS.
need_gnu_time() {
	ensure_tools /usr/bin/time=time
	/usr/bin/time --version 2>&1 | grep -q GNU || die "/usr/bin/time is not GNU time"
}

now() { date +%s.%N; }
# elapsed START: seconds since START, 3 decimals.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# median of the arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratio A B: A/B with 2 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
secs() { awk -v s="$1" 'BEGIN { printf "%.2f s", s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
kib2mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
free_bytes() { df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }

# GNU time's output: peak RSS (KiB), user and system CPU seconds of the
# process and the children it waited for.
TFMT='%M %U %S'
# peak FILE...: the sum of the peak RSS values GNU time wrote to the FILEs.
peak() { for f in "$@"; do tail -n 1 "$f"; done | awk '{ s += $1 } END { print s }'; }
# cpu FILE...: the sum of their user+system CPU seconds.
cpu() { for f in "$@"; do tail -n 1 "$f"; done | awk '{ s += $2 + $3 } END { printf "%.2f", s }'; }

# busy: CPU seconds the whole machine has spent busy since boot.
CLK_TCK=$(getconf CLK_TCK)
busy() { awk -v hz="$CLK_TCK" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }

# settle: syncs, then waits (at most QUIET_WAIT seconds) until the machine
# has been idle for a second, so that other work disturbs the next run
# less. WAITED counts the seconds waited.
QUIET_WAIT=${BENCH_QUIET_WAIT:-20}
[[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "BENCH_QUIET_WAIT must be a number of seconds, not '$QUIET_WAIT'"
WAITED=0
settle() {
	sync
	local i b0
	for ((i = 0; i < QUIET_WAIT; i++)); do
		b0=$(busy)
		sleep 1
		if awk -v a="$b0" -v b="$(busy)" 'BEGIN { exit !(b - a < 0.15) }'; then
			return
		fi
		WAITED=$((WAITED + 1))
	done
}

# account B0 OWN: sets CPU (the measured processes' CPU seconds) and OTHER
# (CPU seconds the rest of the machine used meanwhile: other programs,
# kernel writeback), given busy() before the run and the run's own CPU.
account() {
	CPU=$2
	OTHER=$(awk -v a="$1" -v b="$(busy)" -v own="$2" 'BEGIN { o = b - a - own; printf "%.2f", o < 0 ? 0 : o }')
}

# warm DIR: reads every file once, so that all runs see a warm page cache.
warm() {
	log "warming the page cache with $1"
	find "$1" -type f -print0 | xargs -0 -r cat >/dev/null
}

# rmtree DIR: removes DIR, even where a restore left it read-only.
rmtree() {
	chmod -R u+rwX "$1" 2>/dev/null || true
	rm -rf "$1"
}

# result KEY VALUE: records a figure for the summary of
# scripts/bench-compare, one "KEY VALUE" a line in the file BENCH_RESULTS
# names (nothing when it is unset).
result() { [ -z "${BENCH_RESULTS:-}" ] || printf '%s %s\n' "$1" "$2" >>"$BENCH_RESULTS"; }

# same_tree A B: fails unless the trees are identical (contents, types,
# symlink targets; not metadata).
same_tree() {
	diff -r --no-dereference -q "$1" "$2" >&2 || die "restored tree $2 differs from $1"
}

# fresh_fs DIR MIB: mounts a new ext4 file system (mkfs.ext4's defaults,
# with a journal) of MIB MiB on DIR, on a loop device over a sparse file
# beside it, and sets FRESH_FS=1; where that fails (no loop devices, not
# root), DIR is a plain directory and FRESH_FS=0. Disk restores write
# into one each: on an ext4 without a journal (this project's build
# machine), the inode allocator skips every inode deleted in the last
# five minutes, so a restore made after another tool's restored tree was
# removed pays a scan that grows with what was removed, and the order of
# the tools decides the result. drop_fs undoes it.
fresh_fs() {
	mkdir -p "$1"
	FRESH_FS=0
	rm -f "$1.img"
	if truncate -s "${2}M" "$1.img" && mkfs.ext4 -q -F "$1.img" >/dev/null 2>&1 &&
		mount -o loop "$1.img" "$1" 2>/dev/null; then
		FRESH_FS=1
	else
		rm -f "$1.img"
	fi
}

# drop_fs DIR: unmounts what fresh_fs mounted on DIR (writing back what a
# restore left in the page cache, untimed) and removes DIR.
drop_fs() {
	if mountpoint -q "$1"; then
		umount "$1" || die "unmounting $1 failed"
	fi
	rm -f "$1.img"
	rmtree "$1"
}
