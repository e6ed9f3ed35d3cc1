// Package store is the only package in Postern that speaks SQL. It opens the
// embedded SQLite database (the zero-setup default) or a PostgreSQL server,
// applies the versioned schema migrations at start, and offers typed
// reads and writes of every record the core keeps.
//
// One schema serves both databases: queries are written with `?`
// placeholders and rebound to `$n` for PostgreSQL, times are stored as
// fixed-width UTC text (query.TimeLayout) so that they sort and compare the
// same way in both, and booleans use the BOOLEAN type both understand.
//
// The store does not validate business rules (the domain packages do) and
// does not cache: every read goes to the database.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/postern/postern/internal/query"
)

// ErrNotFound is returned when a record asked for by id or name does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("already exists")

// DB is an open Postern database.
type DB struct {
	db       *sql.DB
	postgres bool
}

// Open connects to dsn: a `postgres://` (or `postgresql://`) URL, or a path
// to a SQLite file that is created when missing. It applies pending
// migrations before returning.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		db  *DB
		err error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(dsn)
	} else {
		db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := db.db.PingContext(ctx); err != nil {
		db.db.Close()
		return nil, fmt.Errorf("connect to database: %w", redact(err, dsn))
	}
	if err := db.migrate(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(dsn string) (*DB, error) {
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", redact(err, dsn))
	}
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{db: sqldb, postgres: true}, nil
}

func openSQLite(path string) (*DB, error) {
	// WAL lets readers run beside the single writer; immediate transactions
	// take the write lock up front, so two writers queue on busy_timeout
	// instead of failing with "database is locked" when one upgrades.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	// The path goes into a file: URI, so characters such as '?', '#' and
	// '%' in a directory name must be escaped.
	sqldb, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	return &DB{db: sqldb}, nil
}

// redact removes a password from an error that may quote the DSN.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// Close releases the database.
func (db *DB) Close() error { return db.db.Close() }

// Postgres reports whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.postgres }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// rebind turns `?` placeholders into `$n` for PostgreSQL. Queries never
// contain a literal `?` inside a string constant.
func rebind(postgres bool, q string) string {
	if !postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Tx is a database transaction; all writes of one request go through one.
type Tx struct {
	tx       *sql.Tx
	postgres bool
}

// Tx runs fn in a transaction, committing when fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	sqltx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqltx, postgres: db.postgres}
	if err := fn(tx); err != nil {
		sqltx.Rollback()
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// querier is what both *DB and *Tx offer to the record functions.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
	isPostgres() bool
}

func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := db.db.ExecContext(ctx, rebind(db.postgres, q), args...)
	return r, mapErr(err)
}
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, rebind(db.postgres, q), args...)
}
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, rebind(db.postgres, q), args...)
}
func (db *DB) isPostgres() bool { return db.postgres }

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := tx.tx.ExecContext(ctx, rebind(tx.postgres, q), args...)
	return r, mapErr(err)
}
func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, rebind(tx.postgres, q), args...)
}
func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, rebind(tx.postgres, q), args...)
}
func (tx *Tx) isPostgres() bool { return tx.postgres }

// mapErr turns driver-specific uniqueness violations into ErrConflict so
// callers can answer 409 without knowing which database is underneath.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// Time formats t the way the schema stores times.
func Time(t time.Time) string { return t.UTC().Format(query.TimeLayout) }

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return Time(t)
}

// parseTime reads a stored time; NULL and "" give the zero time.
func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, err := time.Parse(query.TimeLayout, s.String)
	if err != nil {
		// Written by this package, so a parse failure means a corrupted
		// row; the zero time is the least surprising reading.
		return time.Time{}
	}
	return t
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// anys converts a string slice to arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
