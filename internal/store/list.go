package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/postern/postern/internal/query"
)

// listSpec describes one list read: which columns from which tables, with
// an optional fixed condition (for example "the caller's own rows").
type listSpec struct {
	from  string // "users u"
	cols  string // "u.id, u.username, ..."
	where string // extra condition ANDed with the query's, "" for none
	args  []any
}

// list runs a validated query: a COUNT for the envelope, then the page.
// scan is called once per row of the page.
func list(ctx context.Context, qr querier, s *query.Schema, q query.Query, ls listSpec, scan func(*sql.Rows) error) (int, error) {
	where, args := q.Where()
	var conds []string
	var all []any
	if ls.where != "" {
		conds = append(conds, "("+ls.where+")")
		all = append(all, ls.args...)
	}
	if where != "" {
		conds = append(conds, "("+where+")")
		all = append(all, args...)
	}
	cond := ""
	if len(conds) > 0 {
		cond = " WHERE " + strings.Join(conds, " AND ")
	}
	var count int
	if err := qr.queryRow(ctx, "SELECT COUNT(*) FROM "+ls.from+cond, all...).Scan(&count); err != nil {
		return 0, err
	}
	page, pargs := q.Page(qr.isPostgres())
	rows, err := qr.query(ctx, "SELECT "+ls.cols+" FROM "+ls.from+cond+" ORDER BY "+q.OrderBy(s)+page, append(all, pargs...)...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, err
		}
	}
	return count, rows.Err()
}

// pairs reads (owner, value) rows for a set of owners: group ids of users,
// node ids of assets and the like, so a page loads its many-to-many fields
// in one query instead of one per row.
func pairs(ctx context.Context, qr querier, q string, owners []string) (map[string][]string, error) {
	out := make(map[string][]string, len(owners))
	if len(owners) == 0 {
		return out, nil
	}
	// Chunk to stay under SQLite's parameter limit on very large pages.
	for start := 0; start < len(owners); start += 500 {
		end := min(start+500, len(owners))
		chunk := owners[start:end]
		rows, err := qr.query(ctx, strings.Replace(q, "(?)", "("+placeholders(len(chunk))+")", 1), anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var owner, v string
			if err := rows.Scan(&owner, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[owner] = append(out[owner], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// existing returns which of ids exist in table (a trusted name).
func existing(ctx context.Context, qr querier, table string, ids []string) (map[string]bool, error) {
	found := make(map[string]bool, len(ids))
	for start := 0; start < len(ids); start += 500 {
		end := min(start+500, len(ids))
		chunk := ids[start:end]
		rows, err := qr.query(ctx, "SELECT id FROM "+table+" WHERE id IN ("+placeholders(len(chunk))+")", anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// Missing returns the ids among ids that do not exist in the named kind of
// record ("users", "user_groups", "assets", "nodes", "system_users",
// "platforms"), in their given order.
func (db *DB) Missing(ctx context.Context, kind string, ids []string) ([]string, error) {
	switch kind {
	case "users", "user_groups", "assets", "nodes", "system_users", "platforms", "asset_permissions":
	default:
		panic("store: unknown kind " + kind)
	}
	found, err := existing(ctx, db, kind, ids)
	if err != nil {
		return nil, err
	}
	var miss []string
	for _, id := range ids {
		if !found[id] {
			miss = append(miss, id)
		}
	}
	return miss, nil
}
