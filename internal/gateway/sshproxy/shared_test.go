package sshproxy

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// silentTarget returns a dial function for an in-process SSH server that
// logs clients in and then never answers a channel open (after the first,
// with answerFirst), as a target whose connection has half died, and the
// number of dials made.
func silentTarget(t *testing.T, answerFirst bool) (func() (*Client, error), *int) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
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
				// Logged in, then nothing: channel opens are never read.
				_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				if answerFirst {
					if ch, r, err := (<-chans).Accept(); err == nil {
						go ssh.DiscardRequests(r)
						t.Cleanup(func() { ch.Close() })
					}
				}
			}()
		}
	}()
	dials := 0
	return func() (*Client, error) {
		dials++
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
	if *dials != 2 {
		t.Fatalf("%d dials for two sessions; the silent connection must not be reused", *dials)
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
	if *dials != 2 {
		t.Fatalf("%d dials; the second session belongs on a new connection", *dials)
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
