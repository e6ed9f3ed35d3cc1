package access

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// scale sizes a synthetic estate.
type scale struct {
	assets, nodes, perms, users, groups, sysUsers int
}

// fullScale is the largest deployment reported to the project: the sizes
// the published performance goals are stated for.
var fullScale = scale{assets: 60000, nodes: 10000, perms: 5000, users: 2000, groups: 200, sysUsers: 100}

var benchNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// synth builds a deterministic estate: a five-level node tree (root, then
// levels of nodes/1000, nodes/100, nodes/10 and the rest), assets in one or
// two lower-level nodes, and rules that are 60% direct asset grants, 35%
// grants on mid and low nodes and 5% grants on top-level nodes, the last
// being what gives many users tens of thousands of assets.
func synth(s scale, seed int64) Data {
	r := rand.New(rand.NewSource(seed))
	var d Data

	levels := []int{1, max(1, s.nodes/1000), max(1, s.nodes/100), max(1, s.nodes/10)}
	levels = append(levels, max(0, s.nodes-levels[0]-levels[1]-levels[2]-levels[3]))
	first := make([]int, len(levels)) // index of the first node of each level
	for i, id := 0, 0; i < len(levels); i++ {
		first[i] = id
		for range levels[i] {
			n := Node{ID: fmt.Sprintf("n%05d", id), Name: fmt.Sprintf("node %d", id)}
			if i > 0 {
				n.Parent = fmt.Sprintf("n%05d", first[i-1]+r.Intn(levels[i-1]))
			}
			d.Nodes = append(d.Nodes, n)
			id++
		}
	}
	lowNodes := len(d.Nodes) - first[3] // levels 3 and 4 hold the assets
	nodeIn := func(from int) string { return d.Nodes[from+r.Intn(len(d.Nodes)-from)].ID }

	envs := []string{"prod", "stage", "dev", "test"}
	roles := []string{"web", "db", "cache", "mq", "app", "lb", "k8s", "batch"}
	for i := range s.assets {
		a := Asset{
			ID:     fmt.Sprintf("a%05d", i),
			Name:   fmt.Sprintf("%s-%s-%05d", envs[r.Intn(len(envs))], roles[r.Intn(len(roles))], r.Intn(100000)),
			IP:     fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			Nodes:  []string{d.Nodes[first[3]+r.Intn(lowNodes)].ID},
			Active: r.Intn(50) > 0,
		}
		if r.Intn(5) == 0 {
			a.Nodes = append(a.Nodes, d.Nodes[first[3]+r.Intn(lowNodes)].ID)
		}
		d.Assets = append(d.Assets, a)
	}

	d.Members = map[string][]string{}
	for u := range s.users {
		var gs []string
		for range 1 + r.Intn(3) {
			gs = append(gs, fmt.Sprintf("g%03d", r.Intn(s.groups)))
		}
		d.Members[fmt.Sprintf("u%04d", u)] = gs
	}

	for i := range s.perms {
		p := Perm{ID: fmt.Sprintf("p%04d", i), Active: r.Intn(20) > 0, Actions: ActionConnect}
		for range r.Intn(4) {
			p.Users = append(p.Users, fmt.Sprintf("u%04d", r.Intn(s.users)))
		}
		for range r.Intn(3) {
			p.Groups = append(p.Groups, fmt.Sprintf("g%03d", r.Intn(s.groups)))
		}
		if len(p.Users)+len(p.Groups) == 0 {
			p.Groups = []string{fmt.Sprintf("g%03d", r.Intn(s.groups))}
		}
		switch k := r.Intn(100); {
		case k < 60:
			for range 1 + r.Intn(30) {
				p.Assets = append(p.Assets, d.Assets[r.Intn(len(d.Assets))].ID)
			}
		case k < 95:
			for range 1 + r.Intn(3) {
				p.Nodes = append(p.Nodes, nodeIn(first[2]))
			}
		default:
			for range 1 + r.Intn(2) {
				p.Nodes = append(p.Nodes, d.Nodes[first[1]+r.Intn(levels[1])].ID)
			}
		}
		for range 1 + r.Intn(3) {
			p.SystemUsers = append(p.SystemUsers, fmt.Sprintf("su%03d", r.Intn(s.sysUsers)))
		}
		p.Actions |= Action(r.Intn(int(ActionAll) + 1))
		switch r.Intn(40) {
		case 0, 1: // current window
			p.Start, p.Expire = benchNow.Add(-24*time.Hour), benchNow.Add(24*time.Hour)
		case 2: // expired
			p.Expire = benchNow.Add(-time.Hour)
		case 3: // not started
			p.Start = benchNow.Add(time.Hour)
		}
		d.Perms = append(d.Perms, p)
	}
	return d
}

// benchFixture is the full-scale estate, built once per test binary and only
// when a benchmark asks for it, so plain `go test` stays fast.
var benchFixture = sync.OnceValue(func() (f struct {
	data   Data
	engine *Engine
	heavy  string // the user reaching the most assets
	reach  int
}) {
	f.data = synth(fullScale, 1)
	f.engine = New()
	f.engine.Load(f.data)
	for u := range 200 {
		id := fmt.Sprintf("u%04d", u)
		if _, n := f.engine.Assets(id, benchNow, AssetQuery{Limit: 1}); n > f.reach {
			f.heavy, f.reach = id, n
		}
	}
	return f
})

// reportLatency adds median and tail figures, which is how the goals are
// stated, next to the mean that ns/op gives.
func reportLatency(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100])/1e6, "p99-ms")
}

func BenchmarkAssetsFirstPage(b *testing.B) {
	f := benchFixture()
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		page, total := f.engine.Assets(f.heavy, benchNow, AssetQuery{Limit: 50})
		ds = append(ds, time.Since(start))
		if len(page) != 50 || total != f.reach {
			b.Fatalf("page of %d, total %d; want 50 of %d", len(page), total, f.reach)
		}
	}
	reportLatency(b, ds)
	b.ReportMetric(float64(f.reach), "reachable")
}

func BenchmarkAssetsSearchPage(b *testing.B) {
	f := benchFixture()
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		page, _ := f.engine.Assets(f.heavy, benchNow, AssetQuery{Search: "prod-web", Limit: 50})
		ds = append(ds, time.Since(start))
		if len(page) == 0 {
			b.Fatal("search found nothing")
		}
	}
	reportLatency(b, ds)
}

func BenchmarkAssetsLastPage(b *testing.B) {
	f := benchFixture()
	for b.Loop() {
		page, _ := f.engine.Assets(f.heavy, benchNow, AssetQuery{Offset: f.reach - 50, Limit: 50})
		if len(page) != 50 {
			b.Fatalf("last page has %d assets", len(page))
		}
	}
}

func BenchmarkNodes(b *testing.B) {
	f := benchFixture()
	for b.Loop() {
		if len(f.engine.Nodes(f.heavy, benchNow)) == 0 {
			b.Fatal("no nodes")
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	f := benchFixture()
	type probe struct {
		asset, sysUser string
		act            Action
	}
	// Allowed probes come from the heavy user's own grants; denied ones use
	// the same assets with a system user nobody holds, which forces a walk
	// over every rule reaching the asset.
	var allowed, denied []probe
	page, _ := f.engine.Assets(f.heavy, benchNow, AssetQuery{Limit: 64})
	for _, g := range page {
		su := g.SystemUsers[0]
		allowed = append(allowed, probe{g.AssetID, su.ID, ActionConnect})
		denied = append(denied, probe{g.AssetID, "su-nobody", ActionConnect})
	}
	for _, c := range []struct {
		name   string
		probes []probe
		want   bool
	}{{"allowed", allowed, true}, {"denied", denied, false}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				p := c.probes[i%len(c.probes)]
				if f.engine.Check(f.heavy, p.asset, p.sysUser, p.act, benchNow) != c.want {
					b.Fatalf("Check(%v) != %v", p, c.want)
				}
				i++
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	d := benchFixture().data
	for b.Loop() {
		New().Load(d)
	}
}

// BenchmarkPutPerm replaces one rule granting a top-level node and a few
// assets, then (outside the timer) confirms the very next query sees it.
func BenchmarkPutPerm(b *testing.B) {
	f := benchFixture()
	e := New()
	e.Load(f.data)
	i := 0
	for b.Loop() {
		e.PutPerm(Perm{
			ID:          "bench",
			Users:       []string{"newcomer"},
			Nodes:       []string{fmt.Sprintf("n%05d", 1+i%10)},
			Assets:      []string{"a00001", "a00002", "a00003"},
			SystemUsers: []string{"su000"},
			Actions:     ActionConnect | ActionUpload,
			Active:      true,
		})
		i++
	}
	b.StopTimer()
	if _, total := e.Assets("newcomer", benchNow, AssetQuery{Limit: 50}); total == 0 {
		b.Fatal("grant not visible on the next query")
	}
}

// BenchmarkPutPermThenFirstPage is the end-to-end path an administrator
// sees: grant a user a top-level node, then list their first page.
func BenchmarkPutPermThenFirstPage(b *testing.B) {
	f := benchFixture()
	e := New()
	e.Load(f.data)
	i := 0
	for b.Loop() {
		user := fmt.Sprintf("newcomer-%d", i)
		e.PutPerm(Perm{
			ID:          user,
			Users:       []string{user},
			Nodes:       []string{fmt.Sprintf("n%05d", 1+i%10)},
			SystemUsers: []string{"su000"},
			Actions:     ActionConnect,
			Active:      true,
		})
		if page, _ := e.Assets(user, benchNow, AssetQuery{Limit: 50}); len(page) != 50 {
			b.Fatalf("new grant shows %d assets", len(page))
		}
		i++
	}
}

// BenchmarkPutAsset adds a machine to the estate, the path that shifts
// ordinals in the display order.
func BenchmarkPutAsset(b *testing.B) {
	f := benchFixture()
	e := New()
	e.Load(f.data)
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("new-%d", i%1000)
		e.PutAsset(Asset{ID: id, Name: fmt.Sprintf("prod-web-%05d", i*7919%100000), IP: "10.9.9.9", Nodes: []string{"n05000"}, Active: true})
		i++
	}
}

// BenchmarkMemory reports the heap the engine keeps after a full Load
// ("MB"), including the id and name strings it retains once the loaded Data
// is dropped, as it is in the server. The timed part is Load from fresh data.
func BenchmarkMemory(b *testing.B) {
	benchFixture() // so its heap is part of the baseline, not of the figure
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := synth(fullScale, 2)
	var e *Engine
	for b.Loop() {
		e = New()
		e.Load(d)
	}
	b.StopTimer()
	// d is dead from here on, so the collections below free the input and
	// leave only what the engine retained.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "MB")
}
