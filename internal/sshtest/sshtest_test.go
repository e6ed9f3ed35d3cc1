package sshtest_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/sshtest"
)

// login starts an interactive ssh session to tg in a PTY and waits for the
// shell prompt, logging in with the password as root and with a key
// otherwise.
func login(t *testing.T, opts ...sshtest.ClientOption) (*sshtest.Target, *sshtest.Client) {
	t.Helper()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
	var c *sshtest.Client
	if tg.Password != "" {
		c = sshtest.SSHWith(t, opts, append([]string{"-o", "PubkeyAuthentication=no"}, tg.SSHArgs()...)...)
		c.Expect("password:", 0)
		c.SendLine(tg.Password)
	} else {
		c = sshtest.SSHWith(t, opts, append([]string{"-i", priv}, tg.SSHArgs()...)...)
	}
	c.Expect(`\$ $`, 0)
	return tg, c
}

func TestPasswordExec(t *testing.T) {
	t.Parallel()
	tg := sshtest.StartTarget(t)
	if tg.Password == "" {
		t.Skip("password logins need root (the target serves the current user with keys only)")
	}
	out, code := sshtest.Exec(t, tg.Password, append(tg.SSHArgs(), "id -un")...)
	if code != 0 || strings.TrimSpace(out) != tg.User {
		t.Fatalf("id -un: got %q, exit %d; want %q, exit 0", out, code, tg.User)
	}
	if _, code := sshtest.Exec(t, tg.Password, append(tg.SSHArgs(), "exit 3")...); code != 3 {
		t.Fatalf("exit 3: got exit %d", code)
	}
	// One try: PAM delays each failure by about two seconds.
	wrong := append([]string{"-o", "NumberOfPasswordPrompts=1"}, append(tg.SSHArgs(), "true")...)
	r := sshtest.Invocation{Args: wrong, Password: "wrong-" + tg.Password}.Run(t)
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("wrong password: got exit %d, stderr %q; want 255 and Permission denied", r.ExitCode, r.Stderr)
	}
	if !strings.Contains(tg.Log(), "Accepted password for "+tg.User) {
		t.Fatalf("sshd's log does not show the password login:\n%s", tg.Log())
	}
}

func TestKeyLogin(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	other, _ := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
	out, code := sshtest.Exec(t, "", append([]string{"-i", priv}, append(tg.SSHArgs(), "id -un; echo $HOME")...)...)
	want := tg.User + "\n" + tg.Home + "\n"
	if code != 0 || out != want {
		t.Fatalf("key login: got %q, exit %d; want %q, exit 0", out, code, want)
	}
	if !strings.Contains(tg.Log(), "Accepted publickey for "+tg.User) {
		t.Fatalf("sshd's log does not show the key login:\n%s", tg.Log())
	}
	// A key that is not authorized is refused, without a password prompt.
	if _, code := sshtest.Exec(t, "", append([]string{"-i", other}, append(tg.SSHArgs(), "true")...)...); code != 255 {
		t.Fatalf("unauthorized key: got exit %d, want 255", code)
	}
	// Keys authorized later take effect at once.
	_, laterPub := sshtest.ClientKey(t)
	tg.AuthorizeKey(laterPub)
}

func TestPTYSession(t *testing.T) {
	t.Parallel()
	_, c := login(t)
	c.SendLine("echo hi-$((1+2))")
	c.Expect("hi-3", 0)
	c.Expect(`\$ $`, 0)
	c.SendLine("tty")
	c.Expect(`/dev/pts/\d+`, 0)
	c.Expect(`\$ $`, 0)
	c.SendLine("exit 7")
	if code := c.Wait(); code != 7 {
		t.Fatalf("exit 7 in the shell: ssh exited %d; output:\n%s", code, c.Output())
	}
}

func TestResize(t *testing.T) {
	t.Parallel()
	_, c := login(t, sshtest.WithSize(100, 30))
	c.SendLine("stty size")
	c.Expect(`\r\n30 100\r\n`, 0)
	c.Expect(`\$ $`, 0)
	c.Resize(132, 50)
	c.SendLine("stty size")
	c.Expect(`\r\n50 132\r\n`, 0)
	c.Expect(`\$ $`, 0)
	c.Close()
}

func TestRunSeesSessionEffects(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
	if _, code := sshtest.Exec(t, "", append([]string{"-i", priv}, append(tg.SSHArgs(), `echo made-by-ssh > "$HOME/marker"`)...)...); code != 0 {
		t.Fatalf("ssh exited %d", code)
	}
	out, err := tg.Run("cat marker; id -un; pwd")
	want := "made-by-ssh\n" + tg.User + "\n" + tg.Home + "\n"
	if err != nil || out != want {
		t.Fatalf("Run: got %q, %v; want %q", out, err, want)
	}
	if _, err := tg.Run("test -e no-such-file"); err == nil {
		t.Fatal("Run of a failing command returned no error")
	}
}

func TestStopAndRestart(t *testing.T) {
	t.Parallel()
	tg, c := login(t)
	port := tg.Port

	tg.Stop()
	// The open session drops, as with a machine that went down.
	if code := c.Wait(); code != 255 {
		t.Fatalf("ssh in a session of a stopped target exited %d, want 255; output:\n%s", code, c.Output())
	}
	priv, pub := sshtest.ClientKey(t)
	tg.AuthorizeKey(pub)
	args := append([]string{"-i", priv, "-o", "ConnectTimeout=5"}, append(tg.SSHArgs(), "true")...)
	r := sshtest.Invocation{Args: args}.Run(t)
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "Connection refused") {
		t.Fatalf("ssh to a stopped target: exit %d, stderr %q; want 255 and Connection refused", r.ExitCode, r.Stderr)
	}

	tg.Restart()
	if tg.Port != port {
		t.Fatalf("Restart moved sshd from port %d to %d", port, tg.Port)
	}
	if r := (sshtest.Invocation{Args: args}).Run(t); r.ExitCode != 0 {
		t.Fatalf("ssh after Restart: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}

func TestRegenerateHostKey(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(tg.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	strict := func() sshtest.Result {
		args := []string{"-i", priv, "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts}
		return sshtest.Invocation{Args: append(args, append(tg.SSHArgs(), "true")...)}.Run(t)
	}
	if r := strict(); r.ExitCode != 0 {
		t.Fatalf("ssh with the pinned host key: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}

	old := tg.HostKey
	tg.RegenerateHostKey()
	if bytes.Equal(old.Marshal(), tg.HostKey.Marshal()) {
		t.Fatal("RegenerateHostKey kept the host key")
	}
	r := strict()
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("ssh with the old pinned host key: exit %d, stderr %q; want 255 and a changed-key warning", r.ExitCode, r.Stderr)
	}
}

func TestRSAHostKey(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub), sshtest.WithHostKeyType("rsa"))
	if got := tg.HostKey.Type(); got != "ssh-rsa" {
		t.Fatalf("host key type %q, want ssh-rsa", got)
	}
	args := append([]string{"-i", priv, "-o", "HostKeyAlgorithms=rsa-sha2-512"}, append(tg.SSHArgs(), "true")...)
	if _, code := sshtest.Exec(t, "", args...); code != 0 {
		t.Fatalf("ssh with an RSA host key: exit %d", code)
	}
}

func TestWithShell(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithShell("/bin/sh"), sshtest.WithAuthorizedKey(pub))
	out, code := sshtest.Exec(t, "", append([]string{"-i", priv}, append(tg.SSHArgs(), `readlink /proc/$$/exe`)...)...)
	if code != 0 || strings.TrimSpace(out) != "/usr/bin/dash" {
		t.Fatalf("login shell: got %q, exit %d; want /usr/bin/dash", out, code)
	}
	c := sshtest.SSH(t, append([]string{"-i", priv}, tg.SSHArgs()...)...)
	c.Expect(`\$ $`, 0)
	c.SendLine("echo in-$((6*7))")
	c.Expect("in-42", 0)
	c.SendLine("exit")
	if code := c.Wait(); code != 0 {
		t.Fatalf("ssh exited %d", code)
	}
}

func TestWithConfig(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub),
		sshtest.WithConfig("SetEnv SSHTEST_MARK=on", "PasswordAuthentication no"))
	out, code := sshtest.Exec(t, "", append([]string{"-i", priv}, append(tg.SSHArgs(), `echo "$SSHTEST_MARK $HOME"`)...)...)
	if want := "on " + tg.Home + "\n"; code != 0 || out != want {
		t.Fatalf("got %q, exit %d; want %q", out, code, want)
	}
	if tg.Password != "" {
		r := sshtest.Invocation{Args: append([]string{"-o", "PubkeyAuthentication=no"}, append(tg.SSHArgs(), "true")...), Password: tg.Password}.Run(t)
		if r.ExitCode != 255 || !strings.Contains(r.Stderr, "Permission denied (publickey)") {
			t.Fatalf("password login with PasswordAuthentication no: exit %d, stderr %q", r.ExitCode, r.Stderr)
		}
	}
}

func TestSFTPAndSCP(t *testing.T) {
	t.Parallel()
	priv, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
	// With a password as root, with the key otherwise.
	auth := []string{"-o", "PubkeyAuthentication=no"}
	if tg.Password == "" {
		auth = []string{"-i", priv}
	}
	local := filepath.Join(t.TempDir(), "up.txt")
	if err := os.WriteFile(local, []byte("uploaded\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := append([]string{"-P", strconv.Itoa(tg.Port)}, auth...)
	scp := sshtest.Invocation{Program: "scp", Password: tg.Password,
		Args: append(port, local, tg.UserHost()+":"+tg.Home+"/via-scp.txt")}.Run(t)
	if scp.ExitCode != 0 {
		t.Fatalf("scp: exit %d, stderr %q", scp.ExitCode, scp.Stderr)
	}
	sftp := sshtest.Invocation{Program: "sftp", Password: tg.Password, Args: append(port, tg.UserHost()),
		Stdin: "cd " + tg.Home + "\nput " + local + " via-sftp.txt\nls -1\n"}.Run(t)
	if sftp.ExitCode != 0 || !strings.Contains(sftp.Stdout, "via-scp.txt") {
		t.Fatalf("sftp: exit %d, stdout %q, stderr %q", sftp.ExitCode, sftp.Stdout, sftp.Stderr)
	}
	out, err := tg.Run("cat via-scp.txt via-sftp.txt")
	if err != nil || out != "uploaded\nuploaded\n" {
		t.Fatalf("files on the target: %q, %v", out, err)
	}
}

func TestExpectTimeoutShowsOutput(t *testing.T) {
	t.Parallel()
	rec := &recordingTB{TB: t}
	c := sshtest.Spawn(rec, nil, "sh", "-c", "echo some-output; exec sleep 5")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Expect("never-printed", 300*time.Millisecond)
	}()
	<-done
	msg := rec.message()
	if !strings.Contains(msg, "no match within 300ms") || !strings.Contains(msg, "some-output") {
		t.Fatalf("Expect's failure does not show what was read: %q", msg)
	}
}

// recordingTB records a fatal failure instead of failing the test, and
// ends the goroutine that reported it, as testing.T does.
type recordingTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) message() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

// TestParallelTargetsCleanUp starts several targets at once and checks
// that, once their tests end, no sshd of theirs and no user of theirs is
// left.
func TestParallelTargetsCleanUp(t *testing.T) {
	var mu sync.Mutex
	var dirs, users []string
	t.Run("group", func(t *testing.T) {
		for range 4 {
			t.Run("target", func(t *testing.T) {
				t.Parallel()
				priv, pub := sshtest.ClientKey(t)
				tg := sshtest.StartTarget(t, sshtest.WithAuthorizedKey(pub))
				mu.Lock()
				dirs = append(dirs, tg.Dir)
				if tg.Password != "" {
					users = append(users, tg.User)
				}
				mu.Unlock()
				// Leave a session open and a background process behind.
				c := sshtest.SSH(t, append([]string{"-i", priv}, tg.SSHArgs()...)...)
				c.Expect(`\$ $`, 0)
				c.SendLine("sleep 600 &")
				c.Expect(`\$ $`, 0)
				if out, code := sshtest.Exec(t, "", append([]string{"-i", priv}, append(tg.SSHArgs(), "id -un")...)...); code != 0 || strings.TrimSpace(out) != tg.User {
					t.Fatalf("id -un: %q, exit %d", out, code)
				}
			})
		}
	})
	if len(dirs) != 4 {
		t.Fatalf("%d targets started, want 4", len(dirs))
	}
	for _, dir := range dirs {
		if out, err := exec.Command("pgrep", "-a", "-f", dir).CombinedOutput(); err == nil {
			t.Errorf("processes of the target in %s survive:\n%s", dir, out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("target directory %s survives: %v", dir, err)
		}
	}
	for _, name := range users {
		if _, err := user.Lookup(name); err == nil {
			t.Errorf("user %s survives", name)
		}
		if out, err := exec.Command("pgrep", "-a", "-u", name).CombinedOutput(); err == nil {
			t.Errorf("processes of user %s survive:\n%s", name, out)
		}
	}
}
