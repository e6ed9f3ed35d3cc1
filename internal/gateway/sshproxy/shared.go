package sshproxy

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Pool lets sessions share target connections, as OpenSSH's ControlMaster
// does: a session to a target that already has a logged-in connection
// under the same key opens a channel on it instead of logging in again.
// That saves the target a login and the gateway most of a connection's
// memory (goroutines, buffers, cipher state) per session. The caller
// chooses the key; the gateway uses one per operator, target and
// credential, so sessions are only ever shared among one operator's own,
// and a changed credential starts new connections.
//
// Sessions that come while a connection of their key is being dialled
// wait for it rather than dial their own, up to maxWaiting of them, so
// that a burst of sessions (a script's parallel runs) logs in once; if
// that dial fails, they fail with its error, which a dial of their own
// would have had too.
//
// A connection takes sessions until the target refuses one (OpenSSH's
// MaxSessions, 10 by default), then new sessions go to another; it is
// closed when its last session ends. Sessions on one connection end
// separately, except when the connection itself dies, which ends all of
// them.
type Pool struct {
	// OpenTimeout bounds the wait for the target to confirm a session
	// channel (default 10 s): a connection that does not answer in time
	// takes no more sessions, and the session goes to a new one.
	OpenTimeout time.Duration

	mu    sync.Mutex
	conns map[string][]*pooled
}

type pooled struct {
	ready    chan struct{} // closed once the dial and the first open are done
	c        *Client       // set before ready is closed, if the dial worked
	err      error         // the dial's or the first open's error, once ready
	sessions int
	full     bool // refused a session, or its dial failed: takes no more
}

// dialing reports whether c's dial and first open are still under way.
func (c *pooled) dialing() bool {
	select {
	case <-c.ready:
		return false
	default:
		return true
	}
}

// NewPool returns an empty Pool.
func NewPool() *Pool { return &Pool{conns: map[string][]*pooled{}} }

// Lease is one session's share of a pooled connection.
type Lease struct {
	p    *Pool
	key  string
	pc   *pooled
	once sync.Once
}

// maxWaiting is how many sessions may wait for one connection being
// dialled: OpenSSH's default MaxSessions. Sessions past it dial a
// connection of their own, as they would be refused on the first anyway.
const maxWaiting = 10

// Session opens a session channel on a connection of key's that has room,
// or on a new one from dial, and returns it with its requests and the
// lease to give back with Close when the session ends.
//
// The session that dials opens its channel on the new connection before
// any session waiting for it, and an error, from the dial or from that
// first open (a target that takes no session at all), is returned as it
// is to every session that waited. The dial must not be cut short by the
// end of one session alone (its context): other sessions may be waiting
// for it.
func (p *Pool) Session(key string, dial func() (*Client, error)) (*Lease, ssh.Channel, <-chan *ssh.Request, error) {
	for {
		p.mu.Lock()
		var pc *pooled
		for _, c := range p.conns[key] {
			if !c.full && !(c.sessions >= maxWaiting && c.dialing()) {
				pc = c
				break
			}
		}
		fresh := pc == nil
		if fresh {
			pc = &pooled{ready: make(chan struct{})}
			p.conns[key] = append(p.conns[key], pc)
		}
		pc.sessions++
		p.mu.Unlock()
		l := &Lease{p: p, key: key, pc: pc}
		if fresh {
			ch, reqs, err := p.first(pc, dial)
			if err != nil {
				l.Close()
				return nil, nil, nil, err
			}
			return l, ch, reqs, nil
		}
		<-pc.ready
		if pc.err != nil {
			l.Close()
			return nil, nil, nil, pc.err
		}
		ch, reqs, err := p.open(pc.c)
		if err == nil {
			return l, ch, reqs, nil
		}
		p.mu.Lock()
		// Refused (the target's session limit) or dead: either way the
		// next session goes elsewhere.
		pc.full = true
		p.mu.Unlock()
		l.Close()
	}
}

// first dials pc's connection and opens the first session channel on it,
// then lets the sessions waiting for pc go on; a failure is pc's error for
// them too, and takes pc out of use.
func (p *Pool) first(pc *pooled, dial func() (*Client, error)) (ch ssh.Channel, reqs <-chan *ssh.Request, err error) {
	defer func() {
		if err == nil && pc.c == nil {
			err = errors.New("the connection to the target could not be made") // dial panicked
		}
		pc.err = err
		if err != nil {
			p.mu.Lock()
			pc.full = true
			p.mu.Unlock()
		}
		close(pc.ready)
	}()
	if pc.c, err = dial(); err != nil {
		return nil, nil, err
	}
	if ch, reqs, err = p.open(pc.c); err != nil {
		return nil, nil, errRefused(err)
	}
	return ch, reqs, nil
}

// open opens a session channel on c within OpenTimeout. A channel the
// target confirms after the wait was given up is closed.
func (p *Pool) open(c *Client) (ssh.Channel, <-chan *ssh.Request, error) {
	type opened struct {
		ch   ssh.Channel
		reqs <-chan *ssh.Request
		err  error
	}
	done := make(chan opened, 1)
	go func() {
		ch, reqs, err := c.OpenChannel("session", nil)
		done <- opened{ch, reqs, err}
	}()
	wait := p.OpenTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case o := <-done:
		return o.ch, o.reqs, o.err
	case <-t.C:
		go func() {
			if o := <-done; o.err == nil {
				o.ch.Close()
				go ssh.DiscardRequests(o.reqs)
			}
		}()
		return nil, nil, errors.New("the target did not answer within " + wait.String())
	}
}

func errRefused(err error) error {
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		return errors.New("the target refused a session: " + oce.Message)
	}
	return errors.New("the target refused a session: " + err.Error())
}

// Close gives the lease back, closing the connection if it was its last
// session. Calling it again does nothing.
func (l *Lease) Close() {
	l.once.Do(func() {
		p := l.p
		p.mu.Lock()
		l.pc.sessions--
		last := l.pc.sessions == 0
		if last {
			list := p.conns[l.key]
			for i, c := range list {
				if c == l.pc {
					list = append(list[:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(p.conns, l.key)
			} else {
				p.conns[l.key] = list
			}
		}
		p.mu.Unlock()
		if last && l.pc.c != nil {
			l.pc.c.Close()
		}
	})
}
