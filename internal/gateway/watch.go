package gateway

import (
	"sync"
)

// watchBacklog is how much recent output a new watcher is sent first, so
// the screen they join on shows what the operator sees.
const watchBacklog = 64 << 10

// fanout copies a live session's output to watchers. It keeps the last
// watchBacklog bytes for watchers who join later. Sends never block the
// session: a watcher too slow to keep up loses its stream (its channel is
// closed) rather than slowing the operator.
type fanout struct {
	mu      sync.Mutex
	backlog []byte
	subs    map[chan []byte]struct{}
	closed  bool
}

func newFanout() *fanout { return &fanout{subs: map[chan []byte]struct{}{}} }

// write is the session's output hook.
func (f *fanout) write(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.backlog = append(f.backlog, p...)
	if over := len(f.backlog) - watchBacklog; over > 0 {
		f.backlog = append(f.backlog[:0], f.backlog[over:]...)
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

// subscribe returns the backlog and a channel of further output, closed
// when the session ends or the watcher falls behind.
func (f *fanout) subscribe() ([]byte, chan []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan []byte, 256)
	if f.closed {
		close(c)
		return append([]byte(nil), f.backlog...), c
	}
	f.subs[c] = struct{}{}
	return append([]byte(nil), f.backlog...), c
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
