package access

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// Service keeps asset permissions in the store and the engine in step
// with every change that affects them. It is the Observer that the
// identity and inventory services report to.
type Service struct {
	db  *store.DB
	eng *Engine
	now func() time.Time
}

// NewService loads the engine from the store and returns the service.
func NewService(ctx context.Context, db *store.DB) (*Service, error) {
	s := &Service{db: db, eng: New(), now: time.Now}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Engine returns the permission engine for queries.
func (s *Service) Engine() *Engine { return s.eng }

// Reload replaces the engine's data with the store's.
func (s *Service) Reload(ctx context.Context) error {
	perms, err := s.db.AllPermissions(ctx)
	if err != nil {
		return fmt.Errorf("load permissions: %w", err)
	}
	assets, err := s.db.AllAssets(ctx)
	if err != nil {
		return fmt.Errorf("load assets: %w", err)
	}
	nodes, err := s.db.AllNodes(ctx)
	if err != nil {
		return fmt.Errorf("load nodes: %w", err)
	}
	members, err := s.db.Memberships(ctx)
	if err != nil {
		return fmt.Errorf("load memberships: %w", err)
	}
	d := Data{Members: members, Perms: make([]Perm, 0, len(perms)), Assets: make([]Asset, 0, len(assets)), Nodes: make([]Node, 0, len(nodes))}
	for i := range perms {
		d.Perms = append(d.Perms, toPerm(&perms[i]))
	}
	for i := range assets {
		d.Assets = append(d.Assets, toAsset(&assets[i]))
	}
	for _, n := range nodes {
		d.Nodes = append(d.Nodes, Node{ID: n.ID, Parent: n.Parent, Name: n.Name})
	}
	s.eng.Load(d)
	return nil
}

func toPerm(p *store.Permission) Perm {
	// Stored actions were validated on write; an unknown name (from a
	// newer version) grants nothing rather than failing the load.
	acts, _ := ParseActions(p.Actions)
	return Perm{ID: p.ID, Users: p.Users, Groups: p.UserGroups, Assets: p.Assets, Nodes: p.Nodes, SystemUsers: p.SystemUsers,
		Actions: acts, Start: p.DateStart, Expire: p.DateExpired, Active: p.IsActive}
}

func toAsset(a *store.Asset) Asset {
	return Asset{ID: a.ID, Name: a.Name, IP: a.IP, Nodes: a.Nodes, Active: a.IsActive}
}

// UserGroupsChanged implements identity.Observer.
func (s *Service) UserGroupsChanged(userID string, groups []string) {
	s.eng.SetUserGroups(userID, groups)
}

// UserDeleted implements identity.Observer.
func (s *Service) UserDeleted(userID string) { s.eng.DeleteUser(userID) }

// GroupDeleted implements identity.Observer.
func (s *Service) GroupDeleted(groupID string) { s.eng.DeleteGroup(groupID) }

// AssetsChanged implements inventory.Observer.
func (s *Service) AssetsChanged(assets []store.Asset) {
	as := make([]Asset, len(assets))
	for i := range assets {
		as[i] = toAsset(&assets[i])
	}
	s.eng.PutAssets(as)
}

// AssetDeleted implements inventory.Observer.
func (s *Service) AssetDeleted(id string) { s.eng.DeleteAsset(id) }

// NodeChanged implements inventory.Observer.
func (s *Service) NodeChanged(n store.Node) {
	s.eng.PutNode(Node{ID: n.ID, Parent: n.Parent, Name: n.Name})
}

// NodeDeleted implements inventory.Observer.
func (s *Service) NodeDeleted(id string) { s.eng.DeleteNode(id) }

// SystemUserDeleted implements inventory.Observer: the rules that named
// it are re-read so they stop granting it.
func (s *Service) SystemUserDeleted(ctx context.Context, permIDs []string) {
	s.refresh(ctx, permIDs)
}

func (s *Service) refresh(ctx context.Context, ids []string) {
	for _, id := range ids {
		p, err := s.db.Permission(ctx, id)
		if err != nil {
			s.eng.DeletePerm(id)
			continue
		}
		s.eng.PutPerm(toPerm(&p))
	}
}

// PermissionFields are the writable fields of an asset permission; nil
// means "not given".
type PermissionFields struct {
	Name, Comment                                 *string
	Users, UserGroups, Assets, Nodes, SystemUsers *[]string
	Actions                                       *[]string
	DateStart, DateExpired                        *time.Time // zero clears
	IsActive                                      *bool
}

type permView struct {
	Name        string   `json:"name"`
	Comment     string   `json:"comment"`
	Users       []string `json:"users"`
	UserGroups  []string `json:"user_groups"`
	Assets      []string `json:"assets"`
	Nodes       []string `json:"nodes"`
	SystemUsers []string `json:"system_users"`
	Actions     []string `json:"actions"`
	DateStart   string   `json:"date_start"`
	DateExpired string   `json:"date_expired"`
	IsActive    bool     `json:"is_active"`
}

func viewPerm(p *store.Permission) permView {
	v := permView{Name: p.Name, Comment: p.Comment, Users: p.Users, UserGroups: p.UserGroups, Assets: p.Assets, Nodes: p.Nodes,
		SystemUsers: p.SystemUsers, Actions: p.Actions, IsActive: p.IsActive}
	if !p.DateStart.IsZero() {
		v.DateStart = store.Time(p.DateStart)
	}
	if !p.DateExpired.IsZero() {
		v.DateExpired = store.Time(p.DateExpired)
	}
	return v
}

func (s *Service) apply(ctx context.Context, p *store.Permission, f PermissionFields, creating bool) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		p.Name = *f.Name
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		p.Comment = *f.Comment
	}
	refs := []struct {
		field, kind, what string
		in                *[]string
		out               *[]string
	}{
		{"users", "users", "user", f.Users, &p.Users},
		{"user_groups", "user_groups", "user group", f.UserGroups, &p.UserGroups},
		{"assets", "assets", "asset", f.Assets, &p.Assets},
		{"nodes", "nodes", "node", f.Nodes, &p.Nodes},
		{"system_users", "system_users", "system user", f.SystemUsers, &p.SystemUsers},
	}
	for _, r := range refs {
		if r.in == nil {
			continue
		}
		ids := fault.Dedupe(*r.in)
		miss, err := s.db.Missing(ctx, r.kind, ids)
		if err != nil {
			return err
		}
		if len(miss) > 0 {
			return fault.InvalidField(r.field, "no %s with id %q", r.what, miss[0])
		}
		*r.out = ids
	}
	if f.Actions != nil {
		acts, err := ParseActions(*f.Actions)
		if err != nil {
			return fault.InvalidField("actions", "%v", err)
		}
		p.Actions = acts.Names()
	} else if creating {
		p.Actions = ActionAll.Names()
	}
	if f.DateStart != nil {
		p.DateStart = *f.DateStart
	}
	if f.DateExpired != nil {
		p.DateExpired = *f.DateExpired
	}
	if !p.DateStart.IsZero() && !p.DateExpired.IsZero() && !p.DateStart.Before(p.DateExpired) {
		return fault.InvalidField("date_expired", "must be after date_start")
	}
	if f.IsActive != nil {
		p.IsActive = *f.IsActive
	}
	return nil
}

// CreatePermission creates an asset permission; it is in force for the
// very next query.
func (s *Service) CreatePermission(ctx context.Context, a audit.Actor, f PermissionFields) (store.Permission, error) {
	now := s.now()
	p := store.Permission{ID: identity.NewID(), IsActive: true, CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := s.apply(ctx, &p, f, true); err != nil {
		return p, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreatePermission(ctx, &p); err != nil {
			return fault.ConflictOr(err, "name", "a permission named "+p.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "asset_permission", ID: p.ID, Name: p.Name, After: viewPerm(&p)}, now)
	})
	if err != nil {
		return p, err
	}
	s.eng.PutPerm(toPerm(&p))
	return s.db.Permission(ctx, p.ID)
}

// UpdatePermission changes the given fields of a permission.
func (s *Service) UpdatePermission(ctx context.Context, a audit.Actor, id string, f PermissionFields) (store.Permission, error) {
	p, err := s.db.Permission(ctx, id)
	if err != nil {
		return p, fault.NotFoundOr(err, "asset permission")
	}
	before := viewPerm(&p)
	if err := s.apply(ctx, &p, f, false); err != nil {
		return p, err
	}
	p.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdatePermission(ctx, &p); err != nil {
			return fault.ConflictOr(err, "name", "a permission named "+p.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "asset_permission", ID: p.ID, Name: p.Name, Before: before, After: viewPerm(&p)}, p.DateUpdated)
	})
	if err != nil {
		return p, err
	}
	s.eng.PutPerm(toPerm(&p))
	return s.db.Permission(ctx, p.ID)
}

// DeletePermission removes a permission; it stops granting at once.
func (s *Service) DeletePermission(ctx context.Context, a audit.Actor, id string) error {
	p, err := s.db.Permission(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "asset permission")
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeletePermission(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "asset_permission", ID: p.ID, Name: p.Name, Before: viewPerm(&p)}, s.now())
	})
	if err != nil {
		return err
	}
	s.eng.DeletePerm(id)
	return nil
}
