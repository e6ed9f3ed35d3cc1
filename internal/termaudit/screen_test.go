package termaudit

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// dump shows every row of the active buffer, its wrap flag and the cursor.
func (s *screen) dump() string {
	var b strings.Builder
	for y := range s.rows {
		w := ' '
		if s.buf[y].wrapped {
			w = '+'
		}
		fmt.Fprintf(&b, "%c|%s|\n", w, s.text(y, y, -1))
	}
	fmt.Fprintf(&b, "cursor %d,%d wrap %v", s.x, s.y, s.pendingWrap)
	return b.String()
}

func TestSkipScrolledOffIsInvisible(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"word ", "x", "你好", "é", "\t", "\r\n", "\r\n", "\r\n", "\b", "\r", "\n", strings.Repeat("long", 30)}
	for round := range 50 {
		var b strings.Builder
		for b.Len() < 3*skipMin {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(2000) == 0 {
				b.WriteString("\x1b[31m") // an escape sequence now and then
			}
		}
		data := []byte(b.String())
		cols, rows := 10+rng.IntN(100), 2+rng.IntN(40)
		whole, pieced := newScreen(cols, rows), newScreen(cols, rows)
		whole.write([]byte("prompt$ "))
		pieced.write([]byte("prompt$ "))
		whole.write(data)
		for i := 0; i < len(data); i += 1000 { // below skipMin: never skips
			pieced.write(data[i:min(i+1000, len(data))])
		}
		if got, want := whole.dump(), pieced.dump(); got != want {
			t.Fatalf("round %d (%dx%d): screens differ\nwith the fast path:\n%s\nwithout:\n%s", round, cols, rows, got, want)
		}
	}
}

func TestScreenBasics(t *testing.T) {
	for _, tc := range []struct {
		name, out, want string
		cols, rows      int
	}{
		{"wrap", "abcdefgh", "+|abcde|\n |fgh  |\n |     |\ncursor 3,1 wrap false", 5, 3},
		{"exact fill pends", "abcde", " |abcde|\n |     |\n |     |\ncursor 4,0 wrap true", 5, 3},
		{"CR at pending wrap", "abcde\rX", " |Xbcde|\n |     |\n |     |\ncursor 1,0 wrap false", 5, 3},
		{"erase clears wrap", "abcdefg\x1b[A\x1b[K", " |ab   |\n |fg   |\n |     |\ncursor 2,0 wrap false", 5, 3},
		{"scroll region", "1\r\n2\r\n3\x1b[1;2r\x1b[2;1H\n", " |2    |\n |     |\n |3    |\ncursor 0,1 wrap false", 5, 3},
		{"insert line", "1\r\n2\r\n3\x1b[2;1H\x1b[L", " |1    |\n |     |\n |2    |\ncursor 0,1 wrap false", 5, 3},
		{"delete chars", "abcde\r\x1b[C\x1b[2P", " |ade  |\n |     |\n |     |\ncursor 1,0 wrap false", 5, 3},
		{"alt screen", "main\x1b[?1049hALT\x1b[?1049l", " |main |\n |     |\n |     |\ncursor 4,0 wrap false", 5, 3},
		{"wide wrap", "abcd你", "+|abcd|\n |你   |\n |     |\ncursor 2,1 wrap false", 5, 3},
		{"half overwritten wide", "你好\b \b", " |你  |\n |     |\n |     |\ncursor 3,0 wrap false", 5, 3},
		{"osc and dcs skipped", "a\x1b]0;title\x07b\x1bPq#0\x1b\\c", " |abc  |\n |     |\n |     |\ncursor 3,0 wrap false", 5, 3},
		{"tabs", "a\tb", " |a       b |\n |          |\n |          |\ncursor 9,0 wrap false", 10, 3},
		{"rep", "x\x1b[3b", " |xxxx |\n |     |\n |     |\ncursor 4,0 wrap false", 5, 3},
	} {
		s := newScreen(tc.cols, tc.rows)
		s.write([]byte(tc.out))
		if got := s.dump(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// A terminal of unknown size (0x0, as ssh -tt asks for without a terminal
// of its own) is emulated as 80x24, not as the smallest screen: a long
// line wraps at column 80, as the shell's own idea of the width (80) has it.
func TestUnknownSize(t *testing.T) {
	s := newScreen(0, 0)
	if s.cols != 80 || s.rows != 24 {
		t.Fatalf("0x0 is emulated as %dx%d", s.cols, s.rows)
	}
	s.write([]byte(strings.Repeat("x", 100)))
	if got := s.text(0, 0, -1); got != strings.Repeat("x", 80) || !s.buf[0].wrapped {
		t.Fatalf("first row of a 100-character line: %q", got)
	}
	s.resize(100, 30)
	s.resize(0, 0)
	if s.cols != 80 || s.rows != 24 {
		t.Fatalf("a window change to 0x0 is emulated as %dx%d", s.cols, s.rows)
	}
	if s = newScreen(0, 50); s.cols != 80 || s.rows != 24 {
		t.Fatalf("0x50 is emulated as %dx%d, not as the recording shows it (80x24)", s.cols, s.rows)
	}
	if s = newScreen(1, 1); s.cols != 2 || s.rows != 1 {
		t.Fatalf("1x1 is emulated as %dx%d", s.cols, s.rows)
	}
}

func TestSplitUTF8(t *testing.T) {
	s := newScreen(20, 2)
	for _, b := range []byte("é你😀") {
		s.write([]byte{b})
	}
	if _, line, _ := s.cursorLine(); line != "é你😀" {
		t.Errorf("got %q", line)
	}
}

func TestResizeKeepsCursorRow(t *testing.T) {
	s := newScreen(10, 5)
	s.write([]byte("1\r\n2\r\n3\r\n4\r\n$ ls"))
	s.resize(6, 2)
	if got := s.dump(); got != " |4     |\n |$ ls  |\ncursor 4,1 wrap false" {
		t.Errorf("got %s", got)
	}
}
