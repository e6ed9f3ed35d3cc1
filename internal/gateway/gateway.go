package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/gateway/sshproxy"
	"github.com/postern/postern/internal/recording"
)

// Config tunes the gateway.
type Config struct {
	HostKeys       []ssh.Signer
	Logger         *slog.Logger
	RecheckEvery   time.Duration // how often a live session re-checks its permission; default 2 s
	RecordingsDir  string        // where session recordings are written; "" records nothing
	RecordingMax   int64         // cap on one recording's size in bytes; 0: none
	IdleTimeout    time.Duration // end a session after this long without operator input; 0: never
	MaxDuration    time.Duration // end a session after this long in all; 0: never
	KeepaliveEvery time.Duration // probe the operator's connection this often; default 30 s
	KeepaliveMiss  int           // unanswered probes that drop it; default 3
	OutputExcerpt  int           // bytes of a command's output kept with it; default 1024
	HandshakeLimit time.Duration // time allowed for SSH login; default 60 s
	// SeparateTargetConnections gives every session a connection to the
	// target of its own. By default an operator's sessions to one target
	// as one system user share a connection (sshproxy.Pool): the target
	// sees one login for them, Postern holds less memory per session.
	SeparateTargetConnections bool
}

// Server is the SSH gateway.
type Server struct {
	core Core
	cfg  Config
	ssh  *ssh.ServerConfig

	mu    sync.Mutex
	ln    net.Listener
	conns map[*ssh.ServerConn]struct{}
	live  map[string]*liveSession
	pool  *sshproxy.Pool
	// poolSecret keys the credential part of pool keys.
	poolSecret [32]byte
	stop       context.CancelFunc
	closed     bool
	wg         sync.WaitGroup
}

// Extension keys carried from authentication to the connection. Values
// come from the callback that accepted the final method, never from state
// left by an earlier callback (a client may query keys it does not use).
const (
	extUserID   = "postern-user-id"
	extUsername = "postern-username"
	extMethod   = "postern-method"
	extKey      = "postern-key"
)

// New returns a gateway over core.
func New(core Core, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RecheckEvery <= 0 {
		cfg.RecheckEvery = 2 * time.Second
	}
	if cfg.HandshakeLimit <= 0 {
		cfg.HandshakeLimit = 60 * time.Second
	}
	if cfg.KeepaliveEvery <= 0 {
		cfg.KeepaliveEvery = 30 * time.Second
	}
	if cfg.KeepaliveMiss <= 0 {
		cfg.KeepaliveMiss = 3
	}
	if cfg.OutputExcerpt <= 0 {
		cfg.OutputExcerpt = 1024
	}
	s := &Server{core: core, cfg: cfg, conns: map[*ssh.ServerConn]struct{}{}, live: map[string]*liveSession{}, pool: sshproxy.NewPool()}
	rand.Read(s.poolSecret[:])
	sc := &ssh.ServerConfig{
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-Postern",
	}
	sc.Ciphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"}
	sc.PasswordCallback = s.password
	sc.PublicKeyCallback = s.publicKey
	for _, k := range cfg.HostKeys {
		sc.AddHostKey(k)
	}
	s.ssh = sc
	return s
}

func remote(c ssh.ConnMetadata) string { return hostOf(c.RemoteAddr()) }

func loginUser(c ssh.ConnMetadata) (Login, error) {
	return ParseLogin(c.User())
}

func (s *Server) password(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	l, err := loginUser(c)
	if err != nil {
		return nil, err
	}
	u, err := s.core.LoginPassword(context.Background(), l.User, string(pw), remote(c))
	if err != nil {
		return nil, err
	}
	perms := &ssh.Permissions{Extensions: map[string]string{extUserID: u.ID, extUsername: u.Username, extMethod: "password"}}
	if u.NeedOTP {
		return nil, s.otpStep(u, perms)
	}
	return perms, nil
}

// otpStep asks for the one-time code as a second, keyboard-interactive
// step; only a right code completes the login.
func (s *Server) otpStep(u User, perms *ssh.Permissions) error {
	return &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{
		KeyboardInteractiveCallback: func(c ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ask("", "Postern requires a one-time code.", []string{"One-time code: "}, []bool{true})
			if err != nil {
				return nil, err
			}
			if len(ans) != 1 {
				return nil, errors.New("expected one answer")
			}
			if err := s.core.LoginOTP(context.Background(), u, ans[0], remote(c)); err != nil {
				return nil, err
			}
			return perms, nil
		},
	}}
}

func (s *Server) publicKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	l, err := loginUser(c)
	if err != nil {
		return nil, err
	}
	ok, err := s.core.HasKey(context.Background(), l.User, key)
	if err != nil || !ok {
		return nil, ErrBadCredentials
	}
	return &ssh.Permissions{Extensions: map[string]string{extUsername: l.User, extMethod: "publickey",
		extKey: string(key.Marshal())}}, nil
}

// ListenAndServe listens on addr and serves until Close.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.ln = ln
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.mu.Unlock()
	go s.tasks(ctx)
	go s.recheck(ctx)
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(nc)
		}()
	}
}

// Close stops accepting, ends every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	if s.stop != nil {
		s.stop()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) handle(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeLimit))
	var tried authTrail
	cfg := *s.ssh
	cfg.AuthLogCallback = tried.note
	conn, chans, reqs, err := ssh.NewServerConn(sshproxy.BulkReads(nc), &cfg)
	if err != nil {
		defer nc.Close() // after the log row, so it exists when the client sees the end
		if tried.keysOnly() {
			// Password and one-time-code failures log themselves; a
			// client that only offered unknown keys is logged here, once.
			if l, perr := ParseLogin(tried.user); perr == nil {
				s.core.LoginRefused(context.Background(), l.User, "publickey", hostOf(nc.RemoteAddr()), "no registered public key offered")
			}
		}
		return
	}
	nc.SetDeadline(time.Time{})
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	user, err := s.finishLogin(ctx, conn)
	if err != nil {
		return
	}
	login, _ := ParseLogin(conn.User())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()

	stopKeepalive := sshproxy.Keepalive(conn, s.cfg.KeepaliveEvery, s.cfg.KeepaliveMiss, func() {
		// A laptop closed, a NAT entry expired: drop the connection so
		// the session ends and is recorded as ended, not left "online".
		s.cfg.Logger.Info("operator connection lost", "user", conn.User(), "remote", conn.RemoteAddr().String())
		conn.Close()
	})
	defer stopKeepalive()
	var wg sync.WaitGroup
	// Global requests (none are served) and channels, in one goroutine.
	for chans != nil {
		select {
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		case nch, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			if nch.ChannelType() != "session" {
				nch.Reject(ssh.Prohibited, "only sessions are allowed through Postern")
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.session(ctx, conn, user, login, nch)
			}()
		}
	}
	cancel()
	wg.Wait()
}

// finishLogin turns the accepted authentication into a user, logging a
// public-key login now that its signature has been verified.
func (s *Server) finishLogin(ctx context.Context, conn *ssh.ServerConn) (User, error) {
	ext := conn.Permissions.Extensions
	if ext[extMethod] == "publickey" {
		key, err := ssh.ParsePublicKey([]byte(ext[extKey]))
		if err != nil {
			return User{}, err
		}
		u, err := s.core.LoginKey(ctx, ext[extUsername], key, remote(conn))
		if err != nil {
			return User{}, err
		}
		if u.NeedOTP {
			// Key logins of MFA users are refused outright: the SSH
			// layer cannot ask for the code after the handshake.
			return User{}, ErrDenied
		}
		return u, nil
	}
	return User{ID: ext[extUserID], Username: ext[extUsername]}, nil
}

// session serves one session channel: it waits for the operator's
// shell, exec or subsystem request, then connects them.
func (s *Server) session(ctx context.Context, conn *ssh.ServerConn, user User, login Login, nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var early []*ssh.Request
	pty := false
collect:
	for r := range reqs {
		switch r.Type {
		case "pty-req", "env", "window-change":
			// Answered now: the target is not chosen or connected until
			// shell or exec arrives, and clients such as x/crypto/ssh's
			// RequestPty wait for this answer before sending either.
			// The request is replayed on the target later (a refused
			// pty-req is then reported on stderr by the bridge).
			pty = pty || r.Type == "pty-req"
			answerNow(r)
			early = append(early, r)
			continue
		case "shell", "exec":
			early = append(early, r)
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(r.Payload, &p) != nil || p.Name != "sftp" {
				r.Reply(false, nil)
				fail(ch, "only the sftp subsystem is available through Postern", 1)
				return
			}
			r.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			s.serveSFTP(ctx, conn, user, login, ch)
			return
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
			continue
		}
		break collect
	}
	if len(early) == 0 || (early[len(early)-1].Type != "shell" && early[len(early)-1].Type != "exec") {
		return // the operator closed the channel before asking for anything
	}
	if login.Asset == "" {
		if pty && early[len(early)-1].Type == "shell" {
			s.runMenu(ctx, conn, user, ch, reqs, early)
			return
		}
		early[len(early)-1].Reply(true, nil)
		fail(ch, "choose a target in the login name: ssh "+user.Username+"@ASSET@HOST or "+user.Username+"@SYSTEMUSER@ASSET@HOST", 1)
		return
	}
	s.connect(ctx, conn, user, login, ch, reqs, early)
}

// answerNow accepts r at once and marks it answered, so that replaying it
// later does not answer it a second time.
func answerNow(r *ssh.Request) {
	if r.WantReply {
		r.Reply(true, nil)
		r.WantReply = false
	}
}

// connect resolves the target, asks the core for the connection and
// bridges the channel to it.
func (s *Server) connect(ctx context.Context, conn *ssh.ServerConn, user User, login Login, ch ssh.Channel, reqs <-chan *ssh.Request, early []*ssh.Request) {
	start := early[len(early)-1]
	refuse := func(msg string) {
		start.Reply(true, nil)
		fail(ch, msg, 1)
	}
	asset, err := s.core.FindAsset(ctx, user.ID, login.Asset)
	if err != nil {
		refuse(err.Error())
		return
	}
	su, err := pickSystemUser(asset, login.SystemUser)
	if err != nil {
		refuse(err.Error())
		return
	}
	if err := s.proxy(ctx, conn, user, asset, su, ch, reqs, sshproxy.Replay(early)); err != nil {
		refuse(err.Error())
	}
}

// proxy connects the operator's channel to the target as su and serves
// the session to its end. An error means nothing was bridged (the channel
// is untouched and the caller tells the operator); once bridged, endings
// are reported on the channel itself.
func (s *Server) proxy(ctx context.Context, conn *ssh.ServerConn, user User, asset Asset, su SystemUser, ch ssh.Channel, reqs <-chan *ssh.Request, setups []sshproxy.Setup) error {
	c, err := s.core.Connect(ctx, user.ID, asset.ID, su.ID, "ssh", remote(conn))
	if err != nil {
		return err
	}
	// dial drops the credential once used; this covers the returns before.
	defer func() { c.Credential = Credential{} }()
	live := &liveSession{watch: newFanout()}
	defer live.watch.close()
	reason, success := "", true
	var rec *recording.Recorder
	defer func() {
		end := Ending{SessionID: c.SessionID, Success: success, Reason: reason}
		if r, b := live.ended(); r != "" {
			end.Reason, end.Success, end.TerminatedBy = r, false, b
		}
		if rec != nil {
			end.Recorded = rec.Close() == nil
		}
		s.core.Finish(context.Background(), end)
	}()

	exec := execCommand(setups)
	if legacySCP(exec) {
		// scp -O runs scp on the target over a plain exec, where neither
		// the upload and download actions nor the per-file audit could
		// apply. scp without -O uses SFTP, which has both.
		reason, success = "legacy scp protocol refused", false
		return errors.New("postern: the legacy scp protocol (scp -O) is not available; use scp without -O, which goes through SFTP with per-file audit")
	}
	var verdict Verdict
	if exec != "" {
		// An exec request is a command like a typed one: filtered before
		// anything reaches the target, and audited either way.
		verdict = s.core.CheckCommand(ctx, c.SessionID, exec)
		if verdict.Action == ActionReject {
			s.core.RecordCommands(ctx, []Command{{SessionID: c.SessionID, Input: exec, Risk: verdict.Risk, Action: ActionReject, At: time.Now()}})
			reason, success = "command rejected by rule "+verdict.Rule, false
			return fmt.Errorf("postern: command rejected by rule %q; it was not run", verdict.Rule)
		}
	}
	lease, up, upReqs, err := s.openSession(ctx, user, asset, su, &c)
	if err != nil {
		reason, success = err.Error(), false
		return fmt.Errorf("postern: %s: %s", asset.Name, err)
	}
	defer lease.Close()
	// Closed by Bridge too; this covers the returns before it, which on a
	// shared connection would leave a channel open whose requests no one
	// reads.
	defer up.Close()

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	live.stop, live.ch, live.start = stop, ch, time.Now()
	live.access, live.assetName = Access{UserID: user.ID, AssetID: asset.ID, SystemUserID: su.ID}, asset.Name
	live.input()
	s.track(c.SessionID, live)
	defer s.untrack(c.SessionID)
	var hooks sshproxy.Hooks
	term, cols, rows, isPty := ptyOf(setups)
	if s.cfg.RecordingsDir != "" {
		h := recording.Header{Title: user.Username + " on " + asset.Name + " as " + su.Name, Env: map[string]string{"SHELL": "/bin/sh"}}
		if isPty {
			h.Width, h.Height, h.Env["TERM"] = cols, rows, term
		}
		// What a terminal does not echo (passwords typed at prompts on the
		// target) stays out of the recorded input.
		rec, err = recording.Start(s.cfg.RecordingsDir, c.SessionID, h, recording.Options{MaxBytes: s.cfg.RecordingMax, HideUnechoed: isPty,
			OnError: func(err error) {
				s.cfg.Logger.Error("recording failed; the session goes on unrecorded", "session", c.SessionID, "err", err)
			}})
		if err != nil {
			// An audited session that cannot be recorded does not start.
			reason, success = "recording unavailable: "+err.Error(), false
			return errors.New("postern: the session cannot be recorded, so it is not started; tell an administrator")
		}
		hooks = sshproxy.Hooks{Output: rec.Output, Input: func(p []byte) { live.input(); rec.Input(p) }, Resize: rec.Resize}
	} else {
		hooks.Input = func([]byte) { live.input() }
	}
	hooks.Output = teeOutput(live.watch.write, hooks.Output)
	var excerpt *outputExcerpt
	if exec != "" {
		excerpt = &outputExcerpt{max: s.cfg.OutputExcerpt}
		hooks.Output = excerpt.tee(hooks.Output)
		if verdict.Action == ActionWarn {
			fmt.Fprintf(ch.Stderr(), "postern: warning: this command matches rule %q and is flagged for review\r\n", verdict.Rule)
		}
	}
	var cmds *commandAudit
	if isPty && exec == "" {
		cmds = s.auditCommands(ctx, c.SessionID, cols, rows, ch, rec)
		// The emulator is fed by the watch hook, so that watchers join on
		// its screen.
		live.watch.follow(cmds.auditor.Feed, cmds.auditor.Screen, cmds.auditor.Deliver)
		hooks.Input = teeOutput(cmds.auditor.Input, hooks.Input)
		hooks.Resize = teeResize(cmds.auditor.Resize, hooks.Resize)
		hooks.Rewrite = cmds.filter
	}
	started := time.Now()
	res, err := sshproxy.Bridge(sctx, up, upReqs, ch, reqs, setups, hooks)
	if cmds != nil {
		cmds.auditor.Flush()
	}
	if exec != "" {
		s.core.RecordCommands(context.Background(), []Command{{SessionID: c.SessionID, Input: exec, Output: excerpt.String(),
			Risk: verdict.Risk, Action: verdict.Action, At: started}})
	}
	switch {
	case err != nil:
		reason, success = err.Error(), false
		fail(ch, "postern: "+err.Error(), 1)
	case res.ExitSignal != "":
		reason = "killed by signal " + res.ExitSignal
	case res.ExitStatus >= 0:
		reason = fmt.Sprintf("exit status %d", res.ExitStatus)
	}
	return nil
}

// openSession opens a session channel on the connection's target: on a
// connection the operator already has there as the same system user with
// the same credential, or on a new one (see Config.SeparateTargetConnections).
func (s *Server) openSession(ctx context.Context, user User, asset Asset, su SystemUser, c *Connection) (*sshproxy.Lease, ssh.Channel, <-chan *ssh.Request, error) {
	key := c.SessionID
	if !s.cfg.SeparateTargetConnections {
		// The credential is in the key keyed-hashed with a secret of this
		// process, so the pool never holds anything a password could be
		// guessed back from.
		m := hmac.New(sha256.New, s.poolSecret[:])
		m.Write([]byte(c.Credential.Username + "\x00" + c.Credential.Password + "\x00" + c.Credential.PrivateKey))
		key = strings.Join([]string{user.ID, asset.ID, su.ID, c.Address, hex.EncodeToString(m.Sum(nil))}, "\x00")
	}
	// Sessions that come meanwhile wait for this dial (Pool.Session): it
	// goes on, within its own time limit, if this operator goes away.
	dctx := context.WithoutCancel(ctx)
	lease, up, upReqs, err := s.pool.Session(key, func() (*sshproxy.Client, error) { return s.dial(dctx, user, asset, c) })
	c.Credential = Credential{} // not needed once a connection is had
	return lease, up, upReqs, err
}

// dial logs in to the connection's target, checking its host key against
// the pin, and drops the credential once it is used.
func (s *Server) dial(ctx context.Context, user User, asset Asset, c *Connection) (*sshproxy.Client, error) {
	algos := hostKeyAlgos(s.core.PinnedKeyType(ctx, asset.ID, c.Address))
	// The callback runs at every key exchange of the connection, rekeys
	// included, for as long as it lives: on a shared connection that is
	// past the end of the session that dialled it.
	pinCtx := context.WithoutCancel(ctx)
	client, err := sshproxy.Dial(ctx, sshproxy.Target{
		Address: c.Address, Username: c.Credential.Username, Password: c.Credential.Password, PrivateKey: c.Credential.PrivateKey,
		HostKeyAlgos: algos,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if err := s.core.PinHostKey(pinCtx, asset.ID, c.Address, key); err != nil {
				s.cfg.Logger.Warn("target host key refused", "asset", asset.Name, "address", c.Address,
					"offered", ssh.FingerprintSHA256(key), "user", user.Username, "err", err)
				return sshproxy.HostKeyRefused(err)
			}
			return nil
		},
	})
	c.Credential = Credential{} // not needed past the login
	return client, err
}

// liveSession is a connected session that the gateway may have to end:
// on a terminate task, or when its permission lapses.
type liveSession struct {
	access     Access // whose permission, on what, as whom (set before tracking)
	assetName  string
	noIdle     bool // not ended for want of input (file transfers)
	mu         sync.Mutex
	stop       context.CancelFunc
	ch         ssh.Channel
	reason, by string
	start      time.Time
	lastInput  atomic.Int64 // unix nanoseconds of the operator's last keystroke
	watch      *fanout      // live watchers of the output
}

// input notes operator activity: only input keeps a session from going
// idle, since a program printing output is no sign that anyone is there.
func (l *liveSession) input() { l.lastInput.Store(time.Now().UnixNano()) }

// end stops the session once, telling the operator why.
func (l *liveSession) end(reason, by, message string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reason != "" || l.stop == nil {
		return false
	}
	l.reason, l.by = reason, by
	fmt.Fprintf(l.ch.Stderr(), "\r\npostern: %s\r\n", message)
	l.stop()
	return true
}

func (l *liveSession) ended() (reason, by string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason, l.by
}

func (s *Server) track(id string, l *liveSession) {
	s.mu.Lock()
	s.live[id] = l
	s.mu.Unlock()
}

func (s *Server) untrack(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

// tasks carries out the core's requests until ctx ends.
func (s *Server) tasks(ctx context.Context) {
	for t := range s.core.Tasks(ctx) {
		if t.Kind != TaskTerminate {
			continue
		}
		s.mu.Lock()
		l := s.live[t.SessionID]
		s.mu.Unlock()
		if l != nil && l.end("terminated by "+t.By, t.By, "session terminated by an administrator ("+t.By+")") && t.Done != nil {
			t.Done()
		}
	}
}

// recheck ends, every RecheckEvery, the live sessions whose permission
// lapsed (revoked, expired, the user disabled), that sat idle past the
// idle timeout, or that reached the maximum duration. One pass covers
// every session, with one question to the core, so that a session costs
// nothing between passes.
func (s *Server) recheck(ctx context.Context) {
	t := time.NewTicker(s.cfg.RecheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		lives := make([]*liveSession, 0, len(s.live))
		for _, l := range s.live {
			lives = append(lives, l)
		}
		s.mu.Unlock()
		if len(lives) == 0 {
			continue
		}
		accesses := make([]Access, len(lives))
		for i, l := range lives {
			accesses[i] = l.access
		}
		allowed := s.core.Allowed(ctx, accesses)
		now := time.Now()
		for i, l := range lives {
			switch idle, limit := s.cfg.IdleTimeout, s.cfg.MaxDuration; {
			case !allowed[i]:
				l.end("permission expired or revoked", "", "your permission for "+l.assetName+" expired or was revoked; session ended")
			case idle > 0 && !l.noIdle && now.Sub(time.Unix(0, l.lastInput.Load())) >= idle:
				l.end("idle timeout", "", fmt.Sprintf("no input for %v; session ended", idle))
			case limit > 0 && now.Sub(l.start) >= limit:
				l.end("maximum session duration reached", "", fmt.Sprintf("sessions may last at most %v; session ended", limit))
			}
		}
	}
}

// pickSystemUser chooses the system user named in the login (by name or
// username), or the only one the user has on the asset.
func pickSystemUser(a Asset, name string) (SystemUser, error) {
	if name != "" {
		for _, su := range a.SystemUsers {
			if su.Name == name {
				return su, nil
			}
		}
		for _, su := range a.SystemUsers {
			if su.Username == name {
				return su, nil
			}
		}
		return SystemUser{}, fmt.Errorf("you have no system user %q on %s", name, a.Name)
	}
	switch len(a.SystemUsers) {
	case 0:
		return SystemUser{}, fmt.Errorf("you have no system user on %s", a.Name)
	case 1:
		return a.SystemUsers[0], nil
	}
	names := make([]string, len(a.SystemUsers))
	for i, su := range a.SystemUsers {
		names[i] = su.Name
	}
	return SystemUser{}, fmt.Errorf("%s has several system users (%s): log in as USER@SYSTEMUSER@%s", a.Name, strings.Join(names, ", "), a.Name)
}

// hostKeyAlgos lists the algorithms that can present a key of the pinned
// type, so a target cannot dodge the pin by offering another type.
func hostKeyAlgos(keyType string) []string {
	switch keyType {
	case "":
		return nil
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// fail tells the operator why, on stderr, and ends the channel with status.
func fail(ch ssh.Channel, msg string, status uint32) {
	fmt.Fprintf(ch.Stderr(), "%s\r\n", msg)
	exitStatus(ch, status)
	ch.Close()
}

// exitStatus tells the operator's client the session's exit status.
func exitStatus(ch ssh.Channel, status uint32) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
}

// ptyOf finds the terminal type and size in a session's setup requests.
func ptyOf(setups []sshproxy.Setup) (term string, cols, rows int, ok bool) {
	for _, st := range setups {
		if st.Type != "pty-req" {
			continue
		}
		var p ptyReq
		if ssh.Unmarshal(st.Payload, &p) == nil {
			return p.Term, int(p.Cols), int(p.Rows), true
		}
	}
	return "", 0, 0, false
}

// authTrail remembers which methods a client tried during one handshake.
type authTrail struct {
	mu       sync.Mutex
	user     string
	publick  bool
	password bool
}

func (a *authTrail) note(c ssh.ConnMetadata, method string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.user = c.User()
	switch method {
	case "publickey":
		a.publick = true
	case "password", "keyboard-interactive":
		a.password = true
	}
}

func (a *authTrail) keysOnly() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.publick && !a.password && a.user != ""
}

func hostOf(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// execCommand returns the command of an exec setup request, or "".
func execCommand(setups []sshproxy.Setup) string {
	for _, st := range setups {
		if st.Type != "exec" {
			continue
		}
		var p struct{ Command string }
		if ssh.Unmarshal(st.Payload, &p) == nil {
			return p.Command
		}
	}
	return ""
}

// outputExcerpt keeps the first bytes of a command's output.
type outputExcerpt struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (o *outputExcerpt) tee(next func([]byte)) func([]byte) {
	return func(p []byte) {
		o.mu.Lock()
		if room := o.max - len(o.buf); room > 0 {
			o.buf = append(o.buf, p[:min(room, len(p))]...)
		}
		o.mu.Unlock()
		if next != nil {
			next(p)
		}
	}
}

// String returns the excerpt as valid UTF-8: a sequence cut at the limit
// is dropped rather than stored broken.
func (o *outputExcerpt) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.ToValidUTF8(string(o.buf), "")
}

// teeOutput calls first, then next (when set), with each output chunk.
func teeOutput(first, next func([]byte)) func([]byte) {
	if next == nil {
		return first
	}
	return func(p []byte) {
		first(p)
		next(p)
	}
}

func teeResize(first, next func(cols, rows int)) func(cols, rows int) {
	if next == nil {
		return first
	}
	return func(cols, rows int) {
		first(cols, rows)
		next(cols, rows)
	}
}

// legacySCP says whether an exec command is the remote end of the legacy
// scp protocol ("scp -t DIR" to receive, "scp -f FILE" to send), which
// OpenSSH's scp runs when told -O.
func legacySCP(command string) bool {
	f := strings.Fields(command)
	if len(f) == 0 || path.Base(f[0]) != "scp" {
		return false
	}
	for _, a := range f[1:] {
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		if strings.ContainsAny(a[1:], "tf") {
			return true
		}
	}
	return false
}
