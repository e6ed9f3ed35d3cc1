package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// CreateSession records the start of a session.
func (db *DB) CreateSession(ctx context.Context, s *Session) error {
	_, err := db.exec(ctx, `INSERT INTO sessions (id, user_id, username, asset_id, asset, system_user_id, system_user, protocol,
		login_from, remote_addr, start_time, is_finished, is_success, reason, has_replay)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.Username, s.AssetID, s.Asset, s.SystemUserID, s.SystemUser, s.Protocol,
		s.LoginFrom, s.RemoteAddr, Time(s.StartTime), s.IsFinished, s.IsSuccess, s.Reason, s.HasReplay)
	return err
}

// FinishSession records the end of a session; a session already finished
// keeps its first ending.
func (db *DB) FinishSession(ctx context.Context, id string, end time.Time, success bool, reason, terminatedBy string, hasReplay bool) error {
	_, err := db.exec(ctx, `UPDATE sessions SET end_time = ?, is_finished = TRUE, is_success = ?, reason = ?, terminated_by = ?, has_replay = ?
		WHERE id = ? AND is_finished = FALSE`, Time(end), success, reason, terminatedBy, hasReplay, id)
	return err
}

// CloseOpenSessions finishes every session still open, for a start after a
// crash: nothing can still be connected through a process that died.
func (db *DB) CloseOpenSessions(ctx context.Context, end time.Time, reason string) (int64, error) {
	res, err := db.exec(ctx, `UPDATE sessions SET end_time = ?, is_finished = TRUE, is_success = FALSE, reason = ? WHERE is_finished = FALSE`,
		Time(end), reason)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// HostKey is a target's SSH host key as first seen.
type HostKey struct {
	AssetID, Address, KeyType, Key, Fingerprint string
	FirstSeen                                   time.Time
}

// PinHostKey stores key as the pinned key for (asset, address)
// unless one is pinned already, and returns the pinned key in force.
func (db *DB) PinHostKey(ctx context.Context, k HostKey) (HostKey, error) {
	if _, err := db.exec(ctx, `INSERT INTO host_keys (asset_id, address, key_type, key, fingerprint, first_seen) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (asset_id, address) DO NOTHING`, k.AssetID, k.Address, k.KeyType, k.Key, k.Fingerprint, Time(k.FirstSeen)); err != nil {
		return HostKey{}, err
	}
	return db.PinnedHostKey(ctx, k.AssetID, k.Address)
}

// ForgetHostKeys removes the pinned keys of an asset (an administrator's
// answer to a legitimate key change).
func (db *DB) ForgetHostKeys(ctx context.Context, assetID string) error {
	_, err := db.exec(ctx, `DELETE FROM host_keys WHERE asset_id = ?`, assetID)
	return err
}

// PinnedHostKey returns the pinned key of (asset, address), or ErrNotFound.
func (db *DB) PinnedHostKey(ctx context.Context, assetID, address string) (HostKey, error) {
	var out HostKey
	var fs sql.NullString
	err := db.queryRow(ctx, `SELECT asset_id, address, key_type, key, fingerprint, first_seen FROM host_keys WHERE asset_id = ? AND address = ?`,
		assetID, address).Scan(&out.AssetID, &out.Address, &out.KeyType, &out.Key, &out.Fingerprint, &fs)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrNotFound
	}
	out.FirstSeen = parseTime(fs)
	return out, err
}
