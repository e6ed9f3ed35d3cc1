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
// logs clients in and then never answers a channel open, as a target
// whose connection has half died, and the number of dials made.
func silentTarget(t *testing.T) (func() (*Client, error), *int) {
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
				if _, _, reqs, err := ssh.NewServerConn(nc, cfg); err == nil {
					go ssh.DiscardRequests(reqs)
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
	dial, dials := silentTarget(t)
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
