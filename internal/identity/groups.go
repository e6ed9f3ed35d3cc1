package identity

import (
	"context"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// GroupFields are the writable fields of a user group; nil means "not given".
type GroupFields struct {
	Name, Comment *string
	Users         *[]string
}

type groupView struct {
	Name    string   `json:"name"`
	Comment string   `json:"comment"`
	Users   []string `json:"users"`
}

func (s *Service) applyGroup(ctx context.Context, g *store.Group, f GroupFields, creating bool) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		g.Name = *f.Name
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		g.Comment = *f.Comment
	}
	if f.Users != nil {
		users := fault.Dedupe(*f.Users)
		miss, err := s.db.Missing(ctx, "users", users)
		if err != nil {
			return err
		}
		if len(miss) > 0 {
			return fault.InvalidField("users", "no user with id %q", miss[0])
		}
		g.Users = users
	}
	return nil
}

// CreateGroup creates a user group.
func (s *Service) CreateGroup(ctx context.Context, a audit.Actor, f GroupFields) (store.Group, error) {
	now := s.now()
	g := store.Group{ID: NewID(), CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := s.applyGroup(ctx, &g, f, true); err != nil {
		return g, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateGroup(ctx, &g); err != nil {
			return fault.ConflictOr(err, "name", "a user group named "+g.Name)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "user_group", ID: g.ID, Name: g.Name,
			After: groupView{g.Name, g.Comment, g.Users}})
	})
	if err != nil {
		return g, err
	}
	s.membersChanged(ctx, nil, g.Users)
	return s.db.Group(ctx, g.ID)
}

// UpdateGroup changes the given fields of a group.
func (s *Service) UpdateGroup(ctx context.Context, a audit.Actor, id string, f GroupFields) (store.Group, error) {
	g, err := s.db.Group(ctx, id)
	if err != nil {
		return g, fault.NotFoundOr(err, "user group")
	}
	before := groupView{g.Name, g.Comment, g.Users}
	if err := s.applyGroup(ctx, &g, f, false); err != nil {
		return g, err
	}
	g.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateGroup(ctx, &g); err != nil {
			return fault.ConflictOr(err, "name", "a user group named "+g.Name)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "user_group", ID: g.ID, Name: g.Name,
			Before: before, After: groupView{g.Name, g.Comment, g.Users}})
	})
	if err != nil {
		return g, err
	}
	s.membersChanged(ctx, before.Users, g.Users)
	return s.db.Group(ctx, g.ID)
}

// DeleteGroup removes a group.
func (s *Service) DeleteGroup(ctx context.Context, a audit.Actor, id string) error {
	g, err := s.db.Group(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "user group")
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteGroup(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "user_group", ID: g.ID, Name: g.Name,
			Before: groupView{g.Name, g.Comment, g.Users}})
	})
	if err != nil {
		return err
	}
	s.obs.GroupDeleted(id)
	s.membersChanged(ctx, g.Users, nil)
	return nil
}

// membersChanged tells the observer the current groups of every user whose
// membership may have changed.
func (s *Service) membersChanged(ctx context.Context, before, after []string) {
	for _, uid := range fault.Dedupe(append(append([]string{}, before...), after...)) {
		u, err := s.db.User(ctx, uid)
		if err != nil {
			continue // deleted meanwhile: its own delete told the observer
		}
		s.obs.UserGroupsChanged(uid, u.Groups)
	}
}
