package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/store"
)

// AssetOut is an asset as the API shows it. hostname and port repeat name
// and the first ssh port for clients written against JumpServer's SDK.
type AssetOut struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Hostname    string            `json:"hostname"`
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	Platform    PlatformRef       `json:"platform"`
	Protocols   []store.Protocol  `json:"protocols"`
	Nodes       []NameRef         `json:"nodes"`
	Labels      map[string]string `json:"labels"`
	IsActive    bool              `json:"is_active"`
	Comment     string            `json:"comment"`
	CreatedBy   string            `json:"created_by"`
	DateCreated *string           `json:"date_created"`
	DateUpdated *string           `json:"date_updated"`
}

// PlatformRef names an asset's platform.
type PlatformRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// AssetIn is the body of asset create and update requests.
type AssetIn struct {
	Name      *string            `json:"name"`
	Hostname  *string            `json:"hostname"`
	IP        *string            `json:"ip"`
	Address   *string            `json:"address"`
	Platform  *Ref               `json:"platform"`
	Protocols *[]store.Protocol  `json:"protocols"`
	Nodes     *[]Ref             `json:"nodes"`
	Labels    *map[string]string `json:"labels"`
	IsActive  *bool              `json:"is_active"`
	Comment   *string            `json:"comment"`
}

func (in *AssetIn) fields() inventory.AssetFields {
	name, ip := in.Name, in.IP
	if name == nil {
		name = in.Hostname // JumpServer v1 name for the same thing
	}
	if ip == nil {
		ip = in.Address
	}
	return inventory.AssetFields{Name: name, IP: ip, Platform: refID(in.Platform), Protocols: in.Protocols, Nodes: ids(in.Nodes),
		Labels: in.Labels, IsActive: in.IsActive, Comment: in.Comment}
}

func (s *Server) assetOut(c *call, as []store.Asset) ([]AssetOut, error) {
	var nids []string
	for _, a := range as {
		nids = append(nids, a.Nodes...)
	}
	names, err := s.db.NodeNames(c.ctx(), nids)
	if err != nil {
		return nil, err
	}
	platforms, err := s.platformNames(c)
	if err != nil {
		return nil, err
	}
	out := make([]AssetOut, len(as))
	for i, a := range as {
		o := AssetOut{ID: a.ID, Name: a.Name, Hostname: a.Name, IP: a.IP, Platform: PlatformRef{a.PlatformID, platforms[a.PlatformID]},
			Protocols: a.Protocols, Nodes: nameRefs(a.Nodes, names), Labels: a.Labels, IsActive: a.IsActive, Comment: a.Comment,
			CreatedBy: a.CreatedBy, DateCreated: outTime(a.DateCreated), DateUpdated: outTime(a.DateUpdated)}
		for _, p := range a.Protocols {
			if p.Name == "ssh" {
				o.Port = p.Port
				break
			}
		}
		if o.Port == 0 && len(a.Protocols) > 0 {
			o.Port = a.Protocols[0].Port
		}
		out[i] = o
	}
	return out, nil
}

func (s *Server) platformNames(c *call) (map[int64]string, error) {
	ps, _, err := s.db.Platforms(c.ctx(), allRows)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m, nil
}

// decodeOneOrMany reads a body that is either one object or a list of
// them; decode errors name the row.
func decodeOneOrMany[T any](c *call) ([]T, bool, error) {
	var raw json.RawMessage
	if err := c.decode(&raw); err != nil {
		return nil, false, err
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, true, decodeError(err, c.s.cfg.MaxBody)
		}
		out := make([]T, len(items))
		var errs fault.List
		for i, it := range items {
			if err := strictDecode(it, &out[i]); err != nil {
				errs = errs.Add(fault.AtRow(decodeError(err, c.s.cfg.MaxBody), i))
			}
		}
		return out, true, errs.Err()
	}
	var one T
	if err := strictDecode(raw, &one); err != nil {
		return nil, false, decodeError(err, c.s.cfg.MaxBody)
	}
	return []T{one}, false, nil
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// PlatformOut is a platform as the API shows it.
type PlatformOut struct {
	ID        int64            `json:"id"`
	Name      string           `json:"name"`
	Category  string           `json:"category"`
	Type      string           `json:"type"`
	Protocols []store.Protocol `json:"protocols"`
	Builtin   bool             `json:"builtin"`
	Comment   string           `json:"comment"`
}

// NodeOut is a node of the asset tree.
type NodeOut struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Parent      *string `json:"parent"`
	DateCreated *string `json:"date_created"`
}

// NodeIn is the body of node create and update requests.
type NodeIn struct {
	Name   *string `json:"name"`
	Parent *Ref    `json:"parent"`
}

func nodeOut(n store.Node) NodeOut {
	o := NodeOut{ID: n.ID, Name: n.Name, DateCreated: outTime(n.DateCreated)}
	if n.Parent != "" {
		p := n.Parent
		o.Parent = &p
	}
	return o
}

// SystemUserOut is a system user as the API shows it: whether it has a
// password or key, never what they are.
type SystemUserOut struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Username      string  `json:"username"`
	Protocol      string  `json:"protocol"`
	HasPassword   bool    `json:"has_password"`
	HasPrivateKey bool    `json:"has_private_key"`
	Comment       string  `json:"comment"`
	CreatedBy     string  `json:"created_by"`
	DateCreated   *string `json:"date_created"`
	DateUpdated   *string `json:"date_updated"`
}

// SystemUserIn is the body of system user create and update requests.
// Secrets are write-only.
type SystemUserIn struct {
	Name       *string `json:"name"`
	Username   *string `json:"username"`
	Protocol   *string `json:"protocol"`
	Password   *string `json:"password"`
	PrivateKey *string `json:"private_key"`
	Comment    *string `json:"comment"`
}

func (in *SystemUserIn) fields() inventory.SystemUserFields {
	return inventory.SystemUserFields{Name: in.Name, Username: in.Username, Protocol: in.Protocol, Password: in.Password,
		PrivateKey: in.PrivateKey, Comment: in.Comment}
}

func systemUserOut(su store.SystemUser) SystemUserOut {
	return SystemUserOut{ID: su.ID, Name: su.Name, Username: su.Username, Protocol: su.Protocol, HasPassword: su.Password != "",
		HasPrivateKey: su.PrivateKey != "", Comment: su.Comment, CreatedBy: su.CreatedBy,
		DateCreated: outTime(su.DateCreated), DateUpdated: outTime(su.DateUpdated)}
}

func (s *Server) registerInventory() {
	s.add(&Route{Method: "GET", Path: "/api/v2/assets/assets/", Tag: "assets", Roles: adminOnly,
		Summary: "List assets (?node=ID keeps those directly in a node)", Reply: AssetOut{}, List: store.AssetSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			as, n, err := s.db.Assets(c.ctx(), q, q.Extra.Get("node"))
			if err != nil {
				return nil, err
			}
			out, err := s.assetOut(c, as)
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/assets/assets/", Tag: "assets", Roles: adminOnly,
		Summary: "Create one asset, or many at once by posting a list (all or nothing; errors name the row and field)",
		Body:    []AssetIn{}, Reply: AssetOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			rows, many, err := decodeOneOrMany[AssetIn](c)
			if err != nil {
				return nil, err
			}
			fs := make([]inventory.AssetFields, len(rows))
			for i := range rows {
				fs[i] = rows[i].fields()
			}
			as, err := s.inventory.CreateAssets(c.ctx(), c.actor(), fs)
			if err != nil {
				if !many {
					err = stripRow(err)
				}
				return nil, err
			}
			out, err := s.assetOut(c, as)
			if err != nil {
				return nil, err
			}
			if many {
				return out, nil
			}
			return out[0], nil
		}})
	oneAsset := func(c *call, a store.Asset, err error) (any, error) {
		if err != nil {
			return nil, fault.NotFoundOr(err, "asset")
		}
		out, err := s.assetOut(c, []store.Asset{a})
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	s.add(&Route{Method: "GET", Path: "/api/v2/assets/assets/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Read an asset", Reply: AssetOut{},
		Handle: func(c *call) (any, error) {
			a, err := s.db.Asset(c.ctx(), c.id())
			return oneAsset(c, a, err)
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/assets/assets/{id}/", Tag: "assets", Roles: adminOnly,
			Summary: "Change an asset (fields not given are kept)", Body: AssetIn{}, Reply: AssetOut{},
			Handle: func(c *call) (any, error) {
				var in AssetIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				a, err := s.inventory.UpdateAsset(c.ctx(), c.actor(), c.id(), in.fields())
				if err != nil {
					return nil, err
				}
				return oneAsset(c, a, nil)
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/assets/assets/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Delete an asset", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.inventory.DeleteAsset(c.ctx(), c.actor(), c.id()) }})

	s.add(&Route{Method: "GET", Path: "/api/v2/assets/platforms/", Tag: "assets", Roles: anyone,
		Summary: "List platforms (built-ins have fixed ids: 2 Linux, 3 MySQL, ...)", Reply: PlatformOut{}, List: store.PlatformSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			ps, n, err := s.db.Platforms(c.ctx(), q)
			out := make([]PlatformOut, len(ps))
			for i, p := range ps {
				out[i] = PlatformOut{p.ID, p.Name, p.Category, p.Type, p.Protocols, p.Builtin, p.Comment}
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/assets/platforms/{id}/", Tag: "assets", Roles: anyone,
		Summary: "Read a platform", Reply: PlatformOut{},
		Handle: func(c *call) (any, error) {
			id, err := strconv.ParseInt(c.id(), 10, 64)
			if err != nil {
				return nil, fault.Errorf(fault.NotFound, "", "no such platform")
			}
			p, err := s.db.Platform(c.ctx(), id)
			if err != nil {
				return nil, fault.NotFoundOr(err, "platform")
			}
			return PlatformOut{p.ID, p.Name, p.Category, p.Type, p.Protocols, p.Builtin, p.Comment}, nil
		}})

	s.add(&Route{Method: "GET", Path: "/api/v2/assets/nodes/", Tag: "assets", Roles: adminOnly,
		Summary: "List nodes of the asset tree", Reply: NodeOut{}, List: store.NodeSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			ns, n, err := s.db.Nodes(c.ctx(), q)
			out := make([]NodeOut, len(ns))
			for i := range ns {
				out[i] = nodeOut(ns[i])
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/assets/nodes/", Tag: "assets", Roles: adminOnly,
		Summary: "Create a node (under the root unless parent is given)", Body: NodeIn{}, Reply: NodeOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in NodeIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			n, err := s.inventory.CreateNode(c.ctx(), c.actor(), inventory.NodeFields{Name: in.Name, Parent: refID(in.Parent)})
			return nodeOut(n), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/assets/nodes/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Read a node", Reply: NodeOut{},
		Handle: func(c *call) (any, error) {
			n, err := s.db.Node(c.ctx(), c.id())
			if err != nil {
				return nil, fault.NotFoundOr(err, "node")
			}
			return nodeOut(n), nil
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/assets/nodes/{id}/", Tag: "assets", Roles: adminOnly,
			Summary: "Rename or move a node (its subtree moves with it)", Body: NodeIn{}, Reply: NodeOut{},
			Handle: func(c *call) (any, error) {
				var in NodeIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				n, err := s.inventory.UpdateNode(c.ctx(), c.actor(), c.id(), inventory.NodeFields{Name: in.Name, Parent: refID(in.Parent)})
				if err != nil {
					return nil, err
				}
				return nodeOut(n), nil
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/assets/nodes/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Delete an empty node", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.inventory.DeleteNode(c.ctx(), c.actor(), c.id()) }})

	s.add(&Route{Method: "GET", Path: "/api/v2/assets/system-users/", Tag: "assets", Roles: adminOnly,
		Summary: "List system users (secrets are never returned)", Reply: SystemUserOut{}, List: store.SystemUserSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			sus, n, err := s.db.SystemUsers(c.ctx(), q)
			out := make([]SystemUserOut, len(sus))
			for i := range sus {
				out[i] = systemUserOut(sus[i])
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/assets/system-users/", Tag: "assets", Roles: adminOnly,
		Summary: "Create a system user; password and private_key are sealed and write-only", Body: SystemUserIn{}, Reply: SystemUserOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in SystemUserIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			su, err := s.inventory.CreateSystemUser(c.ctx(), c.actor(), in.fields())
			return systemUserOut(su), err
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/assets/system-users/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Read a system user", Reply: SystemUserOut{},
		Handle: func(c *call) (any, error) {
			su, err := s.db.SystemUser(c.ctx(), c.id())
			if err != nil {
				return nil, fault.NotFoundOr(err, "system user")
			}
			return systemUserOut(su), nil
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/assets/system-users/{id}/", Tag: "assets", Roles: adminOnly,
			Summary: "Change a system user; an empty password or private_key clears it", Body: SystemUserIn{}, Reply: SystemUserOut{},
			Handle: func(c *call) (any, error) {
				var in SystemUserIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				su, err := s.inventory.UpdateSystemUser(c.ctx(), c.actor(), c.id(), in.fields())
				if err != nil {
					return nil, err
				}
				return systemUserOut(su), nil
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/assets/system-users/{id}/", Tag: "assets", Roles: adminOnly,
		Summary: "Delete a system user", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.inventory.DeleteSystemUser(c.ctx(), c.actor(), c.id()) }})
}

// stripRow removes the row tag from a single-object request's error.
func stripRow(err error) error {
	if e := fault.As(err); e != nil && e.Row >= 0 {
		c := *e
		c.Row = -1
		return &c
	}
	return err
}
