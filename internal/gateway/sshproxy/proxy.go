// Package sshproxy is the gateway's SSH protocol unit: it logs in to a
// target with a vaulted credential, checking the target's host key through
// a callback, and bridges an operator's session channel to a session
// channel on the target, passing every request (pty-req, env, shell, exec,
// window-change, signal, exit-status, ...) through untouched and copying
// the data with large buffers.
//
// It knows nothing of users, permissions or storage: the gateway hands it
// an address, a credential and hooks (for recording), and is told how the
// session ended.
package sshproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Target describes how to log in to one target.
type Target struct {
	Address          string // host:port
	Username         string
	Password         string
	PrivateKey       string
	HostKeyAlgos     []string // restrict to the pinned key's algorithms; nil: any
	HostKeyCallback  ssh.HostKeyCallback
	DialTimeout      time.Duration // default 10 s
	KeepaliveEvery   time.Duration // default 15 s
	KeepaliveMissing int           // unanswered keepalives that end the connection; default 3
}

// Dial connects and logs in to the target. Errors are phrased for the
// operator, without the credential.
func Dial(ctx context.Context, t Target) (*Client, error) {
	if t.DialTimeout <= 0 {
		t.DialTimeout = 10 * time.Second
	}
	var auth []ssh.AuthMethod
	if t.PrivateKey != "" {
		signer, err := ssh.ParsePrivateKey([]byte(t.PrivateKey))
		if err != nil {
			return nil, errors.New("the system user's private key cannot be used")
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if t.Password != "" {
		pw := t.Password
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			ans := make([]string, len(qs))
			for i := range qs {
				ans[i] = pw
			}
			return ans, nil
		}))
	}
	cfg := &ssh.ClientConfig{
		User:              t.Username,
		Auth:              auth,
		HostKeyCallback:   t.HostKeyCallback,
		HostKeyAlgorithms: t.HostKeyAlgos,
		Timeout:           t.DialTimeout,
		ClientVersion:     "SSH-2.0-Postern",
	}
	// Prefer AES-GCM: with AES-NI it is the cheapest cipher per byte.
	cfg.Ciphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"}
	d := net.Dialer{Timeout: t.DialTimeout, KeepAlive: 30 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, t.DialTimeout)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", t.Address)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %s", t.Address, shortNetErr(err))
	}
	// The handshake gets the same deadline as the dial: a target that
	// accepts TCP but never speaks SSH must not hang the operator.
	nc.SetDeadline(time.Now().Add(t.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(BulkReads(nc), t.Address, cfg)
	if err != nil {
		nc.Close()
		return nil, loginErr(err, t.Address)
	}
	nc.SetDeadline(time.Time{})
	// x/crypto keeps a copy of the config for rekeys, sharing the list of
	// auth methods; the login is done, so the methods (which hold the
	// password and the key) are let go rather than kept for the life of
	// the connection.
	clear(auth)
	// The target's channel opens and global requests (keepalives, with
	// ClientAliveInterval) are refused by one goroutine of ours instead of
	// the two ssh.NewClient would start.
	none, noReqs := make(chan ssh.NewChannel), make(chan *ssh.Request)
	close(none)
	close(noReqs)
	client := &Client{Client: ssh.NewClient(c, none, noReqs)}
	go refuseIncoming(chans, reqs)
	every, missing := t.KeepaliveEvery, t.KeepaliveMissing
	if every <= 0 {
		every = 15 * time.Second
	}
	if missing <= 0 {
		missing = 3
	}
	// A dead target (its keepalives unanswered) is closed, which ends
	// the operator's session with a reason.
	client.stop = Keepalive(client.Client, every, missing, func() { client.Client.Close() })
	return client, nil
}

// Client is a logged-in connection to a target.
type Client struct {
	*ssh.Client
	stop func() // stops the keepalive
}

// Close closes the connection.
func (c *Client) Close() error {
	c.stop()
	return c.Client.Close()
}

// refuseIncoming answers what a target opens or asks of Postern: nothing
// is served, as an OpenSSH client would.
func refuseIncoming(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	for chans != nil || reqs != nil {
		select {
		case nch, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			nch.Reject(ssh.UnknownChannelType, "unknown channel type: "+nch.ChannelType())
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			r.Reply(false, nil)
		}
	}
}

// Keepalive probes conn with keepalive@openssh.com every interval and,
// once missing probes in a row have gone unanswered, calls lost and stops.
// It runs on a timer, so a quiet connection holds no goroutine for it
// between probes. The returned func stops it.
func Keepalive(conn ssh.Conn, every time.Duration, missing int, lost func()) (stop func()) {
	k := &keeper{conn: conn, every: every, missing: missing, lost: lost}
	k.mu.Lock()
	k.t = time.AfterFunc(every, k.tick)
	k.mu.Unlock()
	return k.stop
}

type keeper struct {
	conn    ssh.Conn
	every   time.Duration
	missing int
	lost    func()

	mu       sync.Mutex
	t        *time.Timer
	stopped  bool
	inflight bool // a probe waits for its answer
	missed   int  // ticks that found the probe still waiting
}

func (k *keeper) tick() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	if k.inflight {
		if k.missed++; k.missed >= k.missing {
			k.stopped = true
			k.mu.Unlock()
			k.lost()
			return
		}
		k.t.Reset(k.every)
		k.mu.Unlock()
		return
	}
	k.inflight = true
	k.t.Reset(k.every)
	k.mu.Unlock()
	_, _, err := k.conn.SendRequest("keepalive@openssh.com", true, nil)
	k.mu.Lock()
	k.inflight = false
	if err != nil {
		// The connection is gone: nothing more to watch.
		k.stopped = true
		k.t.Stop()
	} else {
		k.missed = 0
	}
	k.mu.Unlock()
}

func (k *keeper) stop() {
	k.mu.Lock()
	k.stopped = true
	k.t.Stop()
	k.mu.Unlock()
}

func shortNetErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func loginErr(err error, addr string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return errors.New("the target refused the system user's credential")
	case strings.Contains(msg, "host key"):
		return err
	case errors.Is(err, io.EOF), strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf("%s did not complete an SSH handshake", addr)
	}
	var hk hostKeyError
	if errors.As(err, &hk) {
		return hk
	}
	return fmt.Errorf("SSH handshake with %s failed", addr)
}

// hostKeyError marks a refusal from the host key callback so its message
// reaches the operator as written.
type hostKeyError struct{ error }

// HostKeyRefused wraps err so that Dial reports it to the operator verbatim.
func HostKeyRefused(err error) error { return hostKeyError{err} }

// Hooks observe a bridged session. Every hook is optional.
type Hooks struct {
	Output func(p []byte) // data from the target to the operator (stdout and stderr)
	Input  func(p []byte) // data from the operator to the target, as forwarded
	// Rewrite, when set, takes the operator's data instead of it being
	// forwarded, and forwards it itself through send, possibly in pieces
	// and changed (a command filter waits for a line's echo before its
	// Enter, and turns a refused Enter into a line kill). It must not
	// keep p after returning.
	Rewrite func(p []byte, send func([]byte) error) error
	Resize  func(cols, rows int) // pty-req and window-change sizes
}

// Result says how a bridged session ended.
type Result struct {
	ExitStatus int    // -1 when the target sent none
	ExitSignal string // signal name when the command was killed
}

// Setup is a request to replay on the target's channel before data flows:
// the operator's pty-req, env and shell or exec. Reply, when set, receives
// the target's answer (the operator's request is answered through it).
type Setup struct {
	Type    string
	Payload []byte
	Reply   func(ok bool)
}

// Replay turns requests received from the operator into setups that
// answer them with the target's reply.
func Replay(reqs []*ssh.Request) []Setup {
	out := make([]Setup, len(reqs))
	for i, r := range reqs {
		out[i] = Setup{Type: r.Type, Payload: r.Payload}
		if r.WantReply {
			out[i].Reply = func(ok bool) { r.Reply(ok, nil) }
		}
	}
	return out
}

// Bridge connects an operator's session channel to up, a new session
// channel on the target, forwarding requests both ways, until either side
// closes; it closes up. The setup requests are replayed first, in order.
func Bridge(ctx context.Context, up ssh.Channel, upReqs <-chan *ssh.Request, down ssh.Channel, downReqs <-chan *ssh.Request, early []Setup, h Hooks) (Result, error) {
	res := Result{ExitStatus: -1}
	defer up.Close()

	for _, r := range early {
		h.observe(r.Type, r.Payload)
		start := r.Type == "shell" || r.Type == "exec" || r.Type == "subsystem"
		ok, err := up.SendRequest(r.Type, r.Reply != nil || start || r.Type == "pty-req", r.Payload)
		if err != nil {
			return res, fmt.Errorf("target closed during setup: %v", err)
		}
		if r.Reply != nil {
			r.Reply(ok)
		} else if !ok && r.Type == "pty-req" {
			// The operator was told yes before the target answered.
			fmt.Fprintf(down.Stderr(), "postern: the target refused a terminal (pty-req); going on without one\r\n")
		}
		if !ok && start {
			return res, fmt.Errorf("the target refused the %s request", r.Type)
		}
	}

	var mu sync.Mutex
	// Target → operator: stdout here, stderr alongside; EOF, which covers
	// both streams, once both are done. The end of ctx closes the
	// target's channel, which ends both.
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		copyStream(down.Stderr(), up.Stderr(), h.Output, nil)
	}()
	// Operator → target.
	go func() {
		copyStream(up, down, h.Input, h.Rewrite)
		up.CloseWrite()
	}()
	// Requests both ways, in one goroutine: the operator's (window-change,
	// signal, keepalives, ...) to the target, the target's (exit-status,
	// exit-signal) back; the target's questions (keepalives) are answered
	// here.
	// Requests wanting an answer are forwarded by a goroutine of their
	// own, so that waiting for the answer never holds up the other
	// direction.
	reqDone := make(chan struct{}) // the target's requests have ended
	go func() {
		dr, ur := downReqs, upReqs
		for dr != nil || ur != nil {
			select {
			case r, ok := <-dr:
				if !ok {
					// The operator went away: close the target side so
					// nothing lingers.
					dr = nil
					up.Close()
					continue
				}
				h.observe(r.Type, r.Payload)
				forward(up, r)
			case r, ok := <-ur:
				if !ok {
					ur = nil
					close(reqDone)
					continue
				}
				if r.WantReply {
					// The target asks its client, the gateway; what it
					// sends a session for the operator (exit-status,
					// exit-signal) wants no answer. The one it does ask
					// (keepalive@openssh.com, ClientAliveInterval) is
					// about the connection, which other sessions may
					// share, and must not wait on this operator. The
					// gateway answers as OpenSSH's client does: with a
					// failure, which is an answer. The operator's
					// liveness is the gateway's own keepalive's business.
					r.Reply(false, nil)
					continue
				}
				mu.Lock()
				switch r.Type {
				case "exit-status":
					if len(r.Payload) >= 4 {
						res.ExitStatus = int(uint32(r.Payload[0])<<24 | uint32(r.Payload[1])<<16 | uint32(r.Payload[2])<<8 | uint32(r.Payload[3]))
					}
				case "exit-signal":
					var sig struct {
						Signal     string
						CoreDumped bool
						Msg, Lang  string
					}
					if ssh.Unmarshal(r.Payload, &sig) == nil {
						res.ExitSignal = sig.Signal
					}
				}
				mu.Unlock()
				forward(down, r)
			}
		}
	}()
	stop := context.AfterFunc(ctx, func() { up.Close() })
	defer stop()
	copyStream(down, up, h.Output, nil)
	<-errDone
	down.CloseWrite()
	if ctx.Err() == nil {
		// The target finished its output; exit-status arrives just before
		// or after, and then the target closes the channel.
		select {
		case <-reqDone:
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

// forward sends r on to ch, and its answer back when r wants one (then
// from a goroutine of its own, as the answer may take a while).
func forward(ch ssh.Channel, r *ssh.Request) {
	if !r.WantReply {
		ch.SendRequest(r.Type, false, r.Payload)
		return
	}
	go func() {
		ok, err := ch.SendRequest(r.Type, true, r.Payload)
		r.Reply(ok && err == nil, nil)
	}()
}

func (h Hooks) observe(typ string, payload []byte) {
	switch typ {
	case "pty-req":
		var p struct {
			Term                      string
			Cols, Rows, Width, Height uint32
			Modes                     string
		}
		if ssh.Unmarshal(payload, &p) == nil && h.Resize != nil {
			h.Resize(int(p.Cols), int(p.Rows))
		}
	case "window-change":
		var p struct{ Cols, Rows, Width, Height uint32 }
		if ssh.Unmarshal(payload, &p) == nil && h.Resize != nil {
			h.Resize(int(p.Cols), int(p.Rows))
		}
	}
}

// Copy buffers: an idle session must cost little memory, and bulk output
// (a 1 GB cat) must move in large reads, since SSH channel windows are
// 2 MiB. So every stream starts reading into a small buffer and switches to
// a large pooled one only while reads keep filling the small one, handing
// it back once the stream goes quiet again.
const (
	smallBuf = 1 << 10
	largeBuf = 256 << 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}

// copyStream copies src to dst, handing what passes to tap first and, when
// rewrite is set, sending through it. Tapping before passing on keeps the
// order in which the operator saw output and typed keys for the recording
// and the command audit: a key typed in answer to output can never be
// tapped before that output (it would be if output were tapped after it
// reached the operator).
func copyStream(dst io.Writer, src io.Reader, tap func([]byte), rewrite func([]byte, func([]byte) error) error) {
	small := make([]byte, smallBuf)
	buf := small
	var large *[]byte
	defer func() {
		if large != nil {
			bufPool.Put(large)
		}
	}()
	send := func(p []byte) error {
		if tap != nil {
			tap(p)
		}
		_, err := dst.Write(p)
		return err
	}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			var werr error
			if rewrite != nil {
				werr = rewrite(buf[:n], send)
			} else {
				werr = send(buf[:n])
			}
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		switch {
		case large == nil && n == len(small):
			large = bufPool.Get().(*[]byte)
			buf = *large
		case large != nil && n < smallBuf:
			bufPool.Put(large)
			large, buf = nil, small
		}
	}
}
