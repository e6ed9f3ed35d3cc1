package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// LoginLog is one login attempt, good or bad.
type LoginLog struct {
	ID                                            int64
	Username, UserID, Type, Method, IP, UserAgent string
	MFA, Status                                   bool
	Reason                                        string
	Datetime                                      time.Time
}

// LoginLogSchema is the list contract of login logs.
var LoginLogSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "l.id", Type: query.Int, Sort: true, Filter: true},
		{Name: "username", Column: "l.username", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "user_id", Column: "l.user_id", Type: query.ID, Filter: true},
		{Name: "type", Column: "l.type", Type: query.String, Sort: true, Filter: true},
		{Name: "method", Column: "l.method", Type: query.String, Sort: true, Filter: true},
		{Name: "ip", Column: "l.ip", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "status", Column: "l.status", Type: query.Bool, Sort: true, Filter: true},
		{Name: "reason", Column: "l.reason", Type: query.String, Search: true, Filter: true},
		{Name: "datetime", Column: "l.datetime", Type: query.Time, Sort: true, Filter: true, NotNull: true},
	},
	DefaultOrder: "-datetime",
	Tiebreak:     "l.id",
}

// AddLoginLog appends a login log row.
func (db *DB) AddLoginLog(ctx context.Context, l *LoginLog) error {
	_, err := db.exec(ctx, `INSERT INTO login_logs (username, user_id, type, method, ip, user_agent, mfa, status, reason, datetime)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.Username, l.UserID, l.Type, l.Method, l.IP, l.UserAgent, l.MFA, l.Status, l.Reason, Time(l.Datetime))
	return err
}

// LoginLogs lists login logs; userID, when not "", keeps that user's.
func (db *DB) LoginLogs(ctx context.Context, q query.Query, userID string) ([]LoginLog, int, error) {
	ls := listSpec{from: "login_logs l", cols: "l.id, l.username, l.user_id, l.type, l.method, l.ip, l.user_agent, l.mfa, l.status, l.reason, l.datetime"}
	if userID != "" {
		ls.and("l.user_id = ?", userID)
	}
	var out []LoginLog
	n, err := list(ctx, db, LoginLogSchema, q, ls, func(r *sql.Rows) error {
		var l LoginLog
		var dt sql.NullString
		err := r.Scan(&l.ID, &l.Username, &l.UserID, &l.Type, &l.Method, &l.IP, &l.UserAgent, &l.MFA, &l.Status, &l.Reason, &dt)
		l.Datetime = parseTime(dt)
		out = append(out, l)
		return err
	})
	return out, n, err
}

// OperateLog is one create, update or delete by an administrator.
type OperateLog struct {
	ID                                                 int64
	UserID, Username, Action, ResourceType, ResourceID string
	Resource, Diff, RemoteAddr                         string
	Datetime                                           time.Time
}

// OperateLogSchema is the list contract of operate logs.
var OperateLogSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "o.id", Type: query.Int, Sort: true, Filter: true},
		{Name: "user", Column: "o.username", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "action", Column: "o.action", Type: query.String, Sort: true, Filter: true},
		{Name: "resource_type", Column: "o.resource_type", Type: query.String, Sort: true, Filter: true},
		{Name: "resource_id", Column: "o.resource_id", Type: query.ID, Filter: true},
		{Name: "resource", Column: "o.resource", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "remote_addr", Column: "o.remote_addr", Type: query.String, Filter: true},
		{Name: "datetime", Column: "o.datetime", Type: query.Time, Sort: true, Filter: true, NotNull: true},
	},
	DefaultOrder: "-datetime",
	Tiebreak:     "o.id",
}

// AddOperateLog appends an operate log row inside the change's transaction,
// so a change and its audit row land together or not at all.
func (tx *Tx) AddOperateLog(ctx context.Context, l *OperateLog) error {
	_, err := tx.exec(ctx, `INSERT INTO operate_logs (user_id, username, action, resource_type, resource_id, resource, diff, remote_addr, datetime)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.UserID, l.Username, l.Action, l.ResourceType, l.ResourceID, l.Resource, l.Diff, l.RemoteAddr, Time(l.Datetime))
	return err
}

// OperateLogs lists operate logs.
func (db *DB) OperateLogs(ctx context.Context, q query.Query) ([]OperateLog, int, error) {
	ls := listSpec{from: "operate_logs o", cols: "o.id, o.user_id, o.username, o.action, o.resource_type, o.resource_id, o.resource, o.diff, o.remote_addr, o.datetime"}
	var out []OperateLog
	n, err := list(ctx, db, OperateLogSchema, q, ls, func(r *sql.Rows) error {
		var l OperateLog
		var dt sql.NullString
		err := r.Scan(&l.ID, &l.UserID, &l.Username, &l.Action, &l.ResourceType, &l.ResourceID, &l.Resource, &l.Diff, &l.RemoteAddr, &dt)
		l.Datetime = parseTime(dt)
		out = append(out, l)
		return err
	})
	return out, n, err
}

// Session is one connection of a user to an asset through Postern.
type Session struct {
	ID, UserID, Username, AssetID, Asset, SystemUserID, SystemUser string
	Protocol, LoginFrom, RemoteAddr                                string
	StartTime, EndTime                                             time.Time
	IsFinished, IsSuccess, HasReplay                               bool
	Reason, TerminatedBy                                           string
}

// SessionSchema is the list contract of sessions.
var SessionSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "s.id", Type: query.ID, Filter: true},
		{Name: "user", Column: "s.username", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "user_id", Column: "s.user_id", Type: query.ID, Filter: true},
		{Name: "asset", Column: "s.asset", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "asset_id", Column: "s.asset_id", Type: query.ID, Filter: true},
		{Name: "system_user", Column: "s.system_user", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "system_user_id", Column: "s.system_user_id", Type: query.ID, Filter: true},
		{Name: "protocol", Column: "s.protocol", Type: query.String, Sort: true, Filter: true},
		{Name: "login_from", Column: "s.login_from", Type: query.String, Filter: true},
		{Name: "remote_addr", Column: "s.remote_addr", Type: query.String, Search: true, Filter: true},
		{Name: "start_time", Column: "s.start_time", Type: query.Time, Sort: true, Filter: true, NotNull: true},
		{Name: "end_time", Column: "s.end_time", Type: query.Time, Sort: true, Filter: true},
		{Name: "is_finished", Column: "s.is_finished", Type: query.Bool, Sort: true, Filter: true},
		{Name: "is_success", Column: "s.is_success", Type: query.Bool, Sort: true, Filter: true},
	},
	DefaultOrder: "-start_time",
	Tiebreak:     "s.id",
}

const sessionCols = `s.id, s.user_id, s.username, s.asset_id, s.asset, s.system_user_id, s.system_user, s.protocol,
	s.login_from, s.remote_addr, s.start_time, s.end_time, s.is_finished, s.is_success, s.reason, s.terminated_by, s.has_replay`

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var st, et sql.NullString
	err := sc.Scan(&s.ID, &s.UserID, &s.Username, &s.AssetID, &s.Asset, &s.SystemUserID, &s.SystemUser, &s.Protocol,
		&s.LoginFrom, &s.RemoteAddr, &st, &et, &s.IsFinished, &s.IsSuccess, &s.Reason, &s.TerminatedBy, &s.HasReplay)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	s.StartTime, s.EndTime = parseTime(st), parseTime(et)
	return s, err
}

// Sessions lists sessions; userID, when not "", keeps that user's.
func (db *DB) Sessions(ctx context.Context, q query.Query, userID string) ([]Session, int, error) {
	ls := listSpec{from: "sessions s", cols: sessionCols}
	if userID != "" {
		ls.and("s.user_id = ?", userID)
	}
	var out []Session
	n, err := list(ctx, db, SessionSchema, q, ls, func(r *sql.Rows) error {
		s, err := scanSession(r)
		out = append(out, s)
		return err
	})
	return out, n, err
}

// Session reads one session.
func (db *DB) Session(ctx context.Context, id string) (Session, error) {
	return scanSession(db.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions s WHERE s.id = ?", id))
}
