package api

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/recording"
	"github.com/postern/postern/internal/store"
)

// LoginLogOut is one login attempt.
type LoginLogOut struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Type      string  `json:"type"`
	Method    string  `json:"method"`
	IP        string  `json:"ip"`
	UserAgent string  `json:"user_agent"`
	MFA       bool    `json:"mfa"`
	Status    bool    `json:"status"`
	Reason    string  `json:"reason"`
	Datetime  *string `json:"datetime"`
}

// OperateLogOut is one administrative change.
type OperateLogOut struct {
	ID           int64           `json:"id"`
	User         string          `json:"user"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	Resource     string          `json:"resource"`
	Diff         json.RawMessage `json:"diff"`
	RemoteAddr   string          `json:"remote_addr"`
	Datetime     *string         `json:"datetime"`
}

// SessionOut is one connection through the gateway.
type SessionOut struct {
	ID           string  `json:"id"`
	User         string  `json:"user"`
	UserID       string  `json:"user_id"`
	Asset        string  `json:"asset"`
	AssetID      string  `json:"asset_id"`
	SystemUser   string  `json:"system_user"`
	SystemUserID string  `json:"system_user_id"`
	Protocol     string  `json:"protocol"`
	LoginFrom    string  `json:"login_from"`
	RemoteAddr   string  `json:"remote_addr"`
	StartTime    *string `json:"start_time"`
	EndTime      *string `json:"end_time"`
	IsFinished   bool    `json:"is_finished"`
	IsSuccess    bool    `json:"is_success"`
	HasReplay    bool    `json:"has_replay"`
	Reason       string  `json:"reason"`
	TerminatedBy string  `json:"terminated_by"`
}

func sessionOut(s store.Session) SessionOut {
	return SessionOut{ID: s.ID, User: s.Username, UserID: s.UserID, Asset: s.Asset, AssetID: s.AssetID, SystemUser: s.SystemUser,
		SystemUserID: s.SystemUserID, Protocol: s.Protocol, LoginFrom: s.LoginFrom, RemoteAddr: s.RemoteAddr,
		StartTime: outTime(s.StartTime), EndTime: outTime(s.EndTime), IsFinished: s.IsFinished, IsSuccess: s.IsSuccess,
		HasReplay: s.HasReplay, Reason: s.Reason, TerminatedBy: s.TerminatedBy}
}

// CommandOut is one command run in a session.
type CommandOut struct {
	ID           int64   `json:"id"`
	Session      string  `json:"session"`
	User         string  `json:"user"`
	UserID       string  `json:"user_id"`
	Asset        string  `json:"asset"`
	AssetID      string  `json:"asset_id"`
	SystemUser   string  `json:"system_user"`
	SystemUserID string  `json:"system_user_id"`
	Input        string  `json:"input"`
	Output       string  `json:"output"`
	RiskLevel    int     `json:"risk_level"`
	Action       string  `json:"action"`
	Timestamp    *string `json:"timestamp"`
}

// FTPLogOut is one file operation through the gateway.
type FTPLogOut struct {
	ID         int64   `json:"id"`
	Session    string  `json:"session"`
	User       string  `json:"user"`
	Asset      string  `json:"asset"`
	SystemUser string  `json:"system_user"`
	RemoteAddr string  `json:"remote_addr"`
	Operation  string  `json:"operation"`
	Path       string  `json:"path"`
	Path2      string  `json:"path2"`
	Size       int64   `json:"size"`
	SHA256     string  `json:"sha256"`
	IsSuccess  bool    `json:"is_success"`
	Reason     string  `json:"reason"`
	Datetime   *string `json:"datetime"`
}

// Health is the answer of /api/health/.
type Health struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Version  string `json:"version"`
}

func (s *Server) registerAudit() {
	s.add(&Route{Method: "GET", Path: "/api/v2/audits/login-logs/", Tag: "audits", Roles: auditReaders,
		Summary: "Login attempts, good and bad, with address, method and reason", Reply: LoginLogOut{}, List: store.LoginLogSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			ls, n, err := s.db.LoginLogs(c.ctx(), q, "")
			out := make([]LoginLogOut, len(ls))
			for i, l := range ls {
				out[i] = LoginLogOut{l.ID, l.Username, l.Type, l.Method, l.IP, l.UserAgent, l.MFA, l.Status, l.Reason, outTime(l.Datetime)}
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/audits/operate-logs/", Tag: "audits", Roles: auditReaders,
		Summary: "Administrative changes: who created, updated or deleted what, and what changed (secrets redacted)",
		Reply:   OperateLogOut{}, List: store.OperateLogSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			ls, n, err := s.db.OperateLogs(c.ctx(), q)
			out := make([]OperateLogOut, len(ls))
			for i, l := range ls {
				out[i] = OperateLogOut{l.ID, l.Username, l.Action, l.ResourceType, l.ResourceID, l.Resource, json.RawMessage(l.Diff), l.RemoteAddr, outTime(l.Datetime)}
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/terminal/sessions/", Tag: "terminal", Roles: anyone,
		Summary: "Sessions through the gateway (a user sees only their own)", Reply: SessionOut{}, List: store.SessionSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			ss, n, err := s.db.Sessions(c.ctx(), q, c.ownRows())
			out := make([]SessionOut, len(ss))
			for i := range ss {
				out[i] = sessionOut(ss[i])
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/terminal/sessions/{id}/", Tag: "terminal", Roles: anyone,
		Summary: "Read a session (a user only their own)", Reply: SessionOut{},
		Handle: func(c *call) (any, error) {
			ss, err := s.db.Session(c.ctx(), c.id())
			if err != nil || (c.ownRows() != "" && ss.UserID != c.ownRows()) {
				return nil, fault.Errorf(fault.NotFound, "", "no such session")
			}
			return sessionOut(ss), nil
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/terminal/sessions/{id}/replay/", Tag: "terminal", Roles: auditReaders,
		Summary: "The session's recording, asciicast v2 (plays in asciinema and asciinema-player)", Reply: []byte{},
		Handle: func(c *call) (any, error) {
			ss, err := s.db.Session(c.ctx(), c.id())
			if err != nil {
				return nil, fault.NotFoundOr(err, "session")
			}
			if s.cfg.RecordingsDir == "" {
				return nil, fault.Errorf(fault.NotFound, "", "this server keeps no recordings")
			}
			rc, err := recording.Open(s.cfg.RecordingsDir, ss.ID)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fault.Errorf(fault.NotFound, "", "this session has no recording")
			}
			if err != nil {
				return nil, err
			}
			return rawReply(func(w http.ResponseWriter) {
				defer rc.Close()
				w.Header().Set("Content-Type", "application/x-asciicast")
				w.Header().Set("Content-Disposition", `attachment; filename="`+ss.ID+`.cast"`)
				io.Copy(w, rc)
			}), nil
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/terminal/sessions/{id}/terminate/", Tag: "terminal", Roles: adminOnly,
		Summary: "End a live session within a second; the session records who ended it", Reply: SessionOut{},
		Handle: func(c *call) (any, error) {
			ss, err := s.db.Session(c.ctx(), c.id())
			if err != nil {
				return nil, fault.NotFoundOr(err, "session")
			}
			if ss.IsFinished {
				return nil, fault.Errorf(fault.Conflict, "", "the session has already ended")
			}
			if s.cfg.Sessions == nil || !s.cfg.Sessions.Terminate(c.ctx(), ss.ID, c.user.Username, 3*time.Second) {
				return nil, fault.Errorf(fault.Conflict, "", "no gateway holds this session live")
			}
			// The gateway records the ending as it closes the session;
			// wait briefly so the answer shows it.
			for i := 0; i < 20; i++ {
				if ss, err = s.db.Session(c.ctx(), ss.ID); err != nil || ss.IsFinished {
					break
				}
				time.Sleep(25 * time.Millisecond)
			}
			if err != nil {
				return nil, err
			}
			return sessionOut(ss), nil
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/terminal/commands/", Tag: "terminal", Roles: anyone,
		Summary: "Commands run in sessions, searchable by text, session, user, asset, risk and time (a user sees only their own)",
		Reply:   CommandOut{}, List: store.CommandSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			cs, n, err := s.db.Commands(c.ctx(), q, c.ownRows())
			out := make([]CommandOut, len(cs))
			for i, x := range cs {
				out[i] = CommandOut{x.ID, x.SessionID, x.Username, x.UserID, x.Asset, x.AssetID, x.SystemUser, x.SystemUserID,
					x.Input, x.Output, x.RiskLevel, x.Action, outTime(x.Timestamp)}
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/audits/ftp-logs/", Tag: "audits", Roles: anyone,
		Summary: "File operations through the gateway (upload, download, delete, ...) with size and SHA-256 (a user sees only their own)",
		Reply:   FTPLogOut{}, List: store.FTPLogSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			fs, n, err := s.db.FTPLogs(c.ctx(), q, c.ownRows())
			out := make([]FTPLogOut, len(fs))
			for i, f := range fs {
				out[i] = FTPLogOut{f.ID, f.SessionID, f.Username, f.Asset, f.SystemUser, f.RemoteAddr, f.Operation, f.Path, f.Path2,
					f.Size, f.SHA256, f.IsSuccess, f.Reason, outTime(f.Datetime)}
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/health/", Tag: "system", Public: true,
		Summary: "Liveness and database reachability", Reply: Health{},
		Handle: func(c *call) (any, error) {
			h := Health{Status: "ok", Database: "ok", Version: s.cfg.Version}
			if err := s.db.Ping(c.ctx()); err != nil {
				h.Status, h.Database = "degraded", "unreachable"
			}
			return h, nil
		}})
}

func (s *Server) register() {
	s.registerIdentity()
	s.registerInventory()
	s.registerPerms()
	s.registerAudit()
	s.registerACLs()
	s.registerWatch()
	s.registerDocs()
	s.mux.Handle("GET /metrics", s.metrics)
}

// ownRows is the user whose rows alone a caller may see in audit data
// (sessions, commands, file transfers): their own id for a plain user, ""
// (everyone's) for an auditor or an administrator.
func (c *call) ownRows() string {
	if roleBit(c.user.Role)&auditReaders == 0 {
		return c.user.ID
	}
	return ""
}
