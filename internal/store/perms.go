package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/postern/postern/internal/query"
)

// Permission is an asset permission rule.
type Permission struct {
	ID, Name                                      string
	Actions                                       []string
	DateStart, DateExpired                        time.Time // zero: unbounded
	IsActive                                      bool
	Comment, CreatedBy                            string
	DateCreated, DateUpdated                      time.Time
	Users, UserGroups, Assets, Nodes, SystemUsers []string // ids
}

// Member kinds of a permission, as stored.
const (
	KindUsers       = "users"
	KindUserGroups  = "user_groups"
	KindAssets      = "assets"
	KindNodes       = "nodes"
	KindSystemUsers = "system_users"
)

// PermissionSchema is the list contract of asset permissions.
var PermissionSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "p.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "p.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "is_active", Column: "p.is_active", Type: query.Bool, Sort: true, Filter: true},
		{Name: "date_start", Column: "p.date_start", Type: query.Time, Sort: true, Filter: true},
		{Name: "date_expired", Column: "p.date_expired", Type: query.Time, Sort: true, Filter: true},
		{Name: "date_created", Column: "p.date_created", Type: query.Time, Sort: true, Filter: true},
		{Name: "comment", Column: "p.comment", Type: query.String, Search: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "p.id",
	Extra:        []string{"user", "user_group", "asset", "node", "system_user", "format"},
}

const permCols = "p.id, p.name, p.actions, p.date_start, p.date_expired, p.is_active, p.comment, p.created_by, p.date_created, p.date_updated"

func scanPerm(sc interface{ Scan(...any) error }) (Permission, error) {
	var p Permission
	var actions string
	var ds, de, dc, du sql.NullString
	err := sc.Scan(&p.ID, &p.Name, &actions, &ds, &de, &p.IsActive, &p.Comment, &p.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if actions != "" {
		p.Actions = strings.Split(actions, ",")
	}
	p.DateStart, p.DateExpired, p.DateCreated, p.DateUpdated = parseTime(ds), parseTime(de), parseTime(dc), parseTime(du)
	return p, err
}

// CreatePermission inserts p with its members.
func (tx *Tx) CreatePermission(ctx context.Context, p *Permission) error {
	_, err := tx.exec(ctx, `INSERT INTO asset_permissions (id, name, actions, date_start, date_expired, is_active, comment, created_by, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, strings.Join(p.Actions, ","), nullTime(p.DateStart), nullTime(p.DateExpired), p.IsActive, p.Comment, p.CreatedBy,
		Time(p.DateCreated), Time(p.DateUpdated))
	if err != nil {
		return err
	}
	return tx.setPermMembers(ctx, p)
}

// UpdatePermission writes every editable column of p and its members.
func (tx *Tx) UpdatePermission(ctx context.Context, p *Permission) error {
	res, err := tx.exec(ctx, `UPDATE asset_permissions SET name = ?, actions = ?, date_start = ?, date_expired = ?, is_active = ?, comment = ?, date_updated = ? WHERE id = ?`,
		p.Name, strings.Join(p.Actions, ","), nullTime(p.DateStart), nullTime(p.DateExpired), p.IsActive, p.Comment, Time(p.DateUpdated), p.ID)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE perm_id = ?`, p.ID); err != nil {
		return err
	}
	return tx.setPermMembers(ctx, p)
}

func (tx *Tx) setPermMembers(ctx context.Context, p *Permission) error {
	for _, m := range []struct {
		kind string
		ids  []string
	}{{KindUsers, p.Users}, {KindUserGroups, p.UserGroups}, {KindAssets, p.Assets}, {KindNodes, p.Nodes}, {KindSystemUsers, p.SystemUsers}} {
		for _, id := range m.ids {
			if _, err := tx.exec(ctx, `INSERT INTO asset_permission_members (perm_id, kind, member_id) VALUES (?, ?, ?)`, p.ID, m.kind, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeletePermission removes a permission.
func (tx *Tx) DeletePermission(ctx context.Context, id string) error {
	res, err := tx.exec(ctx, `DELETE FROM asset_permissions WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// Permission reads one permission with its members.
func (db *DB) Permission(ctx context.Context, id string) (Permission, error) {
	p, err := scanPerm(db.queryRow(ctx, "SELECT "+permCols+" FROM asset_permissions p WHERE p.id = ?", id))
	if err != nil {
		return p, err
	}
	ps := []Permission{p}
	err = db.fillPerms(ctx, ps)
	return ps[0], err
}

func (db *DB) fillPerms(ctx context.Context, ps []Permission) error {
	ids := make([]string, len(ps))
	idx := make(map[string]int, len(ps))
	for i := range ps {
		ids[i] = ps[i].ID
		idx[ps[i].ID] = i
	}
	return inChunks(ctx, db, `SELECT perm_id, kind, member_id FROM asset_permission_members WHERE perm_id IN (?) ORDER BY member_id`, ids, func(r *sql.Rows) error {
		var pid, kind, mid string
		if err := r.Scan(&pid, &kind, &mid); err != nil {
			return err
		}
		addMember(&ps[idx[pid]], kind, mid)
		return nil
	})
}

func addMember(p *Permission, kind, id string) {
	switch kind {
	case KindUsers:
		p.Users = append(p.Users, id)
	case KindUserGroups:
		p.UserGroups = append(p.UserGroups, id)
	case KindAssets:
		p.Assets = append(p.Assets, id)
	case KindNodes:
		p.Nodes = append(p.Nodes, id)
	case KindSystemUsers:
		p.SystemUsers = append(p.SystemUsers, id)
	}
}

// PermissionFilter narrows a permission list to rules naming a member.
type PermissionFilter struct {
	Kind, ID string // e.g. KindUsers and a user id; empty for all
}

// Permissions lists permissions matching q and f.
func (db *DB) Permissions(ctx context.Context, q query.Query, f PermissionFilter) ([]Permission, int, error) {
	ls := listSpec{from: "asset_permissions p", cols: permCols}
	if f.Kind != "" {
		ls.and("p.id IN (SELECT perm_id FROM asset_permission_members WHERE kind = ? AND member_id = ?)", f.Kind, f.ID)
	}
	var out []Permission
	n, err := list(ctx, db, PermissionSchema, q, ls, func(r *sql.Rows) error {
		p, err := scanPerm(r)
		out = append(out, p)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, n, err
	}
	return out, n, db.fillPerms(ctx, out)
}

// AllPermissions reads every permission with members, for the engine.
func (db *DB) AllPermissions(ctx context.Context) ([]Permission, error) {
	rows, err := db.query(ctx, "SELECT "+permCols+" FROM asset_permissions p")
	if err != nil {
		return nil, err
	}
	var out []Permission
	idx := make(map[string]int)
	for rows.Next() {
		p, err := scanPerm(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		idx[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	rows, err = db.query(ctx, "SELECT perm_id, kind, member_id FROM asset_permission_members")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, kind, mid string
		if err := rows.Scan(&pid, &kind, &mid); err != nil {
			return nil, err
		}
		if i, ok := idx[pid]; ok {
			addMember(&out[i], kind, mid)
		}
	}
	return out, rows.Err()
}

// PermissionsOf returns the ids of permissions naming a member, so a
// delete can tell the engine which rules changed.
func (db *DB) PermissionsOf(ctx context.Context, kind, id string) ([]string, error) {
	rows, err := db.query(ctx, `SELECT perm_id FROM asset_permission_members WHERE kind = ? AND member_id = ?`, kind, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
