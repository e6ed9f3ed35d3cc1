package api

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/store"
)

// PermissionOut is an asset permission as the API shows it.
type PermissionOut struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Users       []NameRef `json:"users"`
	UserGroups  []NameRef `json:"user_groups"`
	Assets      []NameRef `json:"assets"`
	Nodes       []NameRef `json:"nodes"`
	SystemUsers []NameRef `json:"system_users"`
	Actions     []string  `json:"actions"`
	DateStart   *string   `json:"date_start"`
	DateExpired *string   `json:"date_expired"`
	IsActive    bool      `json:"is_active"`
	IsValid     bool      `json:"is_valid"`
	Comment     string    `json:"comment"`
	CreatedBy   string    `json:"created_by"`
	DateCreated *string   `json:"date_created"`
	DateUpdated *string   `json:"date_updated"`
}

// PermissionIn is the body of permission create and update requests.
type PermissionIn struct {
	Name        *string   `json:"name"`
	Users       *[]Ref    `json:"users"`
	UserGroups  *[]Ref    `json:"user_groups"`
	Assets      *[]Ref    `json:"assets"`
	Nodes       *[]Ref    `json:"nodes"`
	SystemUsers *[]Ref    `json:"system_users"`
	Actions     *[]string `json:"actions"`
	DateStart   Time      `json:"date_start"`
	DateExpired Time      `json:"date_expired"`
	IsActive    *bool     `json:"is_active"`
	Comment     *string   `json:"comment"`
}

func (in *PermissionIn) fields() access.PermissionFields {
	return access.PermissionFields{Name: in.Name, Comment: in.Comment, Users: ids(in.Users), UserGroups: ids(in.UserGroups),
		Assets: ids(in.Assets), Nodes: ids(in.Nodes), SystemUsers: ids(in.SystemUsers), Actions: in.Actions,
		DateStart: optTime(in.DateStart), DateExpired: optTime(in.DateExpired), IsActive: in.IsActive}
}

func (s *Server) permOut(c *call, ps []store.Permission) ([]PermissionOut, error) {
	var us, gs, as, ns, sus []string
	for _, p := range ps {
		us, gs, as, ns, sus = append(us, p.Users...), append(gs, p.UserGroups...), append(as, p.Assets...), append(ns, p.Nodes...), append(sus, p.SystemUsers...)
	}
	ctx := c.ctx()
	var maps [5]map[string]string
	var err error
	for i, f := range []func() (map[string]string, error){
		func() (map[string]string, error) { return s.db.Usernames(ctx, us) },
		func() (map[string]string, error) { return s.db.GroupNames(ctx, gs) },
		func() (map[string]string, error) { return s.db.AssetNamesByID(ctx, as) },
		func() (map[string]string, error) { return s.db.NodeNames(ctx, ns) },
		func() (map[string]string, error) { return s.db.SystemUserNames(ctx, sus) },
	} {
		if maps[i], err = f(); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out := make([]PermissionOut, len(ps))
	for i, p := range ps {
		valid := p.IsActive && (p.DateStart.IsZero() || !now.Before(p.DateStart)) && (p.DateExpired.IsZero() || now.Before(p.DateExpired))
		out[i] = PermissionOut{ID: p.ID, Name: p.Name, Users: nameRefs(p.Users, maps[0]), UserGroups: nameRefs(p.UserGroups, maps[1]),
			Assets: nameRefs(p.Assets, maps[2]), Nodes: nameRefs(p.Nodes, maps[3]), SystemUsers: nameRefs(p.SystemUsers, maps[4]),
			Actions: p.Actions, DateStart: outTime(p.DateStart), DateExpired: outTime(p.DateExpired), IsActive: p.IsActive,
			IsValid: valid, Comment: p.Comment, CreatedBy: p.CreatedBy, DateCreated: outTime(p.DateCreated), DateUpdated: outTime(p.DateUpdated)}
		if out[i].Actions == nil {
			out[i].Actions = []string{}
		}
	}
	return out, nil
}

// permFilter reads ?user=, ?user_group=, ?asset=, ?node=, ?system_user=.
func permFilter(q query.Query) (store.PermissionFilter, error) {
	var f store.PermissionFilter
	for param, kind := range map[string]string{"user": store.KindUsers, "user_group": store.KindUserGroups, "asset": store.KindAssets,
		"node": store.KindNodes, "system_user": store.KindSystemUsers} {
		if v := q.Extra.Get(param); v != "" {
			if f.Kind != "" {
				return f, &query.Error{Param: param, Detail: "filter by one member at a time"}
			}
			f = store.PermissionFilter{Kind: kind, ID: v}
		}
	}
	return f, nil
}

func (s *Server) listPerms(c *call) (query.Query, []PermissionOut, int, error) {
	q, err := c.query()
	if err != nil {
		return q, nil, 0, err
	}
	f, err := permFilter(q)
	if err != nil {
		return q, nil, 0, err
	}
	ps, n, err := s.db.Permissions(c.ctx(), q, f)
	if err != nil {
		return q, nil, 0, err
	}
	out, err := s.permOut(c, ps)
	return q, out, n, err
}

// UserAsset is an asset a user may reach, with the system users and
// actions they may use on it (the seed SDK's get_my_assets shape).
type UserAsset struct {
	AssetOut
	SystemUsers     []UserSystemUser `json:"system_users"`
	SystemUsersJoin string           `json:"system_users_join"`
}

// UserSystemUser is a system user granted on an asset, with the actions.
type UserSystemUser struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Username string   `json:"username"`
	Protocol string   `json:"protocol"`
	Actions  []string `json:"actions"`
}

// UserNode is a node holding assets a user may reach.
type UserNode struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Parent       *string `json:"parent"`
	AssetsAmount int     `json:"assets_amount"`
	Comment      string  `json:"comment"`
}

// userViewSchema is the query contract of the per-user views: paging and
// text search; the engine orders by asset name.
var userViewSchema = &query.Schema{
	Fields: []query.Field{
		{Name: "name", Column: "name", Type: query.String, Search: true},
		{Name: "ip", Column: "ip", Type: query.String, Search: true},
	},
	DefaultOrder: "name",
	Tiebreak:     "id",
	Extra:        []string{"user"},
}

// viewedUser is whose permissions a view shows: the caller, or for an
// administrator any user named by ?user=.
func (s *Server) viewedUser(c *call, q query.Query) (store.User, error) {
	id := q.Extra.Get("user")
	if id == "" || id == c.user.ID {
		return c.user, nil
	}
	if !c.isAdmin() {
		return store.User{}, fault.Errorf(fault.Forbidden, "user", "only an administrator may view another user's permissions")
	}
	u, err := s.db.User(c.ctx(), id)
	if err != nil {
		return u, fault.NotFoundOr(err, "user")
	}
	return u, nil
}

func (s *Server) userAssets(c *call, node string) (any, error) {
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	u, err := s.viewedUser(c, q)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if identity.Usable(&u, now) != "" {
		return c.page(q, 0, []UserAsset{}), nil
	}
	grants, total := s.access.Engine().Assets(u.ID, now, access.AssetQuery{Search: q.Search, Node: node, Offset: q.Offset, Limit: q.Limit})
	out, err := s.grantsOut(c, grants)
	if err != nil {
		return nil, err
	}
	return c.page(q, total, out), nil
}

func (s *Server) grantsOut(c *call, grants []access.Grant) ([]UserAsset, error) {
	aids := make([]string, len(grants))
	var suids []string
	for i, g := range grants {
		aids[i] = g.AssetID
		for _, su := range g.SystemUsers {
			suids = append(suids, su.ID)
		}
	}
	assets, err := s.db.AssetsByID(c.ctx(), aids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.Asset, len(assets))
	for _, a := range assets {
		byID[a.ID] = a
	}
	sus, err := s.db.SystemUsersByID(c.ctx(), fault.Dedupe(suids))
	if err != nil {
		return nil, err
	}
	ordered := make([]store.Asset, 0, len(grants))
	kept := make([]access.Grant, 0, len(grants))
	for _, g := range grants {
		if a, ok := byID[g.AssetID]; ok { // deleted between engine and read: skip
			ordered = append(ordered, a)
			kept = append(kept, g)
		}
	}
	outs, err := s.assetOut(c, ordered)
	if err != nil {
		return nil, err
	}
	res := make([]UserAsset, len(outs))
	for i, o := range outs {
		ua := UserAsset{AssetOut: o, SystemUsers: []UserSystemUser{}}
		var names []string
		for _, g := range kept[i].SystemUsers {
			su, ok := sus[g.ID]
			if !ok {
				continue
			}
			ua.SystemUsers = append(ua.SystemUsers, UserSystemUser{ID: su.ID, Name: su.Name, Username: su.Username, Protocol: su.Protocol, Actions: g.Actions.Names()})
			names = append(names, su.Name)
		}
		ua.SystemUsersJoin = strings.Join(names, ", ")
		res[i] = ua
	}
	return res, nil
}

func (s *Server) registerPerms() {
	s.add(&Route{Method: "GET", Path: "/api/v2/perms/asset-permissions/", Tag: "perms", Roles: adminOnly,
		Summary: "List asset permissions (?user=, ?user_group=, ?asset=, ?node=, ?system_user= keep rules naming that member)",
		Reply:   PermissionOut{}, List: store.PermissionSchema,
		Handle: func(c *call) (any, error) {
			q, out, n, err := s.listPerms(c)
			if err != nil {
				return nil, err
			}
			return c.page(q, n, out), nil
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/perms/asset-permissions/export/", Tag: "perms", Roles: auditReaders,
		Summary: "Export asset permissions as a file: ?format=json (default) or csv; list filters apply",
		List:    store.PermissionSchema, Reply: []byte{},
		Handle: func(c *call) (any, error) {
			_, out, _, err := s.listPerms(c)
			if err != nil {
				return nil, err
			}
			format := c.r.URL.Query().Get("format")
			stamp := s.now().UTC().Format("20060102")
			switch format {
			case "", "json":
				return rawReply(func(w http.ResponseWriter) {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Content-Disposition", `attachment; filename="asset-permissions-`+stamp+`.json"`)
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					_ = enc.Encode(out)
				}), nil
			case "csv":
				return rawReply(func(w http.ResponseWriter) {
					w.Header().Set("Content-Type", "text/csv; charset=utf-8")
					w.Header().Set("Content-Disposition", `attachment; filename="asset-permissions-`+stamp+`.csv"`)
					writePermCSV(w, out)
				}), nil
			}
			return nil, &query.Error{Param: "format", Detail: "must be json or csv"}
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/perms/asset-permissions/", Tag: "perms", Roles: adminOnly,
		Summary: "Create an asset permission; it applies from the next request", Body: PermissionIn{}, Reply: PermissionOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in PermissionIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			p, err := s.access.CreatePermission(c.ctx(), c.actor(), in.fields())
			return s.onePerm(c, p, err)
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/perms/asset-permissions/{id}/", Tag: "perms", Roles: adminOnly,
		Summary: "Read an asset permission", Reply: PermissionOut{},
		Handle: func(c *call) (any, error) {
			p, err := s.db.Permission(c.ctx(), c.id())
			return s.onePerm(c, p, fault.NotFoundOr(err, "asset permission"))
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/perms/asset-permissions/{id}/", Tag: "perms", Roles: adminOnly,
			Summary: "Change an asset permission (fields not given are kept)", Body: PermissionIn{}, Reply: PermissionOut{},
			Handle: func(c *call) (any, error) {
				var in PermissionIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				p, err := s.access.UpdatePermission(c.ctx(), c.actor(), c.id(), in.fields())
				return s.onePerm(c, p, err)
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/perms/asset-permissions/{id}/", Tag: "perms", Roles: adminOnly,
		Summary: "Delete an asset permission; it stops granting at once", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.access.DeletePermission(c.ctx(), c.actor(), c.id()) }})

	s.add(&Route{Method: "GET", Path: "/api/v2/perms/users/assets/", Tag: "perms", Roles: anyone,
		Summary: "Assets you may reach now, with system users and actions (an admin may add ?user=ID)",
		Reply:   UserAsset{}, List: userViewSchema,
		Handle: func(c *call) (any, error) { return s.userAssets(c, "") }})
	s.add(&Route{Method: "GET", Path: "/api/v2/perms/users/nodes/{id}/assets/", Tag: "perms", Roles: anyone,
		Summary: "Assets you may reach in a node's subtree (an admin may add ?user=ID)",
		Reply:   UserAsset{}, List: userViewSchema,
		Handle: func(c *call) (any, error) { return s.userAssets(c, c.id()) }})
	s.add(&Route{Method: "GET", Path: "/api/v2/perms/users/nodes/", Tag: "perms", Roles: anyone,
		Summary: "Nodes holding assets you may reach, with their ancestors (an admin may add ?user=ID)",
		Reply:   UserNode{}, List: userViewSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			u, err := s.viewedUser(c, q)
			if err != nil {
				return nil, err
			}
			now := s.now()
			if identity.Usable(&u, now) != "" {
				return c.page(q, 0, []UserNode{}), nil
			}
			counts := s.access.Engine().Nodes(u.ID, now)
			all, err := s.db.AllNodes(c.ctx())
			if err != nil {
				return nil, err
			}
			byID := make(map[string]store.Node, len(all))
			for _, n := range all {
				byID[n.ID] = n
			}
			out := make([]UserNode, 0, len(counts))
			for _, nc := range counts {
				n, ok := byID[nc.ID]
				if !ok {
					continue
				}
				if q.Search != "" && !strings.Contains(strings.ToLower(n.Name), strings.ToLower(q.Search)) {
					continue
				}
				un := UserNode{ID: n.ID, Name: n.Name, AssetsAmount: nc.Assets}
				if n.Parent != "" {
					p := n.Parent
					un.Parent = &p
				}
				out = append(out, un)
			}
			total := len(out)
			lo := min(q.Offset, total)
			hi := total
			if q.Limit > 0 {
				hi = min(lo+q.Limit, total)
			}
			return c.page(q, total, out[lo:hi]), nil
		}})
}

func (s *Server) onePerm(c *call, p store.Permission, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	out, err := s.permOut(c, []store.Permission{p})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func writePermCSV(w http.ResponseWriter, ps []PermissionOut) {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "name", "users", "user_groups", "assets", "nodes", "system_users", "actions", "date_start", "date_expired", "is_active", "is_valid", "comment"})
	join := func(rs []NameRef) string {
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.Name
		}
		return strings.Join(names, ";")
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, p := range ps {
		_ = cw.Write([]string{p.ID, csvSafe(p.Name), csvSafe(join(p.Users)), csvSafe(join(p.UserGroups)), csvSafe(join(p.Assets)),
			csvSafe(join(p.Nodes)), csvSafe(join(p.SystemUsers)), strings.Join(p.Actions, ";"), str(p.DateStart), str(p.DateExpired),
			boolText(p.IsActive), boolText(p.IsValid), csvSafe(p.Comment)})
	}
	cw.Flush()
}

// csvSafe defuses cells a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
