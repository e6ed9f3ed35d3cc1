package api

import (
	"net/http"

	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// CommandGroupOut is a command group as the API shows it.
type CommandGroupOut struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Content     string  `json:"content"`
	IgnoreCase  bool    `json:"ignore_case"`
	Comment     string  `json:"comment"`
	CreatedBy   string  `json:"created_by"`
	DateCreated *string `json:"date_created"`
}

// CommandGroupIn is the body of command group create and update requests.
type CommandGroupIn struct {
	Name       *string `json:"name"`
	Type       *string `json:"type"`
	Content    *string `json:"content"`
	IgnoreCase *bool   `json:"ignore_case"`
	Comment    *string `json:"comment"`
}

// CommandFilterOut is a command filter as the API shows it.
type CommandFilterOut struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Priority      int       `json:"priority"`
	Action        string    `json:"action"`
	IsActive      bool      `json:"is_active"`
	Users         []NameRef `json:"users"`
	UserGroups    []NameRef `json:"user_groups"`
	Assets        []NameRef `json:"assets"`
	SystemUsers   []NameRef `json:"system_users"`
	CommandGroups []NameRef `json:"command_groups"`
	Comment       string    `json:"comment"`
	CreatedBy     string    `json:"created_by"`
	DateCreated   *string   `json:"date_created"`
}

// CommandFilterIn is the body of command filter create and update requests.
type CommandFilterIn struct {
	Name          *string `json:"name"`
	Priority      *int    `json:"priority"`
	Action        *string `json:"action"`
	IsActive      *bool   `json:"is_active"`
	Users         *[]Ref  `json:"users"`
	UserGroups    *[]Ref  `json:"user_groups"`
	Assets        *[]Ref  `json:"assets"`
	SystemUsers   *[]Ref  `json:"system_users"`
	CommandGroups *[]Ref  `json:"command_groups"`
	Comment       *string `json:"comment"`
}

func groupOutOf(g store.CommandGroup) CommandGroupOut {
	return CommandGroupOut{g.ID, g.Name, g.Type, g.Content, g.IgnoreCase, g.Comment, g.CreatedBy, outTime(g.DateCreated)}
}

func (s *Server) filterOut(c *call, f store.CommandFilter) (CommandFilterOut, error) {
	out, err := s.filterOuts(c, []store.CommandFilter{f})
	if err != nil {
		return CommandFilterOut{}, err
	}
	return out[0], nil
}

// filterOuts shows filters with the names of their members, looked up once
// for the whole list rather than once per filter.
func (s *Server) filterOuts(c *call, fs []store.CommandFilter) ([]CommandFilterOut, error) {
	ctx := c.ctx()
	// ids gathers the members of one kind across the list.
	ids := func(of func(f store.CommandFilter) []string) []string {
		var out []string
		for _, f := range fs {
			out = append(out, of(f)...)
		}
		return out
	}
	users, err := s.db.Usernames(ctx, ids(func(f store.CommandFilter) []string { return f.Users }))
	if err != nil {
		return nil, err
	}
	groups, err := s.db.GroupNames(ctx, ids(func(f store.CommandFilter) []string { return f.UserGroups }))
	if err != nil {
		return nil, err
	}
	assets, err := s.db.AssetNamesByID(ctx, ids(func(f store.CommandFilter) []string { return f.Assets }))
	if err != nil {
		return nil, err
	}
	sysUsers, err := s.db.SystemUserNames(ctx, ids(func(f store.CommandFilter) []string { return f.SystemUsers }))
	if err != nil {
		return nil, err
	}
	cmdGroups, err := s.db.CommandGroupNames(ctx, ids(func(f store.CommandFilter) []string { return f.CommandGroups }))
	if err != nil {
		return nil, err
	}
	out := make([]CommandFilterOut, len(fs))
	for i, f := range fs {
		out[i] = CommandFilterOut{ID: f.ID, Name: f.Name, Priority: f.Priority, Action: f.Action, IsActive: f.IsActive, Comment: f.Comment,
			CreatedBy: f.CreatedBy, DateCreated: outTime(f.DateCreated),
			Users: nameRefs(f.Users, users), UserGroups: nameRefs(f.UserGroups, groups), Assets: nameRefs(f.Assets, assets),
			SystemUsers: nameRefs(f.SystemUsers, sysUsers), CommandGroups: nameRefs(f.CommandGroups, cmdGroups)}
	}
	return out, nil
}

func (in *CommandFilterIn) fields() cmdfilter.FilterFields {
	return cmdfilter.FilterFields{Name: in.Name, Action: in.Action, Comment: in.Comment, Priority: in.Priority, IsActive: in.IsActive,
		Users: ids(in.Users), UserGroups: ids(in.UserGroups), Assets: ids(in.Assets), SystemUsers: ids(in.SystemUsers), CommandGroups: ids(in.CommandGroups)}
}

func (in *CommandGroupIn) fields() cmdfilter.GroupFields {
	return cmdfilter.GroupFields{Name: in.Name, Type: in.Type, Content: in.Content, Comment: in.Comment, IgnoreCase: in.IgnoreCase}
}

// withFilters is the handler of a route that writes command groups or
// filters: a NotFound when this server has no filtering.
func (s *Server) withFilters(h func(c *call, f *cmdfilter.Service) (any, error)) func(*call) (any, error) {
	return func(c *call) (any, error) {
		if s.cfg.CommandFilters == nil {
			return nil, fault.Errorf(fault.NotFound, "", "command filtering is not enabled on this server")
		}
		return h(c, s.cfg.CommandFilters)
	}
}

func (s *Server) registerACLs() {
	s.add(&Route{Method: "GET", Path: "/api/v2/acls/command-groups/", Tag: "acls", Roles: adminOnly,
		Summary: "List command groups", Reply: CommandGroupOut{}, List: store.CommandGroupSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			gs, n, err := s.db.CommandGroups(c.ctx(), q)
			out := make([]CommandGroupOut, len(gs))
			for i := range gs {
				out[i] = groupOutOf(gs[i])
			}
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/acls/command-groups/", Tag: "acls", Roles: adminOnly,
		Summary: "Create a command group: type command (whole-word commands) or regex, one per line in content",
		Body:    CommandGroupIn{}, Reply: CommandGroupOut{}, Status: http.StatusCreated,
		Handle: s.withFilters(func(c *call, f *cmdfilter.Service) (any, error) {
			var in CommandGroupIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			g, err := f.CreateGroup(c.ctx(), c.actor(), in.fields())
			return groupOutOf(g), err
		})})
	s.add(&Route{Method: "GET", Path: "/api/v2/acls/command-groups/{id}/", Tag: "acls", Roles: adminOnly,
		Summary: "Read a command group", Reply: CommandGroupOut{},
		Handle: func(c *call) (any, error) {
			g, err := s.db.CommandGroup(c.ctx(), c.id())
			return groupOutOf(g), fault.NotFoundOr(err, "command group")
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/acls/command-groups/{id}/", Tag: "acls", Roles: adminOnly,
			Summary: "Change a command group", Body: CommandGroupIn{}, Reply: CommandGroupOut{},
			Handle: s.withFilters(func(c *call, f *cmdfilter.Service) (any, error) {
				var in CommandGroupIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				g, err := f.UpdateGroup(c.ctx(), c.actor(), c.id(), in.fields())
				return groupOutOf(g), err
			})})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/acls/command-groups/{id}/", Tag: "acls", Roles: adminOnly,
		Summary: "Delete a command group (filters stop using it)", Status: http.StatusNoContent,
		Handle: s.withFilters(func(c *call, f *cmdfilter.Service) (any, error) {
			return nil, f.DeleteGroup(c.ctx(), c.actor(), c.id())
		})})

	s.add(&Route{Method: "GET", Path: "/api/v2/acls/command-filters/", Tag: "acls", Roles: adminOnly,
		Summary: "List command filters (checked by ascending priority; the first match decides)", Reply: CommandFilterOut{}, List: store.CommandFilterSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			fs, n, err := s.db.CommandFilters(c.ctx(), q)
			if err != nil {
				return nil, err
			}
			out, err := s.filterOuts(c, fs)
			if err != nil {
				return nil, err
			}
			return c.page(q, n, out), nil
		}})
	oneFilter := func(c *call, f store.CommandFilter, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return s.filterOut(c, f)
	}
	s.add(&Route{Method: "POST", Path: "/api/v2/acls/command-filters/", Tag: "acls", Roles: adminOnly,
		Summary: "Create a command filter: action reject, warn or accept; empty users, assets or system users mean all",
		Body:    CommandFilterIn{}, Reply: CommandFilterOut{}, Status: http.StatusCreated,
		Handle: s.withFilters(func(c *call, svc *cmdfilter.Service) (any, error) {
			var in CommandFilterIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			f, err := svc.CreateFilter(c.ctx(), c.actor(), in.fields())
			return oneFilter(c, f, err)
		})})
	s.add(&Route{Method: "GET", Path: "/api/v2/acls/command-filters/{id}/", Tag: "acls", Roles: adminOnly,
		Summary: "Read a command filter", Reply: CommandFilterOut{},
		Handle: func(c *call) (any, error) {
			f, err := s.db.CommandFilter(c.ctx(), c.id())
			return oneFilter(c, f, fault.NotFoundOr(err, "command filter"))
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/acls/command-filters/{id}/", Tag: "acls", Roles: adminOnly,
			Summary: "Change a command filter; it applies to the next command", Body: CommandFilterIn{}, Reply: CommandFilterOut{},
			Handle: s.withFilters(func(c *call, svc *cmdfilter.Service) (any, error) {
				var in CommandFilterIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				f, err := svc.UpdateFilter(c.ctx(), c.actor(), c.id(), in.fields())
				return oneFilter(c, f, err)
			})})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/acls/command-filters/{id}/", Tag: "acls", Roles: adminOnly,
		Summary: "Delete a command filter", Status: http.StatusNoContent,
		Handle: s.withFilters(func(c *call, svc *cmdfilter.Service) (any, error) {
			return nil, svc.DeleteFilter(c.ctx(), c.actor(), c.id())
		})})
}
