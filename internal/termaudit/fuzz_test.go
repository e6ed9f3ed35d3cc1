package termaudit

import (
	"slices"
	"testing"
)

// FuzzAuditor feeds an Auditor what a hostile or broken target could
// send, mixed with keys and resizes: it must never panic, and the screen
// it shows a watcher joining must redraw to what the screen shows (a
// space may stand for an empty cell).
func FuzzAuditor(f *testing.F) {
	f.Add([]byte("$ \x00ls\r\x01file\r\n$ \x02\x1b[?1049h\x1b[5;5Hx\x1b[?1049l"))
	f.Add([]byte("\x01\u4e2d\u6587\u0301\x1b[3@\x1b[2P\x1b#8\x1b[1;1r\x1b[10M\x03"))
	f.Add([]byte("\x1b[999;999H\x1b[4h\u4e2d\x1b[4l\x1b[K\x1b[1J\x1b[?7l\u4e2d\u4e2d"))
	f.Fuzz(func(t *testing.T, script []byte) {
		a := New(20, 6, Options{OutputLimit: 64})
		// The first byte of each piece says what it is: 0 keys, 1 output,
		// 2 a resize (the next two bytes), anything else output.
		for len(script) > 0 {
			op := script[0]
			script = script[1:]
			n := min(len(script), 24)
			piece := script[:n]
			switch op {
			case 0:
				a.Input(piece)
			case 2:
				if n >= 2 {
					a.Resize(int(piece[0]%200), int(piece[1]%100))
				}
			default:
				a.Output(piece)
			}
			script = script[n:]
			a.Pending()
		}
		b := New(a.scr.cols, a.scr.rows, Options{})
		b.Output(a.Screen())
		if a.scr.altActive != b.scr.altActive {
			t.Fatalf("alternate screen %v, redrawn %v", a.scr.altActive, b.scr.altActive)
		}
		for y := range a.scr.rows {
			ra, rb := shown(cellsOf(a.scr.buf[y], a.scr.cols)), shown(cellsOf(b.scr.buf[y], b.scr.cols))
			if !slices.Equal(ra, rb) {
				t.Fatalf("row %d: %q, redrawn as %q", y, string(ra), string(rb))
			}
		}
		a.Flush()
	})
}

// shown maps the cells that show as a blank to a space.
func shown(cells []rune) []rune {
	out := make([]rune, len(cells))
	for i, c := range cells {
		switch c {
		case blank, hole, wrapPad:
			c = ' '
		}
		out[i] = c
	}
	return out
}
