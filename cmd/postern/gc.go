package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// heapFloor is the heap size below which the garbage collector is not
// asked to run. The SSH library allocates a fresh buffer for every packet it
// reads, so a bulk transfer through a quiet gateway (a live heap of some 20
// MiB) would otherwise start a collection every 20 MiB or so carried; with
// the floor a gigabyte through Postern costs about a fifth less CPU (see
// bench/gateway.sh), for up to this much more memory while data flows. A
// busy gateway, whose live heap is past half the floor, runs as Go's
// default (GOGC=100) has it.
const heapFloor = 128 << 20

// steadyPercent is the GOGC of a gateway not carrying bulk data
// (allocating slower than bulkRate): holding sessions, even
// thousands, allocates little, so collecting when the heap has grown by
// half instead of doubled costs little CPU, and the memory a held session
// costs, garbage included, is about a sixth less than with Go's default
// (bench/gateway.sh, D).
const steadyPercent = 50

// bulkRate is the allocation rate, in bytes per second between two
// collections, from which the floor applies: the SSH library's per-packet
// buffers make bulk data allocate at least as fast as it flows, while
// held sessions allocate far slower, and a storm of logins (some 500 KB
// each, a thousand in seven seconds) slower too. A storm let grow to the
// floor would leave the sessions it opened spread thin over a large heap,
// which cannot be handed back (1000 idle sessions: some 145 KiB each
// rather than 82, at 64 MiB/s). Transfers slower than this are far from
// costing the gateway much CPU anyway.
const bulkRate = 256 << 20

// keepHeapFloor raises the collector's target so that the heap may grow to
// heapFloor before a collection, re-reading the live heap after each one.
// An operator's GOGC, if set, is left alone, and GOMEMLIMIT still applies.
func keepHeapFloor() {
	if os.Getenv("GOGC") != "" {
		return
	}
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
		{Name: "/gc/heap/allocs:bytes"}}
	current := steadyPercent
	debug.SetGCPercent(current)
	// Allocations count from here, not from the start of the process.
	metrics.Read(m)
	last, lastAllocs := time.Now(), m[3].Value.Uint64()
	var arm func()
	arm = func() {
		// A pointer-holding object, never from the tiny allocator, so
		// that each collection frees it and runs its cleanup.
		sentinel := new(struct{ _ *byte })
		runtime.AddCleanup(sentinel, func(struct{}) {
			metrics.Read(m)
			live, roots, allocs := m[0].Value.Uint64(), m[1].Value.Uint64()+m[2].Value.Uint64(), m[3].Value.Uint64()
			p, now := steadyPercent, time.Now()
			if float64(allocs-lastAllocs) >= bulkRate*now.Sub(last).Seconds() {
				p = floorPercent(live, roots, heapFloor)
			}
			last, lastAllocs = now, allocs
			if p != current {
				current = p
				debug.SetGCPercent(p)
			}
			arm()
		}, struct{}{})
	}
	arm()
}

// floorPercent is the GOGC that puts the next collection at floor, given
// the live heap and the stacks and globals the collector scans (Go sets the
// target at live + (live+roots)*GOGC/100), and never under Go's default of
// 100. It is rounded down to steps of 50 so that small changes of the live
// heap do not retune the collector after every cycle.
func floorPercent(live, roots, floor uint64) int {
	base := max(live+roots, 1<<20)
	if live >= floor || (floor-live)*100/base < 150 {
		return 100
	}
	p := int((floor-live)*100/base) / 50 * 50
	return min(p, 5000)
}

// handBackEvery is how often the live-session count is looked at, and
// handBackAfter how many sessions a change must involve for freed memory
// to be handed back at once (sessionWatch).
const (
	handBackEvery = 2 * time.Second
	handBackAfter = 50
)

// handBackAfterSessions returns freed memory to the system when many
// sessions have ended, and when many have started and the count has
// settled, instead of at the Go runtime's own unhurried pace, so that a
// gateway's footprint follows its load down as well as up, and comes back
// after a login storm to what the sessions hold.
func handBackAfterSessions(ctx context.Context, live func() int) {
	t := time.NewTicker(handBackEvery)
	defer t.Stop()
	var w sessionWatch
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.next(live(), time.Now()) {
			debug.FreeOSMemory()
		}
	}
}

// sessionWatch follows the live-session count, look by look, since memory
// was last handed back.
type sessionWatch struct {
	peak, low, prev int
	settledAt       time.Time // the last hand-back for a settled rise
}

// settleEvery is how often a small settled rise may hand memory back: a
// busy gateway's sessions come and go in batches, and each forced
// collection costs CPU in proportion to the heap.
const settleEvery = 30 * time.Second

// next takes the count n, seen at now, and says whether to hand freed
// memory back: when handBackAfter sessions or more, and at least half of
// them, have ended since the peak; or when handBackAfter or more have
// started since the low point and the count held within 1% since the last
// look (opening them is over, and what it took beyond what they hold is
// garbage), at once if they are a quarter or more of the low point, else
// at most every settleEvery.
func (w *sessionWatch) next(n int, now time.Time) bool {
	rise := n - w.low
	drop := w.peak-n >= handBackAfter && n <= w.peak/2
	settled := rise >= handBackAfter && abs(n-w.prev) <= n/100 &&
		(rise >= w.low/4 || now.Sub(w.settledAt) >= settleEvery)
	w.prev = n
	if settled {
		w.settledAt = now
	}
	if drop || settled {
		w.peak, w.low = n, n
		return true
	}
	w.peak, w.low = max(w.peak, n), min(w.low, n)
	return false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
