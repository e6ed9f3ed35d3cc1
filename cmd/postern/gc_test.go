package main

import "testing"

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

func TestShouldHandBack(t *testing.T) {
	for _, c := range []struct {
		peak, now int
		want      bool
	}{
		{1000, 0, true},   // all sessions ended
		{1000, 500, true}, // half of a large peak
		{1000, 600, false},
		{60, 5, true},
		{40, 0, false}, // too few sessions to matter
		{0, 0, false},
	} {
		if got := shouldHandBack(c.peak, c.now); got != c.want {
			t.Errorf("shouldHandBack(%d, %d) = %v, want %v", c.peak, c.now, got, c.want)
		}
	}
}
