package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// Group is a named set of users.
type Group struct {
	ID, Name, Comment, CreatedBy string
	DateCreated, DateUpdated     time.Time
	Users                        []string // member user ids
}

const groupCols = `g.id, g.name, g.comment, g.created_by, g.date_created, g.date_updated`

func scanGroup(sc interface{ Scan(...any) error }) (Group, error) {
	var g Group
	var dc, du sql.NullString
	err := sc.Scan(&g.ID, &g.Name, &g.Comment, &g.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	g.DateCreated, g.DateUpdated = parseTime(dc), parseTime(du)
	return g, err
}

// GroupSchema is the list contract of user groups.
var GroupSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "g.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "g.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "comment", Column: "g.comment", Type: query.String, Search: true, Filter: true},
		{Name: "date_created", Column: "g.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "g.id",
}

// CreateGroup inserts g and its members.
func (tx *Tx) CreateGroup(ctx context.Context, g *Group) error {
	if _, err := tx.exec(ctx, `INSERT INTO user_groups (id, name, comment, created_by, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Comment, g.CreatedBy, Time(g.DateCreated), Time(g.DateUpdated)); err != nil {
		return err
	}
	return tx.setGroupUsers(ctx, g.ID, g.Users)
}

// UpdateGroup writes g's name, comment and members.
func (tx *Tx) UpdateGroup(ctx context.Context, g *Group) error {
	res, err := tx.exec(ctx, `UPDATE user_groups SET name = ?, comment = ?, date_updated = ? WHERE id = ?`, g.Name, g.Comment, Time(g.DateUpdated), g.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return tx.setGroupUsers(ctx, g.ID, g.Users)
}

func (tx *Tx) setGroupUsers(ctx context.Context, id string, users []string) error {
	if _, err := tx.exec(ctx, `DELETE FROM user_group_members WHERE group_id = ?`, id); err != nil {
		return err
	}
	for _, u := range users {
		if _, err := tx.exec(ctx, `INSERT INTO user_group_members (group_id, user_id) VALUES (?, ?)`, id, u); err != nil {
			return err
		}
	}
	return nil
}

// DeleteGroup removes a group, its memberships and its grants.
func (tx *Tx) DeleteGroup(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE kind = 'user_groups' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM user_groups WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Group reads one group with its members.
func (db *DB) Group(ctx context.Context, id string) (Group, error) {
	g, err := scanGroup(db.queryRow(ctx, "SELECT "+groupCols+" FROM user_groups g WHERE g.id = ?", id))
	if err != nil {
		return g, err
	}
	gs := []Group{g}
	err = db.fillGroups(ctx, gs)
	return gs[0], err
}

func (db *DB) fillGroups(ctx context.Context, gs []Group) error {
	ids := make([]string, len(gs))
	for i := range gs {
		ids[i] = gs[i].ID
	}
	m, err := pairs(ctx, db, `SELECT m.group_id, m.user_id FROM user_group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN (?) ORDER BY u.username`, ids)
	for i := range gs {
		gs[i].Users = m[gs[i].ID]
	}
	return err
}

// Groups lists groups matching q.
func (db *DB) Groups(ctx context.Context, q query.Query) ([]Group, int, error) {
	var out []Group
	n, err := list(ctx, db, GroupSchema, q, listSpec{from: "user_groups g", cols: groupCols}, func(r *sql.Rows) error {
		g, err := scanGroup(r)
		out = append(out, g)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, n, err
	}
	return out, n, db.fillGroups(ctx, out)
}

// GroupNames maps group ids to names.
func (db *DB) GroupNames(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "user_groups", "name", ids)
}

// names maps ids of a table to one text column, for showing references.
func names(ctx context.Context, qr querier, table, col string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	err := inChunks(ctx, qr, "SELECT id, "+col+" FROM "+table+" WHERE id IN (?)", ids, func(r *sql.Rows) error {
		var id, n string
		err := r.Scan(&id, &n)
		out[id] = n
		return err
	})
	return out, err
}
