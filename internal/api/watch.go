package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/postern/postern/internal/fault"
)

// WatchControl is a message a watcher sends over the watch WebSocket.
type WatchControl struct {
	Type string `json:"type"` // "terminate"
}

// WatchEvent is a text message the server sends besides the binary
// frames of terminal output.
type WatchEvent struct {
	Type   string `json:"type"` // "end", "terminated", "error"
	Detail string `json:"detail,omitempty"`
}

func (s *Server) registerWatch() {
	s.add(&Route{Method: "GET", Path: "/api/v2/terminal/sessions/{id}/watch/", Tag: "terminal", Roles: auditReaders,
		Summary: "Watch a live session over a WebSocket: binary frames carry the terminal output (the recent screen first); " +
			`send {"type":"terminate"} to end the session (administrators)`,
		Reply: []byte{},
		Handle: func(c *call) (any, error) {
			ss, err := s.db.Session(c.ctx(), c.id())
			if err != nil {
				return nil, fault.NotFoundOr(err, "session")
			}
			if ss.IsFinished {
				return nil, fault.Errorf(fault.Conflict, "", "the session has ended; replay it instead")
			}
			if s.cfg.Sessions == nil {
				return nil, fault.Errorf(fault.Conflict, "", "no gateway holds this session live")
			}
			screen, updates, stop, ok := s.cfg.Sessions.Watch(ss.ID)
			if !ok {
				return nil, fault.Errorf(fault.Conflict, "", "no gateway holds this session live")
			}
			return rawReply(func(w http.ResponseWriter) {
				defer stop()
				conn, err := websocket.Accept(w, c.r, nil)
				if err != nil {
					return
				}
				defer conn.CloseNow()
				s.cfg.Logger.Info("live watch started", "session", ss.ID, "watcher", c.user.Username)
				s.serveWatch(c, conn, ss.ID, screen, updates)
			}), nil
		}})
}

func (s *Server) serveWatch(c *call, conn *websocket.Conn, sessionID string, screen []byte, updates <-chan []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	send := func(p []byte) bool {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		return conn.Write(wctx, websocket.MessageBinary, p) == nil
	}
	event := func(e WatchEvent) {
		b, _ := json.Marshal(e)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		conn.Write(wctx, websocket.MessageText, b)
	}
	// Control messages from the watcher.
	go func() {
		defer cancel()
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var m WatchControl
			if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
				continue
			}
			if m.Type != "terminate" {
				continue
			}
			if c.user.Role != "admin" {
				event(WatchEvent{Type: "error", Detail: "only an administrator may terminate a session"})
				continue
			}
			if s.cfg.Sessions.Terminate(ctx, sessionID, c.user.Username, 3*time.Second) {
				event(WatchEvent{Type: "terminated", Detail: "terminated by " + c.user.Username})
			}
		}
	}()
	if len(screen) > 0 && !send(screen) {
		return
	}
	for {
		select {
		case p, ok := <-updates:
			if !ok {
				event(WatchEvent{Type: "end", Detail: "the session ended"})
				conn.Close(websocket.StatusNormalClosure, "session ended")
				return
			}
			if !send(p) {
				return
			}
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}
