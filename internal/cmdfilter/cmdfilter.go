// Package cmdfilter decides what happens to a command line before it
// reaches a target: command groups (lists of commands or regular
// expressions) and filters (which users, assets and system users a rule
// covers, with what priority and action: reject, warn or accept).
//
// It guards against mistakes, such as an `rm -rf /` typed into the wrong
// window; it is not a sandbox. A determined user can hide a command from
// any line-based filter (scripts, aliases, encodings, editors), so the
// filter complements least privilege on the target, it does not replace it.
//
// Rules are kept in memory and rebuilt after every change, so a new rule
// applies to the very next command.
package cmdfilter

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/store"
)

// Actions a filter takes on a matching command.
const (
	Reject = "reject"
	Warn   = "warn"
	Accept = "accept"
)

// Risk levels recorded with commands.
const (
	RiskNone   = 0
	RiskWarn   = 4
	RiskReject = 5
)

// Group types.
const (
	TypeCommand = "command"
	TypeRegex   = "regex"
)

// Verdict is the filter's answer for one command line.
type Verdict struct {
	Action string // Accept when no rule matched
	Risk   int
	Rule   string // name of the deciding filter, "" when none
	Group  string // name of the matching command group
}

// Subject is who runs a command where.
type Subject struct {
	UserID       string
	Groups       []string
	AssetID      string
	SystemUserID string
}

type rule struct {
	name, action string
	priority     int
	users        set
	groups       set
	assets       set
	systemUsers  set
	patterns     []pattern
}

type pattern struct {
	group string
	re    *regexp.Regexp
}

type set map[string]bool

// covers: an empty dimension means "any".
func (s set) covers(id string) bool { return len(s) == 0 || s[id] }

func (r *rule) applies(sub Subject) bool {
	if len(r.users) > 0 || len(r.groups) > 0 {
		in := r.users[sub.UserID]
		for _, g := range sub.Groups {
			in = in || r.groups[g]
		}
		if !in {
			return false
		}
	}
	return r.assets.covers(sub.AssetID) && r.systemUsers.covers(sub.SystemUserID)
}

// Service keeps command groups and filters and answers Check.
type Service struct {
	db  *store.DB
	now func() time.Time

	mu    sync.RWMutex
	rules []rule
}

// New loads the rules and returns the service.
func New(ctx context.Context, db *store.DB) (*Service, error) {
	s := &Service{db: db, now: time.Now}
	return s, s.Reload(ctx)
}

// Reload rebuilds the in-memory rules from the store.
func (s *Service) Reload(ctx context.Context) error {
	groups, _, err := s.db.CommandGroups(ctx, query.Query{})
	if err != nil {
		return err
	}
	byID := make(map[string]store.CommandGroup, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
	}
	filters, _, err := s.db.CommandFilters(ctx, query.Query{})
	if err != nil {
		return err
	}
	var rules []rule
	for _, f := range filters {
		if !f.IsActive {
			continue
		}
		r := rule{name: f.Name, action: f.Action, priority: f.Priority, users: toSet(f.Users), groups: toSet(f.UserGroups),
			assets: toSet(f.Assets), systemUsers: toSet(f.SystemUsers)}
		for _, gid := range f.CommandGroups {
			g, ok := byID[gid]
			if !ok {
				continue
			}
			res, err := compile(g.Type, g.Content, g.IgnoreCase)
			if err != nil {
				continue // validated on write; a bad stored row matches nothing
			}
			for _, re := range res {
				r.patterns = append(r.patterns, pattern{group: g.Name, re: re})
			}
		}
		rules = append(rules, r)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].priority < rules[j].priority })
	s.mu.Lock()
	s.rules = rules
	s.mu.Unlock()
	return nil
}

func toSet(ids []string) set {
	s := make(set, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// compile turns a group's content into expressions. A "command" line
// matches where it stands as whole words in the command line, so
// "rm -rf /" catches "sudo rm -rf / " but "rm" does not catch "farm".
func compile(typ, content string, ignoreCase bool) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	flags := ""
	if ignoreCase {
		flags = "(?i)"
	}
	for i, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var expr string
		switch typ {
		case TypeCommand:
			expr = flags + `(?:^|[\s;&|(){}` + "`" + `])` + regexp.QuoteMeta(line) + `(?:$|[\s;&|(){}` + "`" + `])`
		case TypeRegex:
			expr = flags + line
		default:
			return nil, fault.InvalidField("type", "must be command or regex")
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fault.InvalidField("content", "line %d is not a valid regular expression: %v", i+1, err)
		}
		out = append(out, re)
	}
	if len(out) == 0 {
		return nil, fault.InvalidField("content", "give at least one command or pattern, one per line")
	}
	return out, nil
}

// Check decides a command line for a subject: the first active rule, by
// ascending priority number, that covers the subject and has a matching
// pattern decides.
func (s *Service) Check(sub Subject, line string) Verdict {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.rules {
		r := &s.rules[i]
		if !r.applies(sub) {
			continue
		}
		for _, p := range r.patterns {
			if p.re.MatchString(line) {
				return Verdict{Action: r.action, Risk: risk(r.action), Rule: r.name, Group: p.group}
			}
		}
	}
	return Verdict{Action: Accept, Risk: RiskNone}
}

func risk(action string) int {
	switch action {
	case Reject:
		return RiskReject
	case Warn:
		return RiskWarn
	}
	return RiskNone
}

// GroupFields are the writable fields of a command group; nil: not given.
type GroupFields struct {
	Name, Type, Content, Comment *string
	IgnoreCase                   *bool
}

// FilterFields are the writable fields of a command filter; nil: not given.
type FilterFields struct {
	Name, Action, Comment                                 *string
	Priority                                              *int
	IsActive                                              *bool
	Users, UserGroups, Assets, SystemUsers, CommandGroups *[]string
}

type groupView struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Content    string `json:"content"`
	IgnoreCase bool   `json:"ignore_case"`
	Comment    string `json:"comment"`
}

type filterView struct {
	Name          string   `json:"name"`
	Priority      int      `json:"priority"`
	Action        string   `json:"action"`
	IsActive      bool     `json:"is_active"`
	Comment       string   `json:"comment"`
	Users         []string `json:"users"`
	UserGroups    []string `json:"user_groups"`
	Assets        []string `json:"assets"`
	SystemUsers   []string `json:"system_users"`
	CommandGroups []string `json:"command_groups"`
}

func viewGroup(g *store.CommandGroup) groupView {
	return groupView{g.Name, g.Type, g.Content, g.IgnoreCase, g.Comment}
}

func viewFilter(f *store.CommandFilter) filterView {
	return filterView{f.Name, f.Priority, f.Action, f.IsActive, f.Comment, f.Users, f.UserGroups, f.Assets, f.SystemUsers, f.CommandGroups}
}

func applyGroup(g *store.CommandGroup, f GroupFields, creating bool) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		g.Name = *f.Name
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if f.Type != nil {
		g.Type = *f.Type
	} else if creating {
		g.Type = TypeCommand
	}
	if g.Type != TypeCommand && g.Type != TypeRegex {
		return fault.InvalidField("type", "must be command or regex")
	}
	if f.Content != nil {
		if len(*f.Content) > 64<<10 {
			return fault.InvalidField("content", "larger than 64 KiB")
		}
		g.Content = *f.Content
	}
	if f.IgnoreCase != nil {
		g.IgnoreCase = *f.IgnoreCase
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		g.Comment = *f.Comment
	}
	_, err := compile(g.Type, g.Content, g.IgnoreCase)
	return err
}

// CreateGroup creates a command group.
func (s *Service) CreateGroup(ctx context.Context, a audit.Actor, f GroupFields) (store.CommandGroup, error) {
	now := s.now()
	g := store.CommandGroup{ID: identity.NewID(), IgnoreCase: true, CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := applyGroup(&g, f, true); err != nil {
		return g, err
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateCommandGroup(ctx, &g); err != nil {
			return fault.ConflictOr(err, "name", "a command group named "+g.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "command_group", ID: g.ID, Name: g.Name, After: viewGroup(&g)}, now)
	})
	return g, err
}

// UpdateGroup changes the given fields of a command group.
func (s *Service) UpdateGroup(ctx context.Context, a audit.Actor, id string, f GroupFields) (store.CommandGroup, error) {
	g, err := s.db.CommandGroup(ctx, id)
	if err != nil {
		return g, fault.NotFoundOr(err, "command group")
	}
	before := viewGroup(&g)
	if err := applyGroup(&g, f, false); err != nil {
		return g, err
	}
	g.DateUpdated = s.now()
	err = s.write(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateCommandGroup(ctx, &g); err != nil {
			return fault.ConflictOr(err, "name", "a command group named "+g.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "command_group", ID: g.ID, Name: g.Name, Before: before, After: viewGroup(&g)}, g.DateUpdated)
	})
	return g, err
}

// DeleteGroup removes a command group from every filter and deletes it.
func (s *Service) DeleteGroup(ctx context.Context, a audit.Actor, id string) error {
	g, err := s.db.CommandGroup(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "command group")
	}
	return s.write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteCommandGroup(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "command_group", ID: g.ID, Name: g.Name, Before: viewGroup(&g)}, s.now())
	})
}

func (s *Service) applyFilter(ctx context.Context, f *store.CommandFilter, in FilterFields, creating bool) error {
	if in.Name != nil {
		if err := fault.Text("name", *in.Name, 128, true); err != nil {
			return err
		}
		f.Name = *in.Name
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if in.Priority != nil {
		f.Priority = *in.Priority
	}
	if f.Priority < 1 || f.Priority > 100 {
		return fault.InvalidField("priority", "must be between 1 (checked first) and 100")
	}
	if in.Action != nil {
		f.Action = *in.Action
	}
	switch f.Action {
	case Reject, Warn, Accept:
	default:
		return fault.InvalidField("action", "must be reject, warn or accept")
	}
	if in.IsActive != nil {
		f.IsActive = *in.IsActive
	}
	if in.Comment != nil {
		if err := fault.Text("comment", *in.Comment, 1024, false); err != nil {
			return err
		}
		f.Comment = *in.Comment
	}
	for _, r := range []struct {
		field, kind, what string
		in                *[]string
		out               *[]string
	}{
		{"users", "users", "user", in.Users, &f.Users},
		{"user_groups", "user_groups", "user group", in.UserGroups, &f.UserGroups},
		{"assets", "assets", "asset", in.Assets, &f.Assets},
		{"system_users", "system_users", "system user", in.SystemUsers, &f.SystemUsers},
		{"command_groups", "command_groups", "command group", in.CommandGroups, &f.CommandGroups},
	} {
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
	if len(f.CommandGroups) == 0 {
		return fault.InvalidField("command_groups", "a filter needs at least one command group")
	}
	return nil
}

// CreateFilter creates a command filter; it applies to the next command.
func (s *Service) CreateFilter(ctx context.Context, a audit.Actor, in FilterFields) (store.CommandFilter, error) {
	now := s.now()
	f := store.CommandFilter{ID: identity.NewID(), Priority: 50, Action: Reject, IsActive: true, CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := s.applyFilter(ctx, &f, in, true); err != nil {
		return f, err
	}
	err := s.write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateCommandFilter(ctx, &f); err != nil {
			return fault.ConflictOr(err, "name", "a command filter named "+f.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "command_filter", ID: f.ID, Name: f.Name, After: viewFilter(&f)}, now)
	})
	if err != nil {
		return f, err
	}
	return s.db.CommandFilter(ctx, f.ID)
}

// UpdateFilter changes the given fields of a command filter.
func (s *Service) UpdateFilter(ctx context.Context, a audit.Actor, id string, in FilterFields) (store.CommandFilter, error) {
	f, err := s.db.CommandFilter(ctx, id)
	if err != nil {
		return f, fault.NotFoundOr(err, "command filter")
	}
	before := viewFilter(&f)
	if err := s.applyFilter(ctx, &f, in, false); err != nil {
		return f, err
	}
	f.DateUpdated = s.now()
	err = s.write(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateCommandFilter(ctx, &f); err != nil {
			return fault.ConflictOr(err, "name", "a command filter named "+f.Name)
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "command_filter", ID: f.ID, Name: f.Name, Before: before, After: viewFilter(&f)}, f.DateUpdated)
	})
	if err != nil {
		return f, err
	}
	return s.db.CommandFilter(ctx, f.ID)
}

// DeleteFilter removes a command filter.
func (s *Service) DeleteFilter(ctx context.Context, a audit.Actor, id string) error {
	f, err := s.db.CommandFilter(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "command filter")
	}
	return s.write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteCommandFilter(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "command_filter", ID: f.ID, Name: f.Name, Before: viewFilter(&f)}, s.now())
	})
}

// write runs a change and rebuilds the rules after it, so it applies at once.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	if err := s.db.Tx(ctx, fn); err != nil {
		return err
	}
	if err := s.Reload(ctx); err != nil {
		return fmt.Errorf("reload command filters: %w", err)
	}
	return nil
}
