package main

import (
	"bytes"
	"context"
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

	"github.com/coder/websocket"
	"github.com/postern/postern/internal/recording"
	"github.com/postern/postern/internal/sshtest"
)

func (s *server) raw(t *testing.T, method, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestGatewayThroughServe drives `postern serve` as an operator and an
// auditor would: set up over the API, ssh through the gateway to a real
// OpenSSH target, replay and terminate over the API, and survive a
// kill -9 with the session closed and its recording kept.
func TestGatewayThroughServe(t *testing.T) {
	sshtest.Require(t)
	target := sshtest.StartTarget(t)
	if target.Password == "" {
		sshtest.Missing(t, "needs root for a password-login target (see internal/sshtest)")
	}
	dir := t.TempDir()
	s := startServer(t, dir, "POSTERN_ADMIN_PASSWORD=admin-password-1")
	admin := s.token(t, "admin", "admin-password-1")
	alice := mustCreate(t, s, admin, "/api/v2/users/users/", map[string]any{"username": "alice", "password": "alice-password-1"})
	mustCreate(t, s, admin, "/api/v2/users/users/", map[string]any{"username": "audrey", "password": "audrey-password-1", "role": "auditor"})
	asset := mustCreate(t, s, admin, "/api/v2/assets/assets/", map[string]any{"name": "web-01", "ip": target.Host, "platform": map[string]any{"id": "2"},
		"protocols": []map[string]any{{"name": "ssh", "port": target.Port}}})
	su := mustCreate(t, s, admin, "/api/v2/assets/system-users/", map[string]any{"name": "ops", "username": target.User, "password": target.Password})
	mustCreate(t, s, admin, "/api/v2/perms/asset-permissions/", map[string]any{"name": "alice-web", "users": []string{alice},
		"assets": []string{asset}, "system_users": []string{su}, "actions": []string{"connect"}})
	_, port, _ := net.SplitHostPort(s.sshAddr)

	r := sshtest.Invocation{Password: "alice-password-1", Args: []string{"-p", port, "alice@ops@web-01@127.0.0.1", "echo served-$((1+1))"}}.Run(t)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "served-2" {
		t.Fatalf("exec through serve: %+v", r)
	}
	code, m := s.call(t, "GET", "/api/v2/terminal/sessions/?is_finished=true", admin, nil)
	if code != 200 || m["count"].(float64) != 1 {
		t.Fatalf("sessions: %d %v", code, m)
	}
	sess := m["results"].([]any)[0].(map[string]any)
	if sess["user"] != "alice" || sess["asset"] != "web-01" || sess["has_replay"] != true {
		t.Fatalf("session: %v", sess)
	}
	auditor := s.token(t, "audrey", "audrey-password-1")
	code, cast := s.raw(t, "GET", "/api/v2/terminal/sessions/"+sess["id"].(string)+"/replay/", auditor)
	if code != 200 || !bytes.HasPrefix(cast, []byte(`{"version":2`)) || !bytes.Contains(cast, []byte("served-2")) {
		t.Fatalf("replay: %d %.300s", code, cast)
	}
	aliceTok := s.token(t, "alice", "alice-password-1")
	if code, _ := s.raw(t, "GET", "/api/v2/terminal/sessions/"+sess["id"].(string)+"/replay/", aliceTok); code != http.StatusForbidden {
		t.Fatalf("a user fetched a replay: %d", code)
	}

	// Terminate a live interactive session over the API.
	c := sshtest.SSH(t, "-tt", "-p", port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine("alice-password-1")
	c.Expect(`\$ `, 15*time.Second)
	_, m = s.call(t, "GET", "/api/v2/terminal/sessions/?is_finished=false", admin, nil)
	live := m["results"].([]any)[0].(map[string]any)["id"].(string)
	if code, m := s.call(t, "POST", "/api/v2/terminal/sessions/"+live+"/terminate/", auditor, nil); code != http.StatusForbidden {
		t.Fatalf("an auditor terminated a session: %d %v", code, m)
	}
	start := time.Now()
	code, m = s.call(t, "POST", "/api/v2/terminal/sessions/"+live+"/terminate/", admin, nil)
	if code != 200 || m["terminated_by"] != "admin" || m["is_finished"] != true {
		t.Fatalf("terminate: %d %v", code, m)
	}
	c.Expect(`terminated by an administrator`, 5*time.Second)
	c.WaitTimeout(5 * time.Second)
	t.Logf("terminate answered in %v", time.Since(start))
	if code, _ := s.call(t, "POST", "/api/v2/terminal/sessions/"+live+"/terminate/", admin, nil); code != http.StatusConflict {
		t.Fatalf("terminating a finished session: %d", code)
	}

	// kill -9 in the middle of a session: the restart closes the session
	// with a reason and keeps the recording up to about the last second.
	hostKey, _ := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	c = sshtest.SSH(t, "-tt", "-p", port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine("alice-password-1")
	c.Expect(`\$ `, 15*time.Second)
	c.SendLine("echo before-crash-$((3*3))")
	c.Expect(`before-crash-9`, 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // past the recorder's flush interval
	s.stop(t, syscall.SIGKILL)
	c.WaitTimeout(10 * time.Second)

	s2 := startServer(t, dir)
	if !strings.Contains(s2.logText(), "closed sessions left open") || !strings.Contains(s2.logText(), "recovered the recording") {
		t.Fatalf("restart after a crash:\n%s", s2.logText())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key")); !bytes.Equal(again, hostKey) {
		t.Fatal("the gateway's host key changed across a restart")
	}
	admin = s2.token(t, "admin", "admin-password-1")
	code, m = s2.call(t, "GET", "/api/v2/terminal/sessions/?is_finished=false", admin, nil)
	if code != 200 || m["count"].(float64) != 0 {
		t.Fatalf("sessions still open after restart: %v", m)
	}
	_, m = s2.call(t, "GET", "/api/v2/terminal/sessions/?order=-start_time&limit=1", admin, nil)
	crashed := m["results"].([]any)[0].(map[string]any)
	if !strings.Contains(crashed["reason"].(string), "postern stopped") {
		t.Fatalf("crashed session: %v", crashed)
	}
	rc, err := recording.Open(filepath.Join(dir, "recordings"), crashed["id"].(string))
	if err != nil {
		t.Fatalf("recording of the crashed session: %v", err)
	}
	_, events, err := recording.Parse(rc)
	rc.Close()
	var out strings.Builder
	for _, ev := range events {
		out.WriteString(ev.Data)
	}
	if err != nil || !strings.Contains(out.String(), "before-crash-9") {
		t.Fatalf("recovered recording lost the last output: %v %q", err, out.String())
	}
}

// TestLiveWatch follows a live session with `postern watch` as an auditor
// and ends it over the watch WebSocket as an administrator.
func TestLiveWatch(t *testing.T) {
	sshtest.Require(t)
	target := sshtest.StartTarget(t)
	if target.Password == "" {
		sshtest.Missing(t, "needs root for a password-login target (see internal/sshtest)")
	}
	s := startServer(t, "", "POSTERN_ADMIN_PASSWORD=admin-password-1")
	admin := s.token(t, "admin", "admin-password-1")
	alice := mustCreate(t, s, admin, "/api/v2/users/users/", map[string]any{"username": "alice", "password": "alice-password-1"})
	mustCreate(t, s, admin, "/api/v2/users/users/", map[string]any{"username": "audrey", "password": "audrey-password-1", "role": "auditor"})
	asset := mustCreate(t, s, admin, "/api/v2/assets/assets/", map[string]any{"name": "web-01", "ip": target.Host,
		"protocols": []map[string]any{{"name": "ssh", "port": target.Port}}})
	su := mustCreate(t, s, admin, "/api/v2/assets/system-users/", map[string]any{"name": "ops", "username": target.User, "password": target.Password})
	mustCreate(t, s, admin, "/api/v2/perms/asset-permissions/", map[string]any{"name": "p", "users": []string{alice},
		"assets": []string{asset}, "system_users": []string{su}})
	_, port, _ := net.SplitHostPort(s.sshAddr)

	c := sshtest.SSH(t, "-tt", "-p", port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine("alice-password-1")
	c.Expect(`\$ `, 15*time.Second)
	c.SendLine("echo before-watch-$((2*2))")
	c.Expect(`before-watch-4`, 10*time.Second)
	_, m := s.call(t, "GET", "/api/v2/terminal/sessions/?is_finished=false", admin, nil)
	id := m["results"].([]any)[0].(map[string]any)["id"].(string)

	auditor := s.token(t, "audrey", "audrey-password-1")
	aliceTok := s.token(t, "alice", "alice-password-1")
	if out, err := postern(t, "", "watch", "--url", s.url, "--token", aliceTok, id); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("a user watched a session: %v %s", err, out)
	}
	w := exec.Command(binary, "watch", "--url", s.url, "--token", auditor, id)
	var out safeBuffer
	w.Stdout, w.Stderr = &out, &out
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Process.Kill()
	waitFor(t, &out, "before-watch-4", 10*time.Second) // the screen first
	c.SendLine("echo while-watched-$((6*7))")
	waitFor(t, &out, "while-watched-42", 10*time.Second) // then every update

	// An administrator ends the session from a watch connection.
	u := strings.Replace(s.url, "http", "ws", 1) + "/api/v2/terminal/sessions/" + id + "/watch/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + admin}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"terminate"}`)); err != nil {
		t.Fatal(err)
	}
	c.Expect(`terminated by an administrator \(admin\)`, 5*time.Second)
	waitFor(t, &out, "the session ended", 10*time.Second)
	if err := w.Wait(); err != nil {
		t.Fatalf("postern watch after the session ended: %v\n%s", err, out.String())
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, b *safeBuffer, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %q; got:\n%s", d, want, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
