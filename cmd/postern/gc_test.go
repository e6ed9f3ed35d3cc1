package main

import (
	"testing"
	"time"
)

func TestFloorPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, roots uint64
		want        int
	}{
		{0, 0, 5000},              // nothing measured yet: capped
		{8 * mib, 0, 1500},        // next collection at 8 + 8*15 = 128 MiB
		{6 * mib, 2 * mib, 1500},  // 122/8 = 1525%, down to 1500: stacks and globals count too
		{20 * mib, 4 * mib, 450},  // 108/24 = 450%: 20 + 24*4.5 = 128
		{60 * mib, 4 * mib, 100},  // 106%: not worth retuning over Go's default
		{500 * mib, 9 * mib, 100}, // a busy gateway: Go's default
	} {
		if got := floorPercent(c.live, c.roots, heapFloor); got != c.want {
			t.Errorf("floorPercent(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.roots/mib, got, c.want)
		}
	}
}

func TestSessionWatch(t *testing.T) {
	for _, c := range []struct {
		name  string
		looks []int // one every handBackEvery
		want  []bool
	}{
		{"all sessions end", []int{1000, 1000, 0}, []bool{false, true, true}},
		{"half of a large peak ends", []int{0, 1000, 1000, 500}, []bool{false, false, true, true}},
		{"less than half ends", []int{0, 1000, 1000, 600}, []bool{false, false, true, false}},
		{"too few to matter", []int{0, 40, 40, 0}, []bool{false, false, false, false}},
		{"a login storm, then steady", []int{0, 300, 700, 1000, 1005, 1005}, []bool{false, false, false, false, true, false}},
		{"a storm that paused halfway", []int{0, 700, 700, 1000, 1000}, []bool{false, false, true, false, true}},
		{"still opening", []int{0, 100, 200, 300}, []bool{false, false, false, false}},
		{"churn after a hand-back", []int{1000, 1000, 990, 1010, 1000}, []bool{false, true, false, false, false}},
		{"batches on a busy gateway, within settleEvery", []int{0, 2000, 2000, 1940, 2000, 2000, 1940, 2005, 2005}, []bool{false, false, true, false, false, false, false, false, false}},
		{"nothing", []int{0, 0, 0}, []bool{false, false, false}},
	} {
		var w sessionWatch
		at := time.Now()
		for i, n := range c.looks {
			if got := w.next(n, at); got != c.want[i] {
				t.Errorf("%s: look %d (%d sessions): %v, want %v", c.name, i, n, got, c.want[i])
			}
			at = at.Add(handBackEvery)
		}
	}
	// A small settled rise hands back again once settleEvery has passed.
	var w sessionWatch
	at := time.Now()
	w.next(2000, at)
	if !w.next(2000, at.Add(handBackEvery)) {
		t.Fatal("no hand-back after the first rise")
	}
	w.next(2060, at.Add(2*handBackEvery))
	if w.next(2060, at.Add(3*handBackEvery)) {
		t.Fatal("a small rise handed back within settleEvery")
	}
	w.next(2120, at.Add(settleEvery))
	if !w.next(2120, at.Add(settleEvery+handBackEvery)) {
		t.Fatal("a small rise did not hand back after settleEvery")
	}
}
