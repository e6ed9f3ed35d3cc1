package sshtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultExecTimeout is how long an Invocation may run when it sets no
// Timeout.
const DefaultExecTimeout = time.Minute

// askpassScript answers every prompt of the client with the password in
// its environment.
const askpassScript = "#!/bin/sh\nprintf '%s\\n' \"$SSHTEST_PASSWORD\"\n"

// Invocation is one run of an OpenSSH client without a terminal, as a
// script or a CI job would run it.
type Invocation struct {
	// Program is the client to run: "ssh" (the default), "sftp" or "scp".
	Program string
	// Args come after BaseArgs; an option in Args replaces the BaseArgs
	// option of the same name.
	Args []string
	// Password, when set, answers the client's password prompts through
	// SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force. When empty the client
	// runs with BatchMode=yes, so it fails rather than prompt.
	Password string
	// Stdin is the client's standard input (sftp reads its commands from
	// it); empty means no input.
	Stdin string
	// Env holds extra NAME=value entries for the client's environment.
	Env []string
	// Timeout bounds the run; 0 means DefaultExecTimeout. The test fails
	// when it is exceeded.
	Timeout time.Duration
}

// Result is what an Invocation produced.
type Result struct {
	// Stdout is the client's standard output.
	Stdout string
	// Stderr is the client's standard error.
	Stderr string
	// ExitCode is the client's exit status: for ssh the remote command's,
	// or 255 for ssh's own errors; -1 if a signal killed it.
	ExitCode int
}

// Run runs the invocation in a session of its own, with no controlling
// terminal, and returns its output and exit status.
func (inv Invocation) Run(t testing.TB) Result {
	t.Helper()
	Require(t)
	program := inv.Program
	if program == "" {
		program = "ssh"
	}
	timeout := inv.Timeout
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	base := BaseArgs()
	var env []string
	if inv.Password != "" {
		askpass := filepath.Join(t.TempDir(), "askpass")
		if err := os.WriteFile(askpass, []byte(askpassScript), 0o700); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
		env = []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "SSHTEST_PASSWORD=" + inv.Password}
	} else {
		base = append(base, "-o", "BatchMode=yes")
	}
	args := withBaseArgs(base, inv.Args)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = clientEnv(append(env, inv.Env...))
	cmd.Stdin = strings.NewReader(inv.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sshtest: %s %s: no exit within %v\nstdout:\n%s\nstderr:\n%s", program, strings.Join(args, " "), timeout, stdout.String(), stderr.String())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("sshtest: %s: %v", program, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
}

// Exec runs the real ssh client with BaseArgs and args and no terminal,
// answering password prompts with password (none when empty), and returns
// its standard output and exit status. Its standard error goes to the
// test log.
func Exec(t testing.TB, password string, args ...string) (stdout string, exitCode int) {
	t.Helper()
	r := Invocation{Args: args, Password: password}.Run(t)
	if r.Stderr != "" {
		t.Logf("sshtest: ssh %s: stderr:\n%s", strings.Join(args, " "), r.Stderr)
	}
	return r.Stdout, r.ExitCode
}

// ClientKey generates an ed25519 key pair without a passphrase with
// ssh-keygen in a temporary directory of the test, and returns the private
// key's path (for ssh -i) and the public key (for WithAuthorizedKey).
func ClientKey(t testing.TB) (privPath string, pub ssh.PublicKey) {
	t.Helper()
	Require(t)
	privPath = filepath.Join(t.TempDir(), "id_ed25519")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest-client", "-f", privPath).CombinedOutput()
	if err != nil {
		t.Fatalf("sshtest: ssh-keygen: %v: %s", err, out)
	}
	return privPath, readPublicKey(t, privPath+".pub")
}
