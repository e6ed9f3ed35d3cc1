package sshtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// readyTimeout bounds how long StartTarget and Restart wait for sshd to
// listen and greet.
const readyTimeout = 10 * time.Second

// Option configures StartTarget.
type Option func(*targetOptions)

type targetOptions struct {
	shell       string
	keys        []ssh.PublicKey
	hostKeyType string
	config      []string
}

// WithShell sets the login shell of the target's user (default /bin/bash),
// for tests of other shells. It needs root: without it the test is
// skipped.
func WithShell(path string) Option {
	return func(o *targetOptions) { o.shell = path }
}

// WithAuthorizedKey adds pub to the target's authorized_keys file, so that
// the matching private key logs in as Target.User.
func WithAuthorizedKey(pub ssh.PublicKey) Option {
	return func(o *targetOptions) { o.keys = append(o.keys, pub) }
}

// WithHostKeyType sets the type of the target's host key, as ssh-keygen -t
// takes it: "ed25519" (the default), "rsa" or "ecdsa".
func WithHostKeyType(typ string) Option {
	return func(o *targetOptions) { o.hostKeyType = typ }
}

// WithConfig adds lines to the target's sshd_config. They come before the
// package's own settings, so they override them (sshd keeps the first
// value it reads for a keyword); a Subsystem line replaces the package's
// line for that subsystem (sshd refuses two). SetEnv lines are joined into
// one. Match blocks are not supported.
func WithConfig(lines ...string) Option {
	return func(o *targetOptions) { o.config = append(o.config, lines...) }
}

// Target is a real OpenSSH server started for one test. Its exported
// fields describe it; they change only through RegenerateHostKey (HostKey).
// Its methods call t.Fatal on errors, so call them from the test's
// goroutine.
type Target struct {
	// Addr is the host:port sshd listens on, 127.0.0.1:Port.
	Addr string
	// Host is the address sshd listens on, 127.0.0.1.
	Host string
	// Port is the TCP port sshd listens on; Restart keeps it.
	Port int
	// User is the account to log in as: a throwaway user as root, the
	// current user otherwise.
	User string
	// Password is User's password; empty when the tests do not run as
	// root, where only key logins work.
	Password string
	// HostKey is the public half of sshd's host key.
	HostKey ssh.PublicKey
	// HostKeyFile is the path of sshd's private host key; the public key
	// is next to it with ".pub" added.
	HostKeyFile string
	// Dir is the target's own directory: sshd_config, host key,
	// authorized_keys and pid file. It is removed when the test ends.
	Dir string
	// Home is the home directory the sessions see (HOME), where Run runs.
	// As root it is the throwaway user's home directory. Not as root it is
	// a directory of the target's own, while sessions (and relative paths
	// in sftp and scp) still start in the user's real home directory: use
	// "$HOME/..." or absolute paths there.
	Home string
	// Shell is User's login shell.
	Shell string

	tb             testing.TB
	opts           targetOptions
	root           bool
	uid, gid       uint32
	configFile     string
	authorizedKeys string
	log            logBuffer

	mu   sync.Mutex // guards proc and the authorized_keys file
	proc *sshdProc
}

// sshdProc is one run of the sshd listener.
type sshdProc struct {
	process *os.Process
	done    chan struct{} // closed when the process has been waited for
	err     error         // the result of Wait, once done is closed
}

// userMu serializes useradd and userdel within the test binary.
var userMu sync.Mutex

// StartTarget starts a real sshd for the test on a free port of 127.0.0.1
// and stops it, with every session it serves, when the test ends. As root
// it also creates a throwaway user with a random password and removes it
// (and its processes) when the test ends; the first target of a test
// process also removes the users that test processes which died before
// their cleanups left behind. StartTarget calls Require first.
func StartTarget(t testing.TB, opts ...Option) *Target {
	t.Helper()
	Require(t)
	o := targetOptions{hostKeyType: "ed25519"}
	for _, opt := range opts {
		opt(&o)
	}
	root := os.Geteuid() == 0
	if !root && o.shell != "" {
		t.Skipf("SKIPPED LOUDLY: WithShell(%q) needs the tests to run as root, to create a user with that shell", o.shell)
	}

	// Not t.TempDir: its parents are private to root, and sshd reads
	// authorized_keys as the target's user.
	dir, err := os.MkdirTemp("", "postern-sshtest-")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("sshtest: %v", err)
	}

	tg := &Target{
		Host:           "127.0.0.1",
		Dir:            dir,
		tb:             t,
		opts:           o,
		root:           root,
		configFile:     filepath.Join(dir, "sshd_config"),
		authorizedKeys: filepath.Join(dir, "authorized_keys"),
	}
	if root {
		// sshd's privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
		start := time.Now()
		tg.createUser()
		tg.slow("creating the throwaway user", start)
	} else {
		tg.useCurrentUser()
	}
	tg.writeDotfiles()
	if err := os.WriteFile(tg.authorizedKeys, nil, 0o644); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	for _, k := range o.keys {
		tg.AuthorizeKey(k)
	}
	tg.generateHostKey()

	t.Cleanup(func() {
		start := time.Now()
		tg.stopGracefully()
		tg.slow("stopping sshd", start)
		if t.Failed() {
			t.Logf("sshtest: log of sshd on %s:\n%s", tg.Addr, tg.Log())
		}
	})
	start := time.Now()
	tg.start(0)
	tg.slow("starting sshd", start)
	return tg
}

// slow logs how long a step took when it took long, to explain slow tests.
func (tg *Target) slow(step string, start time.Time) {
	if d := time.Since(start); d > 3*time.Second {
		tg.tb.Logf("sshtest: %s took %v", step, d.Round(time.Millisecond))
	}
}

// createUser creates the throwaway user, as root.
func (tg *Target) createUser() {
	t := tg.tb
	t.Helper()
	shell := tg.opts.shell
	if shell == "" {
		shell = "/bin/bash"
	}
	name := "pst" + randHex(5)
	password := "pw-" + randHex(12)

	userMu.Lock()
	defer userMu.Unlock()
	sweepOnce.Do(sweepStaleUsers)
	// Other test binaries may hold the password file's lock for a moment.
	var out []byte
	var err error
	for range 20 {
		out, err = exec.Command("useradd", "-m", "-s", shell, "-c", userComment+strconv.Itoa(os.Getpid()), name).CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("sshtest: useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		start := time.Now()
		tg.deleteUser()
		tg.slow("removing the throwaway user", start)
	})

	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("sshtest: chpasswd %s: %v: %s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	tg.User, tg.Password, tg.Home, tg.Shell = name, password, u.HomeDir, shell
	tg.uid, tg.gid = uint32(uid), uint32(gid)
	// Debian's skeleton clears the screen on logout.
	_ = os.Remove(filepath.Join(tg.Home, ".bash_logout"))
}

// userComment starts the comment (GECOS) field of the throwaway users,
// followed by the id of the test process that created them.
const userComment = "postern sshtest pid "

var sweepOnce sync.Once

// sweepStaleUsers removes the throwaway users left behind by test
// processes that died before their cleanups ran. Called with userMu held.
func sweepStaleUsers() {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 7 || !strings.HasPrefix(f[4], userComment) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(f[4], userComment))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if uid, err := strconv.Atoi(f[2]); err == nil {
			killUser(uid, 2*time.Second)
		}
		_ = exec.Command("userdel", "-r", "-f", f[0]).Run()
	}
}

// deleteUser kills the throwaway user's processes and removes the user
// with its home directory.
func (tg *Target) deleteUser() {
	t := tg.tb
	if tg.User == "" {
		return
	}
	if !killUser(int(tg.uid), 5*time.Second) {
		t.Errorf("sshtest: processes of user %s survive SIGKILL", tg.User)
	}
	userMu.Lock()
	defer userMu.Unlock()
	var out []byte
	for range 20 {
		out, _ = exec.Command("userdel", "-r", "-f", tg.User).CombinedOutput()
		if _, err := user.Lookup(tg.User); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("sshtest: userdel %s failed: %s", tg.User, out)
}

// useCurrentUser sets the target up for the user running the tests.
func (tg *Target) useCurrentUser() {
	t := tg.tb
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	tg.User = u.Username
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	tg.uid, tg.gid = uint32(uid), uint32(gid)
	tg.Shell = loginShell(u.Username)
	tg.Home = filepath.Join(tg.Dir, "home")
	if err := os.Mkdir(tg.Home, 0o700); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if !ptysInTTYGroup() {
		t.Logf("sshtest: warning: new pseudo-terminals here do not belong to group tty (devpts mounted without gid=5), and an sshd not run as root cannot fix that: sessions that request a PTY will fail")
	}
}

// ptysInTTYGroup reports whether a new pseudo-terminal belongs to group
// tty, which sshd would otherwise chown it to.
func ptysInTTYGroup() bool {
	grp, err := user.LookupGroup("tty")
	if err != nil {
		return true // sshd then keeps the user's group
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		return true
	}
	defer ptmx.Close()
	defer tty.Close()
	fi, err := tty.Stat()
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || strconv.FormatUint(uint64(st.Gid), 10) == grp.Gid
}

// loginShell reads name's login shell from /etc/passwd.
func loginShell(name string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err == nil {
		for line := range strings.Lines(string(data)) {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) == 7 && f[0] == name && f[6] != "" {
				return f[6]
			}
		}
	}
	return "/bin/sh"
}

// Dotfiles that make sessions predictable. Login shells read .profile,
// interactive bash reads .bashrc, readline reads .inputrc; an empty
// .hushlogin keeps PAM's message of the day (pam_motd) and sshd's own
// quiet.
const (
	dotProfile = `# Written by sshtest: a predictable shell for tests.
PS1='$ '
PS2='> '
if [ -n "${BASH_VERSION-}" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi
`
	dotBashrc = `# Written by sshtest: a predictable shell for tests.
PS1='$ '
PS2='> '
unset PROMPT_COMMAND HISTFILE
`
	dotInputrc = `# Written by sshtest: no escape sequences around the prompt.
set enable-bracketed-paste off
`
)

// writeDotfiles writes the dotfiles, .hushlogin included, into Home,
// owned by User.
func (tg *Target) writeDotfiles() {
	t := tg.tb
	files := map[string]string{".profile": dotProfile, ".bashrc": dotBashrc, ".inputrc": dotInputrc, ".hushlogin": ""}
	for name, content := range files {
		path := filepath.Join(tg.Home, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
		if tg.root {
			if err := os.Chown(path, int(tg.uid), int(tg.gid)); err != nil {
				t.Fatalf("sshtest: %v", err)
			}
		}
	}
}

// generateHostKey makes a fresh host key with ssh-keygen.
func (tg *Target) generateHostKey() {
	t := tg.tb
	t.Helper()
	typ := tg.opts.hostKeyType
	path := filepath.Join(tg.Dir, "ssh_host_"+typ+"_key")
	_ = os.Remove(path)
	_ = os.Remove(path + ".pub")
	out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", "sshtest-host", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sshtest: ssh-keygen -t %s: %v: %s", typ, err, out)
	}
	pub := readPublicKey(t, path+".pub")
	tg.HostKey, tg.HostKeyFile = pub, path
}

// readPublicKey parses an OpenSSH public key file.
func readPublicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatalf("sshtest: %s: %v", path, err)
	}
	return pub
}

// AuthorizeKey adds pub to the target's authorized_keys file. sshd reads
// the file at each login, so it takes effect at once.
func (tg *Target) AuthorizeKey(pub ssh.PublicKey) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	f, err := os.OpenFile(tg.authorizedKeys, os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.Write(ssh.MarshalAuthorizedKey(pub))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tg.tb.Fatalf("sshtest: %v", err)
	}
}

var (
	penaltiesOnce sync.Once
	penaltiesLine string
)

// versionSettings returns settings that only some OpenSSH versions know:
// from 9.8 on, sshd refuses a source address for a while after failed
// logins, which the many logins of a test run from 127.0.0.1 would set off.
// hostKey is any host key file, which sshd's test mode needs.
func versionSettings(hostKey string) []string {
	penaltiesOnce.Do(func() {
		probe := exec.Command(SSHDPath, "-t", "-f", "/dev/null", "-h", hostKey, "-o", "PerSourcePenalties=no")
		if probe.Run() == nil {
			penaltiesLine = "PerSourcePenalties no"
		}
	})
	if penaltiesLine == "" {
		return nil
	}
	return []string{penaltiesLine}
}

// writeConfig writes sshd_config for port.
func (tg *Target) writeConfig(port int) {
	var b strings.Builder
	b.WriteString("# sshd_config written by sshtest for one test.\n")
	// sshd takes only the first SetEnv line: join the caller's and ours.
	var setEnv []string
	if !tg.root {
		setEnv = append(setEnv, "HOME="+tg.Home)
	}
	for _, line := range tg.opts.config {
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "SetEnv") {
			setEnv = append(setEnv, f[1:]...)
			continue
		}
		b.WriteString(line + "\n")
	}
	if len(setEnv) > 0 {
		b.WriteString("SetEnv " + strings.Join(setEnv, " ") + "\n")
	}
	pamAndPasswords := []string{"UsePAM yes", "PasswordAuthentication yes"}
	if !tg.root {
		pamAndPasswords = []string{"UsePAM no", "PasswordAuthentication no"}
	}
	lines := []string{
		fmt.Sprintf("ListenAddress 127.0.0.1:%d", port),
		"HostKey " + tg.HostKeyFile,
		"PidFile " + filepath.Join(tg.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + tg.authorizedKeys,
		"AllowUsers " + tg.User,
		"PubkeyAuthentication yes",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin no",
		// The files live in a temporary directory under the world-writable
		// /tmp, which strict modes would refuse.
		"StrictModes no",
		"LogLevel VERBOSE",
		"MaxStartups 200",
		"MaxSessions 100",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"Banner none",
		"X11Forwarding no",
		"Subsystem sftp internal-sftp",
	}
	lines = append(append(lines, pamAndPasswords...), versionSettings(tg.HostKeyFile)...)
	given := map[string]bool{}
	for _, line := range tg.opts.config {
		given[configKey(line)] = true
	}
	for _, line := range lines {
		if k := configKey(line); k == "" || !given[k] {
			b.WriteString(line + "\n")
		}
	}
	if err := os.WriteFile(tg.configFile, []byte(b.String()), 0o644); err != nil {
		tg.tb.Fatalf("sshtest: %v", err)
	}
}

// configKey names the subsystem a Subsystem line of sshd_config defines,
// and is "" for any other line.
func configKey(line string) string {
	if f := strings.Fields(strings.ToLower(line)); len(f) > 1 && f[0] == "subsystem" {
		return f[0] + " " + f[1]
	}
	return ""
}

// start runs sshd on port, or on a free port when port is 0, and waits
// until it greets.
func (tg *Target) start(port int) {
	t := tg.tb
	t.Helper()
	var lastErr error
	for attempt := range 10 {
		p := port
		if p == 0 {
			p = freePort(t)
		} else if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		tg.writeConfig(p)
		logStart := tg.log.Len()
		proc := tg.launch()
		err := tg.waitReady(proc, p, logStart)
		if err == nil {
			tg.mu.Lock()
			tg.proc = proc
			tg.mu.Unlock()
			tg.Port = p
			tg.Addr = net.JoinHostPort(tg.Host, strconv.Itoa(p))
			return
		}
		killTree(proc.process)
		<-proc.done
		lastErr = err
		if !strings.Contains(tg.log.From(logStart), "Address already in use") {
			break
		}
	}
	t.Fatalf("sshtest: sshd did not start: %v\nsshd's output:\n%s", lastErr, tg.Log())
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts the sshd listener.
func (tg *Target) launch() *sshdProc {
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", tg.configFile)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = &tg.log, &tg.log
	// The per-connection processes keep sshd's stderr open; do not wait
	// for them after the listener has gone.
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tg.tb.Fatalf("sshtest: %s: %v", SSHDPath, err)
	}
	p := &sshdProc{process: cmd.Process, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitReady waits until sshd says it listens on port and a connection
// there reads an SSH banner.
func (tg *Target) waitReady(p *sshdProc, port, logStart int) error {
	deadline := time.Now().Add(readyTimeout)
	listening := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", port)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		select {
		case <-p.done:
			return fmt.Errorf("sshd exited: %v", p.err)
		default:
		}
		if strings.Contains(tg.log.From(logStart), listening) {
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				line, err := bufio.NewReader(conn).ReadString('\n')
				conn.Close()
				if err == nil && strings.HasPrefix(line, "SSH-") {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SSH banner on %s within %v", addr, readyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills sshd and every session it serves, as a crash or a power cut
// of the target would: new connections are refused and open ones drop.
// Stopping a stopped target does nothing.
func (tg *Target) Stop() {
	tg.mu.Lock()
	p := tg.proc
	tg.proc = nil
	tg.mu.Unlock()
	if p == nil {
		return
	}
	killTree(p.process)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		tg.tb.Errorf("sshtest: sshd (pid %d) did not exit after SIGKILL", p.process.Pid)
	}
	_ = os.Remove(filepath.Join(tg.Dir, "sshd.pid"))
}

// stopGracefully gives the sessions whose clients the test closed a moment
// to end on their own, so that sshd reaps its children, then stops sshd.
func (tg *Target) stopGracefully() {
	tg.mu.Lock()
	p := tg.proc
	tg.mu.Unlock()
	if p != nil {
		deadline := time.Now().Add(500 * time.Millisecond)
		for len(descendants(p.process.Pid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	tg.Stop()
}

// Restart stops sshd if it runs and starts it again on the same port with
// the same user, host key and authorized keys.
func (tg *Target) Restart() {
	tg.tb.Helper()
	tg.Stop()
	_, _ = tg.log.Write([]byte("--- sshtest: restarting sshd ---\n"))
	tg.start(tg.Port)
}

// RegenerateHostKey gives the target a new host key (of the same type)
// and restarts sshd with it, for tests of a changed host key. HostKey and
// HostKeyFile describe the new key afterwards.
func (tg *Target) RegenerateHostKey() {
	tg.tb.Helper()
	tg.Stop()
	tg.generateHostKey()
	tg.Restart()
}

// Run runs command with /bin/sh on the target machine as Target.User,
// directly rather than through sshd, in Home, to check what a session
// did. It returns the command's standard output and error together.
func (tg *Target) Run(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = tg.Home
	cmd.Env = []string{
		"HOME=" + tg.Home,
		"USER=" + tg.User,
		"LOGNAME=" + tg.User,
		"SHELL=" + tg.Shell,
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}
	if tg.root {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tg.uid, Gid: tg.gid}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Log returns what sshd has written to its standard error so far, across
// restarts (LogLevel VERBOSE: connections, logins, sessions). The first
// connection after each start is the package's readiness probe, which
// closes after reading the SSH banner.
func (tg *Target) Log() string { return tg.log.String() }

// SSHArgs returns the arguments that point ssh at the target as User:
// "-p", Port, "User@Host".
func (tg *Target) SSHArgs() []string {
	return []string{"-p", strconv.Itoa(tg.Port), tg.UserHost()}
}

// UserHost returns "User@Host".
func (tg *Target) UserHost() string { return tg.User + "@" + tg.Host }

// KnownHostsLine returns a known_hosts line for the target's current host
// key, as "[127.0.0.1]:PORT TYPE KEY".
func (tg *Target) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(tg.Addr)}, tg.HostKey)
}

// logBuffer is a bytes.Buffer safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Len returns how many bytes were written.
func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// From returns what was written from offset on.
func (l *logBuffer) From(offset int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if offset > len(b) {
		return ""
	}
	return string(b[offset:])
}

// randHex returns 2n random hex digits.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
