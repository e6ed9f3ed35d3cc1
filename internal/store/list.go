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
	where string // extra conditions ANDed with the query's, "" for none (see and)
	args  []any
}

// and adds a condition, with its arguments, to those ANDed with the
// query's.
func (ls *listSpec) and(cond string, args ...any) {
	if ls.where != "" {
		ls.where += " AND "
	}
	ls.where += "(" + cond + ")"
	ls.args = append(ls.args, args...)
}

// list runs a validated query: a COUNT for the envelope, then the page.
// scan is called once per row of the page.
func list(ctx context.Context, qr querier, s *query.Schema, q query.Query, ls listSpec, scan func(*sql.Rows) error) (int, error) {
	where, args := q.Where()
	var conds []string
	var all []any
	if ls.where != "" {
		conds = append(conds, ls.where)
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
// in one query instead of one per row. q holds "(?)" for the owner list.
func pairs(ctx context.Context, qr querier, q string, owners []string) (map[string][]string, error) {
	out := make(map[string][]string, len(owners))
	err := inChunks(ctx, qr, q, owners, func(r *sql.Rows) error {
		var owner, v string
		if err := r.Scan(&owner, &v); err != nil {
			return err
		}
		out[owner] = append(out[owner], v)
		return nil
	})
	return out, err
}

// inChunks runs q, whose "(?)" stands for the list of ids, over ids in
// chunks that stay under both databases' bound-parameter limits, and calls
// scan for every row.
func inChunks(ctx context.Context, qr querier, q string, ids []string, scan func(*sql.Rows) error) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		rows, err := qr.query(ctx, strings.Replace(q, "(?)", "("+placeholders(len(chunk))+")", 1), anys(chunk)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// existing returns which of ids exist in table (a trusted name).
func existing(ctx context.Context, qr querier, table string, ids []string) (map[string]bool, error) {
	found := make(map[string]bool, len(ids))
	err := inChunks(ctx, qr, "SELECT id FROM "+table+" WHERE id IN (?)", ids, func(r *sql.Rows) error {
		var id string
		err := r.Scan(&id)
		found[id] = true
		return err
	})
	return found, err
}

// Missing returns the ids among ids that do not exist in the named kind of
// record ("users", "user_groups", "assets", "nodes", "system_users",
// "platforms"), in their given order.
func (db *DB) Missing(ctx context.Context, kind string, ids []string) ([]string, error) {
	switch kind {
	case "users", "user_groups", "assets", "nodes", "system_users", "platforms", "asset_permissions", "command_groups":
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
