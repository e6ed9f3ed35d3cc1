package sftpproxy_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/gateway/sftpproxy"
	"github.com/postern/postern/internal/sshtest"
)

// The operators of the test gateway and what they may do. Every asset and
// system user leads to the same real sshd and account.
var (
	all      = []string{"connect", "upload", "download", "delete"}
	grantsOf = map[string][]sftpproxy.Target{
		"alice": {
			{Asset: "web-01", SystemUser: "deploy", Actions: all},
			{Asset: "web-01", SystemUser: "ops", Actions: all},
			{Asset: "db-01", SystemUser: "ops", Actions: all},
			{Asset: "hidden", SystemUser: "ops", Actions: []string{"upload"}}, // no connect: not in the tree
		},
		"reader": {{Asset: "web-01", SystemUser: "deploy", Actions: []string{"connect", "download"}}},
		"writer": {{Asset: "web-01", SystemUser: "deploy", Actions: []string{"connect", "upload"}}},
	}
)

func init() {
	for user, ts := range grantsOf {
		for i := range ts {
			ts[i].AssetID, ts[i].SystemUserID = "a-"+ts[i].Asset, "s-"+ts[i].SystemUser
		}
		grantsOf[user] = ts
	}
}

// gateway is a minimal SSH server in front of Serve: key logins, session
// channels, the sftp subsystem, login names USER, USER@ASSET and
// USER@SYSUSER@ASSET (direct mode), and a backend whose targets are all the
// one real sshd.
type gateway struct {
	tg      *sshtest.Target
	port    int
	opKey   string // the operator's private key file
	tgKey   string // the private key file that logs in to the target
	tgLogin ssh.Signer

	mu     sync.Mutex
	events []sftpproxy.Event
	dials  int
}

func startGateway(t *testing.T, opts ...sshtest.Option) *gateway {
	t.Helper()
	tgKey, tgPub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, append(opts, sshtest.WithAuthorizedKey(tgPub))...)
	opKey, opPub := sshtest.ClientKey(t)
	pem, err := os.ReadFile(tgKey)
	if err != nil {
		t.Fatal(err)
	}
	login, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	host, err := ssh.NewSignerFromKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), opPub.Marshal()) {
			return &ssh.Permissions{}, nil
		}
		return nil, errors.New("unknown key")
	}}
	// The gateway's own cipher list (gateway.New); the client's order
	// decides among them, and OpenSSH's puts chacha20-poly1305 first.
	cfg.Ciphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	g := &gateway{tg: tg, port: ln.Addr().(*net.TCPAddr).Port, opKey: opKey, tgKey: tgKey, tgLogin: login}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.serveConn(ctx, nc, cfg)
			}()
		}
	}()
	return g
}

func (g *gateway) serveConn(ctx context.Context, nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go ssh.DiscardRequests(reqs)
	parts := strings.Split(conn.User(), "@")
	b := &backend{g: g, user: parts[0]}
	var direct *sftpproxy.Target
	if len(parts) > 1 {
		asset, su := parts[len(parts)-1], ""
		if len(parts) == 3 {
			su = parts[1]
		}
		for _, t := range grantsOf[b.user] {
			if t.Asset == asset && (su == "" || t.SystemUser == su) {
				direct = &t
				break
			}
		}
		if direct == nil {
			return
		}
	}
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.Prohibited, "sessions only")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			for r := range creqs {
				var sub struct{ Name string }
				if r.Type != "subsystem" || ssh.Unmarshal(r.Payload, &sub) != nil || sub.Name != "sftp" {
					r.Reply(false, nil)
					continue
				}
				r.Reply(true, nil)
				go ssh.DiscardRequests(creqs)
				status := uint32(0)
				if err := sftpproxy.Serve(ctx, ch, b, direct); err != nil {
					fmt.Fprintf(ch.Stderr(), "postern: %v\r\n", err)
					status = 1
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
				return
			}
		}()
	}
	wg.Wait()
}

// backend is one operator's view, with every target the same real sshd.
type backend struct {
	g    *gateway
	user string
}

func (b *backend) Targets(context.Context) ([]sftpproxy.Target, error) {
	return slices.Clone(grantsOf[b.user]), nil
}

func (b *backend) Dial(ctx context.Context, t sftpproxy.Target) (*sftpproxy.Client, io.Closer, error) {
	b.g.mu.Lock()
	b.g.dials++
	b.g.mu.Unlock()
	cfg := &ssh.ClientConfig{
		User:            b.g.tg.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(b.g.tgLogin)},
		HostKeyCallback: ssh.FixedHostKey(b.g.tg.HostKey),
	}
	// As the gateway's sshproxy.Dial does: AES-GCM is the cheapest cipher
	// per byte with AES-NI.
	cfg.Ciphers = []string{"aes128-gcm@openssh.com"}
	conn, err := ssh.Dial("tcp", b.g.tg.Addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	c, err := sftpproxy.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return c, conn, nil
}

func (b *backend) Audit(_ context.Context, e sftpproxy.Event) {
	b.g.mu.Lock()
	b.g.events = append(b.g.events, e)
	b.g.mu.Unlock()
}

// sftp runs the real sftp client through the gateway as login, in batch
// mode: a failing command ends it with a non-zero status unless prefixed
// with "-".
func (g *gateway) sftp(t *testing.T, login, commands string) sshtest.Result {
	t.Helper()
	return sshtest.Invocation{Program: "sftp", Stdin: commands, Timeout: 5 * time.Minute,
		Args: []string{"-P", strconv.Itoa(g.port), "-i", g.opKey, "-b", "-", login + "@127.0.0.1"}}.Run(t)
}

func (g *gateway) mustSFTP(t *testing.T, login, commands string) string {
	t.Helper()
	r := g.sftp(t, login, commands)
	if r.ExitCode != 0 {
		t.Fatalf("sftp as %s: exit %d\nstdout:\n%s\nstderr:\n%s", login, r.ExitCode, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// eventsSince returns the events recorded after the first n.
func (g *gateway) eventsSince(n int) []sftpproxy.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events[n:])
}

func (g *gateway) eventCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.events)
}

func (g *gateway) dialCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dials
}

// find returns the one event with op and path, failing the test without.
func find(t *testing.T, evs []sftpproxy.Event, op, path string) sftpproxy.Event {
	t.Helper()
	var got []sftpproxy.Event
	for _, e := range evs {
		if e.Op == op && e.Path == path {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s event for %s, got %d in:\n%s", op, path, len(got), dump(evs))
	}
	return got[0]
}

func dump(evs []sftpproxy.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s/%s %q %q size=%d sha=%.12s ok=%v err=%q\n", e.Op, e.Target.Asset, e.Target.SystemUser, e.Path, e.Path2, e.Size, e.SHA256, e.Success, e.Err)
	}
	return b.String()
}

func randomFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// onTarget is the virtual path of a path on the target, as alice sees it
// through web-01 as deploy.
func onTarget(p string) string { return "/web-01/deploy" + p }

func TestVirtualTree(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	if _, err := g.tg.Run("mkdir -p tree/inner && echo hi > tree/file"); err != nil {
		t.Fatal(err)
	}
	out := g.mustSFTP(t, "alice", "ls -1\ncd web-01\nls -1\ncd /db-01/\nls -1\ncd /web-01/deploy\npwd\n")
	for _, want := range []string{"\ndb-01\nweb-01\n", "\ndeploy\nops\n", "\nops\n", "Remote working directory: /web-01/deploy\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("virtual tree: want %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Fatalf("an asset without connect is listed:\n%s", out)
	}
	if n := g.dialCount(); n != 0 {
		t.Fatalf("listing the virtual levels connected to %d targets; want none", n)
	}

	// Under /ASSET/SYSUSER/ the target's own root, connected once.
	local := filepath.Join(t.TempDir(), "file")
	out = g.mustSFTP(t, "alice", "ls -1 "+onTarget(g.tg.Home+"/tree")+"\nls -1 /web-01/deploy/\nget "+onTarget(g.tg.Home+"/tree/file")+" "+local+"\n")
	for _, want := range []string{"/tree/file\n", "/tree/inner\n", "/web-01/deploy/etc\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("target listing: want %q in:\n%s", want, out)
		}
	}
	if got, err := os.ReadFile(local); err != nil || string(got) != "hi\n" {
		t.Fatalf("get through the tree: %q, %v", got, err)
	}
	if n := g.dialCount(); n != 1 {
		t.Fatalf("one session on one target dialed %d times", n)
	}

	// What the operator may not reach does not exist for them.
	for _, cmd := range []string{"ls /db-01", "ls /hidden", "ls /web-01/ops"} {
		r := g.sftp(t, "reader", cmd+"\n")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "not found") {
			t.Fatalf("reader: %s: exit %d, stderr %q", cmd, r.ExitCode, r.Stderr)
		}
	}
	// The top levels cannot be changed.
	r := g.sftp(t, "alice", "mkdir /web-01/new\n")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("mkdir in the virtual tree: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}

func TestPutGet(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	local, data := randomFile(t, "up.bin", 5<<20)
	back := filepath.Join(t.TempDir(), "back.bin")
	remote := g.tg.Home + "/up.bin"
	n := g.eventCount()
	g.mustSFTP(t, "alice", fmt.Sprintf("put %s %s\nget %s %s\n", local, onTarget(remote), onTarget(remote), back))
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file that came back differs (%d bytes, %v)", len(got), err)
	}
	onDisk, err := os.ReadFile(remote)
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("the file on the target differs (%d bytes, %v)", len(onDisk), err)
	}
	evs := g.eventsSince(n)
	for _, op := range []string{sftpproxy.OpUpload, sftpproxy.OpDownload} {
		e := find(t, evs, op, remote)
		if !e.Success || e.Size != int64(len(data)) || e.SHA256 != sum(data) || e.Target.Asset != "web-01" || e.Target.SystemUser != "deploy" || e.At.IsZero() {
			t.Fatalf("%s event: %+v; want size %d, sha256 %s", op, e, len(data), sum(data))
		}
	}
	t.Logf("audit:\n%s", dump(evs))
}

func TestDenied(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	local, _ := randomFile(t, "x.bin", 100<<10)
	if _, err := g.tg.Run("echo keep > keep.txt"); err != nil {
		t.Fatal(err)
	}
	keep := g.tg.Home + "/keep.txt"

	// Without upload: put is refused and nothing reaches the target.
	n := g.eventCount()
	r := g.sftp(t, "reader", fmt.Sprintf("put %s %s\n", local, onTarget(g.tg.Home+"/x.bin")))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("put without upload: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
	if out, _ := g.tg.Run("ls -1"); strings.Contains(out, "x.bin") {
		t.Fatalf("a refused put left a file on the target:\n%s", out)
	}
	e := find(t, g.eventsSince(n), sftpproxy.OpUpload, g.tg.Home+"/x.bin")
	if e.Success || !strings.Contains(e.Err, `"upload" action`) {
		t.Fatalf("refused upload audited as %+v", e)
	}
	// With download, the same user can get.
	g.mustSFTP(t, "reader", "get "+onTarget(keep)+" "+filepath.Join(t.TempDir(), "k")+"\n")

	// Without download: get is refused.
	n = g.eventCount()
	r = g.sftp(t, "writer", "get "+onTarget(keep)+" "+filepath.Join(t.TempDir(), "k")+"\n")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("get without download: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
	if e := find(t, g.eventsSince(n), sftpproxy.OpDownload, keep); e.Success || !strings.Contains(e.Err, `"download" action`) {
		t.Fatalf("refused download audited as %+v", e)
	}

	// Without delete: rm and rename are refused and the file stays.
	n = g.eventCount()
	for _, cmd := range []string{"rm " + onTarget(keep), "rename " + onTarget(keep) + " " + onTarget(g.tg.Home+"/moved.txt")} {
		r = g.sftp(t, "writer", cmd+"\n")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
			t.Fatalf("%s without delete: exit %d, stderr %q", cmd, r.ExitCode, r.Stderr)
		}
	}
	if out, err := g.tg.Run("cat keep.txt"); err != nil || out != "keep\n" {
		t.Fatalf("the file is gone after refused deletes: %q %v", out, err)
	}
	evs := g.eventsSince(n)
	if e := find(t, evs, sftpproxy.OpDelete, keep); e.Success || !strings.Contains(e.Err, `"delete" action`) {
		t.Fatalf("refused delete audited as %+v", e)
	}
	if e := find(t, evs, sftpproxy.OpRename, keep); e.Success || e.Path2 != g.tg.Home+"/moved.txt" {
		t.Fatalf("refused rename audited as %+v", e)
	}
	// But the writer may upload.
	g.mustSFTP(t, "writer", fmt.Sprintf("put %s %s\n", local, onTarget(g.tg.Home+"/x.bin")))
}

func TestDirectoryOps(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	h := g.tg.Home
	if _, err := g.tg.Run("echo data > f.txt"); err != nil {
		t.Fatal(err)
	}
	n := g.eventCount()
	g.mustSFTP(t, "alice", strings.Join([]string{
		"cd " + onTarget(h),
		"mkdir d1",
		"rename f.txt d1/g.txt",
		"ln -s d1/g.txt link",
		"chmod 600 d1/g.txt",
		"mkdir d2",
		"rmdir d2",
		"rm link",
		"",
	}, "\n"))
	// (Whole names only: the target's random user name, in ls -l, may
	// hold "d2".)
	out, err := g.tg.Run("stat -c %A d1/g.txt; cat d1/g.txt; ls")
	if err != nil || out != "-rw-------\ndata\nd1\n" {
		t.Fatalf("target after the operations:\n%s (%v)", out, err)
	}
	evs := g.eventsSince(n)
	for _, w := range []struct{ op, path, path2 string }{
		{sftpproxy.OpMkdir, h + "/d1", ""},
		{sftpproxy.OpRename, h + "/f.txt", h + "/d1/g.txt"},
		{sftpproxy.OpSymlink, "d1/g.txt", h + "/link"},
		{sftpproxy.OpSetstat, h + "/d1/g.txt", "mode=0600"},
		{sftpproxy.OpMkdir, h + "/d2", ""},
		{sftpproxy.OpRmdir, h + "/d2", ""},
		{sftpproxy.OpDelete, h + "/link", ""},
	} {
		var ok bool
		for _, e := range evs {
			if e.Op == w.op && e.Path == w.path && e.Path2 == w.path2 && e.Success {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("no successful %s %s %s event in:\n%s", w.op, w.path, w.path2, dump(evs))
		}
	}
	// rm of a directory fails as it does on the target itself, audited.
	if _, err := g.tg.Run("mkdir d3"); err != nil {
		t.Fatal(err)
	}
	n = g.eventCount()
	if r := g.sftp(t, "alice", "rm "+onTarget(h+"/d3")+"\n"); r.ExitCode == 0 {
		t.Fatalf("rm of a directory succeeded")
	}
	if e := find(t, g.eventsSince(n), sftpproxy.OpDelete, h+"/d3"); e.Success {
		t.Fatalf("failed rm audited as %+v", e)
	}
	// A rename across targets is refused.
	if r := g.sftp(t, "alice", "rename "+onTarget(h+"/d3")+" /web-01/ops"+h+"/d4\n"); r.ExitCode == 0 {
		t.Fatalf("rename across targets succeeded")
	}
}

func TestSCP(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	local, data := randomFile(t, "scp.bin", 3<<20+17)
	remote := g.tg.Home + "/scp.bin"
	back := filepath.Join(t.TempDir(), "back.bin")
	n := g.eventCount()
	scp := func(src, dst string) {
		t.Helper()
		r := sshtest.Invocation{Program: "scp", Args: []string{"-P", strconv.Itoa(g.port), "-i", g.opKey, src, dst}}.Run(t)
		if r.ExitCode != 0 {
			t.Fatalf("scp %s %s: exit %d, stderr %q", src, dst, r.ExitCode, r.Stderr)
		}
	}
	scp(local, "alice@127.0.0.1:"+onTarget(remote))
	scp("alice@127.0.0.1:"+onTarget(remote), back)
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("scp round trip differs (%d bytes, %v)", len(got), err)
	}
	evs := g.eventsSince(n)
	for _, op := range []string{sftpproxy.OpUpload, sftpproxy.OpDownload} {
		if e := find(t, evs, op, remote); !e.Success || e.Size != int64(len(data)) || e.SHA256 != sum(data) {
			t.Fatalf("scp %s audited as %+v", op, e)
		}
	}
	// scp is refused like sftp.
	r := sshtest.Invocation{Program: "scp", Args: []string{"-P", strconv.Itoa(g.port), "-i", g.opKey, local, "reader@127.0.0.1:" + onTarget(g.tg.Home+"/no.bin")}}.Run(t)
	if r.ExitCode == 0 {
		t.Fatalf("scp upload without upload action succeeded")
	}
	if out, _ := g.tg.Run("ls"); strings.Contains(out, "no.bin") {
		t.Fatalf("a refused scp left a file")
	}
}

func TestDirect(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	local, data := randomFile(t, "d.bin", 1<<20)
	// Where the target starts sessions, as a client straight to it sees it.
	c, closer, err := (&backend{g: g, user: "alice"}).Dial(context.Background(), grantsOf["alice"][0])
	if err != nil {
		t.Fatal(err)
	}
	home, err := c.Getwd()
	c.Close()
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := g.eventCount()
	for _, login := range []string{"alice@deploy@web-01", "alice@db-01"} {
		out := g.mustSFTP(t, login, fmt.Sprintf("pwd\nput %s rel.bin\nls -1 /\n", local))
		if !strings.Contains(out, "Remote working directory: "+home+"\n") || !strings.Contains(out, "\n/etc\n") {
			t.Fatalf("direct mode as %s: want the target's own paths, got:\n%s", login, out)
		}
	}
	if got, err := os.ReadFile(home + "/rel.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("direct put: %d bytes, %v", len(got), err)
	}
	evs := g.eventsSince(n)
	var targets []string
	for _, e := range evs {
		if e.Op == sftpproxy.OpUpload && e.Path == home+"/rel.bin" && e.Success && e.SHA256 == sum(data) {
			targets = append(targets, e.Target.Asset+"/"+e.Target.SystemUser)
		}
	}
	if !slices.Equal(targets, []string{"web-01/deploy", "db-01/ops"}) {
		t.Fatalf("direct uploads audited on %v:\n%s", targets, dump(evs))
	}
	// Direct mode checks actions as well.
	r := g.sftp(t, "reader@web-01", fmt.Sprintf("put %s rel2.bin\n", local))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("direct put without upload: exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}

// TestTargetRequestSize checks that the proxy reads and writes a file on an
// OpenSSH target in requests as large as the target's limits@openssh.com
// allows, as its own sftp-server logs them.
func TestTargetRequestSize(t *testing.T) {
	t.Parallel()
	server := ""
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			server = p
			break
		}
	}
	if server == "" {
		sshtest.Missing(t, "no sftp-server program (it comes with openssh-server)")
	}
	// sftp-server logs each request at DEBUG1, to a file the target's
	// user can write (the subsystem runs through its shell).
	dir, err := os.MkdirTemp("", "postern-sftp-log-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "sftp-server.log")
	g := startGateway(t, sshtest.WithConfig("Subsystem sftp "+server+" -e -l DEBUG1 2>>"+logFile))
	local, data := randomFile(t, "big.bin", 2<<20)
	back := filepath.Join(t.TempDir(), "back.bin")
	g.mustSFTP(t, "alice@web-01", fmt.Sprintf("put %s big.bin\nget big.bin %s\n", local, back))
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file came back different: %d bytes, %v", len(got), err)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(raw)
	for _, op := range []string{"read", "write"} {
		if !regexp.MustCompile(op + ` "[^"]*big\.bin" \(handle \d+\) off \d+ len 261120`).MatchString(log) {
			t.Errorf("no %s of 255 KiB in the target's sftp-server log:\n%.3000s", op, log)
		}
	}
}

// TestResume resumes an upload and a download: the data arrives whole, and
// the audit gives no digest for transfers that did not start at offset 0.
func TestResume(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	local, data := randomFile(t, "r.bin", 4<<20)
	remote := g.tg.Home + "/r.bin"
	if err := os.WriteFile(remote, data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := g.tg.Run("true"); err != nil { // the target user must own it
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "--reference="+g.tg.Home, remote).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	back := filepath.Join(t.TempDir(), "back.bin")
	if err := os.WriteFile(back, data[:3<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	n := g.eventCount()
	g.mustSFTP(t, "alice", fmt.Sprintf("reput %s %s\nreget %s %s\n", local, onTarget(remote), onTarget(remote), back))
	for _, p := range []string{remote, back} {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after resuming: %d bytes, %v", p, len(got), err)
		}
	}
	evs := g.eventsSince(n)
	if e := find(t, evs, sftpproxy.OpUpload, remote); !e.Success || e.Size != 3<<20 || e.SHA256 != "" {
		t.Fatalf("resumed upload audited as %+v", e)
	}
	if e := find(t, evs, sftpproxy.OpDownload, remote); !e.Success || e.Size != 1<<20 || e.SHA256 != "" {
		t.Fatalf("resumed download audited as %+v", e)
	}

	// A client that opens to append and counts on the server to put its
	// writes at the end (as pkg/sftp's File.Write does, from offset 0) is
	// refused, rather than let overwrite the start of the file.
	c := g.client(t)
	f, err := c.OpenFile(onTarget(remote), os.O_WRONLY|os.O_APPEND)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("overwrite?")); err == nil {
		t.Fatalf("a write at offset 0 of an appending handle was accepted")
	}
	f.Close()
	if got, err := os.ReadFile(remote); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file changed after a refused append: %d bytes, %v", len(got), err)
	}
}

// client logs in to the gateway as alice with pkg/sftp's client, for
// requests the sftp command does not make; it is closed with the test.
func (g *gateway) client(t *testing.T) *sftp.Client {
	t.Helper()
	pem, err := os.ReadFile(g.opKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", "127.0.0.1:"+strconv.Itoa(g.port), &ssh.ClientConfig{User: "alice",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A session has at most MaxFiles files open at once; closing one makes
// room for the next.
func TestFileLimit(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	remote := filepath.Join(g.tg.Home, "many.txt")
	if err := os.WriteFile(remote, []byte("open me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := g.client(t)
	var open []*sftp.File
	for range sftpproxy.MaxFiles {
		f, err := c.Open(onTarget(remote))
		if err != nil {
			t.Fatalf("open %d: %v", len(open)+1, err)
		}
		open = append(open, f)
	}
	if _, err := c.Open(onTarget(remote)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("open past the limit: %v", err)
	}
	open[0].Close()
	f, err := c.Open(onTarget(remote))
	if err != nil {
		t.Fatalf("open after closing one: %v", err)
	}
	f.Close()
	for _, f := range open[1:] {
		f.Close()
	}
}

// A session whose client has gone ends within the grace period even when
// an operation is stuck on the target (an open of a pipe no one writes),
// though the operator's SSH connection stays up: the target connection is
// closed under it and the operation audited as failed.
func TestClientGoneWhileTargetStuck(t *testing.T) {
	defer sftpproxy.SetCloseGrace(time.Second)()
	g := startGateway(t)
	fifo := filepath.Join(g.tg.Home, "stuck.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(fifo, 0o666)
	// Let the target's sftp server out of its open at the end, whatever
	// happened.
	defer func() {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	}()
	c := g.client(t)
	go c.Open(onTarget(fifo))
	time.Sleep(500 * time.Millisecond) // the open is on the target, waiting
	go c.Close()                       // which waits for the session to end
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		for _, e := range g.eventsSince(0) {
			if e.Path == fifo {
				if e.Success {
					t.Fatalf("the stuck open was audited as done: %+v", e)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not end within the grace period after its client had gone")
		}
	}
}

// A transfer that never forms one run from offset 0 (a resumed download)
// gives the memory its digest held back when it is closed: the budget is
// the gateway's, and must not shrink with every resume.
func TestBudgetGivenBackAfterResume(t *testing.T) {
	g := startGateway(t)
	remote := filepath.Join(g.tg.Home, "resume.bin")
	if err := os.WriteFile(remote, bytes.Repeat([]byte("0123456789abcdef"), 1<<17), 0o644); err != nil { // 2 MiB
		t.Fatal(err)
	}
	c := g.client(t)
	before := sftpproxy.Buffered()
	f, err := c.Open(onTarget(remote))
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent reads from the middle on, as reget does.
	if _, err := f.Seek(1<<20, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, f); n != 1<<20 || err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if after := sftpproxy.Buffered(); after != before {
		t.Fatalf("the budget is at %d bytes after the transfer was closed, was %d", after, before)
	}
}
