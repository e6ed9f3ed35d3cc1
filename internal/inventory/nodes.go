package inventory

import (
	"context"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// NodeFields are the writable fields of a node; nil means "not given".
type NodeFields struct {
	Name, Parent *string
}

type nodeView struct {
	Name   string `json:"name"`
	Parent string `json:"parent"`
}

// CreateNode adds a node under a parent (the root when none is given).
func (s *Service) CreateNode(ctx context.Context, a audit.Actor, f NodeFields) (store.Node, error) {
	now := s.now()
	n := store.Node{ID: newID(), Parent: RootNodeID, DateCreated: now, DateUpdated: now}
	if f.Name == nil {
		return n, fault.InvalidField("name", "is required")
	}
	if err := s.applyNode(ctx, &n, f); err != nil {
		return n, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateNode(ctx, &n); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "node", ID: n.ID, Name: n.Name, After: nodeView{n.Name, n.Parent}})
	})
	if err != nil {
		return n, err
	}
	s.obs.NodeChanged(n)
	return n, nil
}

func (s *Service) applyNode(ctx context.Context, n *store.Node, f NodeFields) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		n.Name = *f.Name
	}
	if f.Parent == nil {
		return nil
	}
	if n.ID == RootNodeID {
		return fault.InvalidField("parent", "the root node cannot be moved")
	}
	// Walk up from the new parent: reaching n itself means the move
	// would make a cycle.
	for p, depth := *f.Parent, 0; p != ""; depth++ {
		if p == n.ID {
			return fault.InvalidField("parent", "a node cannot move under itself or its descendants")
		}
		if depth > 1000 {
			return fault.InvalidField("parent", "tree is too deep")
		}
		pn, err := s.db.Node(ctx, p)
		if err != nil {
			if fault.NotFoundOr(err, "") != err {
				return fault.InvalidField("parent", "no node with id %q", p)
			}
			return err
		}
		p = pn.Parent
	}
	n.Parent = *f.Parent
	return nil
}

// UpdateNode renames or moves a node; its subtree moves with it.
func (s *Service) UpdateNode(ctx context.Context, a audit.Actor, id string, f NodeFields) (store.Node, error) {
	n, err := s.db.Node(ctx, id)
	if err != nil {
		return n, fault.NotFoundOr(err, "node")
	}
	before := nodeView{n.Name, n.Parent}
	if err := s.applyNode(ctx, &n, f); err != nil {
		return n, err
	}
	n.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateNode(ctx, &n); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "node", ID: n.ID, Name: n.Name, Before: before, After: nodeView{n.Name, n.Parent}})
	})
	if err != nil {
		return n, err
	}
	s.obs.NodeChanged(n)
	return n, nil
}

// DeleteNode removes a node that has no children and no assets.
func (s *Service) DeleteNode(ctx context.Context, a audit.Actor, id string) error {
	n, err := s.db.Node(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "node")
	}
	if id == RootNodeID {
		return fault.Errorf(fault.Conflict, "", "the root node cannot be deleted")
	}
	children, assets, err := s.db.NodeUse(ctx, id)
	if err != nil {
		return err
	}
	if children > 0 || assets > 0 {
		return fault.Errorf(fault.Conflict, "", "node %q is not empty: %d child nodes, %d assets", n.Name, children, assets)
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteNode(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "node", ID: n.ID, Name: n.Name, Before: nodeView{n.Name, n.Parent}})
	})
	if err != nil {
		return err
	}
	s.obs.NodeDeleted(id)
	return nil
}
