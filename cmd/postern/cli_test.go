package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeLifecycle covers what an operator sees of `postern serve`: a
// first start that creates the admin and a 0600 master key, a clean exit
// on SIGTERM and SIGINT, a restart that keeps both, and a refusal to run
// with the wrong master key.
func TestServeLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if !strings.Contains(s.logText(), "password=") {
		t.Fatalf("first start without POSTERN_ADMIN_PASSWORD should print the generated password:\n%s", s.logText())
	}
	pw := between(s.logText(), "password=", "\n")
	tok := s.token(t, "admin", pw)
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key: %v mode %v", err, st.Mode().Perm())
	}
	mustCreate(t, s, tok, "/api/v2/assets/system-users/", map[string]any{"name": "root", "username": "root", "password": "target-secret-1"})
	if strings.Contains(s.logText(), "target-secret-1") || strings.Contains(s.logText(), "pst_") {
		t.Fatal("a secret reached the log")
	}
	if took, err := s.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM exit: %v (after %v)\n%s", err, took, s.logText())
	}

	s2 := startServer(t, dir)
	if strings.Contains(s2.logText(), "password=") {
		t.Fatal("restart printed a new admin password")
	}
	s2.token(t, "admin", pw)
	if took, err := s2.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT exit: %v (after %v)", err, took)
	}

	wrong := strings.Repeat("ab", 32)
	cmd := []string{"serve", "--data-dir", dir, "--http-addr", freeAddr(t), "--ssh-addr", freeAddr(t)}
	t.Setenv("POSTERN_MASTER_KEY", wrong)
	out, err := postern(t, "", cmd...)
	if err == nil || !strings.Contains(out, "master key does not match") {
		t.Fatalf("wrong master key: err=%v out=%s", err, out)
	}
}

// TestUserCLI runs the admin CLI against a stopped and a running server.
func TestUserCLI(t *testing.T) {
	dir := t.TempDir()
	// On a data dir no server has touched yet.
	out, err := postern(t, "", "user", "create", "--data-dir", dir, "--username", "ops", "--role", "admin")
	if err != nil || !strings.Contains(out, "created user ops (admin") || !strings.Contains(out, "password: ") {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	opsPW := strings.TrimSpace(between(out, "password: ", "\n"))

	s := startServer(t, dir, "POSTERN_ADMIN_PASSWORD=unused-because-users-exist")
	s.token(t, "ops", opsPW)

	// While it runs: create a user from stdin, lock them out, unlock, reset.
	out, err = postern(t, "first-password\n", "user", "create", "--data-dir", dir, "--username", "carol", "--password-stdin")
	if err != nil || strings.Contains(out, "first-password") {
		t.Fatalf("create carol: %v\n%s", err, out)
	}
	s.token(t, "carol", "first-password")
	for i := 0; i < 7; i++ {
		s.call(t, "POST", "/api/v2/authentication/token/", "", map[string]string{"username": "carol", "password": "wrong-password"})
	}
	code, m := s.call(t, "POST", "/api/v2/authentication/token/", "", map[string]string{"username": "carol", "password": "first-password"})
	if code != http.StatusForbidden || m["code"] != "account_locked" {
		t.Fatalf("after 7 failures: %d %v", code, m)
	}
	if out, err := postern(t, "", "user", "unlock", "--data-dir", dir, "carol"); err != nil {
		t.Fatalf("unlock: %v\n%s", err, out)
	}
	s.token(t, "carol", "first-password")
	if out, err := postern(t, "second-password\n", "user", "passwd", "--data-dir", dir, "carol"); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	if code, _ := s.call(t, "POST", "/api/v2/authentication/token/", "", map[string]string{"username": "carol", "password": "first-password"}); code != http.StatusUnauthorized {
		t.Fatalf("old password still works: %d", code)
	}
	s.token(t, "carol", "second-password")

	// Bad input changes nothing and says why.
	if out, err := postern(t, "short\n", "user", "passwd", "--data-dir", dir, "carol"); err == nil || !strings.Contains(out, "at least 8") {
		t.Fatalf("short password accepted: %s", out)
	}
	if out, err := postern(t, "", "user", "unlock", "--data-dir", dir, "nobody"); err == nil || !strings.Contains(out, "no such user") {
		t.Fatalf("unlock of a missing user: %v %s", err, out)
	}
	if out, err := postern(t, "", "user", "create", "--data-dir", dir, "--username", "carol"); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate create: %v %s", err, out)
	}
	if out, err := postern(t, "", "user", "create", "--data-dir", dir, "--username", "x@y"); err == nil || !strings.Contains(out, "username") {
		t.Fatalf("bad username: %v %s", err, out)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		s = s[:j]
	}
	return strings.Trim(s, `"`)
}
