package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// User is a person or robot who logs in to Postern.
type User struct {
	ID, Username, Name, Email, Phone, Role string
	IsActive                               bool
	DateExpired                            time.Time // zero: never
	PasswordHash                           string
	PasswordSetAt                          time.Time
	OTPSecret                              string // sealed by the vault
	OTPEnabled                             bool
	FailedLogins                           int
	FailedSince, LockedUntil, LastLogin    time.Time
	Comment, CreatedBy                     string
	DateCreated, DateUpdated               time.Time
	Groups                                 []string // group ids
	PublicKeys                             []PublicKey
}

// PublicKey is one authorized_keys line of a user, with its SHA256 fingerprint.
type PublicKey struct {
	Fingerprint, Line string
}

const userCols = `u.id, u.username, u.name, u.email, u.phone, u.role, u.is_active, u.date_expired,
	u.password_hash, u.password_set_at, u.otp_secret, u.otp_enabled, u.failed_logins, u.failed_since,
	u.locked_until, u.last_login, u.comment, u.created_by, u.date_created, u.date_updated`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var exp, pwAt, fs, lu, ll, dc, du sql.NullString
	err := sc.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.Phone, &u.Role, &u.IsActive, &exp,
		&u.PasswordHash, &pwAt, &u.OTPSecret, &u.OTPEnabled, &u.FailedLogins, &fs,
		&lu, &ll, &u.Comment, &u.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	u.DateExpired, u.PasswordSetAt, u.FailedSince = parseTime(exp), parseTime(pwAt), parseTime(fs)
	u.LockedUntil, u.LastLogin = parseTime(lu), parseTime(ll)
	u.DateCreated, u.DateUpdated = parseTime(dc), parseTime(du)
	return u, err
}

// CreateUser inserts u with its groups and keys.
func (tx *Tx) CreateUser(ctx context.Context, u *User) error {
	_, err := tx.exec(ctx, `INSERT INTO users (id, username, name, email, phone, role, is_active, date_expired,
		password_hash, password_set_at, otp_secret, otp_enabled, comment, created_by, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.Name, u.Email, u.Phone, u.Role, u.IsActive, nullTime(u.DateExpired),
		u.PasswordHash, nullTime(u.PasswordSetAt), u.OTPSecret, u.OTPEnabled, u.Comment, u.CreatedBy,
		Time(u.DateCreated), Time(u.DateUpdated))
	if err != nil {
		return err
	}
	if err := tx.SetUserGroups(ctx, u.ID, u.Groups); err != nil {
		return err
	}
	return tx.SetUserKeys(ctx, u.ID, u.PublicKeys)
}

// UpdateUser writes every editable column of u, its groups and keys.
func (tx *Tx) UpdateUser(ctx context.Context, u *User) error {
	res, err := tx.exec(ctx, `UPDATE users SET username = ?, name = ?, email = ?, phone = ?, role = ?, is_active = ?,
		date_expired = ?, password_hash = ?, password_set_at = ?, otp_secret = ?, otp_enabled = ?, comment = ?, date_updated = ?
		WHERE id = ?`,
		u.Username, u.Name, u.Email, u.Phone, u.Role, u.IsActive, nullTime(u.DateExpired),
		u.PasswordHash, nullTime(u.PasswordSetAt), u.OTPSecret, u.OTPEnabled, u.Comment, Time(u.DateUpdated), u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := tx.SetUserGroups(ctx, u.ID, u.Groups); err != nil {
		return err
	}
	return tx.SetUserKeys(ctx, u.ID, u.PublicKeys)
}

// SetUserGroups replaces the groups of a user.
func (tx *Tx) SetUserGroups(ctx context.Context, userID string, groups []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM user_group_members WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.exec(ctx, `INSERT INTO user_group_members (group_id, user_id) VALUES (?, ?)`, g, userID); err != nil {
			return err
		}
	}
	return nil
}

// SetUserKeys replaces the public keys of a user.
func (tx *Tx) SetUserKeys(ctx context.Context, userID string, keys []PublicKey) error {
	if _, err := tx.exec(ctx, `DELETE FROM user_public_keys WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for i, k := range keys {
		if _, err := tx.exec(ctx, `INSERT INTO user_public_keys (user_id, fingerprint, line, position) VALUES (?, ?, ?, ?)`,
			userID, k.Fingerprint, k.Line, i); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser removes a user, its memberships, keys, tokens and grants.
func (tx *Tx) DeleteUser(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE kind = 'users' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// User reads one user by id, with groups and keys.
func (db *DB) User(ctx context.Context, id string) (User, error) {
	return db.userWhere(ctx, "u.id = ?", id)
}

// UserByUsername reads one user by username, with groups and keys.
func (db *DB) UserByUsername(ctx context.Context, username string) (User, error) {
	return db.userWhere(ctx, "u.username = ?", username)
}

func (db *DB) userWhere(ctx context.Context, cond string, arg any) (User, error) {
	u, err := scanUser(db.queryRow(ctx, "SELECT "+userCols+" FROM users u WHERE "+cond, arg))
	if err != nil {
		return u, err
	}
	users := []User{u}
	if err := db.fillUsers(ctx, users); err != nil {
		return u, err
	}
	return users[0], nil
}

func (db *DB) fillUsers(ctx context.Context, users []User) error {
	ids := make([]string, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	groups, err := pairs(ctx, db, `SELECT m.user_id, m.group_id FROM user_group_members m JOIN user_groups g ON g.id = m.group_id WHERE m.user_id IN (?) ORDER BY g.name`, ids)
	if err != nil {
		return err
	}
	keys := make(map[string][]PublicKey)
	err = inChunks(ctx, db, `SELECT user_id, fingerprint, line FROM user_public_keys WHERE user_id IN (?) ORDER BY position`, ids, func(r *sql.Rows) error {
		var uid string
		var k PublicKey
		err := r.Scan(&uid, &k.Fingerprint, &k.Line)
		keys[uid] = append(keys[uid], k)
		return err
	})
	if err != nil {
		return err
	}
	for i := range users {
		users[i].Groups = groups[users[i].ID]
		users[i].PublicKeys = keys[users[i].ID]
	}
	return nil
}

// UserSchema is the list contract of users.
var UserSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "u.id", Type: query.ID, Filter: true},
		{Name: "username", Column: "u.username", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "name", Column: "u.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "email", Column: "u.email", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "role", Column: "u.role", Type: query.String, Sort: true, Filter: true},
		{Name: "is_active", Column: "u.is_active", Type: query.Bool, Sort: true, Filter: true},
		{Name: "date_expired", Column: "u.date_expired", Type: query.Time, Sort: true, Filter: true},
		{Name: "date_created", Column: "u.date_created", Type: query.Time, Sort: true, Filter: true},
		{Name: "last_login", Column: "u.last_login", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "username",
	Tiebreak:     "u.id",
	Extra:        []string{"group"},
}

// Users lists users matching q; group, when not "", keeps members of that group.
func (db *DB) Users(ctx context.Context, q query.Query, group string) ([]User, int, error) {
	ls := listSpec{from: "users u", cols: userCols}
	if group != "" {
		ls.and("u.id IN (SELECT user_id FROM user_group_members WHERE group_id = ?)", group)
	}
	var out []User
	n, err := list(ctx, db, UserSchema, q, ls, func(r *sql.Rows) error {
		u, err := scanUser(r)
		out = append(out, u)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, n, err
	}
	return out, n, db.fillUsers(ctx, out)
}

// UserCount returns the number of users.
func (db *DB) UserCount(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// LoginFailed counts one failed login for a user and locks the account for
// window when max failures fall within window. It reports whether the
// account is now locked. The update is one statement, so concurrent
// failures cannot lose counts.
func (db *DB) LoginFailed(ctx context.Context, userID string, now time.Time, window time.Duration, max int) (bool, error) {
	cutoff := Time(now.Add(-window))
	_, err := db.exec(ctx, `UPDATE users SET
		failed_logins = CASE WHEN failed_since IS NULL OR failed_since < ? THEN 1 ELSE failed_logins + 1 END,
		failed_since  = CASE WHEN failed_since IS NULL OR failed_since < ? THEN ? ELSE failed_since END
		WHERE id = ?`, cutoff, cutoff, Time(now), userID)
	if err != nil {
		return false, err
	}
	res, err := db.exec(ctx, `UPDATE users SET locked_until = ? WHERE id = ? AND failed_logins >= ? AND (locked_until IS NULL OR locked_until < ?)`,
		Time(now.Add(window)), userID, max, Time(now))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// LoginSucceeded clears the failure count and stamps last_login.
func (db *DB) LoginSucceeded(ctx context.Context, userID string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE users SET failed_logins = 0, failed_since = NULL, last_login = ? WHERE id = ?`, Time(now), userID)
	return err
}

// Unlock lifts a lockout and clears the failure count.
func (tx *Tx) Unlock(ctx context.Context, userID string) error {
	res, err := tx.exec(ctx, `UPDATE users SET failed_logins = 0, failed_since = NULL, locked_until = NULL WHERE id = ?`, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// UserHasKey reports whether the user holds a public key with this fingerprint.
func (db *DB) UserHasKey(ctx context.Context, userID, fingerprint string) (bool, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM user_public_keys WHERE user_id = ? AND fingerprint = ?`, userID, fingerprint).Scan(&n)
	return n > 0, err
}

// Memberships returns every user's group ids, for the permission engine.
func (db *DB) Memberships(ctx context.Context) (map[string][]string, error) {
	rows, err := db.query(ctx, `SELECT user_id, group_id FROM user_group_members`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string][]string)
	for rows.Next() {
		var u, g string
		if err := rows.Scan(&u, &g); err != nil {
			return nil, err
		}
		out[u] = append(out[u], g)
	}
	return out, rows.Err()
}

// ActiveAdmins counts active administrators other than except.
func (db *DB) ActiveAdmins(ctx context.Context, except string) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active = TRUE AND id <> ?`, except).Scan(&n)
	return n, err
}

// Usernames maps user ids to usernames.
func (db *DB) Usernames(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "users", "username", ids)
}

// UseOTPStep records that a one-time code of TOTP time step step was
// used, and reports false when that step (or a later one) was used
// already: a code works once.
func (db *DB) UseOTPStep(ctx context.Context, userID string, step uint64) (bool, error) {
	res, err := db.exec(ctx, `UPDATE users SET otp_last_step = ? WHERE id = ? AND otp_last_step < ?`, int64(step), userID, int64(step))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
