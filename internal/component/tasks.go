package component

import (
	"context"
	"sync"
	"time"

	"github.com/postern/postern/internal/gateway"
)

// Hub carries tasks from the core to the gateways listening to it, such
// as "terminate this session". Every gateway gets every task and acts on
// those about sessions it holds.
type Hub struct {
	mu       sync.Mutex
	subs     map[chan gateway.Task]struct{}
	watchers []Watcher
}

// Watcher is a gateway that lets others watch its live sessions.
type Watcher interface {
	Watch(sessionID string) (screen []byte, updates <-chan []byte, stop func(), ok bool)
}

// AddWatcher registers an in-process gateway for live watching.
func (h *Hub) AddWatcher(w Watcher) {
	h.mu.Lock()
	h.watchers = append(h.watchers, w)
	h.mu.Unlock()
}

// Watch joins a live session on whichever gateway holds it.
func (h *Hub) Watch(sessionID string) (screen []byte, updates <-chan []byte, stop func(), ok bool) {
	h.mu.Lock()
	ws := append([]Watcher(nil), h.watchers...)
	h.mu.Unlock()
	for _, w := range ws {
		if screen, updates, stop, ok := w.Watch(sessionID); ok {
			return screen, updates, stop, true
		}
	}
	return nil, nil, nil, false
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan gateway.Task]struct{}{}} }

// subscribe returns a channel of tasks until ctx ends.
func (h *Hub) subscribe(ctx context.Context) <-chan gateway.Task {
	c := make(chan gateway.Task, 16)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}()
	return c
}

// Terminate asks the gateways to end a live session and waits up to
// timeout for one to confirm it did. It reports whether one did.
func (h *Hub) Terminate(ctx context.Context, sessionID, by string, timeout time.Duration) bool {
	done := make(chan struct{}, 1)
	task := gateway.Task{Kind: gateway.TaskTerminate, SessionID: sessionID, By: by, Done: func() {
		select {
		case done <- struct{}{}:
		default:
		}
	}}
	h.mu.Lock()
	for c := range h.subs {
		select {
		case c <- task:
		default: // a gateway that is not reading must not stall the API
		}
	}
	h.mu.Unlock()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	return false
}
