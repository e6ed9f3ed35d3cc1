package access

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Perm is an asset permission rule as the core service stores it.
type Perm struct {
	ID          string
	Users       []string // user ids granted directly
	Groups      []string // user group ids whose members are granted
	Assets      []string // asset ids granted directly
	Nodes       []string // node ids whose whole subtree is granted
	SystemUsers []string // system user ids the grantees may log in as
	Actions     Action
	// Start and Expire bound the validity window [Start, Expire); a zero
	// value leaves that side unbounded.
	Start, Expire time.Time
	Active        bool
}

// Asset is a target machine.
type Asset struct {
	ID, Name, IP string
	Nodes        []string // ids of the nodes the asset sits in
	Active       bool
}

// Node is a folder in the asset tree. Only ID and Parent matter to access
// decisions; Name is accepted so callers can pass their records unchanged.
type Node struct {
	ID, Parent, Name string // Parent is "" for a root node
}

// Data is the complete state handed to Load at start-up.
type Data struct {
	Perms   []Perm
	Assets  []Asset
	Nodes   []Node
	Members map[string][]string // user id -> group ids
}

// Engine is the in-memory permission index. The zero value is not usable;
// create one with New.
type Engine struct {
	mu sync.RWMutex
	index
}

// index is the engine's state, kept apart from the lock so Load can build a
// replacement without blocking queries and swap it in at the end.
type index struct {
	perms      map[string]*perm
	userPerms  map[string]permList // user id -> perms naming it
	groupPerms map[string]permList // group id -> perms naming it
	assetPerms map[string]permList // asset id -> perms naming it

	assets map[string]*asset
	// order holds every asset sorted by (name, id); asset.ord is the index,
	// which is what per-query bitsets are built over, so a page is an
	// in-order bit scan instead of a sort.
	order    []*asset
	unsorted bool // order needs a full sort (only during bulk puts)

	// nodes holds every node id mentioned anywhere, including ids that are
	// only referenced (by a permission, an asset or a child) and not yet or
	// no longer put; those have exists == false and are dropped once
	// nothing refers to them.
	nodes     map[string]*node
	slots     []*node // node.slot -> node, for per-query node bitsets
	freeSlots []int

	members      map[string][]string            // user id -> group ids
	groupMembers map[string]map[string]struct{} // group id -> user ids
}

type perm struct {
	id            string
	users, groups map[string]struct{}
	assets        []string
	nodes         []*node
	sysUsers      []string // sorted, deduplicated
	actions       Action
	start, expire time.Time
	active        bool
}

type asset struct {
	id, name   string
	lname, lip string // lower-cased name and IP, for case-insensitive search
	active     bool
	plainIP    bool // lip holds only address characters, see Engine.Assets
	ord        int
	nodes      []*node
	pos        []int // pos[i] is this asset's index in nodes[i].assets
}

type node struct {
	id       string
	exists   bool
	slot     int
	parent   *node
	childPos int // index in parent.children
	children []*node
	assets   []*asset
	perms    permList
}

// permList is a small unordered set of rules. Slices rather than maps keep
// the index compact and make the Check walk a plain loop; each rule appears
// at most once because its own id lists are deduplicated.
type permList []*perm

func (l permList) without(p *perm) permList {
	i := slices.Index(l, p)
	if i < 0 {
		return l
	}
	last := len(l) - 1
	l[i] = l[last]
	l[last] = nil
	return l[:last]
}

// New returns an empty engine.
func New() *Engine {
	e := &Engine{}
	e.reset()
	return e
}

func (ix *index) reset() {
	ix.perms = map[string]*perm{}
	ix.userPerms = map[string]permList{}
	ix.groupPerms = map[string]permList{}
	ix.assetPerms = map[string]permList{}
	ix.assets = map[string]*asset{}
	ix.order = nil
	ix.unsorted = false
	ix.nodes = map[string]*node{}
	ix.slots = nil
	ix.freeSlots = nil
	ix.members = map[string][]string{}
	ix.groupMembers = map[string]map[string]struct{}{}
}

// Load replaces the whole state. Later duplicates of an id win, as if the
// items had been put one by one. Queries keep being answered from the old
// state while the new one is built; a change applied concurrently with Load
// is lost, since d is taken to be the complete, newer truth.
func (e *Engine) Load(d Data) {
	var ix index
	ix.reset()
	ix.assets = make(map[string]*asset, len(d.Assets))
	ix.nodes = make(map[string]*node, len(d.Nodes))
	ix.perms = make(map[string]*perm, len(d.Perms))
	ix.order = make([]*asset, 0, len(d.Assets))
	for _, n := range d.Nodes {
		ix.putNode(n)
	}
	for _, a := range d.Assets {
		ix.putAsset(a, true)
	}
	ix.sortOrder()
	for _, p := range d.Perms {
		ix.putPerm(p)
	}
	for u, gs := range d.Members {
		ix.setUserGroups(u, gs)
	}
	e.mu.Lock()
	e.index = ix
	e.mu.Unlock()
}

// PutPerm adds or replaces a permission rule.
func (e *Engine) PutPerm(p Perm) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.putPerm(p)
}

// DeletePerm removes a permission rule; unknown ids are ignored.
func (e *Engine) DeletePerm(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.perms[id]; p != nil {
		e.unindexPerm(p)
	}
}

func (ix *index) putPerm(in Perm) {
	if old := ix.perms[in.ID]; old != nil {
		ix.unindexPerm(old)
	}
	p := &perm{
		id:       in.ID,
		users:    setOf(in.Users),
		groups:   setOf(in.Groups),
		assets:   dedup(in.Assets),
		sysUsers: dedup(in.SystemUsers),
		actions:  in.Actions & ActionAll,
		start:    in.Start,
		expire:   in.Expire,
		active:   in.Active,
	}
	slices.Sort(p.sysUsers)
	ix.perms[p.id] = p
	for u := range p.users {
		addPerm(ix.userPerms, u, p)
	}
	for g := range p.groups {
		addPerm(ix.groupPerms, g, p)
	}
	for _, a := range p.assets {
		addPerm(ix.assetPerms, a, p)
	}
	for _, id := range dedup(in.Nodes) {
		n := ix.nodeRef(id)
		n.perms = append(n.perms, p)
		p.nodes = append(p.nodes, n)
	}
}

func (ix *index) unindexPerm(p *perm) {
	delete(ix.perms, p.id)
	for u := range p.users {
		delPerm(ix.userPerms, u, p)
	}
	for g := range p.groups {
		delPerm(ix.groupPerms, g, p)
	}
	for _, a := range p.assets {
		delPerm(ix.assetPerms, a, p)
	}
	for _, n := range p.nodes {
		n.perms = n.perms.without(p)
		ix.gcNode(n)
	}
}

func addPerm(idx map[string]permList, key string, p *perm) {
	idx[key] = append(idx[key], p)
}

func delPerm(idx map[string]permList, key string, p *perm) {
	if l := idx[key].without(p); len(l) > 0 {
		idx[key] = l
	} else {
		delete(idx, key)
	}
}

// PutAsset adds or replaces an asset.
func (e *Engine) PutAsset(a Asset) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.putAsset(a, false)
}

// PutAssets adds or replaces many assets under one lock and re-sorts the
// display order once, which is what an import of thousands of machines
// needs.
func (e *Engine) PutAssets(as []Asset) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range as {
		e.putAsset(a, true)
	}
	e.sortOrder()
}

// DeleteAsset removes an asset; permissions naming it keep the reference,
// which reaches the asset again if it is put back.
func (e *Engine) DeleteAsset(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.assets[id]
	if x == nil {
		return
	}
	e.detachAsset(x)
	e.removeOrdered(x)
	delete(e.assets, id)
}

// putAsset with bulk set appends to the display order and leaves sorting to
// sortOrder, so a batch costs one sort instead of one shift per asset.
func (ix *index) putAsset(in Asset, bulk bool) {
	x := ix.assets[in.ID]
	if x == nil {
		x = &asset{id: in.ID, name: in.Name}
		ix.assets[in.ID] = x
		if bulk {
			x.ord = len(ix.order)
			ix.order = append(ix.order, x)
			ix.unsorted = true
		} else {
			ix.insertOrdered(x)
		}
	} else if x.name != in.Name {
		if bulk {
			x.name = in.Name
			ix.unsorted = true
		} else {
			ix.removeOrdered(x)
			x.name = in.Name
			ix.insertOrdered(x)
		}
	}
	x.lname = strings.ToLower(in.Name)
	x.lip = strings.ToLower(in.IP)
	x.plainIP = onlyAddressChars(x.lip)
	x.active = in.Active

	ids := dedup(in.Nodes)
	if !sameNodes(x.nodes, ids) {
		ix.detachAsset(x)
		for _, id := range ids {
			n := ix.nodeRef(id)
			x.nodes = append(x.nodes, n)
			x.pos = append(x.pos, len(n.assets))
			n.assets = append(n.assets, x)
		}
	}
}

func sameNodes(have []*node, want []string) bool {
	if len(have) != len(want) {
		return false
	}
	for i, n := range have {
		if n.id != want[i] {
			return false
		}
	}
	return true
}

// detachAsset removes x from all its nodes in O(1) per node by swapping the
// last member into its place; a node can hold tens of thousands of assets.
func (ix *index) detachAsset(x *asset) {
	for i, n := range x.nodes {
		p := x.pos[i]
		last := n.assets[len(n.assets)-1]
		n.assets[p] = last
		for j, m := range last.nodes {
			if m == n {
				last.pos[j] = p
			}
		}
		n.assets[len(n.assets)-1] = nil
		n.assets = n.assets[:len(n.assets)-1]
		ix.gcNode(n)
	}
	x.nodes = x.nodes[:0]
	x.pos = x.pos[:0]
}

func lessAsset(a, b *asset) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func (ix *index) sortOrder() {
	if !ix.unsorted {
		return
	}
	slices.SortFunc(ix.order, lessAsset)
	ix.renumber(0)
	ix.unsorted = false
}

func (ix *index) insertOrdered(x *asset) {
	i, _ := slices.BinarySearchFunc(ix.order, x, lessAsset)
	ix.order = slices.Insert(ix.order, i, x)
	ix.renumber(i)
}

func (ix *index) removeOrdered(x *asset) {
	ix.order = slices.Delete(ix.order, x.ord, x.ord+1)
	ix.renumber(x.ord)
}

func (ix *index) renumber(from int) {
	for i := from; i < len(ix.order); i++ {
		ix.order[i].ord = i
	}
}

// PutNode adds or replaces a node. Changing the parent moves the whole
// subtree, since membership is derived from parent pointers on every query.
func (e *Engine) PutNode(n Node) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.putNode(n)
}

// DeleteNode removes a node. Permissions naming it then reach nothing, its
// assets stop being reachable through it, and its children are cut off from
// the rest of the tree until they are moved or the node is put back.
func (e *Engine) DeleteNode(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.nodes[id]
	if n == nil || !n.exists {
		return
	}
	n.exists = false
	e.setParent(n, "")
	e.gcNode(n)
}

func (ix *index) putNode(in Node) {
	n := ix.nodeRef(in.ID)
	n.exists = true
	ix.setParent(n, in.Parent)
}

func (ix *index) setParent(n *node, parentID string) {
	if n.parent != nil && n.parent.id == parentID {
		return
	}
	if old := n.parent; old != nil {
		last := old.children[len(old.children)-1]
		old.children[n.childPos] = last
		last.childPos = n.childPos
		old.children[len(old.children)-1] = nil
		old.children = old.children[:len(old.children)-1]
		n.parent = nil
		ix.gcNode(old)
	}
	if parentID == "" {
		return
	}
	p := ix.nodeRef(parentID)
	n.parent = p
	n.childPos = len(p.children)
	p.children = append(p.children, n)
}

// nodeRef returns the node for id, creating a placeholder that does not
// exist yet so references can be recorded before the node itself arrives.
func (ix *index) nodeRef(id string) *node {
	if n := ix.nodes[id]; n != nil {
		return n
	}
	n := &node{id: id}
	if k := len(ix.freeSlots); k > 0 {
		n.slot = ix.freeSlots[k-1]
		ix.freeSlots = ix.freeSlots[:k-1]
		ix.slots[n.slot] = n
	} else {
		n.slot = len(ix.slots)
		ix.slots = append(ix.slots, n)
	}
	ix.nodes[id] = n
	return n
}

// gcNode drops a placeholder nothing refers to any more, so that churn in
// ids does not grow the index forever.
func (ix *index) gcNode(n *node) {
	if n.exists || n.parent != nil || len(n.children) > 0 || len(n.assets) > 0 || len(n.perms) > 0 {
		return
	}
	if ix.nodes[n.id] != n {
		return
	}
	delete(ix.nodes, n.id)
	ix.slots[n.slot] = nil
	ix.freeSlots = append(ix.freeSlots, n.slot)
}

// SetUserGroups replaces the groups a user belongs to; an empty list removes
// every membership.
func (e *Engine) SetUserGroups(userID string, groups []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setUserGroups(userID, groups)
}

func (ix *index) setUserGroups(userID string, groups []string) {
	for _, g := range ix.members[userID] {
		if s := ix.groupMembers[g]; s != nil {
			delete(s, userID)
			if len(s) == 0 {
				delete(ix.groupMembers, g)
			}
		}
	}
	gs := dedup(groups)
	if len(gs) == 0 {
		delete(ix.members, userID)
		return
	}
	ix.members[userID] = gs
	for _, g := range gs {
		s := ix.groupMembers[g]
		if s == nil {
			s = map[string]struct{}{}
			ix.groupMembers[g] = s
		}
		s[userID] = struct{}{}
	}
}

// DeleteUser forgets a user: their memberships and every permission's direct
// reference to them, so a later account with a recycled id inherits nothing.
func (e *Engine) DeleteUser(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setUserGroups(id, nil)
	for _, p := range e.userPerms[id] {
		delete(p.users, id)
	}
	delete(e.userPerms, id)
}

// DeleteGroup forgets a group: its memberships and every permission's
// reference to it.
func (e *Engine) DeleteGroup(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for u := range e.groupMembers[id] {
		gs := slices.DeleteFunc(e.members[u], func(g string) bool { return g == id })
		if len(gs) == 0 {
			delete(e.members, u)
		} else {
			e.members[u] = gs
		}
	}
	delete(e.groupMembers, id)
	for _, p := range e.groupPerms[id] {
		delete(p.groups, id)
	}
	delete(e.groupPerms, id)
}

func onlyAddressChars(s string) bool {
	return strings.Trim(s, "0123456789abcdef.:") == ""
}

func setOf(ids []string) map[string]struct{} {
	s := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		s[id] = struct{}{}
	}
	return s
}

// dedup returns a fresh copy of ids without repeats, keeping first-seen
// order; the copy also stops callers from mutating engine state through a
// slice they reuse.
func dedup(ids []string) []string {
	out := make([]string, 0, len(ids))
	if len(ids) <= 16 {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
