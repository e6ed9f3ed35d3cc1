package access

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// model answers the same questions as Engine by brute force over the raw
// records, so random change sequences can check that the engine's indexes
// never drift from the data they were built from.
type model struct {
	perms   map[string]Perm
	assets  map[string]Asset
	nodes   map[string]Node
	members map[string][]string
}

func (m *model) inSubtreeOf(nodeIDs []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range nodeIDs {
		seen := map[string]bool{}
		for cur := id; !seen[cur]; {
			n, ok := m.nodes[cur]
			if !ok {
				break
			}
			seen[cur] = true
			out[cur] = true
			cur = n.Parent
		}
	}
	return out
}

func (m *model) grant(user, assetID string, now time.Time) []SystemUserGrant {
	a, ok := m.assets[assetID]
	if !ok || !a.Active {
		return nil
	}
	chain := m.inSubtreeOf(a.Nodes)
	acts := map[string]Action{}
	for _, p := range m.perms {
		if !p.Active || p.Actions == 0 || len(p.SystemUsers) == 0 ||
			(!p.Start.IsZero() && now.Before(p.Start)) || (!p.Expire.IsZero() && !now.Before(p.Expire)) {
			continue
		}
		reachesUser := slices.Contains(p.Users, user)
		for _, g := range m.members[user] {
			reachesUser = reachesUser || slices.Contains(p.Groups, g)
		}
		reachesAsset := slices.Contains(p.Assets, assetID)
		for _, n := range p.Nodes {
			reachesAsset = reachesAsset || chain[n]
		}
		if reachesUser && reachesAsset {
			for _, s := range p.SystemUsers {
				acts[s] |= p.Actions
			}
		}
	}
	var out []SystemUserGrant
	for _, s := range slices.Sorted(maps.Keys(acts)) {
		out = append(out, SystemUserGrant{ID: s, Actions: acts[s]})
	}
	return out
}

func (m *model) assetsOf(user string, now time.Time) []string {
	var list []Asset
	for id, a := range m.assets {
		if m.grant(user, id, now) != nil {
			list = append(list, a)
		}
	}
	slices.SortFunc(list, func(x, y Asset) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	ids := []string{}
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

func (m *model) nodesOf(user string, now time.Time) []NodeCount {
	counts := map[string]int{}
	for _, id := range m.assetsOf(user, now) {
		for n := range m.inSubtreeOf(m.assets[id].Nodes) {
			counts[n]++
		}
	}
	out := []NodeCount{}
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, NodeCount{ID: id, Assets: counts[id]})
	}
	return out
}

func pick(r *rand.Rand, prefix string, n, most int) []string {
	var out []string
	for range r.Intn(most + 1) {
		out = append(out, fmt.Sprintf("%s%d", prefix, r.Intn(n)))
	}
	return out
}

func TestEngineMatchesModel(t *testing.T) {
	const users, groups, nodes, assets, perms = 5, 3, 8, 25, 12
	r := rand.New(rand.NewSource(7))
	times := []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)}
	randPerm := func() Perm {
		p := Perm{
			ID:          fmt.Sprintf("p%d", r.Intn(perms)),
			Users:       pick(r, "u", users, 2),
			Groups:      pick(r, "g", groups, 2),
			Assets:      pick(r, "a", assets, 3),
			Nodes:       pick(r, "n", nodes+2, 2),
			SystemUsers: pick(r, "s", 3, 2),
			Actions:     Action(r.Intn(int(ActionAll) + 1)),
			Active:      r.Intn(6) > 0,
		}
		if r.Intn(3) == 0 {
			p.Start = times[r.Intn(3)]
		}
		if r.Intn(3) == 0 {
			p.Expire = times[r.Intn(3)]
		}
		return p
	}
	randAsset := func() Asset {
		i := r.Intn(assets)
		return Asset{
			ID:     fmt.Sprintf("a%d", i),
			Name:   fmt.Sprintf("host-%d", r.Intn(assets/2)),
			IP:     fmt.Sprintf("10.0.0.%d", i),
			Nodes:  pick(r, "n", nodes+2, 2),
			Active: r.Intn(8) > 0,
		}
	}
	randNode := func() Node {
		n := Node{ID: fmt.Sprintf("n%d", r.Intn(nodes+2))}
		// Mostly a proper tree (parent has a smaller number), sometimes anything, cycles included.
		if k := r.Intn(nodes + 2); r.Intn(5) == 0 || k < r.Intn(nodes+2) {
			n.Parent = fmt.Sprintf("n%d", k)
		}
		return n
	}

	m := &model{perms: map[string]Perm{}, assets: map[string]Asset{}, nodes: map[string]Node{}, members: map[string][]string{}}
	for range nodes {
		n := randNode()
		m.nodes[n.ID] = n
	}
	for range assets {
		a := randAsset()
		m.assets[a.ID] = a
	}
	for range perms {
		p := randPerm()
		m.perms[p.ID] = p
	}
	for u := range users {
		m.members[fmt.Sprintf("u%d", u)] = pick(r, "g", groups, 2)
	}
	e := New()
	e.Load(Data{
		Perms:   slices.Collect(maps.Values(m.perms)),
		Assets:  slices.Collect(maps.Values(m.assets)),
		Nodes:   slices.Collect(maps.Values(m.nodes)),
		Members: maps.Clone(m.members),
	})

	for step := range 400 {
		var did string
		switch r.Intn(9) {
		case 0:
			p := randPerm()
			m.perms[p.ID] = p
			e.PutPerm(p)
			did = "PutPerm " + p.ID
		case 1:
			id := fmt.Sprintf("p%d", r.Intn(perms))
			delete(m.perms, id)
			e.DeletePerm(id)
			did = "DeletePerm " + id
		case 2:
			a := randAsset()
			m.assets[a.ID] = a
			e.PutAsset(a)
			did = "PutAsset " + a.ID
		case 3:
			batch := []Asset{randAsset(), randAsset(), randAsset()}
			for _, a := range batch {
				m.assets[a.ID] = a
			}
			e.PutAssets(batch)
			did = "PutAssets"
		case 4:
			id := fmt.Sprintf("a%d", r.Intn(assets))
			delete(m.assets, id)
			e.DeleteAsset(id)
			did = "DeleteAsset " + id
		case 5, 6:
			n := randNode()
			m.nodes[n.ID] = n
			e.PutNode(n)
			did = fmt.Sprintf("PutNode %s under %q", n.ID, n.Parent)
		case 7:
			id := fmt.Sprintf("n%d", r.Intn(nodes+2))
			delete(m.nodes, id)
			e.DeleteNode(id)
			did = "DeleteNode " + id
		case 8:
			u := fmt.Sprintf("u%d", r.Intn(users))
			gs := pick(r, "g", groups, 2)
			m.members[u] = gs
			e.SetUserGroups(u, gs)
			did = "SetUserGroups " + u
		}
		now := times[r.Intn(3)]
		for i := range users {
			u := fmt.Sprintf("u%d", i)
			want := m.assetsOf(u, now)
			if got := allAssets(e, u, now); !slices.Equal(got, want) {
				t.Fatalf("step %d (%s): Assets(%s) = %v, want %v", step, did, u, got, want)
			}
			if got, want := e.Nodes(u, now), m.nodesOf(u, now); !slices.Equal(got, want) {
				t.Fatalf("step %d (%s): Nodes(%s) = %v, want %v", step, did, u, got, want)
			}
			for a := range assets {
				id := fmt.Sprintf("a%d", a)
				want := m.grant(u, id, now)
				g, ok := e.Grant(u, id, now)
				if ok != (want != nil) || !slices.Equal(g.SystemUsers, want) {
					t.Fatalf("step %d (%s): Grant(%s, %s) = %v, want %v", step, did, u, id, g.SystemUsers, want)
				}
				for _, w := range want {
					if !e.Check(u, id, w.ID, w.Actions, now) {
						t.Fatalf("step %d (%s): Check(%s, %s, %s, %v) = false", step, did, u, id, w.ID, w.Actions)
					}
				}
				if e.Check(u, id, "s-none", ActionConnect, now) {
					t.Fatalf("step %d (%s): Check passed for a system user nobody grants", step, did)
				}
			}
		}
	}
}
