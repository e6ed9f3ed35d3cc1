package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// CommandGroup is a named list of commands or patterns.
type CommandGroup struct {
	ID, Name, Type, Content, Comment, CreatedBy string
	IgnoreCase                                  bool
	DateCreated, DateUpdated                    time.Time
}

// CommandGroupSchema is the list contract of command groups.
var CommandGroupSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "g.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "g.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "type", Column: "g.type", Type: query.String, Sort: true, Filter: true},
		{Name: "content", Column: "g.content", Type: query.String, Search: true, Filter: true},
		{Name: "date_created", Column: "g.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "g.id",
}

const commandGroupCols = "g.id, g.name, g.type, g.content, g.ignore_case, g.comment, g.created_by, g.date_created, g.date_updated"

func scanCommandGroup(sc interface{ Scan(...any) error }) (CommandGroup, error) {
	var g CommandGroup
	var dc, du sql.NullString
	err := sc.Scan(&g.ID, &g.Name, &g.Type, &g.Content, &g.IgnoreCase, &g.Comment, &g.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	g.DateCreated, g.DateUpdated = parseTime(dc), parseTime(du)
	return g, err
}

// CreateCommandGroup inserts g.
func (tx *Tx) CreateCommandGroup(ctx context.Context, g *CommandGroup) error {
	_, err := tx.exec(ctx, `INSERT INTO command_groups (id, name, type, content, ignore_case, comment, created_by, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, g.ID, g.Name, g.Type, g.Content, g.IgnoreCase, g.Comment, g.CreatedBy, Time(g.DateCreated), Time(g.DateUpdated))
	return err
}

// UpdateCommandGroup writes every editable column of g.
func (tx *Tx) UpdateCommandGroup(ctx context.Context, g *CommandGroup) error {
	res, err := tx.exec(ctx, `UPDATE command_groups SET name = ?, type = ?, content = ?, ignore_case = ?, comment = ?, date_updated = ? WHERE id = ?`,
		g.Name, g.Type, g.Content, g.IgnoreCase, g.Comment, Time(g.DateUpdated), g.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteCommandGroup removes a group and its uses in filters.
func (tx *Tx) DeleteCommandGroup(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM command_filter_members WHERE kind = 'command_groups' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM command_groups WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CommandGroup reads one group.
func (db *DB) CommandGroup(ctx context.Context, id string) (CommandGroup, error) {
	return scanCommandGroup(db.queryRow(ctx, "SELECT "+commandGroupCols+" FROM command_groups g WHERE g.id = ?", id))
}

// CommandGroups lists groups matching q.
func (db *DB) CommandGroups(ctx context.Context, q query.Query) ([]CommandGroup, int, error) {
	var out []CommandGroup
	n, err := list(ctx, db, CommandGroupSchema, q, listSpec{from: "command_groups g", cols: commandGroupCols}, func(r *sql.Rows) error {
		g, err := scanCommandGroup(r)
		out = append(out, g)
		return err
	})
	return out, n, err
}

// CommandFilter is a rule deciding what happens to matching commands.
type CommandFilter struct {
	ID, Name, Action, Comment, CreatedBy                  string
	Priority                                              int
	IsActive                                              bool
	DateCreated, DateUpdated                              time.Time
	Users, UserGroups, Assets, SystemUsers, CommandGroups []string
}

// CommandFilterSchema is the list contract of command filters.
var CommandFilterSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "f.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "f.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "priority", Column: "f.priority", Type: query.Int, Sort: true, Filter: true},
		{Name: "action", Column: "f.action", Type: query.String, Sort: true, Filter: true},
		{Name: "is_active", Column: "f.is_active", Type: query.Bool, Filter: true},
		{Name: "date_created", Column: "f.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "priority",
	Tiebreak:     "f.id",
}

const commandFilterCols = "f.id, f.name, f.priority, f.action, f.is_active, f.comment, f.created_by, f.date_created, f.date_updated"

func scanCommandFilter(sc interface{ Scan(...any) error }) (CommandFilter, error) {
	var f CommandFilter
	var dc, du sql.NullString
	err := sc.Scan(&f.ID, &f.Name, &f.Priority, &f.Action, &f.IsActive, &f.Comment, &f.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	f.DateCreated, f.DateUpdated = parseTime(dc), parseTime(du)
	return f, err
}

func (tx *Tx) setFilterMembers(ctx context.Context, f *CommandFilter) error {
	if _, err := tx.exec(ctx, `DELETE FROM command_filter_members WHERE filter_id = ?`, f.ID); err != nil {
		return err
	}
	for _, m := range []struct {
		kind string
		ids  []string
	}{{KindUsers, f.Users}, {KindUserGroups, f.UserGroups}, {KindAssets, f.Assets}, {KindSystemUsers, f.SystemUsers}, {"command_groups", f.CommandGroups}} {
		for _, id := range m.ids {
			if _, err := tx.exec(ctx, `INSERT INTO command_filter_members (filter_id, kind, member_id) VALUES (?, ?, ?)`, f.ID, m.kind, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateCommandFilter inserts f with its members.
func (tx *Tx) CreateCommandFilter(ctx context.Context, f *CommandFilter) error {
	if _, err := tx.exec(ctx, `INSERT INTO command_filters (id, name, priority, action, is_active, comment, created_by, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.Name, f.Priority, f.Action, f.IsActive, f.Comment, f.CreatedBy, Time(f.DateCreated), Time(f.DateUpdated)); err != nil {
		return err
	}
	return tx.setFilterMembers(ctx, f)
}

// UpdateCommandFilter writes every editable column of f and its members.
func (tx *Tx) UpdateCommandFilter(ctx context.Context, f *CommandFilter) error {
	res, err := tx.exec(ctx, `UPDATE command_filters SET name = ?, priority = ?, action = ?, is_active = ?, comment = ?, date_updated = ? WHERE id = ?`,
		f.Name, f.Priority, f.Action, f.IsActive, f.Comment, Time(f.DateUpdated), f.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return tx.setFilterMembers(ctx, f)
}

// DeleteCommandFilter removes a filter.
func (tx *Tx) DeleteCommandFilter(ctx context.Context, id string) error {
	res, err := tx.exec(ctx, `DELETE FROM command_filters WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (db *DB) fillCommandFilters(ctx context.Context, fs []CommandFilter) error {
	ids := make([]string, len(fs))
	idx := make(map[string]int, len(fs))
	for i := range fs {
		ids[i], idx[fs[i].ID] = fs[i].ID, i
	}
	return inChunks(ctx, db, `SELECT filter_id, kind, member_id FROM command_filter_members WHERE filter_id IN (?) ORDER BY member_id`, ids, func(r *sql.Rows) error {
		var fid, kind, mid string
		if err := r.Scan(&fid, &kind, &mid); err != nil {
			return err
		}
		f := &fs[idx[fid]]
		switch kind {
		case KindUsers:
			f.Users = append(f.Users, mid)
		case KindUserGroups:
			f.UserGroups = append(f.UserGroups, mid)
		case KindAssets:
			f.Assets = append(f.Assets, mid)
		case KindSystemUsers:
			f.SystemUsers = append(f.SystemUsers, mid)
		case "command_groups":
			f.CommandGroups = append(f.CommandGroups, mid)
		}
		return nil
	})
}

// CommandFilter reads one filter with its members.
func (db *DB) CommandFilter(ctx context.Context, id string) (CommandFilter, error) {
	f, err := scanCommandFilter(db.queryRow(ctx, "SELECT "+commandFilterCols+" FROM command_filters f WHERE f.id = ?", id))
	if err != nil {
		return f, err
	}
	fs := []CommandFilter{f}
	err = db.fillCommandFilters(ctx, fs)
	return fs[0], err
}

// CommandFilters lists filters matching q; all with an empty query.
func (db *DB) CommandFilters(ctx context.Context, q query.Query) ([]CommandFilter, int, error) {
	var out []CommandFilter
	n, err := list(ctx, db, CommandFilterSchema, q, listSpec{from: "command_filters f", cols: commandFilterCols}, func(r *sql.Rows) error {
		f, err := scanCommandFilter(r)
		out = append(out, f)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, n, err
	}
	return out, n, db.fillCommandFilters(ctx, out)
}

// CommandGroupNames maps command group ids to names.
func (db *DB) CommandGroupNames(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "command_groups", "name", ids)
}
