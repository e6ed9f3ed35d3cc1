package gateway

import (
	"sync"
)

// watchBacklog is how much recent output a new watcher of a session
// without a terminal emulator (an exec) is sent first, so the screen they
// join on shows what the operator sees.
const watchBacklog = 64 << 10

// fanout copies a live session's output to watchers. It keeps the last
// watchBacklog bytes for watchers who join later. Sends never block the
// session: a watcher too slow to keep up loses its stream (its channel is
// closed) rather than slowing the operator.
type fanout struct {
	mu sync.Mutex
	// feed, snap and settle, set by follow for interactive sessions, are
	// the terminal emulator that follows the session: fed each output
	// under mu, so that a snapshot and the updates after it fit exactly,
	// and settled (its commands delivered) after mu is let go.
	feed   func([]byte)
	snap   func() []byte
	settle func()
	ring   []byte // the last watchBacklog bytes, grown as output arrives
	next   int    // where the next byte goes in ring
	full   bool   // ring has wrapped at least once
	subs   map[chan []byte]struct{}
	closed bool
}

func newFanout() *fanout { return &fanout{subs: map[chan []byte]struct{}{}} }

// keep copies p into the ring: a constant cost per byte however long the
// session, so bulk output is not slowed by watching being possible. The
// ring grows to watchBacklog only as output arrives, so an idle session
// holds little.
func (f *fanout) keep(p []byte) {
	if !f.full && len(f.ring) < watchBacklog {
		if room := watchBacklog - len(f.ring); len(p) <= room {
			f.ring = append(f.ring, p...)
			f.next = len(f.ring) % watchBacklog
			f.full = len(f.ring) == watchBacklog
			return
		}
		grown := make([]byte, watchBacklog)
		copy(grown, f.ring)
		f.next = len(f.ring)
		f.ring = grown
	}
	if len(p) >= len(f.ring) {
		copy(f.ring, p[len(p)-len(f.ring):])
		f.next, f.full = 0, true
		return
	}
	n := copy(f.ring[f.next:], p)
	if n < len(p) {
		copy(f.ring, p[n:])
	}
	if f.next+len(p) >= len(f.ring) {
		f.full = true
	}
	f.next = (f.next + len(p)) % len(f.ring)
}

// backlog returns the kept output in order.
func (f *fanout) backlog() []byte {
	if !f.full {
		if len(f.ring) < watchBacklog {
			return append([]byte(nil), f.ring...)
		}
		return append([]byte(nil), f.ring[:f.next]...)
	}
	out := make([]byte, 0, len(f.ring))
	out = append(out, f.ring[f.next:]...)
	return append(out, f.ring[:f.next]...)
}

// follow has the output go through feed, a terminal emulator, and new
// watchers start from snap, its current screen, instead of the recent
// output (which may not redraw the screen: a full-screen program that
// drew it long ago only sends changes). Call it before output starts.
func (f *fanout) follow(feed func([]byte), snap func() []byte, settle func()) {
	f.mu.Lock()
	f.feed, f.snap, f.settle = feed, snap, settle
	f.mu.Unlock()
}

// write is the session's output hook.
func (f *fanout) write(p []byte) {
	f.mu.Lock()
	settle := f.settle
	f.send(p)
	f.mu.Unlock()
	if settle != nil {
		settle()
	}
}

// send feeds, keeps and fans out p, under mu.
func (f *fanout) send(p []byte) {
	if f.feed != nil {
		f.feed(p)
	}
	if f.closed {
		return
	}
	if f.snap == nil {
		f.keep(p)
	}
	if len(f.subs) == 0 {
		return
	}
	chunk := append([]byte(nil), p...)
	for c := range f.subs {
		select {
		case c <- chunk:
		default:
			delete(f.subs, c)
			close(c)
		}
	}
}

// subscribe returns the screen to draw first (the emulator's, or the
// recent output) and a channel of further output, closed when the session
// ends or the watcher falls behind.
func (f *fanout) subscribe() ([]byte, chan []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first []byte
	if f.snap != nil {
		first = f.snap()
	} else {
		first = f.backlog()
	}
	c := make(chan []byte, 256)
	if f.closed {
		close(c)
		return first, c
	}
	f.subs[c] = struct{}{}
	return first, c
}

func (f *fanout) unsubscribe(c chan []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[c]; ok {
		delete(f.subs, c)
		close(c)
	}
}

func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.subs {
		close(c)
	}
	f.subs = nil
}

// Watch joins a live session held by this gateway as a watcher: screen is
// the recent output to draw first, updates carries what follows until the
// session ends, and stop leaves. ok is false when the session is not live
// here.
func (s *Server) Watch(sessionID string) (screen []byte, updates <-chan []byte, stop func(), ok bool) {
	s.mu.Lock()
	l := s.live[sessionID]
	s.mu.Unlock()
	if l == nil || l.watch == nil {
		return nil, nil, nil, false
	}
	screen, c := l.watch.subscribe()
	return screen, c, func() { l.watch.unsubscribe(c) }, true
}

// Live is the number of sessions this gateway holds now.
func (s *Server) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}
