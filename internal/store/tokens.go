package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// Token is an API bearer token. Only the SHA-256 digest of the secret is
// kept, so a database leak does not leak usable tokens.
type Token struct {
	ID, UserID, Digest, Name, RemoteAddr string
	DateCreated, ExpiresAt, LastUsed     time.Time
}

const tokenCols = `t.id, t.user_id, t.digest, t.name, t.remote_addr, t.date_created, t.expires_at, t.last_used`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var dc, ex, lu sql.NullString
	err := sc.Scan(&t.ID, &t.UserID, &t.Digest, &t.Name, &t.RemoteAddr, &dc, &ex, &lu)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	t.DateCreated, t.ExpiresAt, t.LastUsed = parseTime(dc), parseTime(ex), parseTime(lu)
	return t, err
}

// TokenSchema is the list contract of tokens.
var TokenSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "t.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "t.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "date_created", Column: "t.date_created", Type: query.Time, Sort: true, Filter: true},
		{Name: "expires_at", Column: "t.expires_at", Type: query.Time, Sort: true, Filter: true},
		{Name: "last_used", Column: "t.last_used", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "-date_created",
	Tiebreak:     "t.id",
	Extra:        []string{"user"},
}

// CreateToken stores a new token.
func (db *DB) CreateToken(ctx context.Context, t *Token) error {
	_, err := db.exec(ctx, `INSERT INTO tokens (id, user_id, digest, name, remote_addr, date_created, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Digest, t.Name, t.RemoteAddr, Time(t.DateCreated), Time(t.ExpiresAt))
	return err
}

// TokenByDigest finds a token by the digest of its secret.
func (db *DB) TokenByDigest(ctx context.Context, digest string) (Token, error) {
	return scanToken(db.queryRow(ctx, "SELECT "+tokenCols+" FROM tokens t WHERE t.digest = ?", digest))
}

// Token reads one token by id.
func (db *DB) Token(ctx context.Context, id string) (Token, error) {
	return scanToken(db.queryRow(ctx, "SELECT "+tokenCols+" FROM tokens t WHERE t.id = ?", id))
}

// TouchToken records a use of the token, at most once a minute so that
// reads do not turn into a write per request.
func (db *DB) TouchToken(ctx context.Context, id string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE tokens SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)`,
		Time(now), id, Time(now.Add(-time.Minute)))
	return err
}

// Tokens lists tokens; userID, when not "", keeps that user's.
func (db *DB) Tokens(ctx context.Context, q query.Query, userID string) ([]Token, int, error) {
	ls := listSpec{from: "tokens t", cols: tokenCols}
	if userID != "" {
		ls.and("t.user_id = ?", userID)
	}
	var out []Token
	n, err := list(ctx, db, TokenSchema, q, ls, func(r *sql.Rows) error {
		t, err := scanToken(r)
		out = append(out, t)
		return err
	})
	return out, n, err
}

// DeleteToken revokes a token.
func (tx *Tx) DeleteToken(ctx context.Context, id string) error {
	res, err := tx.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUserTokens revokes every token of a user (password change, disable).
func (tx *Tx) DeleteUserTokens(ctx context.Context, userID string) error {
	_, err := tx.exec(ctx, `DELETE FROM tokens WHERE user_id = ?`, userID)
	return err
}

// Meta reads a value of the meta table ("" when unset).
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.queryRow(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMetaOnce stores key=value unless key is already set, and returns the
// value in force: concurrent first starts agree on one.
func (db *DB) SetMetaOnce(ctx context.Context, key, value string) (string, error) {
	if _, err := db.exec(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return db.Meta(ctx, key)
}
