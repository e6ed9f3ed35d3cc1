package sshproxy

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testTarget runs an in-process SSH server that logs every client in
// (after delay) and hands each connection's channel opens to serve, and
// returns a dial function for it and the number of dials made.
func testTarget(t *testing.T, delay time.Duration, serve func(<-chan ssh.NewChannel)) (func() (*Client, error), *atomic.Int32) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true, NoClientAuthCallback: func(ssh.ConnMetadata) (*ssh.Permissions, error) {
		time.Sleep(delay)
		return nil, nil
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			go func() {
				_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				serve(chans)
			}()
		}
	}()
	var dials atomic.Int32
	return func() (*Client, error) {
		dials.Add(1)
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		c, chans, reqs, err := ssh.NewClientConn(a, "target", &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err != nil {
			return nil, err
		}
		return &Client{Client: ssh.NewClient(c, chans, reqs), stop: func() {}}, nil
	}, &dials
}

// silentTarget is a target that logs clients in and then never answers
// a channel open (after the first, with answerFirst), as a target whose
// connection has half died.
func silentTarget(t *testing.T, answerFirst bool) (func() (*Client, error), *atomic.Int32) {
	return testTarget(t, 0, func(chans <-chan ssh.NewChannel) {
		if answerFirst {
			if ch, r, err := (<-chans).Accept(); err == nil {
				go ssh.DiscardRequests(r)
				t.Cleanup(func() { ch.Close() })
			}
		}
		// Channel opens are never read.
	})
}

// slowTarget is a target whose logins take delay and which accepts every
// session.
func slowTarget(t *testing.T, delay time.Duration) (func() (*Client, error), *atomic.Int32) {
	return testTarget(t, delay, func(chans <-chan ssh.NewChannel) {
		for nch := range chans {
			if _, r, err := nch.Accept(); err == nil {
				go ssh.DiscardRequests(r)
			}
		}
	})
}

// A target that never confirms a session does not hang the operator:
// the open gives up, and that connection takes no more sessions.
func TestPoolGivesUpOnASilentTarget(t *testing.T) {
	dial, dials := silentTarget(t, false)
	p := NewPool()
	p.OpenTimeout = 100 * time.Millisecond
	start := time.Now()
	_, _, _, err := p.Session("k", dial)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("session on a silent target: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if _, _, _, err := p.Session("k", dial); err == nil {
		t.Fatal("a second session on a silent target opened")
	}
	if dials.Load() != 2 {
		t.Fatalf("%d dials for two sessions; the silent connection must not be reused", dials.Load())
	}
	if n := p.connections(); n != 0 {
		t.Fatalf("%d connections kept after the sessions failed", n)
	}
}

// A connection that went silent while one of its sessions lives on takes
// no more sessions: the next one goes to a new connection at once instead
// of trying the silent one again and again.
func TestPoolLeavesASilentConnectionInUse(t *testing.T) {
	dial, dials := silentTarget(t, true)
	p := NewPool()
	p.OpenTimeout = 100 * time.Millisecond
	first, _, _, err := p.Session("k", dial)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	done := make(chan error, 1)
	go func() {
		l, _, _, err := p.Session("k", dial)
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second session: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second session keeps trying the silent connection")
	}
	if dials.Load() != 2 {
		t.Fatalf("%d dials; the second session belongs on a new connection", dials.Load())
	}
}

// burst starts n sessions of key at once and returns their leases and
// errors, in no order.
func burst(p *Pool, n int, key string, dial func() (*Client, error)) ([]*Lease, []error) {
	type result struct {
		l   *Lease
		err error
	}
	out := make(chan result, n)
	for range n {
		go func() {
			l, _, _, err := p.Session(key, dial)
			out <- result{l, err}
		}()
	}
	var leases []*Lease
	var errs []error
	for range n {
		r := <-out
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			leases = append(leases, r.l)
		}
	}
	return leases, errs
}

// whenWaiting returns dial made to wait until n sessions of key are on
// the connection being dialled, so that a test's burst is all there
// however slowly its goroutines start.
func whenWaiting(t *testing.T, p *Pool, key string, n int, dial func() (*Client, error)) func() (*Client, error) {
	var all atomic.Bool // they were: every dial may go on, then and later
	return func() (*Client, error) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			p.mu.Lock()
			waiting := 0
			for _, c := range p.conns[key] {
				if c.dialing() {
					waiting += c.sessions
				}
			}
			p.mu.Unlock()
			if all.Load() || waiting >= n {
				all.Store(true)
				return dial()
			}
			if time.Now().After(deadline) {
				t.Errorf("%d sessions waiting for the dial, want %d", waiting, n)
				return dial()
			}
		}
	}
}

// Sessions that come while their connection is being dialled wait for it:
// a burst logs in once.
func TestPoolBurstLogsInOnce(t *testing.T) {
	dial, dials := slowTarget(t, 0)
	p := NewPool()
	leases, errs := burst(p, 6, "k", whenWaiting(t, p, "k", 6, dial))
	if len(errs) > 0 {
		t.Fatalf("sessions failed: %v", errs)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials for a burst of 6 sessions", n)
	}
	for _, l := range leases {
		l.Close()
	}
	if n := p.connections(); n != 0 {
		t.Fatalf("%d connections kept after every session ended", n)
	}
}

// A burst larger than a target takes sessions on one connection goes on
// to more connections, and no session fails: the one that dialled opens
// its own first, before those that waited take the rest.
func TestPoolBurstOverTheSessionLimit(t *testing.T) {
	const limit = 3
	dial, dials := testTarget(t, 0, func(chans <-chan ssh.NewChannel) {
		n := 0
		for nch := range chans {
			if n++; n > limit {
				nch.Reject(ssh.ResourceShortage, "too many sessions")
				continue
			}
			if _, r, err := nch.Accept(); err == nil {
				go ssh.DiscardRequests(r)
			}
		}
	})
	for round := range 10 {
		p := NewPool()
		leases, errs := burst(p, 4*limit, "k", dial)
		if len(errs) > 0 {
			t.Fatalf("round %d: %d of %d sessions failed: %v", round, len(errs), 4*limit, errs[0])
		}
		for _, l := range leases {
			l.Close()
		}
	}
	if n := dials.Load(); n < 40 {
		t.Fatalf("%d dials for 10 bursts of %d sessions at %d a connection", n, 4*limit, limit)
	}
}

// A dial that fails fails every session that waited for it, with its
// error, and leaves nothing in the pool.
func TestPoolBurstSharesAFailedDial(t *testing.T) {
	var dials atomic.Int32
	p := NewPool()
	dial := whenWaiting(t, p, "k", 5, func() (*Client, error) {
		dials.Add(1)
		return nil, errors.New("cannot log in to the target")
	})
	_, errs := burst(p, 5, "k", dial)
	if len(errs) != 5 {
		t.Fatalf("%d of 5 sessions failed", len(errs))
	}
	for _, err := range errs {
		if err.Error() != "cannot log in to the target" {
			t.Fatalf("a waiting session failed with %q", err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials for a burst of 5 sessions", n)
	}
	if n := p.connections(); n != 0 {
		t.Fatalf("%d connections kept after a failed dial", n)
	}
	// The next session dials again.
	if _, _, _, err := p.Session("k", func() (*Client, error) { dials.Add(1); return nil, errors.New("again") }); err == nil || dials.Load() != 2 {
		t.Fatalf("session after the failed dial: %v, %d dials", err, dials.Load())
	}
}

// No more than maxWaiting sessions wait for one dial; the rest dial too.
func TestPoolWaitingIsBounded(t *testing.T) {
	dial, dials := slowTarget(t, 0)
	p := NewPool()
	n := maxWaiting + 2
	leases, errs := burst(p, n, "k", whenWaiting(t, p, "k", n, dial))
	if len(errs) > 0 {
		t.Fatalf("sessions failed: %v", errs)
	}
	if d := dials.Load(); d != 2 {
		t.Fatalf("%d dials for %d sessions at once, want 2 (at most %d wait for one)", d, n, maxWaiting)
	}
	for _, l := range leases {
		l.Close()
	}
}

// connections returns how many target connections the pool holds.
func (p *Pool) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.conns {
		n += len(l)
	}
	return n
}
