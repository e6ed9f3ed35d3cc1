// Package ansi reads text out of terminal byte streams (what is typed, what
// a terminal is sent): it tells escape sequences and control characters
// from printable text.
//
// It is for: deciding whether keys were echoed and what text was typed. It
// is not for: drawing a screen (package termaudit has the emulator) or
// escaping bytes for storage (package recording).
package ansi

// SkipEscape returns the index just past the escape sequence that starts
// at p[i] (an ESC): CSI (ESC [ ... final byte), SS3 (ESC O and a byte),
// OSC and the other strings (ESC ] ... BEL or ESC \), or ESC, any
// intermediate bytes and one final byte (Alt and a key, ESC ( B, ESC # 8).
// As in a terminal, CAN or SUB cancels a sequence (and is part of it), and
// an ESC inside one (other than a string's ESC \) ends it and starts the
// next, so text after either is text. A sequence cut short by the end of
// p ends there.
func SkipEscape(p []byte, i int) int {
	i++
	if i >= len(p) {
		return i
	}
	switch p[i] {
	case '[':
		for i++; i < len(p); i++ {
			switch b := p[i]; {
			case b >= 0x40 && b <= 0x7e, b == can, b == sub:
				return i + 1
			case b == 0x1b:
				return i
			}
		}
		return i
	case 'O':
		if i+1 < len(p) && p[i+1] == 0x1b {
			return i + 1
		}
		return min(i+2, len(p))
	case ']', 'P', '_', '^', 'X':
		for i++; i < len(p); i++ {
			switch p[i] {
			case 0x07, can, sub:
				return i + 1
			case 0x1b:
				if i+1 < len(p) && p[i+1] == '\\' {
					return i + 2
				}
				return i
			}
		}
		return i
	}
	for i < len(p) && p[i] >= 0x20 && p[i] <= 0x2f {
		i++ // intermediate bytes
	}
	if i < len(p) && p[i] == 0x1b {
		return i
	}
	return min(i+1, len(p))
}

// The controls that cancel an escape sequence.
const (
	can = 0x18
	sub = 0x1a
)

// IsControl reports whether b is a C0 control character or DEL.
func IsControl(b byte) bool { return b < 0x20 || b == 0x7f }

// AppendText appends to dst the printable bytes of p, leaving out control
// characters and escape sequences, until dst holds max bytes.
func AppendText(dst, p []byte, max int) []byte {
	for i := 0; i < len(p) && len(dst) < max; {
		switch b := p[i]; {
		case b == 0x1b:
			i = SkipEscape(p, i)
		case IsControl(b):
			i++
		default:
			dst = append(dst, b)
			i++
		}
	}
	return dst
}
