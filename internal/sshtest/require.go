package sshtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSHDPath is where Debian's openssh-server installs the server.
const SSHDPath = "/usr/sbin/sshd"

// E2EEnv names the environment variable that, set to "required", turns a
// missing OpenSSH installation from a skip into a test failure.
const E2EEnv = "POSTERN_E2E"

// clientTools are the OpenSSH programs looked up on PATH.
var clientTools = []string{"ssh", "sftp", "scp", "ssh-keygen"}

var (
	installOnce sync.Once
	installNote string // what the automatic installation did, for messages

	loudOnce sync.Once
)

// missingTools lists the OpenSSH programs that cannot be found.
func missingTools() []string {
	var missing []string
	if fi, err := os.Stat(SSHDPath); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		missing = append(missing, SSHDPath)
	}
	for _, name := range clientTools {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	return missing
}

// Require makes sure the OpenSSH server and clients are installed. When
// they are missing and the test runs as root with apt-get available, it
// installs openssh-server and openssh-client (once per test binary, quietly,
// without starting the system's own ssh service). When they are still
// missing it fails the test if POSTERN_E2E=required and skips it loudly
// otherwise.
func Require(t testing.TB) {
	t.Helper()
	if len(missingTools()) == 0 {
		return
	}
	installOnce.Do(install)
	missing := missingTools()
	if len(missing) == 0 {
		t.Logf("sshtest: %s", installNote)
		return
	}
	msg := fmt.Sprintf("OpenSSH is not installed (missing: %s); this test needs a real sshd and the real ssh, sftp and scp clients", strings.Join(missing, ", "))
	if installNote != "" {
		msg += "; " + installNote
	}
	Missing(t, msg+". Install them with `apt-get install openssh-server openssh-client`")
}

// Missing ends a test that cannot run here for want of what reason says
// (a tool, root): it fails when POSTERN_E2E=required (as in CI), and is
// skipped loudly otherwise.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(E2EEnv) == "required" {
		t.Fatalf("%s, and %s=required", reason, E2EEnv)
	}
	msg := fmt.Sprintf("SKIPPED LOUDLY: %s (set %s=required to make this a failure)", reason, E2EEnv)
	loudOnce.Do(func() { fmt.Fprintln(os.Stderr, msg) })
	t.Skip(msg)
}

// install installs the OpenSSH packages when the process may do so.
func install() {
	if os.Geteuid() != 0 {
		installNote = "not installing it: the tests do not run as root"
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		installNote = "not installing it: apt-get is not available"
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Keep the packages' maintainer scripts from starting the system's own
	// sshd on port 22, unless the machine already has a policy.
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); os.IsNotExist(err) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}

	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %v: %s", args[len(args)-1], err, lastLines(out.String(), 5))
		}
		return nil
	}
	lock := "-oDPkg::Lock::Timeout=300"
	if err := run("-qq", lock, "update"); err != nil {
		installNote = "installing it failed: " + err.Error()
		return
	}
	if err := run("-qq", "-y", lock, "--no-install-recommends", "install", "openssh-server", "openssh-client"); err != nil {
		installNote = "installing it failed: " + err.Error()
		return
	}
	installNote = "apt-get installed openssh-server and openssh-client"
}

// lastLines returns the last n lines of s, for short error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
