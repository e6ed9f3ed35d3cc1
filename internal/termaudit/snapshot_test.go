package termaudit

import (
	"slices"
	"testing"
)

// Drawing a screen's snapshot on a fresh terminal gives the same screen:
// text (wide characters and combining marks included), the alternate
// screen over the main one, and the cursor.
func TestScreenSnapshotRedraws(t *testing.T) {
	for _, c := range []struct {
		name   string
		output string
	}{
		{"shell", "$ echo 你好 e\u0301\r\n你好 e\u0301\r\n$ ls -la\r\ntotal 0\r\n$ "},
		{"full-screen", "$ vim notes\r\n\x1b[?1049h\x1b[H\x1b[2Jline one\r\n~\r\n\x1b[24;1H\"notes\" 1L\x1b[1;5H"},
		{"scrolled", func() string {
			var s string
			for i := range 40 {
				s += "line " + string(rune('a'+i%26)) + "\r\n"
			}
			return s + "$ "
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := New(80, 24, Options{})
			a.Output([]byte(c.output))
			b := New(80, 24, Options{})
			b.Output([]byte("old text that the snapshot must clear\r\n"))
			b.Output(a.Screen())
			for _, bufs := range [][2][]*row{{a.scr.main, b.scr.main}, {a.scr.alt, b.scr.alt}} {
				for y := range bufs[0] {
					ra, rb := cellsOf(bufs[0][y], 80), cellsOf(bufs[1][y], 80)
					if !slices.Equal(ra, rb) || len(bufs[0][y].extra) != len(bufs[1][y].extra) {
						t.Fatalf("row %d: %q, redrawn as %q", y, string(ra), string(rb))
					}
				}
			}
			if a.scr.altActive != b.scr.altActive || a.scr.x != b.scr.x || a.scr.y != b.scr.y {
				t.Fatalf("alt %v cursor %d,%d; redrawn: alt %v cursor %d,%d", a.scr.altActive, a.scr.x, a.scr.y, b.scr.altActive, b.scr.x, b.scr.y)
			}
		})
	}
}

// cellsOf returns a row's cells, blank ones for a row never written.
func cellsOf(r *row, cols int) []rune {
	if r.cells == nil {
		return make([]rune, cols)
	}
	return r.cells
}
