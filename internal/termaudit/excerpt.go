package termaudit

import (
	"strings"
	"unicode/utf8"
)

// excerptSlack is how many bytes past the limit an excerpt collects, so
// that the prompt that ends it can still be recognised and cut off.
const excerptSlack = 256

// excerpt collects the start of a command's output as plain text: escape
// sequences and control characters other than newline and tab are
// dropped, CR LF becomes LF, and a line that a lone CR sends the cursor
// back over is dropped in favour of what overwrites it.
type excerpt struct {
	limit int
	buf   []byte

	state   int  // a parser state of the screen's kind
	osc     bool // the string being skipped is an OSC
	private byte
	param   int
	altOn   bool // the sequence being read switches to the alternate screen

	// A CR not followed by LF returns to the start of the line, and what
	// comes next overwrites it (progress counters, prompt decorations):
	// the line so far is dropped then.
	cr        bool
	lineStart int

	// done is set once the excerpt needs no more output: it is full, or
	// the output switched to the alternate screen.
	done bool
}

func (e *excerpt) reset(limit int) {
	*e = excerpt{limit: limit, buf: e.buf[:0]}
}

// write takes more output and reports whether the excerpt is done.
func (e *excerpt) write(p []byte) bool {
	for i := 0; i < len(p) && !e.done; i++ {
		b := p[i]
		switch e.state {
		case stGround:
			switch {
			case b == 0x1b:
				e.state = stEsc
			case b == '\r':
				e.cr = true
			case b == '\n':
				e.cr = false
				e.add(b)
				e.lineStart = len(e.buf)
			case b == '\t' || b >= 0x20 && b != 0x7f:
				if e.cr {
					e.cr = false
					e.buf = e.buf[:e.lineStart]
				}
				e.add(b)
			}
		case stEsc:
			switch {
			case b == '[':
				e.state, e.private, e.param, e.altOn = stCSI, 0, 0, false
			case b == ']':
				e.state, e.osc = stString, true
			case b == 'P' || b == 'X' || b == '^' || b == '_':
				e.state, e.osc = stString, false
			case b >= 0x20 && b < 0x30:
				e.state = stEscInter
			case b == 0x1b:
			default:
				e.state = stGround
			}
		case stEscInter:
			if b >= 0x30 {
				e.state = stGround
			}
		case stCSI:
			switch {
			case b >= '0' && b <= '9':
				e.param = min(e.param*10+int(b-'0'), 1<<16)
			case b == ';' || b == ':':
				e.checkAlt()
				e.param = 0
			case b >= '<' && b <= '?':
				e.private = b
			case b >= 0x40 && b < 0x7f:
				e.checkAlt()
				if b == 'h' && e.private == '?' && e.altOn {
					e.done = true
				}
				e.state = stGround
			case b == 0x1b:
				e.state = stEsc
			case b == 0x18 || b == 0x1a:
				e.state = stGround
			}
		case stString:
			switch b {
			case 0x1b:
				e.state = stStringEsc
			case 0x07:
				if e.osc {
					e.state = stGround
				}
			case 0x18, 0x1a:
				e.state = stGround
			}
		case stStringEsc:
			if b == '\\' {
				e.state = stGround
			} else {
				e.state = stEsc
				i--
			}
		}
	}
	return e.done
}

func (e *excerpt) add(b byte) {
	e.buf = append(e.buf, b)
	if len(e.buf) >= e.limit+excerptSlack {
		e.done = true
	}
}

func (e *excerpt) checkAlt() {
	switch e.param {
	case 47, 1047, 1049:
		e.altOn = true
	}
}

// text returns the excerpt, less its last line when that starts with
// prompt, cut to the limit on a character boundary and made valid UTF-8.
func (e *excerpt) text(prompt string) string {
	b := e.buf
	// A character cut by the end of what was collected is left out.
	if i := lastRuneStart(b); i >= 0 && !utf8.FullRune(b[i:]) {
		b = b[:i]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if prompt != "" {
		i := strings.LastIndexByte(s, '\n') + 1
		if strings.HasPrefix(s[i:], prompt) {
			s = s[:i]
		}
	}
	if len(s) > e.limit {
		n := e.limit
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// lastRuneStart returns the index of the first byte of the last character
// of b, or -1 when b is empty.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return len(b) - 1
}
