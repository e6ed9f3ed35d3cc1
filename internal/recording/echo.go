package recording

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// This file keeps what a terminal did not echo out of the recorded input
// (Options.HideUnechoed). A terminal echoes what is typed at a shell or
// an editor line; it does not echo what is typed at a password prompt
// (sudo, passwd, ssh, mysql -p, read -s). Keys are held back from the
// recording until the terminal's next output shows whether they were
// echoed: if it shows the first character typed before it starts a new
// line, they are recorded as typed; otherwise their text is left out and
// only the control keys (Enter, Ctrl-C, arrows) are recorded. A wrong
// guess in the safe direction costs little, because whatever the terminal
// did show is in the recorded output.

// maxHeld bounds the keys held back while no output comes; past it they
// count as not echoed.
const maxHeld = 64 << 10

// heldKeys is input not recorded yet, with the time it was typed.
type heldKeys struct {
	at   time.Duration
	data []byte
}

// holdLocked holds input back when it carries text and the terminal has
// yet to show whether it echoes it. It reports whether p was taken.
func (r *Recorder) holdLocked(now time.Duration, p []byte) bool {
	if !r.opt.HideUnechoed || r.fullScreen {
		return false
	}
	if len(r.held) == 0 {
		c, ok := firstText(p)
		if !ok {
			return false // control keys only: nothing to hide
		}
		r.heldText = c
	}
	r.held = append(r.held, heldKeys{at: now, data: bytes.Clone(p)})
	r.heldSize += len(p)
	if r.heldSize > maxHeld {
		r.releaseLocked(false)
	}
	return true
}

// releaseLocked records the held keys, with their text when the terminal
// echoed it.
func (r *Recorder) releaseLocked(echoed bool) {
	for _, h := range r.held {
		data := h.data
		if !echoed {
			data = controlKeys(data)
		}
		r.inputLocked(h.at, data)
	}
	clear(r.held)
	r.held, r.heldSize = r.held[:0], 0
}

// outputSeenLocked settles the held keys with the terminal's next output
// and follows full-screen programs, whose keys (editor commands, pager
// keys) are mostly not echoed and are never a password prompt's: they are
// recorded as typed.
func (r *Recorder) outputSeenLocked(p []byte) {
	if !r.opt.HideUnechoed {
		return
	}
	if len(r.held) > 0 {
		r.releaseLocked(echoes(p, r.heldText))
	}
	r.fullScreen = altScreen(p, r.fullScreen)
}

// skipEscape returns the index just past the escape sequence that starts
// at p[i] (an ESC): CSI (ESC [ ... final), SS3 (ESC O x), OSC and other
// strings (ESC ] ... BEL or ESC \), or ESC and one byte (Alt and a key).
func skipEscape(p []byte, i int) int {
	i++
	if i >= len(p) {
		return i
	}
	switch p[i] {
	case '[':
		for i++; i < len(p); i++ {
			if p[i] >= 0x40 && p[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case 'O':
		return min(i+2, len(p))
	case ']', 'P', '_', '^', 'X':
		for i++; i < len(p); i++ {
			if p[i] == 0x07 {
				return i + 1
			}
			if p[i] == 0x1b && i+1 < len(p) && p[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	}
	return i + 1
}

// firstText returns the first printable character in p outside escape
// sequences.
func firstText(p []byte) (rune, bool) {
	for i := 0; i < len(p); {
		switch b := p[i]; {
		case b == 0x1b:
			i = skipEscape(p, i)
		case b < 0x20 || b == 0x7f:
			i++
		default:
			c, n := utf8.DecodeRune(p[i:])
			if c != utf8.RuneError {
				return c, true
			}
			i += n
		}
	}
	return 0, false
}

// echoes reports whether out shows c before its first line feed: the
// terminal echoed a key typed as c. Escape sequences (colours, window
// titles) are not looked into.
func echoes(out []byte, c rune) bool {
	for i := 0; i < len(out); {
		switch b := out[i]; {
		case b == '\n':
			return false
		case b == 0x1b:
			i = skipEscape(out, i)
		case b < utf8.RuneSelf:
			if rune(b) == c {
				return true
			}
			i++
		default:
			d, n := utf8.DecodeRune(out[i:])
			if d == c {
				return true
			}
			i += n
		}
	}
	return false
}

// controlKeys returns p without its text: control characters and escape
// sequences (Enter, Ctrl-C, arrows) are kept, printable characters left
// out.
func controlKeys(p []byte) []byte {
	var keep []byte
	for i := 0; i < len(p); {
		switch b := p[i]; {
		case b == 0x1b:
			j := skipEscape(p, i)
			keep = append(keep, p[i:j]...)
			i = j
		case b < 0x20 || b == 0x7f:
			keep = append(keep, b)
			i++
		default:
			i++
		}
	}
	return keep
}

// Switches to and from the alternate screen, which full-screen programs
// use.
var (
	altOn  = [][]byte{[]byte("\x1b[?1049h"), []byte("\x1b[?1047h"), []byte("\x1b[?47h")}
	altOff = [][]byte{[]byte("\x1b[?1049l"), []byte("\x1b[?1047l"), []byte("\x1b[?47l")}
)

// altScreen returns whether the alternate screen is in use after out, given
// whether it was before.
func altScreen(out []byte, was bool) bool {
	at := bytes.LastIndex(out, []byte("\x1b[?"))
	if at < 0 {
		return was
	}
	lastOn, lastOff := -1, -1
	for _, s := range altOn {
		lastOn = max(lastOn, bytes.LastIndex(out, s))
	}
	for _, s := range altOff {
		lastOff = max(lastOff, bytes.LastIndex(out, s))
	}
	switch {
	case lastOn > lastOff:
		return true
	case lastOff > lastOn:
		return false
	}
	return was
}
