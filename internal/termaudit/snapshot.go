package termaudit

import (
	"strconv"
	"unicode/utf8"
)

// Screen returns what the terminal shows now as bytes that draw it on a
// terminal of the same size: the main screen's text, then, when a
// full-screen program has the alternate screen, that screen over it (so
// that the program leaving it uncovers the main screen, as on the
// operator's terminal), and the cursor where it is. Text only: colours
// and other attributes are not kept by the emulator.
func (a *Auditor) Screen() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.scr
	out := []byte("\x1b[0m\x1b[?1049l\x1b[H\x1b[2J")
	out = appendRows(out, s.main)
	if s.altActive {
		out = append(out, "\x1b[?1049h\x1b[H\x1b[2J"...)
		out = appendRows(out, s.alt)
	}
	out = append(out, "\x1b["...)
	out = strconv.AppendInt(out, int64(s.y+1), 10)
	out = append(out, ';')
	out = strconv.AppendInt(out, int64(s.x+1), 10)
	return append(out, 'H')
}

// appendRows appends the drawing of rows, each at the start of its line,
// without the blanks that end it.
func appendRows(out []byte, rows []*row) []byte {
	for y, r := range rows {
		end := len(r.cells)
		for end > 0 && (r.cells[end-1] == blank || r.cells[end-1] == hole || r.cells[end-1] == wrapPad) && r.extra[end-1] == "" {
			end--
		}
		if end == 0 {
			continue
		}
		out = append(out, "\x1b["...)
		out = strconv.AppendInt(out, int64(y+1), 10)
		out = append(out, ";1H"...)
		for x, c := range r.cells[:end] {
			switch c {
			case wideTail:
				continue
			case blank, hole, wrapPad:
				out = append(out, ' ')
			default:
				out = utf8.AppendRune(out, c)
			}
			out = append(out, r.extra[x]...)
		}
	}
	return out
}
