package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "postern-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "postern")
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the tests build postern and need the go command on PATH")
		os.Exit(1)
	}
	out, err := exec.Command(gobin, "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build postern: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool skips (or, under POSTERN_E2E=required, fails) when a system
// tool the test drives is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed: this end-to-end test needs it (apt-get install %s)", name, name)
	if os.Getenv("POSTERN_E2E") == "required" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED LOUDLY: " + msg)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is a running `postern serve`.
type server struct {
	cmd     *exec.Cmd
	url     string
	sshAddr string
	dataDir string
	mu      sync.Mutex
	log     bytes.Buffer
	ready   time.Duration
	done    chan error
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startServer runs `postern serve` on a fresh data dir (or the given one)
// and waits until it says it is ready.
func startServer(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	// A port found free can be taken before postern binds it (by another
	// test's outgoing connection): then start again on other ports,
	// keeping the log of the attempt, which may have done start-up work.
	var earlier string
	for attempt := 1; ; attempt++ {
		s, bindErr := tryStartServer(t, dataDir, earlier, env)
		if !bindErr {
			return s
		}
		if attempt == 3 {
			t.Fatalf("postern serve could not bind free ports in 3 attempts:\n%s", s.logText())
		}
		earlier = s.logText()
	}
}

// tryStartServer starts postern serve on ports that were free a moment
// ago; bindErr says it exited because one of them was taken meanwhile.
func tryStartServer(t *testing.T, dataDir, earlierLog string, env []string) (s *server, bindErr bool) {
	t.Helper()
	addr, sshAddr := freeAddr(t), freeAddr(t)
	s = &server{url: "http://" + addr, sshAddr: sshAddr, dataDir: dataDir, done: make(chan error, 1)}
	s.log.WriteString(earlierLog)
	s.cmd = exec.Command(binary, "serve", "--data-dir", dataDir, "--http-addr", addr, "--ssh-addr", sshAddr)
	s.cmd.Env = append(os.Environ(), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), "postern ready") {
				once.Do(func() { close(readyc) })
			}
		}
		s.done <- s.cmd.Wait()
	}()
	select {
	case <-readyc:
		s.ready = time.Since(start)
	case err := <-s.done:
		if strings.Contains(s.logText(), "address already in use") {
			return s, true
		}
		t.Fatalf("postern serve exited before ready: %v\n%s", err, s.logText())
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("postern serve not ready after 30s:\n%s", s.logText())
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s, false
}

// stop sends sig and returns how long the exit took and the exit error.
func (s *server) stop(t *testing.T, sig syscall.Signal) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		return time.Since(start), err
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("postern did not stop within 15s of %v", sig)
	}
	return 0, nil
}

// call makes one API request and decodes a JSON answer.
func (s *server) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (s *server) token(t *testing.T, user, password string) string {
	t.Helper()
	code, m := s.call(t, "POST", "/api/v2/authentication/token/", "", map[string]string{"username": user, "password": password})
	if code != http.StatusCreated {
		t.Fatalf("login %s: %d %v", user, code, m)
	}
	return m["token"].(string)
}

// postern runs a CLI subcommand and returns its combined output.
func postern(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
