package recording

import (
	"bytes"
	"strings"
	"time"
	"unicode"

	"github.com/postern/postern/internal/ansi"
)

// This file keeps passwords typed on the target out of the recorded input
// (Options.HideUnechoed). A terminal echoes what is typed at a shell or an
// editor; it does not echo what is typed at a password prompt (sudo,
// passwd, ssh, mysql -p, read -s). Keys are held back from the recording
// until the terminal's next output shows whether they were echoed: when
// that output begins with the text typed, they are recorded as typed.
// When it does not, and the line the keys were typed on looks like a
// password prompt (it ends with a colon, or names a password, passphrase,
// secret, token or PIN), only the keys that end or abandon the answer
// (answerKeys) are kept, and a marker event, one per prompt line, says
// that typing was left out. Neither says how much: a password's length,
// the corrections made while typing it, or the pieces it came in are not
// for the recording either, so at such a prompt even keys without text
// (Backspace) are held. Unechoed typing anywhere else, such as at a shell
// prompt after `stty -echo`, is recorded as typed: hiding it would let an
// operator keep commands out of the audit trail.

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
	if !r.opt.HideUnechoed || r.inputOff {
		return false
	}
	if len(r.held) == 0 && !hasText(p) && !secretPrompt(r.lastLine) {
		return false // control keys only, not at a password prompt: nothing to hide
	}
	r.held = append(r.held, heldKeys{at: now, data: bytes.Clone(p)})
	r.heldSize += len(p)
	if r.heldSize > maxHeld {
		r.releaseLocked(now, false, nil)
	}
	return true
}

// releaseLocked records the held keys: as typed when the terminal echoed
// them or they were not typed at a password prompt, else only their
// answerKeys and with a marker saying so. The keys were typed at the line
// the cursor is on (lastLine); keys typed ahead of an answer meet the line
// that answer leads to, next (nil when there is none).
func (r *Recorder) releaseLocked(now time.Duration, echoed bool, next []byte) {
	hide := !echoed && len(r.held) > 0 && (secretPrompt(r.lastLine) || r.heldAhead && next != nil && secretPrompt(next))
	left := false
	for _, h := range r.held {
		data := h.data
		if hide {
			data = answerKeys(data)
			left = left || len(data) < len(h.data)
		}
		r.inputLocked(h.at, data)
	}
	if left && !r.inputOff && !r.marked {
		r.marked = true
		r.buf = appendEventStart(r.buf, now, KindMarker)
		r.buf = append(r.buf, unechoedMarker...)
		r.buf = append(r.buf, eventEnd...)
	}
	clear(r.held)
	r.held, r.heldSize, r.heldAhead = r.held[:0], 0, false
}

// outputSeenLocked settles the held keys with the terminal's next output,
// and keeps the line the cursor is on for the next keys.
func (r *Recorder) outputSeenLocked(now time.Duration, p []byte) {
	if !r.opt.HideUnechoed {
		return
	}
	if len(r.held) > 0 {
		var typed []byte
		for _, h := range r.held {
			typed = append(typed, h.data...)
		}
		switch m := echoed(p, typed); {
		case m < 0:
			r.releaseLocked(now, false, lineAfter(r.lastLine, p))
		default:
			// Echoed: recorded as typed as far as the echo went, and
			// at most up to the first Enter. Keys after it were typed
			// ahead of what this output leads to (sudo's prompt, say)
			// and wait for the output after it.
			k := bytes.IndexAny(typed, "\r\n")
			switch {
			case m < k:
				r.releasePrefixLocked(m) // a partial echo: the rest waits
			case k < 0 || k == len(typed)-1:
				r.releaseLocked(now, true, nil)
			default:
				r.releasePrefixLocked(k + 1)
				r.heldAhead = true
			}
			// Recorded after this output, so not at an earlier time:
			// event times never decrease.
			for i := range r.held {
				r.held[i].at = now
			}
		}
	}
	// Only the end of the line is kept, and only the end of p copied:
	// bulk output must not be copied here.
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		r.lastLine, r.marked = r.lastLine[:0], false
		p = p[i+1:]
	}
	if len(p) >= maxLine {
		r.lastLine = append(r.lastLine[:0], p[len(p)-maxLine:]...)
	} else {
		if drop := len(r.lastLine) + len(p) - maxLine; drop > 0 {
			r.lastLine = append(r.lastLine[:0], r.lastLine[drop:]...)
		}
		r.lastLine = append(r.lastLine, p...)
	}
}

// lineAfter is the line the cursor is on after out, which followed line.
func lineAfter(line, out []byte) []byte {
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return append(line[:len(line):len(line)], out...)
}

// releasePrefixLocked records the first n bytes of the held keys as typed
// and keeps the rest held.
func (r *Recorder) releasePrefixLocked(n int) {
	for n > 0 && len(r.held) > 0 {
		h := &r.held[0]
		if len(h.data) > n {
			r.inputLocked(h.at, h.data[:n])
			h.data = h.data[n:]
			r.heldSize -= n
			return
		}
		r.inputLocked(h.at, h.data)
		n -= len(h.data)
		r.heldSize -= len(h.data)
		r.held = r.held[1:]
	}
}

// maxLine bounds the end of the output kept to tell a password prompt.
const maxLine = 256

// secretPrompt reports whether line, the output since the last line feed,
// ends in what looks like a password prompt: it ends with a colon, or
// names a password, passphrase, secret, token or PIN as a word of its own
// (not "ping" or "compass" in a shell prompt).
func secretPrompt(line []byte) bool {
	text := strings.TrimRight(string(textOnly(line)), " ")
	if strings.HasSuffix(text, ":") {
		return true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(c rune) bool { return !unicode.IsLetter(c) }) {
		if strings.HasPrefix(w, "pass") || w == "secret" || w == "token" || w == "pin" {
			return true
		}
	}
	return false
}

// hasText reports whether p holds a printable character outside escape
// sequences.
func hasText(p []byte) bool {
	var b [1]byte
	return len(ansi.AppendText(b[:0], p, 1)) > 0
}

// textOnly returns the printable characters of p, without control
// characters and escape sequences.
func textOnly(p []byte) []byte { return ansi.AppendText(nil, p, len(p)) }

// echoed reports how far out, the terminal's output after keys were
// typed, shows them: its text before any control character (escape
// sequences, such as colours, aside) must be the text typed, or the start
// of it; echoed returns how many bytes of typed that text covers, or -1
// when out shows none of it or something else. A password prompt's answer (a
// line feed, a message) does not, nor does a prompt drawn after keys typed
// ahead of it.
func echoed(out, typed []byte) int {
	i, j, n := 0, 0, -1
	for i < len(out) && j < len(typed) {
		// The next character typed, past control keys and sequences.
		for j < len(typed) && (typed[j] == 0x1b || ansi.IsControl(typed[j])) {
			if typed[j] == 0x1b {
				j = ansi.SkipEscape(typed, j)
			} else {
				j++
			}
		}
		if j == len(typed) {
			break
		}
		// The next character shown.
		for i < len(out) && out[i] == 0x1b {
			i = ansi.SkipEscape(out, i)
		}
		if i == len(out) || ansi.IsControl(out[i]) {
			break
		}
		if out[i] != typed[j] {
			return -1 // text that is not what was typed: no echo
		}
		i, j = i+1, j+1
		n = j
	}
	return n
}

// unechoedMarker is the marker event's text where typing at a password
// prompt was left out of the recording.
const unechoedMarker = "typing without echo at a password prompt left out"

// answerKeys returns, of keys typed at a password prompt, only those that
// end or abandon the answer: Enter (CR or LF), Ctrl-C, Ctrl-D, Ctrl-Z and
// Ctrl-\. Text, editing keys (Backspace, Ctrl-U) and escape sequences are
// left out: they would tell how long the password is, or how it was typed.
func answerKeys(p []byte) []byte {
	var keep []byte
	for _, b := range p {
		switch b {
		case '\r', '\n', 0x03, 0x04, 0x1a, 0x1c:
			keep = append(keep, b)
		}
	}
	return keep
}
