package ansi

import (
	"bytes"
	"testing"
)

func TestAppendText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ls -la\r", "ls -la"},
		{"\x1b[32mgreen\x1b[0m text", "green text"},
		{"\x1b]0;window title\x07$ ", "$ "},
		{"\x1b]0;title\x1b\\x", "x"},
		{"a\x1b[Ab\x1bOBc\x1bxd", "abcd"},
		{"\u4e2d\u6587\x7f", "\u4e2d\u6587"},
		{"\x1b[12", ""},
		{"\x1b(B\x1b[mls", "ls"}, // tput sgr0: a character set, then SGR
		{"\x1b#8x", "x"},
		{"\x1b(", ""},
		// CAN and SUB cancel a sequence; an ESC ends it and starts the next.
		{"\x1b[12\x18ls", "ls"},
		{"\x1b[1;\x1aps", "ps"},
		{"\x1b]0;title\x18id", "id"},
		{"\x1b[12\x1b[mwho", "who"},
		{"\x1b]0;t\x1b[31mred", "red"},
		{"\x1b(\x1b[mx", "x"},
		{"\x1bO\x1b[Ay", "y"},
	}
	for _, c := range cases {
		if got := AppendText(nil, []byte(c.in), len(c.in)); string(got) != c.want {
			t.Errorf("AppendText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := AppendText([]byte("ab"), []byte("cdef"), 4); string(got) != "abcd" {
		t.Errorf("AppendText stopped at %q, want \"abcd\"", got)
	}
}

func FuzzSkipEscape(f *testing.F) {
	f.Add([]byte("\x1b[1;2H\x1b]0;t\x07\x1bO"))
	f.Fuzz(func(t *testing.T, p []byte) {
		for i := range p {
			if p[i] != 0x1b {
				continue
			}
			if j := SkipEscape(p, i); j <= i || j > len(p) {
				t.Fatalf("SkipEscape(%q, %d) = %d", p, i, j)
			}
		}
		if got := AppendText(nil, p, len(p)); bytes.ContainsAny(got, "\x1b\r\n\x00") {
			t.Fatalf("AppendText(%q) kept control bytes: %q", p, got)
		}
	})
}
