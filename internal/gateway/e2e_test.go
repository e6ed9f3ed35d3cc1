package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/component"
	"github.com/postern/postern/internal/gateway"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/recording"
	"github.com/postern/postern/internal/sshtest"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/vault"
)

// env is a core with a gateway in front of it and one real OpenSSH target
// that alice may reach as system user "ops".
type env struct {
	db      *store.DB
	id      *identity.Service
	inv     *inventory.Service
	acc     *access.Service
	hub     *component.Hub
	filters *cmdfilter.Service
	recDir  string
	addr    string // the gateway
	port    string
	target  *sshtest.Target
	alice   store.User
	asset   store.Asset
	su      store.SystemUser
	perm    store.Permission
}

const alicePassword = "alice-password-1"

var admin = audit.Actor{Username: "test-admin"}

func newEnv(t *testing.T, opts ...sshtest.Option) *env {
	t.Helper()
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with a say in the gateway's configuration.
func newEnvWith(t *testing.T, tune func(*gateway.Config), opts ...sshtest.Option) *env {
	t.Helper()
	sshtest.Require(t)
	target := sshtest.StartTarget(t, opts...)
	if target.Password == "" {
		sshtest.Missing(t, "gateway tests log in to the target with a password, which needs root (see internal/sshtest)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := make([]byte, vault.KeySize)
	rand.Read(key)
	v, _ := vault.New(key)
	acc, err := access.NewService(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	id := identity.New(db, v, identity.Config{}, acc)
	inv := inventory.New(db, v, acc)
	if err := inv.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	acc.Reload(ctx)

	e := &env{db: db, id: id, inv: inv, acc: acc, target: target}
	name, pw, role := "alice", alicePassword, identity.RoleUser
	if e.alice, err = id.CreateUser(ctx, admin, identity.UserFields{Username: &name, Password: &pw, Role: &role}); err != nil {
		t.Fatal(err)
	}
	aname, ip, plat := "web-01", target.Host, "2"
	protos := []store.Protocol{{Name: "ssh", Port: target.Port}}
	as, err := inv.CreateAssets(ctx, admin, []inventory.AssetFields{{Name: &aname, IP: &ip, Platform: &plat, Protocols: &protos}})
	if err != nil {
		t.Fatal(err)
	}
	e.asset = as[0]
	suName, suUser, suPW := "ops", target.User, target.Password
	if e.su, err = inv.CreateSystemUser(ctx, admin, inventory.SystemUserFields{Name: &suName, Username: &suUser, Password: &suPW}); err != nil {
		t.Fatal(err)
	}
	pname := "alice-web"
	users, assets, sus := []string{e.alice.ID}, []string{e.asset.ID}, []string{e.su.ID}
	if e.perm, err = acc.CreatePermission(ctx, admin, access.PermissionFields{Name: &pname, Users: &users, Assets: &assets, SystemUsers: &sus}); err != nil {
		t.Fatal(err)
	}

	keys, err := gateway.LoadHostKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	e.hub = component.NewHub()
	if e.filters, err = cmdfilter.New(ctx, db); err != nil {
		t.Fatal(err)
	}
	e.recDir = filepath.Join(dir, "recordings")
	cfg := gateway.Config{HostKeys: keys, RecheckEvery: 200 * time.Millisecond, RecordingsDir: e.recDir,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if tune != nil {
		tune(&cfg)
	}
	gw := gateway.New(component.NewLocal(db, id, inv, acc, e.filters, e.hub), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gw.Serve(ln)
	t.Cleanup(func() { gw.Close() })
	e.addr = ln.Addr().String()
	_, e.port, _ = net.SplitHostPort(e.addr)
	return e
}

// dialAlice logs alice in to web-01 as ops with x/crypto/ssh, for tests
// that need a client the ssh command line cannot be.
func (e *env) dialAlice(t *testing.T) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{User: "alice@ops@web-01",
		Auth:            []ssh.AuthMethod{ssh.Password(alicePassword)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ssh runs the real ssh client against the gateway with a login name.
func (e *env) exec(t *testing.T, password, login string, args ...string) sshtest.Result {
	t.Helper()
	return sshtest.Invocation{Password: password, Args: append([]string{"-p", e.port, login + "@127.0.0.1"}, args...), Timeout: 30 * time.Second}.Run(t)
}

func (e *env) sessions(t *testing.T) []store.Session {
	t.Helper()
	q, err := query.Parse(store.SessionSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, _, err := e.db.Sessions(context.Background(), q, "")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func TestDirectExecReturnsOutputAndStatus(t *testing.T) {
	e := newEnv(t)
	for _, login := range []string{"alice@ops@web-01", "alice#ops#web-01", "alice@web-01"} {
		r := e.exec(t, alicePassword, login, "echo out-$((40+2)); echo err >&2; exit 3")
		if r.ExitCode != 3 || strings.TrimSpace(r.Stdout) != "out-42" || !strings.Contains(r.Stderr, "err") {
			t.Fatalf("%s: exit %d stdout %q stderr %q", login, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	r := e.exec(t, alicePassword, "alice@ops@web-01", "id -un")
	if strings.TrimSpace(r.Stdout) != e.target.User {
		t.Fatalf("ran as %q, want the system user's %q", r.Stdout, e.target.User)
	}
	ss := e.sessions(t)
	if len(ss) != 4 {
		t.Fatalf("want 4 sessions, got %d", len(ss))
	}
	for _, s := range ss {
		if !s.IsFinished || s.Username != "alice" || s.Asset != "web-01" || s.SystemUser != "ops" || s.LoginFrom != "ST" || s.RemoteAddr != "127.0.0.1" || s.EndTime.IsZero() {
			t.Fatalf("session record %+v", s)
		}
	}
}

func TestPublicKeyLoginAndPTY(t *testing.T) {
	e := newEnv(t)
	priv, pub := sshtest.ClientKey(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if _, err := e.id.UpdateUser(context.Background(), admin, e.alice.ID, identity.UserFields{PublicKeys: &[]string{line}}); err != nil {
		t.Fatal(err)
	}
	r := sshtest.Invocation{Args: []string{"-i", priv, "-p", e.port, "alice@ops@web-01@127.0.0.1", "echo key-ok"}}.Run(t)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "key-ok" {
		t.Fatalf("key login: %+v", r)
	}
	c := sshtest.SSHWith(t, []sshtest.ClientOption{sshtest.WithSize(100, 30)}, "-tt", "-i", priv, "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`\$ `, 15*time.Second)
	c.SendLine("stty size; echo calc-$((6*7))")
	c.Expect(`30 100`, 10*time.Second)
	c.Expect(`calc-42`, 10*time.Second)
	c.Resize(132, 43)
	time.Sleep(300 * time.Millisecond)
	c.SendLine("stty size")
	c.Expect(`43 132`, 10*time.Second)
	c.SendLine("exit 5")
	if code := c.Wait(); code != 5 {
		t.Fatalf("interactive exit status %d, want 5", code)
	}

	// The interactive session was recorded: output, input and resizes.
	ss := e.sessions(t)
	if !ss[0].HasReplay || ss[0].Reason != "exit status 5" {
		t.Fatalf("interactive session record: %+v", ss[0])
	}
	h, rec := recorded(t, e, ss[0].ID)
	if h.Width != 100 || h.Height != 30 {
		t.Fatalf("recording header %+v", h)
	}
	if out := rec[recording.KindOutput]; !strings.Contains(out, "calc-42") || !strings.Contains(out, "43 132") {
		t.Errorf("recorded output lacks what the operator saw: %q", out)
	}
	if in := rec[recording.KindInput]; !strings.Contains(in, "echo calc-$((6*7))") || !strings.Contains(in, "exit 5") {
		t.Errorf("recorded input lacks what the operator typed: %q", in)
	}
	if !strings.Contains(rec[recording.KindResize], "132x43") {
		t.Errorf("the resize to 132x43 was not recorded")
	}
	logs, _, err := e.db.LoginLogs(context.Background(), mustQuery(t, store.LoginLogSchema, "username=alice&method=publickey&status=true"), "")
	if err != nil || len(logs) < 2 {
		t.Fatalf("publickey logins logged: %d %v", len(logs), err)
	}
}

// recorded reads a session's recording: its header and, by event kind,
// the data of its events joined.
func recorded(t *testing.T, e *env, sessionID string) (recording.Header, map[string]string) {
	t.Helper()
	rc, err := recording.Open(e.recDir, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h, events, err := recording.Parse(rc)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, ev := range events {
		by[ev.Kind] += ev.Data
	}
	return h, by
}

func mustQuery(t *testing.T, s *query.Schema, raw string) query.Query {
	t.Helper()
	q, err := query.ParseRaw(s, raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	r := e.exec(t, "wrong-password", "alice@ops@web-01", "true")
	if r.ExitCode != 255 {
		t.Fatalf("wrong password: %+v", r)
	}
	logs, _, _ := e.db.LoginLogs(context.Background(), mustQuery(t, store.LoginLogSchema, "username=alice&status=false&type=ssh"), "")
	if len(logs) == 0 || logs[0].IP != "127.0.0.1" || logs[0].Reason != "wrong password" {
		t.Fatalf("failed ssh login not logged with reason and IP: %+v", logs)
	}
	stranger, _ := sshtest.ClientKey(t)
	r = sshtest.Invocation{Args: []string{"-i", stranger, "-p", e.port, "alice@ops@web-01@127.0.0.1", "true"}}.Run(t)
	if r.ExitCode != 255 {
		t.Fatalf("unknown key: %+v", r)
	}
	// The client gives up before the gateway has closed the connection,
	// so the row may land a moment after ssh exits.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		logs, _, _ = e.db.LoginLogs(context.Background(), mustQuery(t, store.LoginLogSchema, "username=alice&method=publickey&status=false"), "")
		if len(logs) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(logs) != 1 || logs[0].Reason != "no registered public key offered" {
		t.Fatalf("refused key login not logged once: %+v", logs)
	}
	// No permission: the same answer as an asset that does not exist.
	for _, login := range []string{"alice@ops@db-99", "alice@nobody@web-01"} {
		r = e.exec(t, alicePassword, login, "true")
		if r.ExitCode != 1 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Fatalf("%s: want one line and exit 1, got %+v", login, r)
		}
	}
	// Expired permission.
	past := time.Now().Add(-time.Hour)
	if _, err := e.acc.UpdatePermission(context.Background(), admin, e.perm.ID, access.PermissionFields{DateExpired: &past, DateStart: &time.Time{}}); err != nil {
		t.Fatal(err)
	}
	r = e.exec(t, alicePassword, "alice@ops@web-01", "true")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "no such asset") {
		t.Fatalf("expired permission: %+v", r)
	}
}

func TestTargetProblemsGiveOneLine(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// First connection pins the host key.
	if r := e.exec(t, alicePassword, "alice@ops@web-01", "true"); r.ExitCode != 0 {
		t.Fatalf("first connection: %+v", r)
	}
	e.target.RegenerateHostKey()
	start := time.Now()
	r := e.exec(t, alicePassword, "alice@ops@web-01", "true")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "host key has changed") {
		t.Fatalf("changed host key: %+v", r)
	}
	ss := e.sessions(t)
	if !strings.Contains(ss[0].Reason, "host key") || ss[0].IsSuccess {
		t.Fatalf("refused session record: %+v", ss[0])
	}
	if err := e.db.ForgetHostKeys(ctx, e.asset.ID); err != nil {
		t.Fatal(err)
	}
	if r := e.exec(t, alicePassword, "alice@ops@web-01", "true"); r.ExitCode != 0 {
		t.Fatalf("after clearing the pin: %+v", r)
	}

	wrong := "not-the-password"
	if _, err := e.inv.UpdateSystemUser(ctx, admin, e.su.ID, inventory.SystemUserFields{Password: &wrong}); err != nil {
		t.Fatal(err)
	}
	r = e.exec(t, alicePassword, "alice@ops@web-01", "true")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "refused the system user's credential") || strings.Contains(r.Stderr, wrong) {
		t.Fatalf("wrong credential: %+v", r)
	}

	e.target.Stop()
	r = e.exec(t, alicePassword, "alice@ops@web-01", "true")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "cannot reach") {
		t.Fatalf("target down: %+v", r)
	}
	t.Logf("host key refusal, wrong credential and target down answered in %v", time.Since(start))
}

func TestRevokedPermissionEndsLiveSession(t *testing.T) {
	e := newEnv(t)
	c := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`\$ `, 15*time.Second)
	if err := e.acc.DeletePermission(context.Background(), admin, e.perm.ID); err != nil {
		t.Fatal(err)
	}
	c.Expect(`expired or was revoked`, 5*time.Second)
	if code := c.WaitTimeout(10 * time.Second); code == 0 {
		t.Fatalf("revoked session exited 0")
	}
	ss := e.sessions(t)
	if ss[0].Reason != "permission expired or revoked" || !ss[0].IsFinished {
		t.Fatalf("session record: %+v", ss[0])
	}
}

func TestMFAAsksForOneTimeCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, _, err := e.id.BeginOTP(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := identity.TOTPCode(secret, time.Now())
	u, _ := e.db.User(ctx, e.alice.ID)
	if err := e.id.ConfirmOTP(ctx, admin, u, code); err != nil {
		t.Fatal(err)
	}
	c := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1", "echo mfa-ok")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`One-time code:`, 10*time.Second)
	next, _ := identity.TOTPCode(secret, time.Now().Add(30*time.Second)) // the confirmation spent this step
	c.SendLine(next)
	c.Expect(`mfa-ok`, 15*time.Second)
	c.Wait()
	logs, _, _ := e.db.LoginLogs(ctx, mustQuery(t, store.LoginLogSchema, "username=alice&status=true&type=ssh"), "")
	if len(logs) != 1 || !logs[0].MFA {
		t.Fatalf("MFA login log: %+v", logs)
	}
}

// TestManyLogins checks that simultaneous logins all succeed on SQLite.
func TestManyLogins(t *testing.T) {
	e := newEnv(t)
	execsAtOnce(t, e, 30, "")
}

// execsAtOnce runs n execs as alice at once, each "echo I" after prefix,
// and fails the test for each one that does not print its I.
func execsAtOnce(t *testing.T, e *env, n int, prefix string) {
	t.Helper()
	errs := make(chan string, n)
	for i := range n {
		go func() {
			r := sshtest.Invocation{Password: alicePassword, Args: []string{"-p", e.port, "alice@ops@web-01@127.0.0.1", prefix + "echo " + strconv.Itoa(i)}}.Run(t)
			if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != strconv.Itoa(i) {
				errs <- fmt.Sprintf("exec %d: %+v", i, r)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

func TestTerminateEndsLiveSessionWithinASecond(t *testing.T) {
	e := newEnv(t)
	c := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`\$ `, 15*time.Second)
	ss := e.sessions(t)
	if len(ss) != 1 || ss[0].IsFinished {
		t.Fatalf("live session: %+v", ss)
	}
	start := time.Now()
	if !e.hub.Terminate(context.Background(), ss[0].ID, "boss", 2*time.Second) {
		t.Fatal("no gateway confirmed the termination")
	}
	c.Expect(`terminated by an administrator \(boss\)`, 5*time.Second)
	c.WaitTimeout(5 * time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("termination took %v", took)
	}
	ss = e.sessions(t)
	if !ss[0].IsFinished || ss[0].TerminatedBy != "boss" || ss[0].Reason != "terminated by boss" {
		t.Fatalf("terminated session record: %+v", ss[0])
	}
	if e.hub.Terminate(context.Background(), ss[0].ID, "boss", 200*time.Millisecond) {
		t.Fatal("a finished session was terminated again")
	}
}

func TestMenuSearchPickAndSystemUserChoice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A second asset, named in Chinese, on the same target with two system users.
	nodeName := "生产"
	node, err := e.inv.CreateNode(ctx, admin, inventory.NodeFields{Name: &nodeName})
	if err != nil {
		t.Fatal(err)
	}
	aname, ip, plat := "数据库-01", e.target.Host, "2"
	protos := []store.Protocol{{Name: "ssh", Port: e.target.Port}}
	nodes := []string{node.ID}
	as, err := e.inv.CreateAssets(ctx, admin, []inventory.AssetFields{{Name: &aname, IP: &ip, Platform: &plat, Protocols: &protos, Nodes: &nodes}})
	if err != nil {
		t.Fatal(err)
	}
	n2, u2, p2 := "backup", e.target.User, e.target.Password
	su2, err := e.inv.CreateSystemUser(ctx, admin, inventory.SystemUserFields{Name: &n2, Username: &u2, Password: &p2})
	if err != nil {
		t.Fatal(err)
	}
	pname := "alice-db"
	users, assets, sus := []string{e.alice.ID}, []string{as[0].ID}, []string{e.su.ID, su2.ID}
	if _, err := e.acc.CreatePermission(ctx, admin, access.PermissionFields{Name: &pname, Users: &users, Assets: &assets, SystemUsers: &sus}); err != nil {
		t.Fatal(err)
	}

	c := sshtest.SSHWith(t, []sshtest.ClientOption{sshtest.WithSize(100, 30)}, "-tt", "-p", e.port, "alice@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`2 assets, page 1/1`, 10*time.Second)
	out := c.Expect(`Opt> `, 5*time.Second)
	if !strings.Contains(out, "web-01") || !strings.Contains(out, "数据库-01") || !strings.Contains(out, "backup") {
		t.Fatalf("menu listing:\n%s", out)
	}
	c.SendLine("g")
	tree := c.Expect(`Node> `, 5*time.Second)
	if !strings.Contains(tree, "1  Default (2)") || !strings.Contains(tree, "2    生产 (1)") {
		t.Fatalf("node tree:\n%s", tree)
	}
	c.SendLine("2")
	c.Expect(`1 assets in 生产, page 1/1`, 5*time.Second)
	c.SendLine("g")
	c.Expect(`Node> `, 5*time.Second)
	c.SendLine("0")
	c.Expect(`2 assets, page 1/1`, 5*time.Second)
	c.SendLine("数据库")
	c.Expect(`1 assets matching "数据库"`, 5*time.Second)
	c.SendLine("1")
	c.Expect(`System user> `, 5*time.Second)
	c.SendLine("2")
	c.Expect(`Connecting to 数据库-01 as`, 5*time.Second)
	c.Expect(`\$ `, 15*time.Second)
	c.SendLine("echo via-menu-$((2+2))")
	c.Expect(`via-menu-4`, 10*time.Second)
	c.SendLine("exit")
	c.WaitTimeout(10 * time.Second)

	ss := e.sessions(t)
	if len(ss) != 1 || ss[0].Asset != "数据库-01" {
		t.Fatalf("menu session: %+v", ss)
	}

	// Without a terminal and without a target, the operator is told how.
	r := e.exec(t, alicePassword, "alice", "true")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "choose a target") {
		t.Fatalf("no target, no pty: %+v", r)
	}
}

func TestIdleTimeoutCountsOnlyInput(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.IdleTimeout = 2 * time.Second })
	c := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`\$ `, 15*time.Second)
	// Typing keeps the session alive past the timeout...
	for i := 0; i < 6; i++ {
		time.Sleep(500 * time.Millisecond)
		c.Send(" ")
	}
	c.SendLine("")
	if c.Exited() {
		t.Fatal("a session with regular input went idle")
	}
	// ...while output alone does not.
	lastInput := time.Now()
	c.SendLine("while true; do echo tick; sleep 0.2; done")
	c.Expect(`no input for 2s; session ended`, 10*time.Second)
	if idle := time.Since(lastInput); idle < 2*time.Second {
		t.Fatalf("ended after %v without input, before the 2s timeout", idle)
	}
	c.WaitTimeout(5 * time.Second)
	if ss := e.sessions(t); ss[0].Reason != "idle timeout" {
		t.Fatalf("session record: %+v", ss[0])
	}
}

func TestExpiryEndsLiveSession(t *testing.T) {
	e := newEnv(t)
	soon := time.Now().Add(3 * time.Second)
	if _, err := e.acc.UpdatePermission(context.Background(), admin, e.perm.ID, access.PermissionFields{DateExpired: &soon}); err != nil {
		t.Fatal(err)
	}
	c := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`\$ `, 15*time.Second)
	c.Expect(`expired or was revoked`, 10*time.Second)
	if late := time.Since(soon); late < 0 || late > 3*time.Second {
		t.Fatalf("session ended %v after the permission expired", late)
	}
	c.WaitTimeout(5 * time.Second)
}

func TestExecCommandsAreFilteredAndAudited(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	name, content := "no-touch", "touch"
	g, err := e.filters.CreateGroup(ctx, admin, cmdfilter.GroupFields{Name: &name, Content: &content})
	if err != nil {
		t.Fatal(err)
	}
	fname, action, prio := "block-touch", cmdfilter.Reject, 10
	if _, err := e.filters.CreateFilter(ctx, admin, cmdfilter.FilterFields{Name: &fname, Action: &action, Priority: &prio, CommandGroups: &[]string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	r := e.exec(t, alicePassword, "alice#ops#web-01", "touch $HOME/rejected-file")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, `rejected by rule "block-touch"`) {
		t.Fatalf("rejected exec: %+v", r)
	}
	if out, _ := e.target.Run("ls $HOME"); strings.Contains(out, "rejected-file") {
		t.Fatal("a rejected command reached the target")
	}
	r = e.exec(t, alicePassword, "alice#ops#web-01", "echo allowed-$((5*5))")
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "allowed-25" {
		t.Fatalf("accepted exec: %+v", r)
	}
	cmds, _, err := e.db.Commands(ctx, mustQuery(t, store.CommandSchema, "order=timestamp"), "")
	if err != nil || len(cmds) != 2 {
		t.Fatalf("commands: %v %+v", err, cmds)
	}
	if c := cmds[0]; c.Input != "touch $HOME/rejected-file" || c.Action != "reject" || c.RiskLevel != cmdfilter.RiskReject || c.Username != "alice" || c.Asset != "web-01" {
		t.Fatalf("rejected command row: %+v", c)
	}
	if c := cmds[1]; c.Input != "echo allowed-$((5*5))" || c.Action != "accept" || strings.TrimSpace(c.Output) != "allowed-25" {
		t.Fatalf("accepted command row: %+v", c)
	}
}

func TestSFTPAndSCPThroughTheGateway(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	local := filepath.Join(dir, "payload.bin")
	if err := os.WriteFile(local, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(payload))
	home := strings.TrimSpace(mustRun(t, e.target, "pwd"))
	// sftp -b runs in batch mode, which allows no password prompt: use a key.
	priv, pub := sshtest.ClientKey(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if _, err := e.id.UpdateUser(ctx, admin, e.alice.ID, identity.UserFields{PublicKeys: &[]string{line}}); err != nil {
		t.Fatal(err)
	}

	// The virtual tree, then a put and a get through it.
	script := fmt.Sprintf("ls -1 /\nls -1 /web-01\nput %s /web-01/ops%s/up.bin\nget /web-01/ops%s/up.bin %s/down.bin\n", local, home, home, dir)
	r := sshtest.Invocation{Program: "sftp", Stdin: script,
		Args: []string{"-i", priv, "-b", "-", "-P", e.port, "alice@127.0.0.1"}}.Run(t)
	// Listed names stand on lines of their own (sftp -b also echoes each
	// command, which holds the same words).
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "\n/web-01\n") || !strings.Contains(r.Stdout, "\n/web-01/ops\n") {
		t.Fatalf("sftp virtual tree: %+v", r)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "down.bin")); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("downloaded file differs: %v", err)
	}
	if out := mustRun(t, e.target, "sha256sum up.bin"); !strings.HasPrefix(out, sum) {
		t.Fatalf("uploaded file on the target: %s", out)
	}

	// scp with a direct-login name goes straight to the target's paths.
	r = sshtest.Invocation{Program: "scp", Password: alicePassword,
		Args: []string{"-P", e.port, local, "alice@ops@web-01@127.0.0.1:scp.bin"}}.Run(t)
	if r.ExitCode != 0 {
		t.Fatalf("scp upload: %+v", r)
	}
	if out := mustRun(t, e.target, "sha256sum scp.bin"); !strings.HasPrefix(out, sum) {
		t.Fatalf("scp-uploaded file: %s", out)
	}
	// The legacy protocol (scp -O: scp itself run on the target) would
	// bypass the actions and the per-file audit: it is refused.
	r = sshtest.Invocation{Program: "scp", Password: alicePassword,
		Args: []string{"-O", "-P", e.port, local, "alice@ops@web-01@127.0.0.1:legacy.bin"}}.Run(t)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "legacy scp protocol") {
		t.Fatalf("scp -O upload: %+v", r)
	}
	if out := mustRun(t, e.target, "ls"); strings.Contains(out, "legacy.bin") {
		t.Fatal("a legacy scp upload reached the target")
	}

	logs, _, err := e.db.FTPLogs(ctx, mustQuery(t, store.FTPLogSchema, "order=datetime"), "")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, l := range logs {
		ops = append(ops, l.Operation)
		if (l.Operation == "upload" || l.Operation == "download") && (l.SHA256 != sum || l.Size != int64(len(payload)) || !l.IsSuccess || l.Username != "alice" || l.Asset != "web-01") {
			t.Errorf("transfer log %+v", l)
		}
	}
	if strings.Join(ops, ",") != "upload,download,upload,setstat" { // scp sets the mode after copying
		t.Fatalf("file operations logged: %v", ops)
	}

	// Without the upload action, a put is refused and nothing lands.
	acts := []string{"connect", "download"}
	if _, err := e.acc.UpdatePermission(ctx, admin, e.perm.ID, access.PermissionFields{Actions: &acts}); err != nil {
		t.Fatal(err)
	}
	r = sshtest.Invocation{Program: "sftp", Stdin: "put " + local + " denied.bin\n",
		Args: []string{"-i", priv, "-b", "-", "-P", e.port, "alice@ops@web-01@127.0.0.1"}}.Run(t)
	if r.ExitCode == 0 || !strings.Contains(strings.ToLower(r.Stderr+r.Stdout), "permission denied") {
		t.Fatalf("put without upload: %+v", r)
	}
	if out := mustRun(t, e.target, "ls"); strings.Contains(out, "denied.bin") {
		t.Fatal("a refused upload reached the target")
	}
	denied, _, _ := e.db.FTPLogs(ctx, mustQuery(t, store.FTPLogSchema, "is_success=false"), "")
	if len(denied) != 1 || denied[0].Operation != "upload" {
		t.Fatalf("refused upload not logged: %+v", denied)
	}
}

func mustRun(t *testing.T, tg *sshtest.Target, cmd string) string {
	t.Helper()
	out, err := tg.Run(cmd)
	if err != nil {
		t.Fatalf("%s on the target: %v %s", cmd, err, out)
	}
	return out
}

func TestInteractiveCommandsAuditedAndFiltered(t *testing.T) {
	e := newEnv(t, sshtest.WithShell("/bin/bash"))
	ctx := context.Background()
	name, content := "no-touch", "touch"
	g, err := e.filters.CreateGroup(ctx, admin, cmdfilter.GroupFields{Name: &name, Content: &content})
	if err != nil {
		t.Fatal(err)
	}
	fname, action, prio := "block-touch", cmdfilter.Reject, 10
	if _, err := e.filters.CreateFilter(ctx, admin, cmdfilter.FilterFields{Name: &fname, Action: &action, Priority: &prio, CommandGroups: &[]string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	c := sshtest.SSHWith(t, []sshtest.ClientOption{sshtest.WithSize(80, 24)}, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(alicePassword)
	c.Expect(`\$ `, 15*time.Second)
	// An operator waits for the prompt before typing; typing ahead of it
	// is a documented limit of reading commands off the screen.
	c.Send("echo hellp")
	c.Send("\x7f") // a typo fixed with backspace
	c.SendLine("o-$((3+4))")
	c.Expect(`hello-7\r\n\$ `, 10*time.Second)
	c.SendLine("touch ~/blocked-file")
	c.Expect(`command rejected by rule "block-touch"`, 10*time.Second)
	// The prompt of the fresh line, not bash's redraw of the cleared one
	// ("\r$ "), which comes first: typing ahead of the prompt is the
	// documented limit above.
	c.Expect(`\r\n\$ `, 10*time.Second)
	c.SendLine("echo still-here")
	c.Expect(`still-here\r\n\$ `, 10*time.Second)
	// A password typed at a prompt that does not echo is neither a
	// command nor in the recording.
	c.SendLine("read -rsp 'Secret: ' s; echo got-${#s}")
	c.Expect(`Secret: `, 10*time.Second)
	c.Send("hunt")
	time.Sleep(100 * time.Millisecond)
	c.Send("er2")
	time.Sleep(100 * time.Millisecond)
	c.Send("\r")
	c.Expect(`got-7\r\n\$ `, 10*time.Second)
	c.SendLine("exit")
	c.WaitTimeout(10 * time.Second)
	if out := mustRun(t, e.target, "ls"); strings.Contains(out, "blocked-file") {
		t.Fatal("a rejected interactive command reached the target")
	}
	cmds, _, err := e.db.Commands(ctx, mustQuery(t, store.CommandSchema, "order=timestamp"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, c.Action+": "+c.Input)
	}
	want := []string{"accept: echo hello-$((3+4))", "reject: touch ~/blocked-file", "accept: echo still-here",
		"accept: read -rsp 'Secret: ' s; echo got-${#s}", "accept: exit"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(cmds[0].Output, "hello-7") {
		t.Fatalf("output excerpt %q", cmds[0].Output)
	}
	_, rec := recorded(t, e, cmds[0].SessionID)
	in := rec[recording.KindInput]
	if strings.Contains(in, "hunt") || strings.Contains(in, "er2") {
		t.Fatalf("the recording holds what was typed at a no-echo prompt: %q", in)
	}
	if !strings.Contains(in, "echo still-here\r") || !strings.Contains(in, "got-${#s}\r\r") {
		t.Fatalf("recorded input lacks the echoed keys or the Enter: %q", in)
	}
	// A marker says that typing was left out, and nothing of how much.
	marks := rec[recording.KindMarker]
	if !strings.Contains(marks, "typing without echo at a password prompt left out") || strings.ContainsAny(marks, "0123456789") {
		t.Fatalf("markers %q: want one saying what was left out, with no count", marks)
	}
}

// TestClientWaitingForPtyReply logs in with a client that, like
// x/crypto/ssh's RequestPty and paramiko's get_pty, waits for the answer to
// pty-req before it sends exec: the session must start, with a terminal.
func TestClientWaitingForPtyReply(t *testing.T) {
	e := newEnv(t)
	c := e.dialAlice(t)
	stuck := time.AfterFunc(20*time.Second, func() { c.Close() })
	defer stuck.Stop()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil && !strings.Contains(err.Error(), "rejected") {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 30, 100, ssh.TerminalModes{}); err != nil {
		t.Fatalf("pty-req: %v", err)
	}
	out, err := s.CombinedOutput("tty >/dev/null && stty size")
	if err != nil {
		t.Fatalf("exec after a waited-for pty-req: %v (output %q)", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "30 100" {
		t.Fatalf("stty size through the gateway: %q, want \"30 100\"", got)
	}
}

// An SFTP session is live like a shell session: an administrator can
// terminate it, and the ending is recorded with who did it.
func TestSFTPSessionCanBeTerminated(t *testing.T) {
	e := newEnv(t)
	c, err := sftp.NewClient(e.dialAlice(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadDir("."); err != nil {
		t.Fatal(err)
	}
	ss := e.sessions(t)
	if len(ss) != 1 || ss[0].IsFinished || ss[0].Protocol != "sftp" {
		t.Fatalf("live sftp session: %+v", ss)
	}
	if !e.hub.Terminate(context.Background(), ss[0].ID, "boss", 2*time.Second) {
		t.Fatal("no gateway confirmed the termination of an sftp session")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.ReadDir("."); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sftp session goes on after being terminated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for deadline = time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ss = e.sessions(t)
		if ss[0].IsFinished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminated sftp session still open: %+v", ss[0])
		}
	}
	if ss[0].TerminatedBy != "boss" || ss[0].Reason != "terminated by boss" || ss[0].IsSuccess {
		t.Fatalf("terminated sftp session record: %+v", ss[0])
	}
}

// shellOn logs user in to web-01 as ops with a terminal and returns the
// session with the client port of the target connection it runs on, as
// the target's shell sees it ($SSH_CONNECTION).
func shellOn(t *testing.T, e *env, user, password string) (*sshtest.Client, string) {
	t.Helper()
	c := sshtest.SSH(t, "-tt", "-p", e.port, user+"@ops@web-01@127.0.0.1")
	c.Expect(`(?i)password:`, 15*time.Second)
	c.SendLine(password)
	c.Expect(`\$ `, 15*time.Second)
	return c, connPort(t, c)
}

func connPort(t *testing.T, c *sshtest.Client) string {
	t.Helper()
	c.SendLine(`echo "conn-port=$(echo $SSH_CONNECTION | cut -d' ' -f2)."`)
	m := regexp.MustCompile(`conn-port=(\d+)\.`).FindStringSubmatch(c.Expect(`conn-port=\d+\.`, 10*time.Second))
	return m[1]
}

// An operator's sessions to one target share a connection until the
// target refuses more on it; each ends on its own.
func TestSessionsShareTargetConnection(t *testing.T) {
	e := newEnv(t, sshtest.WithConfig("MaxSessions 2"))
	s1, p1 := shellOn(t, e, "alice", alicePassword)
	s2, p2 := shellOn(t, e, "alice", alicePassword)
	s3, p3 := shellOn(t, e, "alice", alicePassword)
	if p1 != p2 || p3 == p1 {
		t.Fatalf("target connections by client port: %s %s %s; want the first two shared and the third (over MaxSessions 2) new", p1, p2, p3)
	}
	if n := strings.Count(e.target.Log(), "Accepted password"); n != 2 {
		t.Errorf("the target logged %d logins for 3 sessions on 2 connections", n)
	}
	s1.SendLine("exit 3")
	if code := s1.WaitTimeout(10 * time.Second); code != 3 {
		t.Fatalf("first session exit status %d", code)
	}
	// The others go on: the one that shared the first's connection too.
	if p := connPort(t, s2); p != p1 {
		t.Fatalf("second session moved from port %s to %s", p1, p)
	}
	if p := connPort(t, s3); p != p3 {
		t.Fatalf("third session moved from port %s to %s", p3, p)
	}
	s2.SendLine("exit")
	s2.WaitTimeout(10 * time.Second)
	s3.SendLine("exit")
	s3.WaitTimeout(10 * time.Second)
	for _, s := range e.sessions(t) {
		if !s.IsFinished || s.Reason == "" {
			t.Errorf("session not finished on its own: %+v", s)
		}
	}
}

// A target that checks its client is alive (ClientAliveInterval) asks on a
// session channel; the gateway, which is that client, answers itself. Were
// the question passed on to the operator of that channel, one whose client
// does not answer would have the target drop the connection and with it
// every other session sharing it.
func TestTargetKeepaliveAnsweredByGateway(t *testing.T) {
	e := newEnv(t, sshtest.WithConfig("ClientAliveInterval 1", "ClientAliveCountMax 1"))
	// The first session's operator never answers a request on its channel:
	// the target asks on the first channel of a connection.
	ch, _, err := e.dialAlice(t).OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ch.SendRequest("shell", true, nil); !ok || err != nil {
		t.Fatalf("shell: %v %v", ok, err)
	}
	go io.Copy(io.Discard, ch)
	s, _ := shellOn(t, e, "alice", alicePassword)
	if n := strings.Count(e.target.Log(), "Accepted password"); n != 1 {
		t.Fatalf("the target logged %d logins for two sessions sharing a connection", n)
	}
	// Longer than the target waits for an answer (1 s, then one more
	// question), and then some.
	time.Sleep(5 * time.Second)
	s.SendLine("echo still-$((40 + 2))")
	s.Expect(`still-42`, 10*time.Second)
	if strings.Contains(e.target.Log(), "Timeout, client not responding") {
		t.Fatalf("the target gave up on the gateway:\n%s", e.target.Log())
	}
}

// Sessions started together (a script's parallel runs) log in to the
// target once: those that come while the first is logging in wait for its
// connection.
func TestBurstOfSessionsLogsInOnce(t *testing.T) {
	e := newEnv(t)
	const n = 4
	execsAtOnce(t, e, n, "sleep 2; ")
	if c := strings.Count(e.target.Log(), "Accepted password"); c != 1 {
		t.Fatalf("the target logged %d logins for %d sessions at once", c, n)
	}
}

// A shared target connection outlives the session that opened it, rekeys
// included: the host key is checked again at every key exchange.
func TestSharedConnectionRekeysAfterItsFirstSession(t *testing.T) {
	e := newEnv(t, sshtest.WithConfig("RekeyLimit 64K"))
	s1, p1 := shellOn(t, e, "alice", alicePassword)
	s2, p2 := shellOn(t, e, "alice", alicePassword)
	if p1 != p2 {
		t.Fatalf("the two sessions do not share a target connection (%s, %s)", p1, p2)
	}
	s1.SendLine("exit")
	s1.WaitTimeout(10 * time.Second)
	// Far more than the rekey limit, so the target rekeys several times.
	s2.SendLine("head -c 300000 /dev/zero | tr '\\0' x | fold -w 100; echo done-$((6 * 7))")
	s2.Expect(`done-42`, 30*time.Second)
	s2.SendLine("exit")
	s2.WaitTimeout(10 * time.Second)
}

// Two operators allowed the same target as the same system user never
// share a connection to it.
func TestOperatorsDoNotShareTargetConnections(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	name, pw, role := "bob", "bob-password-1", identity.RoleUser
	bob, err := e.id.CreateUser(ctx, admin, identity.UserFields{Username: &name, Password: &pw, Role: &role})
	if err != nil {
		t.Fatal(err)
	}
	users := []string{e.alice.ID, bob.ID}
	if _, err := e.acc.UpdatePermission(ctx, admin, e.perm.ID, access.PermissionFields{Users: &users}); err != nil {
		t.Fatal(err)
	}
	apart(t, e, [2]string{"alice", alicePassword}, [2]string{"bob", pw})
}

// A system user's changed credential applies from the next session on:
// that session logs in with it rather than ride a connection made with
// the old one, which would keep a rotated or withdrawn password working.
func TestChangedCredentialGetsItsOwnConnection(t *testing.T) {
	e := newEnv(t)
	s1, p1 := shellOn(t, e, "alice", alicePassword)
	wrong := "no-longer-the-password"
	if _, err := e.inv.UpdateSystemUser(context.Background(), admin, e.su.ID, inventory.SystemUserFields{Password: &wrong}); err != nil {
		t.Fatal(err)
	}
	s2 := sshtest.SSH(t, "-tt", "-p", e.port, "alice@ops@web-01@127.0.0.1")
	s2.Expect(`(?i)password:`, 15*time.Second)
	s2.SendLine(alicePassword)
	if code := s2.WaitTimeout(30 * time.Second); code == 0 {
		t.Fatalf("a session with the changed credential started:\n%s", s2.Output())
	}
	if !strings.Contains(e.target.Log(), "Failed password") {
		t.Fatalf("the target saw no login with the changed credential:\n%s", e.target.Log())
	}
	// The session already on the old connection goes on.
	if p := connPort(t, s1); p != p1 {
		t.Fatalf("first session moved from port %s to %s", p1, p)
	}
	s1.Close()
}

// apart opens a shell for each of two logins (user, password) and fails
// the test if they share a target connection.
func apart(t *testing.T, e *env, a, b [2]string) {
	t.Helper()
	s1, p1 := shellOn(t, e, a[0], a[1])
	s2, p2 := shellOn(t, e, b[0], b[1])
	if p1 == p2 {
		t.Fatalf("sessions of %s and %s on one target connection (client port %s)", a[0], b[0], p1)
	}
	s1.Close()
	s2.Close()
}

func TestSeparateTargetConnections(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.SeparateTargetConnections = true })
	alice := [2]string{"alice", alicePassword}
	apart(t, e, alice, alice)
}
