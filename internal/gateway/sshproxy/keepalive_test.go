package sshproxy

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// probeConn answers keepalives as told: at once, or never (a dead peer).
type probeConn struct {
	ssh.Conn
	dead   bool
	probes atomic.Int32
	block  chan struct{}
}

func (c *probeConn) SendRequest(string, bool, []byte) (bool, []byte, error) {
	c.probes.Add(1)
	if c.dead {
		<-c.block
	}
	return true, nil, nil
}

func TestKeepaliveDropsADeadPeer(t *testing.T) {
	c := &probeConn{dead: true, block: make(chan struct{})}
	defer close(c.block)
	lost := make(chan time.Time, 1)
	start := time.Now()
	stop := Keepalive(c, 20*time.Millisecond, 3, func() { lost <- time.Now() })
	defer stop()
	select {
	case at := <-lost:
		// The first probe at 20 ms, then three ticks that find it unanswered.
		if d := at.Sub(start); d < 70*time.Millisecond {
			t.Fatalf("declared lost after %v, before 3 probes could go unanswered", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a peer that never answers was not declared lost")
	}
	if n := c.probes.Load(); n != 1 {
		t.Fatalf("%d probes in flight at once; one waits for its answer, the rest count as missed", n)
	}
}

func TestKeepaliveKeepsALivePeerAndStops(t *testing.T) {
	c := &probeConn{}
	stop := Keepalive(c, 10*time.Millisecond, 2, func() { t.Error("a peer that answers was declared lost") })
	time.Sleep(150 * time.Millisecond)
	stop()
	n := c.probes.Load()
	if n < 3 {
		t.Fatalf("%d probes in 150 ms at a 10 ms interval", n)
	}
	time.Sleep(50 * time.Millisecond)
	if after := c.probes.Load(); after > n+1 {
		t.Fatalf("probes went on after stop: %d, then %d", n, after)
	}
}
