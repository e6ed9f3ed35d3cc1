package store

// Test harness shared by every store test: each test runs once on a fresh
// SQLite file and once on a fresh PostgreSQL database, so both dialects are
// held to the same assertions.
//
// PostgreSQL is expected at 127.0.0.1:5432 as user postgres with trust
// auth (override the server with POSTERN_TEST_POSTGRES, a postgres:// URL
// of a database the test may CREATE DATABASE from). When it cannot be
// reached the postgres subtests are skipped loudly, or fail when
// POSTERN_E2E=required.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/query"
)

const defaultPostgresAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"

func postgresAdminDSN() string {
	if v := os.Getenv("POSTERN_TEST_POSTGRES"); v != "" {
		return v
	}
	return defaultPostgresAdminDSN
}

// displayDSN is the admin DSN without any password, for messages.
func displayDSN() string {
	u, err := url.Parse(postgresAdminDSN())
	if err != nil {
		return "(unparsable POSTERN_TEST_POSTGRES)"
	}
	return u.Redacted()
}

var (
	pgOnce     sync.Once
	pgAdmin    *sql.DB // shared admin connection, nil when unreachable
	pgAdminErr error
	pgSkipped  atomic.Int32 // postgres subtests skipped, reported by TestMain
)

// postgresAdmin returns the admin connection, skipping (or failing, under
// POSTERN_E2E=required) the test when PostgreSQL is not reachable. The
// reachability check runs once per test binary so that a missing server
// costs one timeout, not one per test.
func postgresAdmin(t testing.TB) *sql.DB {
	t.Helper()
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", postgresAdminDSN())
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = db.PingContext(ctx)
			cancel()
			if err != nil {
				db.Close()
			}
		}
		if err != nil {
			pgAdminErr = err
			return
		}
		db.SetMaxOpenConns(4)
		pgAdmin = db
	})
	if pgAdmin == nil {
		msg := fmt.Sprintf("PostgreSQL not reachable at %s (%v): store tests ran on SQLite only", displayDSN(), pgAdminErr)
		if os.Getenv("POSTERN_E2E") == "required" {
			t.Fatalf("!!! POSTERN_E2E=required but %s", msg)
		}
		pgSkipped.Add(1)
		t.Skip("!!! " + msg)
	}
	return pgAdmin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if n := pgSkipped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "\n!!! WARNING: %d PostgreSQL store subtests SKIPPED: PostgreSQL not reachable at %s (%v): store tests ran on SQLite only. Set POSTERN_E2E=required to make this a failure.\n\n",
			n, displayDSN(), pgAdminErr)
	}
	if pgAdmin != nil {
		if pgTemplateName != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if _, err := pgAdmin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgTemplateName+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "drop template database %s: %v\n", pgTemplateName, err)
				code = 1
			}
			cancel()
		}
		pgAdmin.Close()
	}
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sqliteDSN returns the path of a fresh SQLite file in a temporary directory.
func sqliteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "postern.db")
}

// postgresDSN creates a fresh database postern_test_<hex> and returns its
// DSN; the database is dropped (with FORCE, so lingering connections do not
// keep it alive) when the test ends. Cleanups registered later, such as
// closing a store opened on it, run before the drop. With migrated, the
// database is a copy of a template migrated once per test binary, which
// saves every test the cost of running the migrations; without, it is empty.
func postgresDSN(t testing.TB, migrated bool) string {
	t.Helper()
	admin := postgresAdmin(t)
	create := "CREATE DATABASE %s"
	if migrated {
		create += " TEMPLATE " + postgresTemplate(t)
	}
	name := "postern_test_" + randHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(create, name)); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return postgresDSNOf(t, name)
}

func postgresDSNOf(t testing.TB, name string) string {
	t.Helper()
	u, err := url.Parse(postgresAdminDSN())
	if err != nil {
		t.Fatalf("parse postgres DSN: %v", err)
	}
	u.Path = "/" + name
	// Test databases are thrown away: skip the fsync per commit.
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	pgTemplateOnce sync.Once
	pgTemplateName string
	pgTemplateErr  error
)

// postgresTemplate returns the name of a database migrated by Open, made
// once per test binary and dropped by TestMain. It has no open connection,
// as CREATE DATABASE ... TEMPLATE requires.
func postgresTemplate(t testing.TB) string {
	t.Helper()
	admin := postgresAdmin(t)
	pgTemplateOnce.Do(func() {
		name := "postern_test_" + randHex(8) + "_tmpl"
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			pgTemplateErr = fmt.Errorf("create template database %s: %w", name, err)
			return
		}
		pgTemplateName = name // from here on TestMain drops it
		db, err := Open(ctx, postgresDSNOf(t, name))
		if err != nil {
			pgTemplateErr = fmt.Errorf("migrate template database %s: %w", name, err)
			return
		}
		pgTemplateErr = db.Close()
	})
	if pgTemplateErr != nil {
		t.Fatal(pgTemplateErr)
	}
	return pgTemplateName
}

// forEachDSN runs fn as subtests "sqlite" and "postgres", each with the DSN
// of a fresh, empty database that fn may Open as often as it likes.
func forEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t, false)) })
}

// forEachDB runs fn as subtests "sqlite" and "postgres", each with a store
// opened on a fresh database of its own. Subtests of fn share that database.
func forEachDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openTest(t, sqliteDSN(t))) })
	t.Run("postgres", func(t *testing.T) { fn(t, openTest(t, postgresDSN(t, true))) })
}

// openTest opens dsn and closes the store when the test ends.
func openTest(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ---- fixtures and assertion helpers shared by the store tests ----

// t0 has nanoseconds so that a time losing precision would show.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var bg = context.Background()

func mustTx(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Tx(bg, fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustExec runs a statement directly (with ? placeholders), for rows the
// store has no write method for, such as sessions.
func mustExec(t *testing.T, db *DB, q string, args ...any) {
	t.Helper()
	if _, err := db.exec(bg, q, args...); err != nil {
		t.Fatalf("exec %s: %v", q, err)
	}
}

func countRows(t *testing.T, db *DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.queryRow(bg, q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", q, err)
	}
	return n
}

// parse builds a validated list query from name/value pairs.
func parse(t *testing.T, s *query.Schema, kv ...string) query.Query {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	q, err := query.Parse(s, v)
	if err != nil {
		t.Fatalf("query.Parse(%v): %v", v, err)
	}
	return q
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func isErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, target)
		return
	}
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want errors.Is %v", what, err, target)
	}
}

func newUser(id, username string) *User {
	return &User{
		ID: id, Username: username, Name: "Name " + username, Role: "user", IsActive: true,
		DateCreated: t0, DateUpdated: t0,
	}
}

func createUsers(t *testing.T, db *DB, us ...*User) {
	t.Helper()
	mustTx(t, db, func(tx *Tx) error {
		for _, u := range us {
			if err := tx.CreateUser(bg, u); err != nil {
				return fmt.Errorf("create user %s: %w", u.Username, err)
			}
		}
		return nil
	})
}

func createGroups(t *testing.T, db *DB, gs ...*Group) {
	t.Helper()
	mustTx(t, db, func(tx *Tx) error {
		for _, g := range gs {
			if g.DateCreated.IsZero() {
				g.DateCreated, g.DateUpdated = t0, t0
			}
			if err := tx.CreateGroup(bg, g); err != nil {
				return fmt.Errorf("create group %s: %w", g.Name, err)
			}
		}
		return nil
	})
}

// insertSession writes a session row; the store only reads sessions.
func insertSession(t *testing.T, db *DB, s Session) {
	t.Helper()
	mustExec(t, db, `INSERT INTO sessions (id, user_id, username, asset_id, asset, system_user_id, system_user, protocol,
		login_from, remote_addr, start_time, end_time, is_finished, is_success, reason, terminated_by, has_replay)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.Username, s.AssetID, s.Asset, s.SystemUserID, s.SystemUser, s.Protocol,
		s.LoginFrom, s.RemoteAddr, Time(s.StartTime), nullTime(s.EndTime), s.IsFinished, s.IsSuccess,
		s.Reason, s.TerminatedBy, s.HasReplay)
}

// idsOf maps records to their ids, in order.
func idsOf[T any](xs []T, id func(T) string) []string {
	var out []string // nil for no records, so want lists can say nil
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func sqlNull(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func rfc(t time.Time) string { return t.Format(time.RFC3339Nano) }
