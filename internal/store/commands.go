package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/postern/postern/internal/query"
)

// Command is one command line run in a session, with an excerpt of its
// output and the command filter's verdict.
type Command struct {
	ID                                              int64
	SessionID, UserID, Username, AssetID, Asset     string
	SystemUserID, SystemUser, Input, Output, Action string
	RiskLevel                                       int
	Timestamp                                       time.Time
}

// CommandSchema is the list contract of commands. Listing by time,
// session, user, asset or risk uses an index, and so does text search
// (trigrams: SQLite's FTS5, PostgreSQL's pg_trgm) for terms of three
// characters or more.
var CommandSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "c.id", Type: query.Int, Sort: true, Filter: true, NotNull: true},
		{Name: "session", Column: "c.session_id", Type: query.ID, Filter: true, NotNull: true},
		{Name: "user", Column: "c.username", Type: query.String, Sort: true, Filter: true, NotNull: true},
		{Name: "user_id", Column: "c.user_id", Type: query.ID, Filter: true, NotNull: true},
		{Name: "asset", Column: "c.asset", Type: query.String, Sort: true, Filter: true, NotNull: true},
		{Name: "asset_id", Column: "c.asset_id", Type: query.ID, Filter: true, NotNull: true},
		{Name: "system_user", Column: "c.system_user", Type: query.String, Sort: true, Filter: true, NotNull: true},
		{Name: "input", Column: "c.input", Type: query.String, Search: true, Filter: true, NotNull: true},
		{Name: "output", Column: "c.output", Type: query.String, Filter: true, NotNull: true},
		{Name: "risk_level", Column: "c.risk_level", Type: query.Int, Sort: true, Filter: true, NotNull: true},
		{Name: "action", Column: "c.action", Type: query.String, Filter: true, NotNull: true},
		{Name: "timestamp", Column: "c.timestamp", Type: query.Time, Sort: true, Filter: true, NotNull: true},
	},
	DefaultOrder: "-timestamp",
	Tiebreak:     "c.id",
}

// AddCommands appends command rows.
func (db *DB) AddCommands(ctx context.Context, cs []Command) error {
	return db.Tx(ctx, func(tx *Tx) error {
		for _, c := range cs {
			if _, err := tx.exec(ctx, `INSERT INTO commands (session_id, user_id, username, asset_id, asset, system_user_id, system_user,
				input, output, risk_level, action, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				c.SessionID, c.UserID, c.Username, c.AssetID, c.Asset, c.SystemUserID, c.SystemUser,
				c.Input, c.Output, c.RiskLevel, c.Action, Time(c.Timestamp)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Commands lists commands; userID, when not "", keeps that user's.
func (db *DB) Commands(ctx context.Context, q query.Query, userID string) ([]Command, int, error) {
	ls := listSpec{from: "commands c", cols: `c.id, c.session_id, c.user_id, c.username, c.asset_id, c.asset, c.system_user_id,
		c.system_user, c.input, c.output, c.risk_level, c.action, c.timestamp`}
	if userID != "" {
		ls.and("c.user_id = ?", userID)
	}
	if !db.postgres && usesSearchIndex(q) {
		// The trigram index answers the same case-insensitive substring
		// match as the LIKE the query would render, without a scan, which
		// is what a rare term needs. A common one is left to the LIKE:
		// walking the time index finds a page of it at once, where going
		// through the index would gather every match first.
		pattern := "%" + q.Search + "%"
		var n int
		if err := db.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT rowid FROM commands_search WHERE input LIKE ? LIMIT ?)`,
			pattern, rareMatches+1).Scan(&n); err != nil {
			return nil, 0, err
		}
		if n <= rareMatches {
			ls.and("c.id IN (SELECT rowid FROM commands_search WHERE commands_search.input LIKE ?)", pattern)
			q.Search, q.SearchFields = "", nil
		}
	}
	var out []Command
	n, err := list(ctx, db, CommandSchema, q, ls, func(r *sql.Rows) error {
		var c Command
		var ts sql.NullString
		err := r.Scan(&c.ID, &c.SessionID, &c.UserID, &c.Username, &c.AssetID, &c.Asset, &c.SystemUserID, &c.SystemUser,
			&c.Input, &c.Output, &c.RiskLevel, &c.Action, &ts)
		c.Timestamp = parseTime(ts)
		out = append(out, c)
		return err
	})
	return out, n, err
}

// rareMatches is the most matches of a search term for which a command
// listing on SQLite is driven by the trigram index (see Commands).
const rareMatches = 5000

// usesSearchIndex says whether SQLite's trigram index, which covers the
// input column only, can answer q's search: it searches that column alone,
// for three characters or more, and a term with LIKE's own wildcards or
// escape character is left to the plain (escaped) LIKE.
func usesSearchIndex(q query.Query) bool {
	return len(q.SearchFields) == 1 && q.SearchFields[0].Column == "c.input" &&
		utf8.RuneCountInString(q.Search) >= 3 && !strings.ContainsAny(q.Search, `%_\`)
}

// FTPLog is one file operation through the gateway.
type FTPLog struct {
	ID                                                    int64
	SessionID, UserID, Username, AssetID, Asset           string
	SystemUserID, SystemUser, RemoteAddr, Operation, Path string
	Path2, SHA256, Reason                                 string
	Size                                                  int64
	IsSuccess                                             bool
	Datetime                                              time.Time
}

// FTPLogSchema is the list contract of file operation logs.
var FTPLogSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "f.id", Type: query.Int, Sort: true, Filter: true, NotNull: true},
		{Name: "session", Column: "f.session_id", Type: query.ID, Filter: true, NotNull: true},
		{Name: "user", Column: "f.username", Type: query.String, Search: true, Sort: true, Filter: true, NotNull: true},
		{Name: "asset", Column: "f.asset", Type: query.String, Search: true, Sort: true, Filter: true, NotNull: true},
		{Name: "system_user", Column: "f.system_user", Type: query.String, Sort: true, Filter: true, NotNull: true},
		{Name: "remote_addr", Column: "f.remote_addr", Type: query.String, Filter: true, NotNull: true},
		{Name: "operation", Column: "f.operation", Type: query.String, Sort: true, Filter: true, NotNull: true},
		{Name: "path", Column: "f.path", Type: query.String, Search: true, Filter: true, NotNull: true},
		{Name: "size", Column: "f.size", Type: query.Int, Sort: true, Filter: true, NotNull: true},
		{Name: "sha256", Column: "f.sha256", Type: query.String, Filter: true, NotNull: true},
		{Name: "is_success", Column: "f.is_success", Type: query.Bool, Filter: true, NotNull: true},
		{Name: "datetime", Column: "f.datetime", Type: query.Time, Sort: true, Filter: true, NotNull: true},
	},
	DefaultOrder: "-datetime",
	Tiebreak:     "f.id",
}

// AddFTPLog appends a file operation row.
func (db *DB) AddFTPLog(ctx context.Context, f *FTPLog) error {
	_, err := db.exec(ctx, `INSERT INTO ftp_logs (session_id, user_id, username, asset_id, asset, system_user_id, system_user,
		remote_addr, operation, path, path2, size, sha256, is_success, reason, datetime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.SessionID, f.UserID, f.Username, f.AssetID, f.Asset, f.SystemUserID, f.SystemUser, f.RemoteAddr, f.Operation, f.Path, f.Path2,
		f.Size, f.SHA256, f.IsSuccess, f.Reason, Time(f.Datetime))
	return err
}

// FTPLogs lists file operation rows; userID, when not "", keeps that user's.
func (db *DB) FTPLogs(ctx context.Context, q query.Query, userID string) ([]FTPLog, int, error) {
	ls := listSpec{from: "ftp_logs f", cols: `f.id, f.session_id, f.user_id, f.username, f.asset_id, f.asset, f.system_user_id,
		f.system_user, f.remote_addr, f.operation, f.path, f.path2, f.size, f.sha256, f.is_success, f.reason, f.datetime`}
	if userID != "" {
		ls.and("f.user_id = ?", userID)
	}
	var out []FTPLog
	n, err := list(ctx, db, FTPLogSchema, q, ls, func(r *sql.Rows) error {
		var f FTPLog
		var dt sql.NullString
		err := r.Scan(&f.ID, &f.SessionID, &f.UserID, &f.Username, &f.AssetID, &f.Asset, &f.SystemUserID, &f.SystemUser,
			&f.RemoteAddr, &f.Operation, &f.Path, &f.Path2, &f.Size, &f.SHA256, &f.IsSuccess, &f.Reason, &dt)
		f.Datetime = parseTime(dt)
		out = append(out, f)
		return err
	})
	return out, n, err
}
