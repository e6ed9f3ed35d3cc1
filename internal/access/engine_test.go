package access

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a small estate:
//
//	root ── bastion
//	├── dc1
//	│   ├── web ── web-1, web-2, old-1 (inactive)
//	│   └── db ─── db-1
//	└── dc2
//	    └── cache ─ cache-1, web-2
//	lab ── lab-1, zz-alpha ("alpha"), twin-a and twin-b (both "twin")
func fixture() Data {
	return Data{
		Nodes: []Node{
			{ID: "root", Name: "Default"},
			{ID: "dc1", Parent: "root", Name: "DC 1"},
			{ID: "web", Parent: "dc1", Name: "Web"},
			{ID: "db", Parent: "dc1", Name: "DB"},
			{ID: "dc2", Parent: "root", Name: "DC 2"},
			{ID: "cache", Parent: "dc2", Name: "Cache"},
			{ID: "lab", Name: "Lab"},
		},
		Assets: []Asset{
			{ID: "bastion", Name: "bastion", IP: "jump.CORP.example", Nodes: []string{"root"}, Active: true},
			{ID: "web-1", Name: "web-1", IP: "10.0.1.1", Nodes: []string{"web"}, Active: true},
			{ID: "web-2", Name: "web-2", IP: "10.0.1.2", Nodes: []string{"web", "cache"}, Active: true},
			{ID: "old-1", Name: "old-1", IP: "10.0.1.9", Nodes: []string{"web"}, Active: false},
			{ID: "db-1", Name: "db-1", IP: "10.0.2.1", Nodes: []string{"db"}, Active: true},
			{ID: "cache-1", Name: "cache-1", IP: "10.0.3.1", Nodes: []string{"cache"}, Active: true},
			{ID: "lab-1", Name: "Lab-1", IP: "192.168.1.10", Nodes: []string{"lab"}, Active: true},
			{ID: "zz-alpha", Name: "alpha", IP: "192.168.1.11", Nodes: []string{"lab"}, Active: true},
			{ID: "twin-b", Name: "twin", IP: "192.168.1.12", Nodes: []string{"lab"}, Active: true},
			{ID: "twin-a", Name: "twin", IP: "192.168.1.13", Nodes: []string{"lab"}, Active: true},
		},
		Members: map[string][]string{
			"alice": {"ops"},
			"bob":   {"ops", "dev"},
		},
	}
}

// rule returns an active perm granting connect as "root", the common case
// the tables then adjust.
func rule(id string, edit func(*Perm)) Perm {
	p := Perm{ID: id, SystemUsers: []string{"root"}, Actions: ActionConnect, Active: true}
	if edit != nil {
		edit(&p)
	}
	return p
}

func load(perms ...Perm) *Engine {
	d := fixture()
	d.Perms = perms
	e := New()
	e.Load(d)
	return e
}

func allAssets(e *Engine, user string, now time.Time) []string {
	page, total := e.Assets(user, now, AssetQuery{})
	ids := assetIDs(page)
	if total != len(ids) {
		panic(fmt.Sprintf("total %d but %d assets listed", total, len(ids)))
	}
	return ids
}

func assetIDs(page []Grant) []string {
	ids := []string{}
	for _, g := range page {
		ids = append(ids, g.AssetID)
	}
	return ids
}

func TestAssetsReach(t *testing.T) {
	oneHour := []Perm{rule("p", func(p *Perm) {
		p.Users = []string{"alice"}
		p.Nodes = []string{"db"}
		p.Start = t0
		p.Expire = t0.Add(time.Hour)
	})}
	tests := []struct {
		name  string
		perms []Perm
		user  string
		now   time.Time
		want  []string
	}{
		{
			name:  "node grant reaches its whole subtree and only it",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"dc1"} })},
			user:  "alice",
			want:  []string{"db-1", "web-1", "web-2"},
		},
		{
			name:  "root grant reaches every level but not another root",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"root"} })},
			user:  "alice",
			want:  []string{"bastion", "cache-1", "db-1", "web-1", "web-2"},
		},
		{
			name:  "direct asset grant",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{"lab-1"} })},
			user:  "alice",
			want:  []string{"lab-1"},
		},
		{
			name: "union of a node grant and a direct grant",
			perms: []Perm{
				rule("p1", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"web"} }),
				rule("p2", func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{"lab-1"} }),
			},
			user: "alice",
			want: []string{"lab-1", "web-1", "web-2"},
		},
		{
			name:  "group grant reaches a member",
			perms: []Perm{rule("p", func(p *Perm) { p.Groups = []string{"dev"}; p.Nodes = []string{"db"} })},
			user:  "bob",
			want:  []string{"db-1"},
		},
		{
			name:  "group grant does not reach a non-member",
			perms: []Perm{rule("p", func(p *Perm) { p.Groups = []string{"dev"}; p.Nodes = []string{"db"} })},
			user:  "alice",
			want:  []string{},
		},
		{
			name: "reached directly and through two groups lists each asset once",
			perms: []Perm{
				rule("p1", func(p *Perm) { p.Users = []string{"bob"}; p.Nodes = []string{"web"} }),
				rule("p2", func(p *Perm) { p.Groups = []string{"ops"}; p.Nodes = []string{"web", "dc1"} }),
				rule("p3", func(p *Perm) { p.Groups = []string{"dev", "ops"}; p.Assets = []string{"web-1", "web-1"} }),
			},
			user: "bob",
			want: []string{"db-1", "web-1", "web-2"},
		},
		{
			name:  "inactive rule grants nothing",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"root"}; p.Active = false })},
			user:  "alice",
			want:  []string{},
		},
		{
			name:  "inactive asset is not reachable even when named directly",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{"old-1"} })},
			user:  "alice",
			want:  []string{},
		},
		{
			name:  "unknown ids reach nothing",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{"nope"}; p.Nodes = []string{"ghost"} })},
			user:  "alice",
			want:  []string{},
		},
		{
			name:  "rule without system users grants nothing",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"db"}; p.SystemUsers = nil })},
			user:  "alice",
			want:  []string{},
		},
		{
			name:  "rule without actions grants nothing",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"db"}; p.Actions = 0 })},
			user:  "alice",
			want:  []string{},
		},
		{
			name:  "before the window opens",
			perms: oneHour,
			user:  "alice",
			now:   t0.Add(-time.Nanosecond),
			want:  []string{},
		},
		{
			name:  "the opening instant is inside the window",
			perms: oneHour,
			user:  "alice",
			now:   t0,
			want:  []string{"db-1"},
		},
		{
			name:  "just before expiry is inside the window",
			perms: oneHour,
			user:  "alice",
			now:   t0.Add(time.Hour - time.Nanosecond),
			want:  []string{"db-1"},
		},
		{
			name:  "the expiry instant is outside the window",
			perms: oneHour,
			user:  "alice",
			now:   t0.Add(time.Hour),
			want:  []string{},
		},
		{
			name:  "zero bounds never close",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"db"} })},
			user:  "alice",
			now:   time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC),
			want:  []string{"db-1"},
		},
		{
			name:  "ordered by name then id, not by id",
			perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"lab"} })},
			user:  "alice",
			want:  []string{"lab-1", "zz-alpha", "twin-a", "twin-b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := load(tt.perms...)
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			if got := allAssets(e, tt.user, now); !slices.Equal(got, tt.want) {
				t.Errorf("Assets = %v, want %v", got, tt.want)
			}
			// Listing and single-asset answers must agree.
			for _, id := range []string{"bastion", "web-1", "web-2", "old-1", "db-1", "cache-1", "lab-1", "zz-alpha", "twin-a", "twin-b"} {
				_, ok := e.Grant(tt.user, id, now)
				if want := slices.Contains(tt.want, id); ok != want {
					t.Errorf("Grant(%s) ok = %v, want %v", id, ok, want)
				}
				if want := slices.Contains(tt.want, id); e.Check(tt.user, id, "root", ActionConnect, now) != want {
					t.Errorf("Check(%s) = %v, want %v", id, !want, want)
				}
			}
		})
	}
}

func unionPerms() []Perm {
	return []Perm{
		rule("p1", func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{"web-1"} }),
		rule("p2", func(p *Perm) {
			p.Groups = []string{"ops"}
			p.Nodes = []string{"web"}
			p.Actions = ActionUpload
		}),
		rule("p3", func(p *Perm) {
			p.Users = []string{"alice"}
			p.Nodes = []string{"root"}
			p.SystemUsers = []string{"app"}
			p.Actions = ActionDownload
		}),
		rule("p4", func(p *Perm) {
			p.Users = []string{"alice"}
			p.Nodes = []string{"root"}
			p.SystemUsers = []string{"admin"}
			p.Actions = ActionAll
			p.Expire = t0
		}),
	}
}

func TestGrantUnionsActionsPerSystemUser(t *testing.T) {
	e := load(unionPerms()...)
	want := Grant{AssetID: "web-1", SystemUsers: []SystemUserGrant{
		{ID: "app", Actions: ActionDownload},
		{ID: "root", Actions: ActionConnect | ActionUpload},
	}}
	g, ok := e.Grant("alice", "web-1", t0)
	if !ok || !grantEqual(g, want) {
		t.Fatalf("Grant = %+v, %v; want %+v", g, ok, want)
	}
	page, _ := e.Assets("alice", t0, AssetQuery{Search: "web-1"})
	if len(page) != 1 || !grantEqual(page[0], want) {
		t.Fatalf("Assets page = %+v, want [%+v]", page, want)
	}
	if _, ok := e.Grant("carol", "web-1", t0); ok {
		t.Fatal("carol holds no rule but got a grant")
	}
}

func grantEqual(a, b Grant) bool {
	return a.AssetID == b.AssetID && slices.Equal(a.SystemUsers, b.SystemUsers)
}

func TestCheck(t *testing.T) {
	e := load(unionPerms()...)
	tests := []struct {
		name                 string
		user, asset, sysUser string
		act                  Action
		want                 bool
	}{
		{"directly granted action", "alice", "web-1", "root", ActionConnect, true},
		{"action granted through a group", "alice", "web-1", "root", ActionUpload, true},
		{"actions from two rules combine", "alice", "web-1", "root", ActionConnect | ActionUpload, true},
		{"one missing action denies the set", "alice", "web-1", "root", ActionConnect | ActionDelete, false},
		{"action not granted", "alice", "web-1", "root", ActionDelete, false},
		{"actions do not leak across system users", "alice", "web-1", "app", ActionConnect, false},
		{"node grant through an ancestor", "alice", "db-1", "app", ActionDownload, true},
		{"asset outside the granted node", "alice", "db-1", "root", ActionUpload, false},
		{"expired rule", "alice", "web-1", "admin", ActionConnect, false},
		{"empty action is never allowed", "alice", "web-1", "root", 0, false},
		{"unknown action bit is never allowed", "alice", "web-1", "root", 1 << 12, false},
		{"user without rules", "carol", "web-1", "root", ActionConnect, false},
		{"unknown asset", "alice", "nope", "root", ActionConnect, false},
		{"inactive asset inside a granted node", "alice", "old-1", "root", ActionUpload, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Check(tt.user, tt.asset, tt.sysUser, tt.act, t0); got != tt.want {
				t.Errorf("Check = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	e := load(unionPerms()...)
	allocs := testing.AllocsPerRun(100, func() {
		e.Check("alice", "web-2", "app", ActionDownload, t0)
		e.Check("alice", "db-1", "root", ActionDelete, t0)
	})
	if allocs != 0 {
		t.Fatalf("Check allocates %v times per call", allocs)
	}
}

// TestChangesAreVisibleImmediately applies changes one after the other, as
// the core service does, and checks what alice (or the named user) sees
// right after each.
func TestChangesAreVisibleImmediately(t *testing.T) {
	e := load()
	steps := []struct {
		name string
		do   func()
		user string
		want []string
	}{
		{"no rule yet", func() {}, "alice", []string{}},
		{"node grant", func() {
			e.PutPerm(rule("p1", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"dc1"} }))
		}, "alice", []string{"db-1", "web-1", "web-2"}},
		{"asset added to a granted node later", func() {
			e.PutAsset(Asset{ID: "web-3", Name: "web-3", Nodes: []string{"web"}, Active: true})
		}, "alice", []string{"db-1", "web-1", "web-2", "web-3"}},
		{"node moved out of the granted subtree takes its assets along", func() {
			e.PutNode(Node{ID: "web", Parent: "dc2", Name: "Web"})
		}, "alice", []string{"db-1"}},
		{"node moved back", func() {
			e.PutNode(Node{ID: "web", Parent: "dc1", Name: "Web"})
		}, "alice", []string{"db-1", "web-1", "web-2", "web-3"}},
		{"rename reorders", func() {
			e.PutAsset(Asset{ID: "web-3", Name: "a-web-3", Nodes: []string{"web"}, Active: true})
		}, "alice", []string{"web-3", "db-1", "web-1", "web-2"}},
		{"asset deleted", func() { e.DeleteAsset("web-1") }, "alice", []string{"web-3", "db-1", "web-2"}},
		{"asset deactivated", func() {
			e.PutAsset(Asset{ID: "web-2", Name: "web-2", Nodes: []string{"web", "cache"}, Active: false})
		}, "alice", []string{"web-3", "db-1"}},
		{"asset moved to another node", func() {
			e.PutAsset(Asset{ID: "web-3", Name: "a-web-3", Nodes: []string{"lab"}, Active: true})
		}, "alice", []string{"db-1"}},
		{"deleting a node cuts off its assets", func() { e.DeleteNode("db") }, "alice", []string{}},
		{"putting the node back restores them", func() {
			e.PutNode(Node{ID: "db", Parent: "dc1", Name: "DB"})
		}, "alice", []string{"db-1"}},
		{"rule replaced", func() {
			e.PutPerm(rule("p1", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"lab"} }))
		}, "alice", []string{"lab-1", "web-3", "zz-alpha", "twin-a", "twin-b"}},
		{"rule deleted", func() { e.DeletePerm("p1") }, "alice", []string{}},
		{"deleting a node a rule names makes the rule reach nothing", func() {
			e.PutPerm(rule("p2", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"cache"} }))
			e.DeleteNode("cache")
		}, "alice", []string{}},
		{"rule naming a node that does not exist yet", func() {
			e.PutPerm(rule("p3", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"future"} }))
			e.PutAsset(Asset{ID: "f-1", Name: "f-1", Nodes: []string{"future"}, Active: true})
		}, "alice", []string{}},
		{"the node arrives", func() {
			e.PutNode(Node{ID: "future", Parent: "root", Name: "Future"})
		}, "alice", []string{"f-1"}},
		{"bulk put keeps name order", func() {
			e.PutAssets([]Asset{
				{ID: "f-3", Name: "f-3", Nodes: []string{"future"}, Active: true},
				{ID: "f-0", Name: "f-0", Nodes: []string{"future"}, Active: true},
				{ID: "f-1", Name: "f-2", Nodes: []string{"future"}, Active: true},
			})
		}, "alice", []string{"f-0", "f-1", "f-3"}},
		{"group rule reaches a member", func() {
			e.PutPerm(rule("p4", func(p *Perm) { p.Groups = []string{"dev"}; p.Assets = []string{"bastion"} }))
		}, "bob", []string{"bastion"}},
		{"leaving the group", func() { e.SetUserGroups("bob", []string{"ops"}) }, "bob", []string{}},
		{"joining again", func() { e.SetUserGroups("bob", []string{"ops", "dev"}) }, "bob", []string{"bastion"}},
		{"group deleted", func() { e.DeleteGroup("dev") }, "bob", []string{}},
		{"a recreated group inherits no rule", func() { e.SetUserGroups("bob", []string{"dev"}) }, "bob", []string{}},
		{"direct user rule", func() {
			e.PutPerm(rule("p5", func(p *Perm) { p.Users = []string{"carol"}; p.Assets = []string{"lab-1"} }))
		}, "carol", []string{"lab-1"}},
		{"user deleted", func() { e.DeleteUser("carol") }, "carol", []string{}},
	}
	for _, s := range steps {
		s.do()
		if got := allAssets(e, s.user, t0); !slices.Equal(got, s.want) {
			t.Fatalf("after %q: Assets(%s) = %v, want %v", s.name, s.user, got, s.want)
		}
	}
}

func TestAssetsQuery(t *testing.T) {
	e := load(rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"root", "lab"} }))
	// Names sort by bytes, so "Lab-1" comes before every lower-case name.
	tests := []struct {
		name  string
		q     AssetQuery
		want  []string
		total int
	}{
		{"everything", AssetQuery{}, []string{"lab-1", "zz-alpha", "bastion", "cache-1", "db-1", "twin-a", "twin-b", "web-1", "web-2"}, 9},
		{"search is case-insensitive", AssetQuery{Search: "WEB"}, []string{"web-1", "web-2"}, 2},
		{"search ignores the case of the name", AssetQuery{Search: "lab"}, []string{"lab-1"}, 1},
		{"search matches IP", AssetQuery{Search: "10.0.1."}, []string{"web-1", "web-2"}, 2},
		{"search matches a host name in the IP field", AssetQuery{Search: "corp"}, []string{"bastion"}, 1},
		{"search matching nothing", AssetQuery{Search: "nothing"}, []string{}, 0},
		{"node filter covers the subtree", AssetQuery{Node: "dc1"}, []string{"db-1", "web-1", "web-2"}, 3},
		{"node filter with an asset in two nodes", AssetQuery{Node: "cache"}, []string{"cache-1", "web-2"}, 2},
		{"unknown node", AssetQuery{Node: "ghost"}, []string{}, 0},
		{"node and search", AssetQuery{Node: "dc1", Search: "db"}, []string{"db-1"}, 1},
		{"first page", AssetQuery{Limit: 2}, []string{"lab-1", "zz-alpha"}, 9},
		{"middle page", AssetQuery{Offset: 2, Limit: 3}, []string{"bastion", "cache-1", "db-1"}, 9},
		{"last partial page", AssetQuery{Offset: 8, Limit: 3}, []string{"web-2"}, 9},
		{"past the end", AssetQuery{Offset: 9, Limit: 3}, []string{}, 9},
		{"negative offset is the start", AssetQuery{Offset: -5, Limit: 1}, []string{"lab-1"}, 9},
		{"no limit from an offset", AssetQuery{Offset: 7}, []string{"web-1", "web-2"}, 9},
		{"page of search results", AssetQuery{Search: "web", Offset: 1, Limit: 1}, []string{"web-2"}, 2},
		{"page of a node", AssetQuery{Node: "root", Offset: 1, Limit: 2}, []string{"cache-1", "db-1"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, total := e.Assets("alice", t0, tt.q)
			if got := assetIDs(page); !slices.Equal(got, tt.want) || total != tt.total {
				t.Errorf("Assets = %v, %d; want %v, %d", got, total, tt.want, tt.total)
			}
		})
	}
}

func TestPagesCoverEverythingOnce(t *testing.T) {
	// More than one bitset word of assets, so paging crosses word bounds.
	d := Data{Nodes: []Node{{ID: "n"}}}
	for i := range 300 {
		d.Assets = append(d.Assets, Asset{ID: fmt.Sprint(i), Name: fmt.Sprintf("h%03d", i), Nodes: []string{"n"}, Active: i%7 != 0})
	}
	d.Perms = []Perm{rule("p", func(p *Perm) { p.Users = []string{"u"}; p.Nodes = []string{"n"} })}
	e := New()
	e.Load(d)
	all := allAssets(e, "u", t0)
	for _, limit := range []int{1, 50, 63, 64, 65, 1000} {
		var got []string
		for off := 0; ; off += limit {
			page, total := e.Assets("u", t0, AssetQuery{Offset: off, Limit: limit})
			if total != len(all) {
				t.Fatalf("limit %d offset %d: total %d, want %d", limit, off, total, len(all))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, assetIDs(page)...)
		}
		if !slices.Equal(got, all) {
			t.Fatalf("limit %d: pages give %d assets, want %d in the same order", limit, len(got), len(all))
		}
	}
}

func TestNodes(t *testing.T) {
	e := load(rule("p", func(p *Perm) {
		p.Users = []string{"alice"}
		p.Nodes = []string{"web"}
		p.Assets = []string{"cache-1", "old-1"}
	}))
	// web-1 and web-2 through web, cache-1 directly; web-2 sits in both web
	// and cache but counts once under root.
	want := []NodeCount{{"cache", 2}, {"dc1", 2}, {"dc2", 2}, {"root", 3}, {"web", 2}}
	if got := e.Nodes("alice", t0); !slices.Equal(got, want) {
		t.Fatalf("Nodes = %v, want %v", got, want)
	}
	if got := e.Nodes("carol", t0); len(got) != 0 {
		t.Fatalf("Nodes for a user without rules = %v", got)
	}
}

func TestNextChange(t *testing.T) {
	e := load(
		rule("window", func(p *Perm) {
			p.Users = []string{"alice"}
			p.Assets = []string{"web-1"}
			p.Start = t0.Add(time.Hour)
			p.Expire = t0.Add(3 * time.Hour)
		}),
		rule("group", func(p *Perm) {
			p.Groups = []string{"ops"}
			p.Assets = []string{"db-1"}
			p.Expire = t0.Add(2 * time.Hour)
		}),
		rule("inactive", func(p *Perm) {
			p.Users = []string{"alice"}
			p.Assets = []string{"db-1"}
			p.Start = t0.Add(time.Minute)
			p.Active = false
		}),
		rule("other", func(p *Perm) { p.Users = []string{"carol"}; p.Assets = []string{"db-1"}; p.Start = t0.Add(time.Minute) }),
	)
	tests := []struct {
		name string
		user string
		now  time.Time
		want time.Time
	}{
		{"next start", "alice", t0, t0.Add(time.Hour)},
		{"a start at now is not a future change", "alice", t0.Add(time.Hour), t0.Add(2 * time.Hour)},
		{"group rule expiry", "alice", t0.Add(90 * time.Minute), t0.Add(2 * time.Hour)},
		{"last expiry", "alice", t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)},
		{"nothing left to change", "alice", t0.Add(3 * time.Hour), time.Time{}},
		{"user without rules", "dave", t0, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.NextChange(tt.user, tt.now); !got.Equal(tt.want) {
				t.Errorf("NextChange = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUsersOf(t *testing.T) {
	e := load(
		rule("p1", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"web"} }),
		rule("p2", func(p *Perm) { p.Groups = []string{"dev"}; p.Assets = []string{"web-1"} }),
		rule("p3", func(p *Perm) { p.Users = []string{"carol"}; p.Nodes = []string{"root"}; p.Expire = t0 }),
		rule("p4", func(p *Perm) { p.Users = []string{"dave"}; p.Nodes = []string{"root"} }),
	)
	tests := []struct {
		asset string
		want  []string
	}{
		{"web-1", []string{"alice", "bob", "dave"}},
		{"web-2", []string{"alice", "dave"}},
		{"db-1", []string{"dave"}},
		{"lab-1", []string{}},
		{"old-1", []string{}},
		{"nope", []string{}},
	}
	for _, tt := range tests {
		if got := e.UsersOf(tt.asset, t0); !slices.Equal(got, tt.want) {
			t.Errorf("UsersOf(%s) = %v, want %v", tt.asset, got, tt.want)
		}
	}
}

func TestNodeCyclesDoNotHang(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		want  []string // alice's assets; she is granted node "x" and the root
	}{
		{"two-node cycle", []Node{{ID: "x", Parent: "y"}, {ID: "y", Parent: "x"}}, []string{"in-x", "in-y"}},
		{"self parent", []Node{{ID: "x", Parent: "x"}, {ID: "y", Parent: "x"}}, []string{"in-x", "in-y"}},
		{"cycle above the granted node", []Node{{ID: "x", Parent: "y"}, {ID: "y", Parent: "z"}, {ID: "z", Parent: "y"}}, []string{"in-x", "in-y"}},
		{"root moved under its own descendant", []Node{{ID: "root", Parent: "x"}, {ID: "x", Parent: "root"}, {ID: "y", Parent: "x"}}, []string{"in-root", "in-x", "in-y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				e := New()
				e.Load(Data{
					Nodes: tt.nodes,
					Assets: []Asset{
						{ID: "in-root", Name: "in-root", Nodes: []string{"root"}, Active: true},
						{ID: "in-x", Name: "in-x", Nodes: []string{"x"}, Active: true},
						{ID: "in-y", Name: "in-y", Nodes: []string{"y", "x"}, Active: true},
					},
					Perms: []Perm{rule("p", func(p *Perm) { p.Users = []string{"alice"}; p.Nodes = []string{"x", "root"} })},
				})
				if got := allAssets(e, "alice", t0); !slices.Equal(got, tt.want) {
					t.Errorf("Assets = %v, want %v", got, tt.want)
				}
				for _, id := range tt.want {
					if !e.Check("alice", id, "root", ActionConnect, t0) {
						t.Errorf("Check(%s) = false for a listed asset", id)
					}
				}
				e.Nodes("alice", t0)
				e.UsersOf("in-y", t0)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("query did not return: node cycle not guarded")
			}
		})
	}
}

func TestParseActions(t *testing.T) {
	tests := []struct {
		in      []string
		want    Action
		wantErr string
	}{
		{[]string{"connect"}, ActionConnect, ""},
		{[]string{"Upload", " download "}, ActionUpload | ActionDownload, ""},
		{[]string{"copy", "paste", "delete", "share"}, ActionCopy | ActionPaste | ActionDelete | ActionShare, ""},
		{[]string{"all"}, ActionAll, ""},
		{[]string{"connect", "connect"}, ActionConnect, ""},
		{[]string{"connect", "sudo"}, 0, `"sudo"`},
		{nil, 0, "no action"},
	}
	for _, tt := range tests {
		got, err := ParseActions(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseActions(%q) error = %v, want one mentioning %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseActions(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestActionNames(t *testing.T) {
	if got, want := ActionAll.Names(), []string{"connect", "upload", "download", "copy", "paste", "delete", "share"}; !slices.Equal(got, want) {
		t.Errorf("ActionAll.Names() = %v", got)
	}
	if got := (ActionShare | ActionConnect).Names(); !slices.Equal(got, []string{"connect", "share"}) {
		t.Errorf("Names() = %v, want canonical order", got)
	}
	if got := Action(0).Names(); len(got) != 0 {
		t.Errorf("Action(0).Names() = %v", got)
	}
	round, err := ParseActions(ActionAll.Names())
	if err != nil || round != ActionAll {
		t.Errorf("names do not round-trip: %v, %v", round, err)
	}
	if !ActionAll.Has(ActionConnect|ActionShare) || ActionConnect.Has(ActionConnect|ActionUpload) || ActionAll.Has(0) {
		t.Error("Has must require every action and hold no empty set")
	}
}

// TestConcurrentUse is most useful under -race: queries run while the
// tree, the assets and the rules change.
func TestConcurrentUse(t *testing.T) {
	e := load(rule("p", func(p *Perm) { p.Groups = []string{"ops"}; p.Nodes = []string{"root"} }))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				e.Assets("alice", t0, AssetQuery{Limit: 3})
				e.Check("alice", "web-1", "root", ActionConnect, t0)
				e.Nodes("alice", t0)
				e.UsersOf("web-1", t0)
			}
		})
	}
	for i := range 300 {
		id := fmt.Sprintf("x-%d", i%20)
		e.PutAsset(Asset{ID: id, Name: id, Nodes: []string{"web"}, Active: true})
		e.PutNode(Node{ID: "web", Parent: []string{"dc1", "dc2"}[i%2]})
		e.PutPerm(rule(id, func(p *Perm) { p.Users = []string{"alice"}; p.Assets = []string{id} }))
		if i%3 == 0 {
			e.DeleteAsset(id)
			e.DeletePerm(id)
		}
	}
	close(stop)
	wg.Wait()
	if !e.Check("alice", "web-1", "root", ActionConnect, t0) {
		t.Fatal("grant lost after concurrent changes")
	}
}
