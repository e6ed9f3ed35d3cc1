#!/usr/bin/env bash
# Postern's SSH gateway side by side with direct OpenSSH to the same target,
# on 127.0.0.1, in one sitting. See bench/README.md for what each figure
# means and the goals. Run as root from anywhere:
#
#   bash bench/gateway.sh
#   BYTES=256M RUNS=3 SESSIONS=200 bash bench/gateway.sh    # a quick pass
#
# It builds Postern, starts a throwaway OpenSSH target (its own sshd, host key
# and user) and a throwaway Postern (its own data directory), measures, prints
# a table, and removes everything it created on exit, failed or not.
set -euo pipefail
export LC_ALL=C

# ---------------------------------------------------------------- settings --
BYTES=${BYTES:-1G}              # bulk output per run (K, M, G: powers of 1024)
RUNS=${RUNS:-10}                # bulk runs each way, alternating
LAT_RUNS=${LAT_RUNS:-30}        # hyperfine runs of connect + exec, each way
ECHO_N=${ECHO_N:-2000}          # keystroke round trips per echo run
ECHO_ROUNDS=${ECHO_ROUNDS:-3}   # echo runs each way, alternating
SESSIONS=${SESSIONS:-1000}      # idle interactive sessions held at once
LOGINS=${LOGINS:-100}           # simultaneous password logins
CIPHER=${CIPHER:-aes128-gcm@openssh.com}
SETTLE=${SETTLE:-10}            # seconds to wait after closing the idle sessions
A_BUDGET=${A_BUDGET:-150}       # seconds after which A stops (after at least 3 runs each way)
OUT=${OUT:-}                    # also write the final table to this file
SECTIONS=${SECTIONS:-ABCDEFG}   # which measurements to run (letters as in the report)
SFTP_BYTES=${SFTP_BYTES:-1G}    # F: size of the file put and got over SFTP
SFTP_RUNS=${SFTP_RUNS:-3}       # F: puts and gets each way
TTY_BYTES=${TTY_BYTES:-256M}    # G: output of the interactive session
TTY_RUNS=${TTY_RUNS:-3}         # G: runs with command audit and without
BULK=${BULK:-zero}              # A's output: zero (head -c BYTES /dev/zero) or text (log lines)

# --------------------------------------------------------------- utilities --
say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '\ngateway.sh: FAILED: %s\n' "$*" >&2
	if [[ -n ${TMP:-} && -d ${TMP:-/nonexistent} ]]; then
		for f in "$TMP/postern.log" "$TMP/sshd.log"; do
			[[ -s $f ]] && { printf -- '--- last lines of %s:\n' "${f##*/}" >&2; tail -n 25 "$f" >&2; }
		done
	fi
	exit 1
}
has() { [[ $SECTIONS == *$1* ]]; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing ($2)"; }
now() { echo "$EPOCHREALTIME"; }
randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# median of the numbers on stdin, one a line
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else printf "%.10g\n", (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN { printf \"$1\n\", $2 }"; }
# utime+stime of a process, and cutime+cstime (reaped descendants), in ticks
cpu_self() { awk '{print $14+$15}' "/proc/$1/stat"; }
cpu_children() { awk '{print $16+$17}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
metric() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1==m {printf "%.0f\n", $2}'; }
# cpu_list: the numbers of the CPUs this script may use, one a line
cpu_list() {
	local part
	for part in $(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status | tr , ' '); do
		if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
	done
}
descendants() {
	local p c
	for p in "$@"; do
		for c in $(pgrep -P "$p" 2>/dev/null || true); do
			echo "$c"
			descendants "$c"
		done
	done
}
# a port of 127.0.0.1 nothing listens on right now
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port found on 127.0.0.1"
}
wait_banner() { # port seconds
	local deadline=$(($(date +%s) + $2)) line
	while (($(date +%s) < deadline)); do
		line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && timeout 2 head -n1 <&3) 2>/dev/null || true)
		[[ $line == SSH-* ]] && return 0
		sleep 0.1
	done
	return 1
}
# wait until the target's sshd has no session processes left (every
# connection, direct or from Postern, has ended)
wait_target_idle() {
	local deadline=$(($(date +%s) + ${1:-30}))
	while pgrep -P "$SSHD_PID" >/dev/null 2>&1; do
		(($(date +%s) < deadline)) || { say "warning: target sessions still open after ${1:-30}s"; return 1; }
		sleep 0.05
	done
}
# wait until no recording is open (.cast); prints the largest .cast size seen
wait_recordings_closed() {
	local deadline=$(($(date +%s) + ${1:-300})) max=0 s f
	shopt -s nullglob
	while :; do
		local open=("$DATA/recordings"/*.cast)
		((${#open[@]} == 0)) && break
		for f in "${open[@]}"; do
			s=$(stat -c %s "$f" 2>/dev/null || echo 0)
			((s > max)) && max=$s
		done
		(($(date +%s) < deadline)) || { shopt -u nullglob; die "a recording was still open ${1:-300}s after its session ended: ${open[*]}"; }
		sleep 0.05
	done
	shopt -u nullglob
	echo "$max"
}
to_bytes() {
	local v=$1
	[[ $v =~ ^([0-9]+)([KMG]?)$ ]] || die "BYTES=$v: give a whole number with an optional K, M or G (powers of 1024)"
	case ${BASH_REMATCH[2]} in
	K) echo $((BASH_REMATCH[1] * 1024)) ;;
	M) echo $((BASH_REMATCH[1] * 1024 * 1024)) ;;
	G) echo $((BASH_REMATCH[1] * 1024 * 1024 * 1024)) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}

# ------------------------------------------------------------------ checks --
((EUID == 0)) || die "run as root: the target needs a throwaway user (useradd) and sshd as root"
need go "https://go.dev/dl/"
need ssh "apt-get install openssh-client"
need sftp "apt-get install openssh-client"
need sha256sum "coreutils"
need ssh-keygen "apt-get install openssh-client"
SSHD=$(command -v sshd || true)
[[ -z $SSHD && -x /usr/sbin/sshd ]] && SSHD=/usr/sbin/sshd
[[ -n $SSHD ]] || die "sshd is missing (apt-get install openssh-server)"
need hyperfine "apt-get install hyperfine"
need curl "apt-get install curl"
need awk "apt-get install gawk"
need pgrep "apt-get install procps"
need timeout "coreutils"
has F && need taskset "apt-get install util-linux"
need useradd "apt-get install passwd"
need userdel "apt-get install passwd"
need chpasswd "apt-get install passwd"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
for v in RUNS LAT_RUNS ECHO_N ECHO_ROUNDS SESSIONS LOGINS SETTLE A_BUDGET SFTP_RUNS TTY_RUNS; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v=${!v}: give a positive whole number"
done
BYTES_N=$(to_bytes "$BYTES")
[[ $SECTIONS =~ ^[A-G]+$ ]] || die "SECTIONS=$SECTIONS: give letters among A B C D E F G"
SFTP_BYTES_N=$(to_bytes "$SFTP_BYTES")
TTY_BYTES_N=$(to_bytes "$TTY_BYTES")
[[ $BULK == zero || $BULK == text ]] || die "BULK=$BULK: give zero or text"
TICK=$(getconf CLK_TCK)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -f $REPO/go.mod && -d $REPO/cmd/postern ]] || die "cannot find the repository (expected bench/ inside it): $REPO"

# Descriptors: every held session costs Postern two sockets and a recording.
want_nofile=$((SESSIONS * 4 + 4096))
if (($(ulimit -Hn) < want_nofile)); then ulimit -Hn "$want_nofile" 2>/dev/null || die "cannot raise the hard limit of open files to $want_nofile (ulimit -Hn is $(ulimit -Hn))"; fi
ulimit -n "$want_nofile" || die "cannot raise the limit of open files to $want_nofile"

# ---------------------------------------------------------- clean-up trap --
TMP="" SSHD_PID="" POSTERN_PID="" IDLE_PID="" TUSER=""
REMOTE_BULK="" LOGIN_CMD="" ECHO_D_ARGS=() ECHO_P_ARGS=() PTYWAIT_ARGS=()
cleanup() {
	local rc=$? pids bg
	set +e
	# (disowned, so that bash does not report their deaths)
	bg=$(jobs -p)
	disown -a
	[[ -n $IDLE_PID ]] && kill -KILL "$IDLE_PID" 2>/dev/null
	if [[ -n $POSTERN_PID ]]; then
		kill -TERM "$POSTERN_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$POSTERN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$POSTERN_PID" 2>/dev/null
	fi
	if [[ -n $SSHD_PID ]]; then
		pids=$(descendants "$SSHD_PID")
		kill -KILL "$SSHD_PID" $pids 2>/dev/null
	fi
	if [[ -n $TUSER ]] && id "$TUSER" >/dev/null 2>&1; then
		# Only the throwaway user's own processes (its shells, if any
		# outlived their sshd).
		pkill -KILL -U "$TUSER" 2>/dev/null
		sleep 0.2
		for _ in $(seq 20); do
			userdel -r -f "$TUSER" >/dev/null 2>&1
			id "$TUSER" >/dev/null 2>&1 || break
			sleep 0.2
		done
		id "$TUSER" >/dev/null 2>&1 && echo "gateway.sh: warning: could not remove user $TUSER" >&2
	fi
	# Whatever else this script still has running in the background.
	[[ -n $bg ]] && kill -KILL $bg 2>/dev/null
	[[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Users left by earlier runs that were killed before their clean-up.
while IFS=: read -r name _ uid _ gecos _; do
	[[ $gecos =~ ^postern\ bench\ pid\ ([0-9]+)$ ]] || continue
	kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
	pkill -KILL -U "$uid" 2>/dev/null || true
	userdel -r -f "$name" >/dev/null 2>&1 || true
done </etc/passwd

TMP=$(mktemp -d /tmp/postern-bench.XXXXXX)
chmod 755 "$TMP" # sshd reads authorized_keys as the target's user
DATA=$TMP/data

# ------------------------------------------------------------------- build --
say "building postern and the bench clients"
(cd "$REPO" && go build -o "$TMP/postern" ./cmd/postern) || die "go build ./cmd/postern failed"
(cd "$REPO" && go build -o "$TMP/echolat" ./bench/echolat && go build -o "$TMP/idle" ./bench/idle) ||
	die "go build of bench/echolat or bench/idle failed"

# ------------------------------------------------------------------ target --
say "starting the OpenSSH target"
TUSER=pstb$(randhex 4)
TPASS=pw-$(randhex 12)
useradd -m -s /bin/bash -c "postern bench pid $$" "$TUSER" || die "useradd $TUSER failed"
echo "$TUSER:$TPASS" | chpasswd || die "chpasswd failed"
THOME=$(getent passwd "$TUSER" | cut -d: -f6)
rm -f "$THOME/.bash_logout"
# A quiet, predictable shell: no message of the day, a short prompt.
printf "PS1='\$ '\nif [ -f \"\$HOME/.bashrc\" ]; then . \"\$HOME/.bashrc\"; fi\n" >"$THOME/.profile"
printf "PS1='\$ '\nunset PROMPT_COMMAND HISTFILE\n" >"$THOME/.bashrc"
printf 'set enable-bracketed-paste off\n' >"$THOME/.inputrc"
: >"$THOME/.hushlogin"
chown "$TUSER:" "$THOME/.profile" "$THOME/.bashrc" "$THOME/.inputrc" "$THOME/.hushlogin"

mkdir -p "$TMP/target" /run/sshd
chmod 755 "$TMP/target"
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$TMP/target/ssh_host_ed25519_key" || die "ssh-keygen (host key) failed"
ssh-keygen -q -t ed25519 -N '' -C bench-operator -f "$TMP/operator_key" || die "ssh-keygen (operator key) failed"
ssh-keygen -q -t ed25519 -N '' -C bench-ops -f "$TMP/ops_key" || die "ssh-keygen (system user key) failed"
cat "$TMP/operator_key.pub" "$TMP/ops_key.pub" >"$TMP/target/authorized_keys"
chmod 644 "$TMP/target/authorized_keys"

extra=""
"$SSHD" -t -f /dev/null -h "$TMP/target/ssh_host_ed25519_key" -o PerSourcePenalties=no 2>/dev/null && extra="PerSourcePenalties no"
for attempt in 1 2 3 4 5; do
	TPORT=$(free_port)
	cat >"$TMP/target/sshd_config" <<EOF
ListenAddress 127.0.0.1:$TPORT
HostKey $TMP/target/ssh_host_ed25519_key
PidFile $TMP/target/sshd.pid
AuthorizedKeysFile $TMP/target/authorized_keys
AllowUsers $TUSER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
PermitRootLogin no
StrictModes no
LogLevel INFO
MaxStartups 2000
MaxSessions 2000
UseDNS no
PrintMotd no
PrintLastLog no
Banner none
X11Forwarding no
Subsystem sftp internal-sftp
$extra
EOF
	"$SSHD" -D -e -f "$TMP/target/sshd_config" </dev/null >"$TMP/sshd.log" 2>&1 &
	SSHD_PID=$!
	if wait_banner "$TPORT" 10; then break; fi
	kill -KILL "$SSHD_PID" 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=""
	grep -q "Address already in use" "$TMP/sshd.log" || die "sshd did not start"
done
[[ -n $SSHD_PID ]] || die "sshd did not start after 5 attempts"

SSH_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o Ciphers="$CIPHER" -o BatchMode=yes -i "$TMP/operator_key")
DIRECT=(ssh "${SSH_OPTS[@]}" -p "$TPORT" "$TUSER@127.0.0.1")
out=$(timeout 30 "${DIRECT[@]}" echo direct-ok </dev/null 2>&1) || true
[[ $out == direct-ok ]] || die "direct ssh to the target failed: $out"

# The third path of A and F: a hop made of OpenSSH itself. The operator's
# ssh logs in to the target's sshd, which runs a second ssh back to the same
# target: the shape of any gateway that ends the operator's SSH connection
# and opens its own (decrypt, encrypt again), built from OpenSSH's C code.
HOP_INNER=(ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o Ciphers="$CIPHER" -o BatchMode=yes -i .hop_key -p "$TPORT" "$TUSER@127.0.0.1")
# hop_cmd CMD: the ssh command line that runs CMD on the target through the hop
hop_cmd() { HOP=("${DIRECT[@]}" "$(printf '%q ' "${HOP_INNER[@]}")$(printf '%q' "$1")"); }
if has A || has F; then
	cp "$TMP/operator_key" "$THOME/.hop_key" || die "cannot copy the operator key for the hop"
	chown "$TUSER:" "$THOME/.hop_key" || die "chown of the hop key failed"
	chmod 600 "$THOME/.hop_key" || die "chmod of the hop key failed"
	hop_cmd "echo hop-ok"
	out=$(timeout 30 "${HOP[@]}" </dev/null 2>&1) || true
	[[ $out == hop-ok ]] || die "ssh through the OpenSSH hop failed: $out"
fi

# ----------------------------------------------------------------- postern --
HTTP_PORT=$(free_port)
SSH_PORT=$(free_port)
while ((SSH_PORT == HTTP_PORT)); do SSH_PORT=$(free_port); done
ADMIN_PW=adm-$(randhex 12)
start_postern() {
	POSTERN_ADMIN_PASSWORD=$ADMIN_PW "$TMP/postern" serve --data-dir "$DATA" \
		--http-addr "127.0.0.1:$HTTP_PORT" --ssh-addr "127.0.0.1:$SSH_PORT" \
		--rate-limit 10000 --ip-rate-limit 10000 </dev/null >>"$TMP/postern.log" 2>&1 &
	POSTERN_PID=$!
	local deadline=$(($(date +%s) + 30))
	until curl -fsS "http://127.0.0.1:$HTTP_PORT/api/health/" >/dev/null 2>&1; do
		kill -0 "$POSTERN_PID" 2>/dev/null || die "postern exited at start"
		(($(date +%s) < deadline)) || die "postern's API did not answer within 30 s"
		sleep 0.1
	done
	wait_banner "$SSH_PORT" 10 || die "postern's SSH gateway did not greet on 127.0.0.1:$SSH_PORT"
}
stop_postern() {
	kill -TERM "$POSTERN_PID"
	for _ in $(seq 150); do kill -0 "$POSTERN_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$POSTERN_PID" 2>/dev/null && die "postern did not stop within 15 s of SIGTERM"
	wait "$POSTERN_PID" 2>/dev/null || true
	POSTERN_PID=""
}
say "starting postern"
start_postern

API=http://127.0.0.1:$HTTP_PORT/api/v2
api() { # METHOD PATH [JSON]
	local out
	out=$(curl -sS --fail-with-body -X "$1" "$API$2" -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: application/json" ${3:+-d "$3"}) || die "API $1 $2 failed: $out"
	printf '%s' "$out"
}
first_id() { grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4; }
out=$(curl -sS --fail-with-body -X POST "$API/authentication/token/" -H "Content-Type: application/json" \
	-d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}") || die "token request failed: $out"
TOKEN=$(printf '%s' "$out" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
[[ -n $TOKEN ]] || die "no token in: $out"

BENCH_PW=Bench-$(randhex 12)
op_pub=$(cat "$TMP/operator_key.pub")
ops_key_json=$(awk '{printf "%s\\n", $0}' "$TMP/ops_key")
USER_ID=$(api POST /users/users/ "{\"username\":\"bench\",\"name\":\"bench\",\"role\":\"user\",\"password\":\"$BENCH_PW\",\"public_keys\":[\"$op_pub\"]}" | first_id)
ASSET_ID=$(api POST /assets/assets/ "{\"name\":\"target\",\"ip\":\"127.0.0.1\",\"platform\":{\"id\":\"2\"},\"protocols\":[{\"name\":\"ssh\",\"port\":$TPORT}]}" | first_id)
SU_ID=$(api POST /assets/system-users/ "{\"name\":\"ops\",\"username\":\"$TUSER\",\"protocol\":\"ssh\",\"private_key\":\"$ops_key_json\"}" | first_id)
[[ -n $USER_ID && -n $ASSET_ID && -n $SU_ID ]] || die "could not read the ids of the created user, asset or system user"
PERM_ID=$(api POST /perms/asset-permissions/ "{\"name\":\"bench\",\"users\":[{\"id\":\"$USER_ID\"}],\"assets\":[{\"id\":\"$ASSET_ID\"}],\"system_users\":[{\"id\":\"$SU_ID\"}],\"actions\":[\"all\"]}" | first_id)
[[ -n $PERM_ID ]] || die "could not read the id of the asset permission"

POSTERN=(ssh "${SSH_OPTS[@]}" -p "$SSH_PORT" "bench@ops@target@127.0.0.1")
out=$(timeout 30 "${POSTERN[@]}" echo postern-ok </dev/null 2>&1) || true
[[ $out == postern-ok ]] || die "ssh through postern failed: $out"
say "target: $TUSER@127.0.0.1:$TPORT; postern: API 127.0.0.1:$HTTP_PORT, SSH 127.0.0.1:$SSH_PORT"

# Shell-quoted command lines, for the report.
q() { printf '%q ' "$@" | sed 's/ $//'; }
DIRECT_CMD=$(q "${DIRECT[@]}")
SFTP_HOP_SHOWN="$DIRECT_CMD $(q "${HOP_INNER[@]:0:${#HOP_INNER[@]}-1}") -s ${HOP_INNER[-1]} sftp"
POSTERN_CMD=$(q "${POSTERN[@]}")

if [[ -n ${SETUP_ONLY:-} ]]; then
	cat <<EOF
Set up; nothing measured (SETUP_ONLY). Everything is removed when this script ends (Ctrl-C).
  direct:  $DIRECT_CMD CMD
  postern: $POSTERN_CMD CMD
  API:     http://127.0.0.1:$HTTP_PORT/api/v2/  admin / $ADMIN_PW   bench / $BENCH_PW
  keys:    $TMP/operator_key (operator), $TMP/ops_key (system user ops)
  clients: $TMP/echolat, $TMP/idle
EOF
	while :; do sleep 3600 & wait $!; done # wait, unlike sleep, lets the TERM trap run at once
fi

# ------------------------------------------------ B. connect + exec latency --
if has B; then
say "B. connect + exec true: hyperfine, $LAT_RUNS runs each way"
hyperfine -N --warmup 3 --runs "$LAT_RUNS" --export-csv "$TMP/hf.csv" --style basic \
	-n direct "$DIRECT_CMD true" -n postern "$POSTERN_CMD true" >"$TMP/hf.out" 2>&1 ||
	{ cat "$TMP/hf.out" >&2; die "hyperfine failed"; }
hf_col() { awk -F, -v n="$1" -v c="$2" 'NR==1 {for (i=1;i<=NF;i++) h[$i]=i; next} $1==n {printf "%.2f\n", $(h[c])*1000}' "$TMP/hf.csv"; }
LAT_D=$(hf_col direct median) LAT_P=$(hf_col postern median)
LAT_D_MEAN=$(hf_col direct mean) LAT_P_MEAN=$(hf_col postern mean)
LAT_D_MIN=$(hf_col direct min) LAT_P_MIN=$(hf_col postern min)
LAT_ADD=$(calc "%.2f" "$LAT_P - $LAT_D")
fi

# ------------------------------------------------------- C. keystroke echo --
if has C; then
say "C. keystroke echo: $ECHO_ROUNDS x $ECHO_N round trips each way"
ECHO_D_ARGS=(-addr "127.0.0.1:$TPORT" -user "$TUSER" -key "$TMP/operator_key" -n "$ECHO_N" -cipher "$CIPHER")
ECHO_P_ARGS=(-addr "127.0.0.1:$SSH_PORT" -user "bench@ops@target" -key "$TMP/operator_key" -n "$ECHO_N" -cipher "$CIPHER")
: >"$TMP/echo.direct" && : >"$TMP/echo.postern"
for ((r = 1; r <= ECHO_ROUNDS; r++)); do
	for leg in direct postern; do
		if [[ $leg == direct ]]; then args=("${ECHO_D_ARGS[@]}"); else args=("${ECHO_P_ARGS[@]}"); fi
		out=$(timeout 120 "$TMP/echolat" "${args[@]}" 2>&1) || die "echolat ($leg) failed: $out"
		echo "$out" >>"$TMP/echo.$leg"
		say "   $leg: $out"
	done
done
# Clients that wait for the answer to pty-req before sending exec (Go's
# x/crypto/ssh RequestPty, paramiko's get_pty) rather than pipelining as
# OpenSSH does: does the session start?
PTYWAIT_ARGS=(-n 5 -warmup 0 -setup-timeout 10s -pty-wait-reply)
for leg in direct postern; do
	if [[ $leg == direct ]]; then args=("${ECHO_D_ARGS[@]}"); else args=("${ECHO_P_ARGS[@]}"); fi
	if out=$(timeout 60 "$TMP/echolat" "${args[@]}" "${PTYWAIT_ARGS[@]}" 2>&1); then
		printf -v "PTYWAIT_${leg^^}" '%s' "ok"
	else
		printf -v "PTYWAIT_${leg^^}" '%s' "FAILED: $out"
	fi
done
say "   pty-req answered before exec? direct: $PTYWAIT_DIRECT; postern: $PTYWAIT_POSTERN"
echo_field() { grep -o "$2=[0-9.]*" "$TMP/echo.$1" | cut -d= -f2 | median; }
E50_D=$(echo_field direct p50_us) E50_P=$(echo_field postern p50_us)
E99_D=$(echo_field direct p99_us) E99_P=$(echo_field postern p99_us)
E99_ADD=$(calc "%.1f" "$E99_P - $E99_D")
E50_ADD=$(calc "%.1f" "$E50_P - $E50_D")
fi

# ------------------------------------------------------ A. bulk throughput --
if has A; then
say "A. bulk output ($BULK): $RUNS runs each way, alternating"
if [[ $BULK == zero ]]; then
	REMOTE_BULK="head -c $BYTES_N /dev/zero"
else
	REMOTE_BULK="yes '2026-11-23T10:00:00.123Z INFO api request handled method=GET path=/api/v2/assets/ status=200 bytes=5120 in 3.2ms' | head -c $BYTES_N"
fi
# Once each way, counting the bytes, so that the timed runs are known to
# carry the whole stream.
hop_cmd "$REMOTE_BULK"
bulk_cmd() { # leg: the command of that leg into cmd
	case $1 in
	direct) cmd=("${DIRECT[@]}" "$REMOTE_BULK") ;;
	postern) cmd=("${POSTERN[@]}" "$REMOTE_BULK") ;;
	hop) cmd=("${HOP[@]}") ;;
	esac
}
for leg in direct postern hop; do
	bulk_cmd "$leg"
	got=$(timeout 600 "${cmd[@]}" </dev/null | wc -c) || die "bulk check ($leg) failed"
	((got == BYTES_N)) || die "bulk check ($leg): received $got bytes, expected $BYTES_N"
done
wait_target_idle 60 || true
wait_recordings_closed 600 >/dev/null
: >"$TMP/bulk.direct" && : >"$TMP/bulk.postern" && : >"$TMP/bulk.hop"
A_START=$(date +%s)
shopt -s nullglob
for ((r = 1; r <= RUNS; r++)); do
	for leg in direct postern hop; do
		bulk_cmd "$leg"
		p0=$(cpu_self "$POSTERN_PID") s0=$(cpu_children "$SSHD_PID")
		/usr/bin/time -f '%e %U %S' -o "$TMP/client.time" timeout 600 "${cmd[@]}" </dev/null >/dev/null &
		bulk_pid=$!
		# Meanwhile, the size of the open recording (it is compressed and
		# removed once the session ends), and when it last grew.
		castmax=0 tgrow=""
		while kill -0 "$bulk_pid" 2>/dev/null; do
			for f in "$DATA/recordings"/*.cast; do
				[[ -e $f ]] || continue
				sz=$(stat -c %s "$f" 2>/dev/null || echo 0)
				((sz > castmax)) && castmax=$sz tgrow=$EPOCHREALTIME
			done
			sleep 0.1
		done
		wait "$bulk_pid" || die "bulk run $r ($leg) failed"
		t1=$(now)
		lag=0
		[[ -n $tgrow ]] && lag=$(calc "%.2f" "$t1 - $tgrow")
		wait_target_idle 60 || true
		if [[ $leg == postern ]]; then
			sz=$(wait_recordings_closed 600)
			((sz > castmax)) && castmax=$sz
		fi
		t3=$(now)
		p1=$(cpu_self "$POSTERN_PID") s1=$(cpu_children "$SSHD_PID")
		read -r wall cu cs <"$TMP/client.time"
		# wall  postern_cpu  target_cpu(sshd+head)  client_cpu  finish_s  cast_bytes  exit_lag
		line=$(awk -v w="$wall" -v t1="$t1" -v t3="$t3" -v p="$((p1 - p0))" -v s="$((s1 - s0))" -v tk="$TICK" \
			-v cu="$cu" -v cs="$cs" -v cm="$castmax" -v lag="$lag" \
			'BEGIN {printf "%.2f %.2f %.2f %.2f %.2f %d %.2f\n", w, p/tk, s/tk, cu+cs, t3-t1, cm, lag}')
		echo "$line" >>"$TMP/bulk.$leg"
		say "   run $r $leg: wall, postern CPU, target CPU, client CPU (s), recording closed after (s), .cast bytes, exit after last growth (s): $line"
	done
	A_RUNS=$r
	if (($(date +%s) - A_START > A_BUDGET && r >= 3 && r < RUNS)); then
		say "   A: stopping after $r runs each way: the time budget A_BUDGET=$A_BUDGET s is spent"
		break
	fi
done
shopt -u nullglob
GIB=$(calc "%.6f" "$BYTES_N / 1073741824")
MIB=$(calc "%.6f" "$BYTES_N / 1048576")
col() { awk -v c="$2" '{print $c}' "$TMP/bulk.$1" | median; }
W_D=$(col direct 1) W_P=$(col postern 1) W_H=$(col hop 1)
TP_D=$(calc "%.1f" "$MIB / $W_D") TP_P=$(calc "%.1f" "$MIB / $W_P") TP_H=$(calc "%.1f" "$MIB / $W_H")
TP_RATIO=$(calc "%.3f" "$W_D / $W_P") TP_RATIO_H=$(calc "%.3f" "$W_D / $W_H")
PCPU=$(col postern 2)
PCPU_GIB=$(calc "%.2f" "$PCPU / $GIB")
PCPU_GB=$(calc "%.2f" "$PCPU / ($BYTES_N / 1e9)")
TCPU_D_GIB=$(calc "%.2f" "$(col direct 3) / $GIB") TCPU_P_GIB=$(calc "%.2f" "$(col postern 3) / $GIB")
CCPU_D_GIB=$(calc "%.2f" "$(col direct 4) / $GIB") CCPU_P_GIB=$(calc "%.2f" "$(col postern 4) / $GIB")
FINISH_P=$(col postern 5)
EXITLAG_P=$(col postern 7)
CAST_MAX=$(col postern 6)
shopt -s nullglob
gz=("$DATA/recordings"/*.cast.gz)
shopt -u nullglob
# The largest compressed recording is one of the bulk runs.
CAST_GZ=$( ((${#gz[@]})) && stat -c %s "${gz[@]}" | sort -n | tail -n1 || echo 0)
fi

# ------------------------------------------- D. memory per idle session --
if has D; then
say "D. $SESSIONS idle interactive sessions through postern (postern restarted first for a clean baseline)"
stop_postern
start_postern
timeout 30 "${POSTERN[@]}" true </dev/null || die "a warm-up session through the restarted postern failed"
wait_target_idle 30 || true
sleep 2
RSS0=$(rss_kib "$POSTERN_PID") HEAP0=$(metric postern_heap_bytes) GR0=$(metric postern_goroutines)
copen0=$(cpu_self "$POSTERN_PID")
"$TMP/idle" -addr "127.0.0.1:$SSH_PORT" -user "bench@ops@target" -key "$TMP/operator_key" -n "$SESSIONS" \
	-cipher "$CIPHER" >"$TMP/idle.out" 2>&1 &
IDLE_PID=$!
deadline=$(($(date +%s) + 600))
until grep -q '^READY' "$TMP/idle.out"; do
	kill -0 "$IDLE_PID" 2>/dev/null || { cat "$TMP/idle.out" >&2; die "the idle session client exited early"; }
	(($(date +%s) < deadline)) || die "opening $SESSIONS sessions took more than 600 s"
	sleep 0.5
done
copen1=$(cpu_self "$POSTERN_PID")
IDLE_READY=$(grep '^READY' "$TMP/idle.out")
IDLE_OK=$(sed -n 's/.*established=\([0-9]*\).*/\1/p' <<<"$IDLE_READY")
IDLE_FAIL=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$IDLE_READY")
IDLE_OPEN_S=$(sed -n 's/.*open_seconds=\([0-9.]*\).*/\1/p' <<<"$IDLE_READY")
say "   $IDLE_READY"
grep '^ERROR' "$TMP/idle.out" | head -n 5 >&2 || true
sleep 5
c0=$(cpu_self "$POSTERN_PID")
sleep 10
c1=$(cpu_self "$POSTERN_PID")
IDLE_CPU_PCT=$(calc "%.1f" "($c1 - $c0) / $TICK / 10 * 100")
RSS1=$(rss_kib "$POSTERN_PID") HEAP1=$(metric postern_heap_bytes) GR1=$(metric postern_goroutines)
TARGET_SESS=$(pgrep -c -P "$SSHD_PID" || true)
kill -TERM "$IDLE_PID"
for _ in $(seq 600); do kill -0 "$IDLE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$IDLE_PID" 2>/dev/null && die "the idle session client did not exit within 60 s of SIGTERM"
wait "$IDLE_PID" 2>/dev/null || true
IDLE_PID=""
IDLE_DROPPED=$(sed -n 's/^CLOSED dropped_while_held=\([0-9]*\).*/\1/p' "$TMP/idle.out")
wait_target_idle 120 || true
wait_recordings_closed 120 >/dev/null
sleep "$SETTLE"
RSS2=$(rss_kib "$POSTERN_PID") HEAP2=$(metric postern_heap_bytes) GR2=$(metric postern_goroutines)
if ((IDLE_OK > 0)); then
	RSS_PER=$(calc "%.1f" "($RSS1 - $RSS0) / $IDLE_OK")
	HEAP_PER=$(calc "%.1f" "($HEAP1 - $HEAP0) / 1024 / $IDLE_OK")
else
	RSS_PER=nan HEAP_PER=nan
fi
OPEN_CPU_MS=$(calc "%.1f" "($copen1 - $copen0) / $TICK * 1000 / $SESSIONS")
RSS_BACK=$(calc "%.0f" "($RSS1 > $RSS0) ? ($RSS1 - $RSS2) / ($RSS1 - $RSS0) * 100 : 0")
HEAP_BACK=$(calc "%.0f" "($HEAP1 > $HEAP0) ? ($HEAP1 - $HEAP2) / ($HEAP1 - $HEAP0) * 100 : 0")
fi

# ----------------------------------------- E. simultaneous password logins --
if has E; then
say "E. $LOGINS simultaneous password logins through postern"
printf '%s\n' "$BENCH_PW" >"$TMP/bench.pw"
chmod 600 "$TMP/bench.pw"
printf '#!/bin/sh\nexec cat %q\n' "$TMP/bench.pw" >"$TMP/askpass"
chmod 700 "$TMP/askpass"
LOGIN_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o Ciphers="$CIPHER" -o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password
	-o NumberOfPasswordPrompts=1 -o ConnectTimeout=60)
LOGIN=(ssh "${LOGIN_OPTS[@]}" -p "$SSH_PORT" "bench@ops@target@127.0.0.1")
LOGIN_CMD="SSH_ASKPASS=$TMP/askpass SSH_ASKPASS_REQUIRE=force $(q "${LOGIN[@]}") true"
mkdir -p "$TMP/logins"
login_pids=()
clog0=$(cpu_self "$POSTERN_PID")
t0=$(now)
for ((i = 1; i <= LOGINS; i++)); do
	(
		rc=0
		SSH_ASKPASS=$TMP/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=${DISPLAY:-:0} \
			/usr/bin/time -f %e -o "$TMP/logins/$i.time" timeout 120 setsid "${LOGIN[@]}" true </dev/null >"$TMP/logins/$i.out" 2>&1 || rc=$?
		echo "$rc" >"$TMP/logins/$i.rc"
	) &
	login_pids+=($!)
done
wait "${login_pids[@]}"
t1=$(now)
wait_target_idle 60 || true
clog1=$(cpu_self "$POSTERN_PID")
LOGIN_WALL=$(calc "%.2f" "$t1 - $t0")
LOGIN_CPU_MS=$(calc "%.1f" "($clog1 - $clog0) / $TICK * 1000 / $LOGINS")
# (the last line: /usr/bin/time puts "Command exited with non-zero status" first)
LOGIN_MED=$(for f in "$TMP"/logins/*.time; do tail -n1 "$f"; done | median)
LOGIN_MAX=$(for f in "$TMP"/logins/*.time; do tail -n1 "$f"; done | sort -g | tail -n1)
LOGIN_FAIL=0
for ((i = 1; i <= LOGINS; i++)); do
	[[ $(cat "$TMP/logins/$i.rc") == 0 ]] || LOGIN_FAIL=$((LOGIN_FAIL + 1))
done
LOGIN_ERRORS=""
if ((LOGIN_FAIL > 0)); then
	LOGIN_ERRORS=$(for ((i = 1; i <= LOGINS; i++)); do
		[[ $(cat "$TMP/logins/$i.rc") == 0 ]] || { printf 'exit %s: ' "$(cat "$TMP/logins/$i.rc")"; tr '\n' ' ' <"$TMP/logins/$i.out"; echo; }
	done | sort | uniq -c | sort -rn | head -n 5)
fi
wait_target_idle 60 || true
fi

# ------------------------------------------------- F. SFTP put and get --
if has F; then
say "F. SFTP put and get of $SFTP_BYTES_N bytes, $SFTP_RUNS runs each way, alternating"
head -c "$SFTP_BYTES_N" /dev/urandom >"$TMP/sftp.src"
SFTP_SUM=$(sha256sum "$TMP/sftp.src" | cut -d' ' -f1)
SFTP_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o Ciphers="$CIPHER" -o BatchMode=yes -i "$TMP/operator_key")
for lay in shared split; do
	for leg in direct postern hop; do : >"$TMP/sftp.$lay.$leg"; done
done
# F runs each leg in two layouts. shared: everything on every CPU, as the
# rest of the script runs. split: the gateway alone on the last CPU and the
# endpoints (sftp with its ssh, the target's sshd with its sftp server) on
# the others, the same in all three legs: the shape of a gateway on a host
# of its own, which then costs the endpoints no CPU. The gateway is
# Postern, or the hop's middle: the target's sshd process serving the
# outer connection and the inner ssh it runs.
mapfile -t CPUS < <(cpu_list)
NCPU=${#CPUS[@]}
GW_CPU=${CPUS[-1]}
ALL_CPUS=$(IFS=, && echo "${CPUS[*]}")
END_CPUS=$(IFS=, && echo "${CPUS[*]:0:NCPU-1}")
SFTP_LAYOUTS="shared split"
((NCPU > 1)) || SFTP_LAYOUTS=shared
# layout shared|split: pins Postern and the target's sshd (whose children,
# forked later, inherit it) and sets PIN, the prefix for the client's commands
layout() {
	case $1 in
	shared) PIN=() && taskset -a -p -c "$ALL_CPUS" "$POSTERN_PID" && taskset -a -p -c "$ALL_CPUS" "$SSHD_PID" ;;
	split) PIN=(taskset -c "$END_CPUS") && taskset -a -p -c "$GW_CPU" "$POSTERN_PID" && taskset -a -p -c "$END_CPUS" "$SSHD_PID" ;;
	esac >/dev/null || die "taskset could not pin postern and sshd ($1)"
}
# Through the hop, sftp talks to the command's stdio (-D) rather than
# running ssh itself: the outer ssh, the target's sshd running the inner
# ssh, which asks the target for its sftp subsystem.
# hop_script FILE [WORD...]: writes that command as a script (sftp splits
# -D's argument its own way), the WORDs run by the target's shell first
hop_script() {
	local f=$1
	shift
	printf '#!/usr/bin/env bash\nexec %s-s %q sftp\n' \
		"$(printf '%q ' "${DIRECT[@]}" "$@" "${HOP_INNER[@]:0:${#HOP_INNER[@]}-1}")" "${HOP_INNER[-1]}" >"$f" &&
		chmod 755 "$f" || die "cannot write $f"
}
hop_script "$TMP/sftp-hop-shared"
# Split: the target's shell moves its parent (the sshd process serving the
# outer connection) to the gateway's CPU and runs the inner ssh there.
hop_script "$TMP/sftp-hop-split" taskset -p -c "$GW_CPU" '$PPID' '>/dev/null' ';' exec taskset -c "$GW_CPU"
# sftp_timed OP COMMAND: runs one sftp batch COMMAND on dest, in the layout's
# pinning, its wall time into $TMP/OP.time
sftp_timed() {
	"${PIN[@]}" /usr/bin/time -f '%e' -o "$TMP/$1.time" timeout 600 sftp "${SFTP_OPTS[@]}" -b - "${dest[@]}" \
		<<<"$2" >/dev/null || die "sftp $1 ($leg, $lay) failed"
}
for ((r = 1; r <= SFTP_RUNS; r++)); do
	for lay in $SFTP_LAYOUTS; do
		layout "$lay"
		for leg in direct postern hop; do
			case $leg in
			direct) dest=(-P "$TPORT" "$TUSER@127.0.0.1") ;;
			postern) dest=(-P "$SSH_PORT" "bench@ops@target@127.0.0.1") ;;
			hop) dest=(-D "$TMP/sftp-hop-$lay") ;;
			esac
			rm -f "$THOME/sftp.bin" "$TMP/sftp.back"
			p0=$(cpu_self "$POSTERN_PID")
			sftp_timed put "put $TMP/sftp.src $THOME/sftp.bin"
			p1=$(cpu_self "$POSTERN_PID")
			sftp_timed get "get $THOME/sftp.bin $TMP/sftp.back"
			p2=$(cpu_self "$POSTERN_PID")
			[[ $(sha256sum "$TMP/sftp.back" | cut -d' ' -f1) == "$SFTP_SUM" ]] || die "sftp ($leg, $lay): the file came back different"
			line="$(tail -n1 "$TMP/put.time") $(tail -n1 "$TMP/get.time") $(calc "%.2f" "($p1 - $p0) / $TICK") $(calc "%.2f" "($p2 - $p1) / $TICK")"
			echo "$line" >>"$TMP/sftp.$lay.$leg"
			say "   run $r $lay $leg: put s, get s, postern CPU put s, get s: $line"
		done
	done
done
layout shared
rm -f "$THOME/sftp.bin" "$TMP/sftp.back" "$TMP/sftp.src"
# The audit's digest of the last upload, computed while it streamed.
SFTP_AUDIT=$(curl -fsS "$API/audits/ftp-logs/?operation=upload&order=-datetime&limit=1" -H "Authorization: Bearer $TOKEN" |
	grep -o '"sha256":"[0-9a-f]*"' | head -n1 | cut -d'"' -f4)
SFTP_AUDIT_OK=$([[ $SFTP_AUDIT == "$SFTP_SUM" ]] && echo "matches sha256sum" || echo "MISMATCH ($SFTP_AUDIT)")
scol() { awk -v c="$2" '{print $c}' "$TMP/sftp.$1" | median; }
SFTP_MIB=$(calc "%.6f" "$SFTP_BYTES_N / 1048576")
# sftp_figures LAYOUT: F's rows for one layout, from its runs
sftp_figures() {
	local l=$1 pd pp gd gp ph gh
	pd=$(scol "$l.direct" 1) pp=$(scol "$l.postern" 1) gd=$(scol "$l.direct" 2) gp=$(scol "$l.postern" 2)
	ph=$(scol "$l.hop" 1) gh=$(scol "$l.hop" 2)
	local pr gr
	pr=$(calc "%.3f" "$pd / $pp") gr=$(calc "%.3f" "$gd / $gp")
	cat <<ROWS
   put (MiB/s)                     $(printf '%-11s %-11s' "$(calc "%.1f" "$SFTP_MIB / $pd")" "$(calc "%.1f" "$SFTP_MIB / $pp")") $pr  (goal >= 0.8: $(verdict "$pr" ">=" 0.8))
   get (MiB/s)                     $(printf '%-11s %-11s' "$(calc "%.1f" "$SFTP_MIB / $gd")" "$(calc "%.1f" "$SFTP_MIB / $gp")") $gr  (goal >= 0.8: $(verdict "$gr" ">=" 0.8))
   OpenSSH hop put, get (MiB/s)    $(printf '%-11s %-11s' "" "$(calc "%.1f" "$SFTP_MIB / $ph"), $(calc "%.1f" "$SFTP_MIB / $gh")") $(calc "%.3f" "$pd / $ph"), $(calc "%.3f" "$gd / $gh")  (ratios)
   postern CPU (s per GB)          put $(calc "%.2f" "$(scol "$l.postern" 3) / ($SFTP_BYTES_N / 1e9)"), get $(calc "%.2f" "$(scol "$l.postern" 4) / ($SFTP_BYTES_N / 1e9)")
ROWS
}
fi

# ------------------------------- G. interactive output, audit on and off --
if has G; then
say "G. interactive output of $TTY_BYTES_N bytes through postern, command audit on and off, $TTY_RUNS runs each"
TTY_CMD="yes '2026-11-23T10:00:00.123Z INFO api request handled method=GET path=/api/v2/assets/ status=200 bytes=5120 in 3.2ms' | head -c $TTY_BYTES_N"
TTY_SSH=(ssh -tt "${SSH_OPTS[@]}" -p "$SSH_PORT" "bench@ops@target@127.0.0.1")
: >"$TMP/tty.on" && : >"$TMP/tty.off"
for ((r = 1; r <= TTY_RUNS; r++)); do
	for mode in on off; do
		# on: typed into the interactive shell, so the terminal emulator
		# follows every byte to extract commands and the filter sees the
		# line; off: the same command as an exec with a terminal, which has
		# the same PTY and recording but no command extraction.
		if [[ $mode == on ]]; then
			/usr/bin/time -f '%e' -o "$TMP/tty.time" timeout 600 "${TTY_SSH[@]}" \
				<<<"$TTY_CMD; exit" >/dev/null 2>&1 || die "interactive run ($mode) failed"
		else
			/usr/bin/time -f '%e' -o "$TMP/tty.time" timeout 600 "${TTY_SSH[@]}" "$TTY_CMD" \
				</dev/null >/dev/null 2>&1 || die "interactive run ($mode) failed"
		fi
		tail -n1 "$TMP/tty.time" >>"$TMP/tty.$mode"
		wait_recordings_closed 600 >/dev/null
		say "   run $r audit $mode: $(tail -n1 "$TMP/tty.time") s"
	done
done
TTY_ON=$(median <"$TMP/tty.on") TTY_OFF=$(median <"$TMP/tty.off")
TTY_RATIO=$(calc "%.3f" "$TTY_OFF / $TTY_ON")
TTY_MIB=$(calc "%.6f" "$TTY_BYTES_N / 1048576")
TTY_TP_ON=$(calc "%.1f" "$TTY_MIB / $TTY_ON") TTY_TP_OFF=$(calc "%.1f" "$TTY_MIB / $TTY_OFF")
AUDITED=$(curl -fsS "$API/terminal/commands/?search=INFO+api+request&limit=1" -H "Authorization: Bearer $TOKEN" | grep -o '"count":[0-9]*' | cut -d: -f2)
fi

# ------------------------------------------------------------ postern log --
LOG_WARN=$(grep -ciE 'level=(WARN|ERROR)|"level":"(WARN|ERROR)"|panic' "$TMP/postern.log" || true)
LOG_SAMPLE=$(grep -iE 'level=(WARN|ERROR)|"level":"(WARN|ERROR)"|panic' "$TMP/postern.log" | sort | uniq -c | sort -rn | head -n 5 || true)

# ------------------------------------------------------------------ report --
verdict() { awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN { if (v=="nan") {print "n/a"; exit} ok = (op=="<=") ? v<=g : (op=="<") ? v<g : (op==">=") ? v>=g : v==g; print ok ? "ok" : "MISSED" }'; }
report() {
	cat <<EOF

================ Postern SSH gateway vs direct OpenSSH ================
$(date -u +%Y-%m-%dT%H:%M:%SZ)  $(nproc) CPUs  $(uname -r)  $(ssh -V 2>&1)  $(go version | awk '{print $3}')
postern $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO" && git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')
cipher $CIPHER, ed25519 keys on both legs, recording on (the default)
EOF
	has A && cat <<EOF

A. bulk output, $REMOTE_BULK, $A_RUNS runs each way (of RUNS=$RUNS), medians
                                   direct      postern     ratio / goal
   wall time (s)                   $(printf '%-11s %-11s' "$W_D" "$W_P")
   throughput (MiB/s)              $(printf '%-11s %-11s' "$TP_D" "$TP_P") $TP_RATIO  (goal >= 0.65: $(verdict "$TP_RATIO" ">=" 0.65))
   OpenSSH hop (MiB/s, ratio)      $(printf '%-11s %-11s' "" "$TP_H") $TP_RATIO_H  (the same output through ssh run by the target's sshd)
   postern CPU (s per GB)          $(printf '%-11s %-11s' "-" "$PCPU_GB") goal <= 3.0: $(verdict "$PCPU_GB" "<=" 3.0)  ($PCPU_GIB s per GiB)
   target sshd+head CPU (s/GiB)    $(printf '%-11s %-11s' "$TCPU_D_GIB" "$TCPU_P_GIB")
   ssh client CPU (s/GiB)          $(printf '%-11s %-11s' "$CCPU_D_GIB" "$CCPU_P_GIB")
   recording: largest .cast $CAST_MAX bytes, .cast.gz $CAST_GZ bytes;
              ssh exited $EXITLAG_P s after the .cast last grew (polled every 0.1 s),
              and the .cast.gz was in place $FINISH_P s after ssh exited (medians)
EOF
	has B && cat <<EOF

B. connect + exec true, hyperfine -N --warmup 3 --runs $LAT_RUNS (ms)
                                   direct      postern     added / goal
   median                          $(printf '%-11s %-11s' "$LAT_D" "$LAT_P") $LAT_ADD  (goal < 30: $(verdict "$LAT_ADD" "<" 30))
   mean                            $(printf '%-11s %-11s' "$LAT_D_MEAN" "$LAT_P_MEAN")
   min                             $(printf '%-11s %-11s' "$LAT_D_MIN" "$LAT_P_MIN")
EOF
	has C && cat <<EOF

C. keystroke echo (1 byte to cat on a raw PTY and back), $ECHO_ROUNDS x $ECHO_N each way,
   median over runs (us)           direct      postern     added / goal
   p50                             $(printf '%-11s %-11s' "$E50_D" "$E50_P") $E50_ADD
   p99                             $(printf '%-11s %-11s' "$E99_D" "$E99_P") $E99_ADD  (goal < 300: $(verdict "$E99_ADD" "<" 300))
   a client that waits for the pty-req answer before exec (x/crypto/ssh RequestPty):
      direct:  $PTYWAIT_DIRECT
      postern: $PTYWAIT_POSTERN
EOF
	has D && cat <<EOF

D. $SESSIONS idle interactive sessions (PTY + login shell) through postern
   established / failed            $IDLE_OK / $IDLE_FAIL  (goal $SESSIONS / 0: $(verdict "$IDLE_FAIL" "==" 0)); opened in $IDLE_OPEN_S s; dropped while held: ${IDLE_DROPPED:-?}
   target sshd session processes   $TARGET_SESS while held
   postern RSS (KiB)               before $RSS0, held $RSS1, after close+${SETTLE}s $RSS2 ($RSS_BACK% of the growth handed back)
   postern heap (postern_heap_bytes) before $HEAP0, held $HEAP1, after $HEAP2 ($HEAP_BACK% of the growth freed)
   goroutines                      before $GR0, held $GR1, after $GR2
   per session: RSS $RSS_PER KiB (goal < 96: $(verdict "$RSS_PER" "<" 96)), heap $HEAP_PER KiB
   postern CPU while idle-holding  $IDLE_CPU_PCT % of one CPU
   postern CPU to open a session   $OPEN_CPU_MS ms (the CPU spent while the $SESSIONS were opened, divided by $SESSIONS)
EOF
	has E && cat <<EOF

E. $LOGINS simultaneous password logins through postern (ssh ... true)
   failures                        $LOGIN_FAIL of $LOGINS  (goal 0: $(verdict "$LOGIN_FAIL" "==" 0)); all done in $LOGIN_WALL s
   time per login (s)              median $LOGIN_MED, max $LOGIN_MAX
   postern CPU per login           $LOGIN_CPU_MS ms (argon2id password check, target login, session, recording)
$( [[ -n $LOGIN_ERRORS ]] && sed 's/^/   /' <<<"$LOGIN_ERRORS")
EOF
	has F && cat <<EOF

F. SFTP put and get of a $SFTP_BYTES_N-byte file (random), sftp -b, $SFTP_RUNS runs each way, medians
                                   direct      postern     ratio / goal
   all on all CPUs (client, target and gateway compete for them)
$(sftp_figures shared)
   gateway on its own CPU ($GW_CPU), client and target on the rest ($END_CPUS), as with a gateway host of its own
$( [[ $SFTP_LAYOUTS == *split* ]] && sftp_figures split || echo "   (not measured: needs at least 2 CPUs)")
   audit digest of the last upload $SFTP_AUDIT_OK
EOF
	has G && cat <<EOF

G. interactive session output through postern ($TTY_BYTES_N bytes of log lines, ssh -tt), $TTY_RUNS runs each, medians
                                   audit on    audit off   ratio / goal
   throughput (MiB/s)              $(printf '%-11s %-11s' "$TTY_TP_ON" "$TTY_TP_OFF") $TTY_RATIO  (goal >= 0.9: $(verdict "$TTY_RATIO" ">=" 0.9))
   (on: typed at the shell, followed by the terminal emulator and the filter; off: the same
    command as an exec with a terminal; both recorded. Command rows found for it: ${AUDITED:-?})
EOF
	cat <<EOF

postern log: $LOG_WARN warning/error lines
$( [[ -n $LOG_SAMPLE ]] && sed 's/^/   /' <<<"$LOG_SAMPLE")

Command lines
   direct:   $DIRECT_CMD CMD
   postern:  $POSTERN_CMD CMD
   A: CMD = '${REMOTE_BULK:-}', stdout to /dev/null, timed with /usr/bin/time -f '%e %U %S'
   hop:      $DIRECT_CMD '$(q "${HOP_INNER[@]}") CMD'   (F: sftp -D '$SFTP_HOP_SHOWN')
   B: hyperfine -N --warmup 3 --runs $LAT_RUNS -n direct "\$direct true" -n postern "\$postern true"
   C: bench/echolat ${ECHO_D_ARGS[*]}
      bench/echolat ${ECHO_P_ARGS[*]}
      (and once each way with ${PTYWAIT_ARGS[*]})
   D: bench/idle -addr 127.0.0.1:$SSH_PORT -user bench@ops@target -key OPERATOR_KEY -n $SESSIONS -cipher $CIPHER
   E: $LOGIN_CMD   ($LOGINS at once)
EOF
}
report | { if [[ -n $OUT ]]; then tee "$OUT"; else cat; fi; }
