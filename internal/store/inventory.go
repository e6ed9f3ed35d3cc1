package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/postern/postern/internal/query"
)

// Protocol is a protocol an asset speaks and the port it speaks it on.
type Protocol struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// Platform is a kind of asset.
type Platform struct {
	ID                   int64
	Name, Category, Type string
	Protocols            []Protocol // with default ports
	Builtin              bool
	Comment              string
}

// PlatformSchema is the list contract of platforms.
var PlatformSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "p.id", Type: query.Int, Sort: true, Filter: true},
		{Name: "name", Column: "p.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "category", Column: "p.category", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "type", Column: "p.type", Type: query.String, Sort: true, Filter: true},
		{Name: "builtin", Column: "p.builtin", Type: query.Bool, Filter: true},
	},
	DefaultOrder: "id",
	Tiebreak:     "p.id",
}

// UpsertPlatform writes a platform, replacing one with the same id.
func (db *DB) UpsertPlatform(ctx context.Context, p *Platform) error {
	protos, _ := json.Marshal(p.Protocols)
	_, err := db.exec(ctx, `INSERT INTO platforms (id, name, category, type, protocols, builtin, comment) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category, type = excluded.type,
		protocols = excluded.protocols, builtin = excluded.builtin, comment = excluded.comment`,
		p.ID, p.Name, p.Category, p.Type, string(protos), p.Builtin, p.Comment)
	return err
}

func scanPlatform(sc interface{ Scan(...any) error }) (Platform, error) {
	var p Platform
	var protos string
	err := sc.Scan(&p.ID, &p.Name, &p.Category, &p.Type, &protos, &p.Builtin, &p.Comment)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err == nil {
		err = json.Unmarshal([]byte(protos), &p.Protocols)
	}
	return p, err
}

const platformCols = "p.id, p.name, p.category, p.type, p.protocols, p.builtin, p.comment"

// Platforms lists platforms matching q.
func (db *DB) Platforms(ctx context.Context, q query.Query) ([]Platform, int, error) {
	var out []Platform
	n, err := list(ctx, db, PlatformSchema, q, listSpec{from: "platforms p", cols: platformCols}, func(r *sql.Rows) error {
		p, err := scanPlatform(r)
		out = append(out, p)
		return err
	})
	return out, n, err
}

// Platform reads one platform.
func (db *DB) Platform(ctx context.Context, id int64) (Platform, error) {
	return scanPlatform(db.queryRow(ctx, "SELECT "+platformCols+" FROM platforms p WHERE p.id = ?", id))
}

// Node is a folder of the asset tree.
type Node struct {
	ID, Parent, Name         string // Parent "" for the root
	DateCreated, DateUpdated time.Time
}

// NodeSchema is the list contract of nodes.
var NodeSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "n.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "n.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "parent", Column: "n.parent_id", Type: query.ID, Filter: true},
		{Name: "date_created", Column: "n.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "n.id",
}

func scanNode(sc interface{ Scan(...any) error }) (Node, error) {
	var n Node
	var parent, dc, du sql.NullString
	err := sc.Scan(&n.ID, &parent, &n.Name, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotFound
	}
	n.Parent, n.DateCreated, n.DateUpdated = parent.String, parseTime(dc), parseTime(du)
	return n, err
}

const nodeCols = "n.id, n.parent_id, n.name, n.date_created, n.date_updated"

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateNode inserts a node.
func (tx *Tx) CreateNode(ctx context.Context, n *Node) error {
	_, err := tx.exec(ctx, `INSERT INTO nodes (id, parent_id, name, date_created, date_updated) VALUES (?, ?, ?, ?, ?)`,
		n.ID, nullString(n.Parent), n.Name, Time(n.DateCreated), Time(n.DateUpdated))
	return err
}

// UpdateNode renames or moves a node.
func (tx *Tx) UpdateNode(ctx context.Context, n *Node) error {
	res, err := tx.exec(ctx, `UPDATE nodes SET parent_id = ?, name = ?, date_updated = ? WHERE id = ?`, nullString(n.Parent), n.Name, Time(n.DateUpdated), n.ID)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteNode removes an empty node and its grants; the caller checks emptiness.
func (tx *Tx) DeleteNode(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE kind = 'nodes' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM nodes WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// NodeUse counts a node's children and assets.
func (db *DB) NodeUse(ctx context.Context, id string) (children, assets int, err error) {
	if err = db.queryRow(ctx, `SELECT COUNT(*) FROM nodes WHERE parent_id = ?`, id).Scan(&children); err != nil {
		return
	}
	err = db.queryRow(ctx, `SELECT COUNT(*) FROM asset_nodes WHERE node_id = ?`, id).Scan(&assets)
	return
}

// Node reads one node.
func (db *DB) Node(ctx context.Context, id string) (Node, error) {
	return scanNode(db.queryRow(ctx, "SELECT "+nodeCols+" FROM nodes n WHERE n.id = ?", id))
}

// Nodes lists nodes matching q.
func (db *DB) Nodes(ctx context.Context, q query.Query) ([]Node, int, error) {
	var out []Node
	n, err := list(ctx, db, NodeSchema, q, listSpec{from: "nodes n", cols: nodeCols}, func(r *sql.Rows) error {
		nd, err := scanNode(r)
		out = append(out, nd)
		return err
	})
	return out, n, err
}

// AllNodes reads the whole tree, for the permission engine and tree views.
func (db *DB) AllNodes(ctx context.Context) ([]Node, error) {
	rows, err := db.query(ctx, "SELECT "+nodeCols+" FROM nodes n")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Asset is a target machine or service.
type Asset struct {
	ID, Name, IP             string
	PlatformID               int64
	Protocols                []Protocol
	Labels                   map[string]string
	IsActive                 bool
	Comment, CreatedBy       string
	DateCreated, DateUpdated time.Time
	Nodes                    []string // node ids
}

// AssetSchema is the list contract of assets.
var AssetSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "a.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "a.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "hostname", Column: "a.name", Type: query.String, Sort: true, Filter: true},
		{Name: "ip", Column: "a.ip", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "platform", Column: "a.platform_id", Type: query.Int, Sort: true, Filter: true},
		{Name: "is_active", Column: "a.is_active", Type: query.Bool, Sort: true, Filter: true},
		{Name: "comment", Column: "a.comment", Type: query.String, Search: true, Filter: true},
		{Name: "date_created", Column: "a.date_created", Type: query.Time, Sort: true, Filter: true},
		{Name: "date_updated", Column: "a.date_updated", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "a.id",
	Extra:        []string{"node"},
}

const assetCols = "a.id, a.name, a.ip, a.platform_id, a.protocols, a.labels, a.is_active, a.comment, a.created_by, a.date_created, a.date_updated"

func scanAsset(sc interface{ Scan(...any) error }) (Asset, error) {
	var a Asset
	var protos, labels string
	var dc, du sql.NullString
	err := sc.Scan(&a.ID, &a.Name, &a.IP, &a.PlatformID, &protos, &labels, &a.IsActive, &a.Comment, &a.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.DateCreated, a.DateUpdated = parseTime(dc), parseTime(du)
	if err := json.Unmarshal([]byte(protos), &a.Protocols); err != nil {
		return a, err
	}
	return a, json.Unmarshal([]byte(labels), &a.Labels)
}

// CreateAssets inserts assets with their nodes, in one transaction.
func (tx *Tx) CreateAssets(ctx context.Context, as []Asset) error {
	for i := range as {
		a := &as[i]
		protos, _ := json.Marshal(a.Protocols)
		labels, _ := json.Marshal(a.Labels)
		if _, err := tx.exec(ctx, `INSERT INTO assets (id, name, ip, platform_id, protocols, labels, is_active, comment, created_by, date_created, date_updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, a.IP, a.PlatformID, string(protos), string(labels), a.IsActive, a.Comment, a.CreatedBy,
			Time(a.DateCreated), Time(a.DateUpdated)); err != nil {
			return err
		}
		for _, n := range a.Nodes {
			if _, err := tx.exec(ctx, `INSERT INTO asset_nodes (asset_id, node_id) VALUES (?, ?)`, a.ID, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpdateAsset writes every editable column of a and its nodes.
func (tx *Tx) UpdateAsset(ctx context.Context, a *Asset) error {
	protos, _ := json.Marshal(a.Protocols)
	labels, _ := json.Marshal(a.Labels)
	res, err := tx.exec(ctx, `UPDATE assets SET name = ?, ip = ?, platform_id = ?, protocols = ?, labels = ?, is_active = ?, comment = ?, date_updated = ? WHERE id = ?`,
		a.Name, a.IP, a.PlatformID, string(protos), string(labels), a.IsActive, a.Comment, Time(a.DateUpdated), a.ID)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	if _, err := tx.exec(ctx, `DELETE FROM asset_nodes WHERE asset_id = ?`, a.ID); err != nil {
		return err
	}
	for _, n := range a.Nodes {
		if _, err := tx.exec(ctx, `INSERT INTO asset_nodes (asset_id, node_id) VALUES (?, ?)`, a.ID, n); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAsset removes an asset and its grants.
func (tx *Tx) DeleteAsset(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE kind = 'assets' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM assets WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// Asset reads one asset with its nodes.
func (db *DB) Asset(ctx context.Context, id string) (Asset, error) {
	return db.assetWhere(ctx, "a.id = ?", id)
}

func (db *DB) assetWhere(ctx context.Context, cond string, arg any) (Asset, error) {
	a, err := scanAsset(db.queryRow(ctx, "SELECT "+assetCols+" FROM assets a WHERE "+cond, arg))
	if err != nil {
		return a, err
	}
	as := []Asset{a}
	err = db.fillAssets(ctx, as)
	return as[0], err
}

// AssetsByID reads the given assets (any order), with nodes.
func (db *DB) AssetsByID(ctx context.Context, ids []string) ([]Asset, error) {
	var out []Asset
	err := inChunks(ctx, db, "SELECT "+assetCols+" FROM assets a WHERE a.id IN (?)", ids, func(r *sql.Rows) error {
		a, err := scanAsset(r)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, db.fillAssets(ctx, out)
}

func (db *DB) fillAssets(ctx context.Context, as []Asset) error {
	ids := make([]string, len(as))
	for i := range as {
		ids[i] = as[i].ID
	}
	m, err := pairs(ctx, db, `SELECT asset_id, node_id FROM asset_nodes WHERE asset_id IN (?) ORDER BY node_id`, ids)
	for i := range as {
		as[i].Nodes = m[as[i].ID]
	}
	return err
}

// Assets lists assets matching q; node, when not "", keeps those directly in it.
func (db *DB) Assets(ctx context.Context, q query.Query, node string) ([]Asset, int, error) {
	ls := listSpec{from: "assets a", cols: assetCols}
	if node != "" {
		ls.and("a.id IN (SELECT asset_id FROM asset_nodes WHERE node_id = ?)", node)
	}
	var out []Asset
	n, err := list(ctx, db, AssetSchema, q, ls, func(r *sql.Rows) error {
		a, err := scanAsset(r)
		out = append(out, a)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, n, err
	}
	return out, n, db.fillAssets(ctx, out)
}

// AllAssets reads every asset with its nodes, for the permission engine.
func (db *DB) AllAssets(ctx context.Context) ([]Asset, error) {
	rows, err := db.query(ctx, "SELECT "+assetCols+" FROM assets a")
	if err != nil {
		return nil, err
	}
	var out []Asset
	idx := make(map[string]int)
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		idx[a.ID] = len(out)
		out = append(out, a)
	}
	rows.Close()
	rows, err = db.query(ctx, "SELECT asset_id, node_id FROM asset_nodes")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a, n string
		if err := rows.Scan(&a, &n); err != nil {
			return nil, err
		}
		if i, ok := idx[a]; ok {
			out[i].Nodes = append(out[i].Nodes, n)
		}
	}
	return out, rows.Err()
}

// AssetNames returns which of names are taken by assets, for bulk import
// checks that report every conflicting row at once.
func (db *DB) AssetNames(ctx context.Context, names []string) (map[string]bool, error) {
	taken := make(map[string]bool)
	err := inChunks(ctx, db, "SELECT name FROM assets WHERE name IN (?)", names, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		taken[n] = true
		return err
	})
	return taken, err
}

// SystemUser is a credential used on assets; Password and PrivateKey are
// sealed by the vault before they reach the store.
type SystemUser struct {
	ID, Name, Username, Protocol string
	Password, PrivateKey         string // sealed
	Comment, CreatedBy           string
	DateCreated, DateUpdated     time.Time
}

// SystemUserSchema is the list contract of system users.
var SystemUserSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "id", Column: "s.id", Type: query.ID, Filter: true},
		{Name: "name", Column: "s.name", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "username", Column: "s.username", Type: query.String, Search: true, Sort: true, Filter: true},
		{Name: "protocol", Column: "s.protocol", Type: query.String, Sort: true, Filter: true},
		{Name: "date_created", Column: "s.date_created", Type: query.Time, Sort: true, Filter: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "s.id",
}

const systemUserCols = "s.id, s.name, s.username, s.protocol, s.password, s.private_key, s.comment, s.created_by, s.date_created, s.date_updated"

func scanSystemUser(sc interface{ Scan(...any) error }) (SystemUser, error) {
	var s SystemUser
	var dc, du sql.NullString
	err := sc.Scan(&s.ID, &s.Name, &s.Username, &s.Protocol, &s.Password, &s.PrivateKey, &s.Comment, &s.CreatedBy, &dc, &du)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	s.DateCreated, s.DateUpdated = parseTime(dc), parseTime(du)
	return s, err
}

// CreateSystemUser inserts s.
func (tx *Tx) CreateSystemUser(ctx context.Context, s *SystemUser) error {
	_, err := tx.exec(ctx, `INSERT INTO system_users (id, name, username, protocol, password, private_key, comment, created_by, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Name, s.Username, s.Protocol, s.Password, s.PrivateKey, s.Comment, s.CreatedBy, Time(s.DateCreated), Time(s.DateUpdated))
	return err
}

// UpdateSystemUser writes every editable column of s.
func (tx *Tx) UpdateSystemUser(ctx context.Context, s *SystemUser) error {
	res, err := tx.exec(ctx, `UPDATE system_users SET name = ?, username = ?, protocol = ?, password = ?, private_key = ?, comment = ?, date_updated = ? WHERE id = ?`,
		s.Name, s.Username, s.Protocol, s.Password, s.PrivateKey, s.Comment, Time(s.DateUpdated), s.ID)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteSystemUser removes a system user and its grants.
func (tx *Tx) DeleteSystemUser(ctx context.Context, id string) error {
	if _, err := tx.exec(ctx, `DELETE FROM asset_permission_members WHERE kind = 'system_users' AND member_id = ?`, id); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `DELETE FROM system_users WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return ErrNotFound
	}
	return nil
}

// SystemUser reads one system user.
func (db *DB) SystemUser(ctx context.Context, id string) (SystemUser, error) {
	return scanSystemUser(db.queryRow(ctx, "SELECT "+systemUserCols+" FROM system_users s WHERE s.id = ?", id))
}

// SystemUsers lists system users matching q.
func (db *DB) SystemUsers(ctx context.Context, q query.Query) ([]SystemUser, int, error) {
	var out []SystemUser
	n, err := list(ctx, db, SystemUserSchema, q, listSpec{from: "system_users s", cols: systemUserCols}, func(r *sql.Rows) error {
		s, err := scanSystemUser(r)
		out = append(out, s)
		return err
	})
	return out, n, err
}

// SystemUsersByID reads the given system users, keyed by id.
func (db *DB) SystemUsersByID(ctx context.Context, ids []string) (map[string]SystemUser, error) {
	out := make(map[string]SystemUser, len(ids))
	err := inChunks(ctx, db, "SELECT "+systemUserCols+" FROM system_users s WHERE s.id IN (?)", ids, func(r *sql.Rows) error {
		s, err := scanSystemUser(r)
		out[s.ID] = s
		return err
	})
	return out, err
}

// NodeNames maps node ids to names.
func (db *DB) NodeNames(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "nodes", "name", ids)
}

// AssetNamesByID maps asset ids to names.
func (db *DB) AssetNamesByID(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "assets", "name", ids)
}

// SystemUserNames maps system user ids to names.
func (db *DB) SystemUserNames(ctx context.Context, ids []string) (map[string]string, error) {
	return names(ctx, db, "system_users", "name", ids)
}

// AssetByName reads one asset by its unique name, with nodes.
func (db *DB) AssetByName(ctx context.Context, name string) (Asset, error) {
	return db.assetWhere(ctx, "a.name = ?", name)
}

// NodeParents maps node ids to their parents' ids ("" for the root).
func (db *DB) NodeParents(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	err := inChunks(ctx, db, "SELECT id, parent_id FROM nodes WHERE id IN (?)", ids, func(r *sql.Rows) error {
		var id string
		var parent sql.NullString
		err := r.Scan(&id, &parent)
		out[id] = parent.String
		return err
	})
	return out, err
}
