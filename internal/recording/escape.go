package recording

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file turns raw terminal bytes into the body of a JSON string. It is on
// the session's data path, so it appends to a caller's buffer instead of
// going through encoding/json (which allocates a string per event and
// re-validates what it is given).

// plain[b] is true for the ASCII bytes that stand for themselves inside a
// JSON string: everything printable except the quote and the backslash. DEL
// (0x7f) needs no escape in JSON.
var plain = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// replacement is U+FFFD as UTF-8, written for each byte that is not part of a
// valid UTF-8 sequence so that the recording stays valid JSON and a reader
// can see that something undecodable was sent.
const replacement = "\uFFFD"

// appendEscaped appends p to dst escaped for a JSON string. If p ends inside
// a UTF-8 sequence that later bytes could still complete, those bytes are
// not written but returned as rest, so the caller can carry them over to the
// next call: terminal output is a byte stream and a rune may be split across
// two reads.
//
// It works in spans: a run of bytes up to the next ASCII byte that needs an
// escape is found eight bytes at a time, checked as UTF-8 in one call when it
// holds non-ASCII bytes, and copied at once. Only a span with invalid UTF-8
// is decoded rune by rune. This keeps escaping fast on ordinary terminal
// output, which is mostly such spans.
//
// With dropNUL, NUL bytes are left out. That is for output to a terminal:
// ECMA-48 (8.3.88) has NUL as a fill character that may be inserted into or
// removed from a stream without changing what it means, and terminals
// ignore it, so a replay shows the same; while escaped, each NUL would cost
// six bytes of recording (a stream of zeros six times its size).
func appendEscaped(dst, p []byte, dropNUL bool) (out, rest []byte) {
	// Keep an unfinished sequence at the very end out of the spans, so that
	// the split that large reads make in non-ASCII text stays on the fast
	// path.
	p, rest = cutUnfinished(p)
	dst = slices.Grow(dst, len(p)+len(p)/8)
	for i := 0; i < len(p); {
		j, high := nextSpecial(p, i)
		if j > i {
			if !high || utf8.Valid(p[i:j]) {
				dst = append(dst, p[i:j]...)
			} else {
				dst = appendInvalid(dst, p[i:j])
			}
		}
		switch {
		case j == len(p):
		case p[j] == 0 && dropNUL:
			j = skipNUL(p, j)
		default:
			dst = appendEscapedASCII(dst, p[j])
			j++
		}
		i = j
	}
	return dst, rest
}

// skipNUL returns the index of the first byte at or after i that is not
// NUL, testing eight bytes at a time.
func skipNUL(p []byte, i int) int {
	for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:]) == 0 {
		i += 8
	}
	for i < len(p) && p[i] == 0 {
		i++
	}
	return i
}

// cutUnfinished splits off the start of a UTF-8 sequence that p ends in the
// middle of (at most three bytes).
func cutUnfinished(p []byte) (whole, unfinished []byte) {
	for k := len(p) - 1; k >= 0 && k > len(p)-utf8.UTFMax; k-- {
		if p[k] < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(p[k]) {
			if !utf8.FullRune(p[k:]) {
				return p[:k], p[k:]
			}
			break
		}
	}
	return p, nil
}

// nextSpecial returns the index of the first byte at or after i that is an
// ASCII byte JSON needs escaped (a control character, '"' or '\\'), or
// len(p), and whether any byte before it is non-ASCII. It tests eight bytes
// at a time with the classic SWAR tests ("some byte is below n", "some byte
// is zero"): a borrow can only mark a byte above a true hit, so the lowest
// marked byte is the first special one.
func nextSpecial(p []byte, i int) (int, bool) {
	const ones = 0x0101010101010101
	const high = 0x8080808080808080
	var seen uint64 // OR of the bytes passed, for their high bits
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		q := x ^ (ones * '"')
		s := x ^ (ones * '\\')
		m := ((x - ones*0x20) | (q - ones) | (s - ones)) &^ x & high
		if m != 0 {
			n := bits.TrailingZeros64(m) / 8
			before := x & (1<<(8*n) - 1) // the bytes of this word before the hit
			return i + n, (seen|before)&high != 0
		}
		seen |= x
	}
	for ; i < len(p); i++ {
		b := p[i]
		if b < utf8.RuneSelf && !plain[b] {
			break
		}
		seen |= uint64(b)
	}
	return i, seen&high != 0
}

// appendInvalid appends a span that holds no byte needing an escape but is
// not valid UTF-8, writing U+FFFD for each byte that is not part of a valid
// sequence (what Go's own decoding of the bytes gives).
func appendInvalid(dst, p []byte) []byte {
	start := 0
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, p[start:i]...)
			dst = append(dst, replacement...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, p[start:]...)
}

// appendEscapedASCII appends the JSON escape of an ASCII byte that cannot
// stand for itself: the short forms JSON has, \u00XX for the other controls.
func appendEscapedASCII(dst []byte, b byte) []byte {
	switch b {
	case '"', '\\':
		return append(dst, '\\', b)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
}

// carry holds the start of a UTF-8 sequence that the last call ended in the
// middle of (at most three bytes).
type carry struct {
	b       [utf8.UTFMax]byte
	n       int
	dropNUL bool // leave NUL bytes out (see appendEscaped)
}

// appendData escapes p as the continuation of the stream whose unfinished
// sequence c holds, and keeps any new unfinished tail in c.
func (c *carry) appendData(dst, p []byte) []byte {
	if c.n > 0 {
		// Decode the carried bytes together with the first bytes of p, the
		// same way they would have been decoded had they come in one piece.
		var tmp [2 * utf8.UTFMax]byte
		t := append(tmp[:0], c.b[:c.n]...)
		t = append(t, p[:min(len(p), utf8.UTFMax-1)]...)
		i := 0
		for i < c.n {
			r, size := utf8.DecodeRune(t[i:])
			switch {
			case r != utf8.RuneError || size > 1:
				dst = append(dst, t[i:i+size]...)
			case !utf8.FullRune(t[i:]):
				// Still unfinished: p was too short to tell, so all of
				// it is now carried (len(t[i:]) < UTFMax here).
				c.n = copy(c.b[:], t[i:])
				return dst
			default:
				dst = append(dst, replacement...)
				size = 1
			}
			i += size
		}
		p = p[i-c.n:]
		c.n = 0
	}
	dst, rest := appendEscaped(dst, p, c.dropNUL)
	c.n = copy(c.b[:], rest)
	return dst
}

// flush appends one U+FFFD per carried byte (the stream ended in the middle
// of a sequence, so those bytes are invalid) and empties c.
func (c *carry) flush(dst []byte) []byte {
	for range c.n {
		dst = append(dst, replacement...)
	}
	c.n = 0
	return dst
}

// appendTime appends d as seconds with six decimals, the precision asciinema
// itself writes. Truncating to whole microseconds keeps times monotonic.
func appendTime(dst []byte, d time.Duration) []byte {
	us := int64(d / time.Microsecond)
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	var b [7]byte
	b[0] = '.'
	for i := 6; i >= 1; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(dst, b[:]...)
}
