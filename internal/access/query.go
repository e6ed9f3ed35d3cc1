package access

import (
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Grant is what a user may do on one asset.
type Grant struct {
	AssetID     string
	SystemUsers []SystemUserGrant // sorted by ID
}

// SystemUserGrant is what a user may do on an asset as one system user: the
// union of the actions of every permission granting that pair.
type SystemUserGrant struct {
	ID      string
	Actions Action
}

// AssetQuery selects a page of a user's reachable assets.
type AssetQuery struct {
	Search string // case-insensitive substring of asset name or IP; "" matches all
	Node   string // only assets in this node's subtree; "" means anywhere
	Offset int
	Limit  int // <= 0 means no limit
}

// NodeCount is a node of a user's asset tree with the number of distinct
// reachable assets in its subtree.
type NodeCount struct {
	ID     string
	Assets int
}

// effective reports whether p grants anything at now. A rule without system
// users or actions is treated as granting nothing so that listing and
// checking always agree.
func (p *perm) effective(now time.Time) bool {
	return p.active && p.actions != 0 && len(p.sysUsers) > 0 &&
		(p.start.IsZero() || !now.Before(p.start)) &&
		(p.expire.IsZero() || now.Before(p.expire))
}

func (p *perm) reaches(user string, groups []string) bool {
	if _, ok := p.users[user]; ok {
		return true
	}
	for _, g := range groups {
		if _, ok := p.groups[g]; ok {
			return true
		}
	}
	return false
}

// walkUp calls fn on n and then on each ancestor while they exist and fn
// returns true. Parent pointers come from outside and may form a cycle, so
// Brent's cycle detection stops the walk once it comes round again; that
// needs no allocation, which keeps Check allocation-free, and a node may be
// passed to fn more than once, which every caller tolerates.
func walkUp(n *node, fn func(*node) bool) {
	if !n.exists || !fn(n) {
		return
	}
	tortoise, power, lam := n, 1, 1
	for hare := n.parent; hare != nil && hare.exists; hare = hare.parent {
		if hare == tortoise || !fn(hare) {
			return
		}
		if power == lam {
			tortoise, power, lam = hare, power*2, 0
		}
		lam++
	}
}

// eachPerm calls fn on every permission naming a or one of its nodes'
// ancestors, until fn returns false. A permission may be seen more than once.
// This is the asset side of the index: an asset has a handful of such
// permissions while a user can have hundreds.
func (e *Engine) eachPerm(a *asset, fn func(*perm) bool) {
	for _, p := range e.assetPerms[a.id] {
		if !fn(p) {
			return
		}
	}
	for _, n := range a.nodes {
		stop := false
		walkUp(n, func(m *node) bool {
			for _, p := range m.perms {
				if !fn(p) {
					stop = true
					return false
				}
			}
			return true
		})
		if stop {
			return
		}
	}
}

// Check reports whether the user may perform act on the asset as the system
// user at now. When act holds several actions all of them must be granted,
// possibly by different permissions.
func (e *Engine) Check(userID, assetID, sysUserID string, act Action, now time.Time) bool {
	if act == 0 || act&^ActionAll != 0 {
		return false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	a := e.assets[assetID]
	if a == nil || !a.active {
		return false
	}
	groups := e.members[userID]
	var have Action
	e.eachPerm(a, func(p *perm) bool {
		if p.actions&act != 0 && p.effective(now) &&
			slices.Contains(p.sysUsers, sysUserID) && p.reaches(userID, groups) {
			have |= p.actions
		}
		return have&act != act
	})
	return have&act == act
}

// Grant returns what the user may do on the asset at now; ok is false when
// the user cannot reach it.
func (e *Engine) Grant(userID, assetID string, now time.Time) (g Grant, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a := e.assets[assetID]
	if a == nil || !a.active {
		return Grant{}, false
	}
	g = e.grantOf(a, userID, e.members[userID], now)
	return g, len(g.SystemUsers) > 0
}

func (e *Engine) grantOf(a *asset, userID string, groups []string, now time.Time) Grant {
	var sus []SystemUserGrant
	e.eachPerm(a, func(p *perm) bool {
		if !p.effective(now) || !p.reaches(userID, groups) {
			return true
		}
	next:
		for _, s := range p.sysUsers {
			for i := range sus {
				if sus[i].ID == s {
					sus[i].Actions |= p.actions
					continue next
				}
			}
			sus = append(sus, SystemUserGrant{ID: s, Actions: p.actions})
		}
		return true
	})
	slices.SortFunc(sus, func(x, y SystemUserGrant) int { return strings.Compare(x.ID, y.ID) })
	return Grant{AssetID: a.id, SystemUsers: sus}
}

// reachable returns the ordinals of the active assets the user reaches at
// now. Node subtrees are walked at most once however many permissions name
// them, which is what makes a user with hundreds of overlapping node grants
// cost about one pass over the assets they reach.
func (e *Engine) reachable(userID string, groups []string, now time.Time) bitset {
	b := newBitset(len(e.order))
	seen := newBitset(len(e.slots))
	var stack []*node
	mark := func(p *perm) {
		if !p.effective(now) {
			return
		}
		for _, id := range p.assets {
			if a := e.assets[id]; a != nil && a.active {
				b.set(a.ord)
			}
		}
		for _, n := range p.nodes {
			stack = e.markSubtree(n, seen, b, true, stack)
		}
	}
	for _, p := range e.userPerms[userID] {
		mark(p)
	}
	for _, g := range groups {
		for _, p := range e.groupPerms[g] {
			mark(p)
		}
	}
	return b
}

// markSubtree sets in b the ordinals of the assets in n's subtree, skipping
// nodes already in seen (their subtree is done, and it stops cycles). The
// stack is returned for reuse across calls.
func (e *Engine) markSubtree(n *node, seen, b bitset, activeOnly bool, stack []*node) []*node {
	if !n.exists || seen.has(n.slot) {
		return stack
	}
	seen.set(n.slot)
	stack = append(stack[:0], n)
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range m.assets {
			if a.active || !activeOnly {
				b.set(a.ord)
			}
		}
		for _, c := range m.children {
			if c.exists && !seen.has(c.slot) {
				seen.set(c.slot)
				stack = append(stack, c)
			}
		}
	}
	return stack
}

// Assets returns the page of assets the user may reach at now, ordered by
// asset name then id, and the total number matching the query.
func (e *Engine) Assets(userID string, now time.Time, q AssetQuery) (page []Grant, total int) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	groups := e.members[userID]
	b := e.reachable(userID, groups, now)
	if q.Node != "" {
		n := e.nodes[q.Node]
		if n == nil || !n.exists {
			return []Grant{}, 0
		}
		in := newBitset(len(e.order))
		e.markSubtree(n, newBitset(len(e.slots)), in, false, nil)
		b.and(in)
	}
	offset, limit := max(q.Offset, 0), q.Limit
	full := func() bool { return limit > 0 && len(page) >= limit }
	search := strings.ToLower(q.Search)
	if search == "" {
		total = b.count()
		n := max(total-offset, 0)
		if limit > 0 {
			n = min(n, limit)
		}
		page = make([]Grant, 0, n)
		if n == 0 {
			return page, total
		}
		skip := offset
		for wi, w := range b {
			// Whole words before the page are skipped by population count,
			// so a deep page costs no more than the first one.
			if c := bits.OnesCount64(w); c <= skip {
				skip -= c
				continue
			}
			for ; w != 0; w &= w - 1 {
				if skip > 0 {
					skip--
					continue
				}
				a := e.order[wi<<6|bits.TrailingZeros64(w)]
				page = append(page, e.grantOf(a, userID, groups, now))
				if full() {
					return page, total
				}
			}
		}
		return page, total
	}
	// A query with letters beyond hex digits cannot occur in a numeric
	// address, so typical name searches scan each asset once; the IP field
	// is still searched when it holds a host name.
	ipLike := onlyAddressChars(search)
	page = []Grant{}
	for wi, w := range b {
		for ; w != 0; w &= w - 1 {
			a := e.order[wi<<6|bits.TrailingZeros64(w)]
			if !strings.Contains(a.lname, search) &&
				(!ipLike && a.plainIP || !strings.Contains(a.lip, search)) {
				continue
			}
			if total >= offset && !full() {
				page = append(page, e.grantOf(a, userID, groups, now))
			}
			total++
		}
	}
	return page, total
}

// Nodes returns the nodes holding at least one asset the user may reach at
// now, plus all their ancestors so a client can draw the tree, sorted by id.
// Each count is of distinct assets, so an asset sitting in two nodes under
// the same ancestor counts once there.
func (e *Engine) Nodes(userID string, now time.Time) []NodeCount {
	e.mu.RLock()
	defer e.mu.RUnlock()
	b := e.reachable(userID, e.members[userID], now)
	counts := make([]int32, len(e.slots))
	// stamp[slot] is the ordinal+1 of the last asset counted at that node;
	// meeting it again means the rest of the chain is already counted.
	stamp := make([]int32, len(e.slots))
	touched := 0
	for wi, w := range b {
		for ; w != 0; w &= w - 1 {
			ord := wi<<6 | bits.TrailingZeros64(w)
			mark := int32(ord + 1)
			for _, n := range e.order[ord].nodes {
				walkUp(n, func(m *node) bool {
					if stamp[m.slot] == mark {
						return false
					}
					stamp[m.slot] = mark
					if counts[m.slot] == 0 {
						touched++
					}
					counts[m.slot]++
					return true
				})
			}
		}
	}
	out := make([]NodeCount, 0, touched)
	for slot, c := range counts {
		if c > 0 {
			out = append(out, NodeCount{ID: e.slots[slot].id, Assets: int(c)})
		}
	}
	slices.SortFunc(out, func(x, y NodeCount) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// NextChange returns the earliest instant after now at which one of the
// user's permissions starts or expires, or the zero time if none will. A
// live session re-checks its grant then rather than polling.
func (e *Engine) NextChange(userID string, now time.Time) time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var next time.Time
	consider := func(p *perm) {
		if !p.active || p.actions == 0 || len(p.sysUsers) == 0 {
			return
		}
		for _, t := range [...]time.Time{p.start, p.expire} {
			if !t.IsZero() && t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	for _, p := range e.userPerms[userID] {
		consider(p)
	}
	for _, g := range e.members[userID] {
		for _, p := range e.groupPerms[g] {
			consider(p)
		}
	}
	return next
}

// UsersOf returns, sorted, the ids of the users who may reach the asset at
// now, directly or through a group. Users named only through a group are
// those the engine knows as members of it.
func (e *Engine) UsersOf(assetID string, now time.Time) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a := e.assets[assetID]
	if a == nil || !a.active {
		return []string{}
	}
	set := map[string]struct{}{}
	e.eachPerm(a, func(p *perm) bool {
		if !p.effective(now) {
			return true
		}
		for u := range p.users {
			set[u] = struct{}{}
		}
		for g := range p.groups {
			for u := range e.groupMembers[g] {
				set[u] = struct{}{}
			}
		}
		return true
	})
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
