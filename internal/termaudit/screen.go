package termaudit

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Cell values other than code points.
const (
	blank    rune = 0  // nothing written, or erased
	wideTail rune = -1 // the right half of a double-width character
	wrapPad  rune = -2 // the last column left empty when a wide character wrapped
	// hole is what is left of a double-width character half overwritten.
	// It shows as a blank but reads as nothing: programs that know the
	// widths never do that, and the terminal driver's line editing (for
	// shells without a line editor) does it when it erases a wide
	// character as if it were one column wide.
	hole rune = -3
)

// row is one line of the screen.
type row struct {
	// cells holds a rune per column, or is nil while the row has never
	// been written: blank (most rows of a shell's screen are, and a
	// session holds a screen for as long as it lasts). Writers get the
	// cells through cellsFor.
	cells []rune
	// wrapped says the text goes on in the next row: the cursor wrapped
	// from this row's last column by itself (auto-wrap), rather than by a
	// line feed or a cursor movement.
	wrapped bool
	// extra holds the zero-width code points (combining marks, joiners,
	// variation selectors) that follow the character of a column.
	extra map[int]string
}

func newRow() *row { return &row{} }

// cellsFor returns the row's cells, allocating cols blank ones if it has
// none yet.
func (r *row) cellsFor(cols int) []rune {
	if r.cells == nil {
		r.cells = make([]rune, cols)
	}
	return r.cells
}

func (r *row) clear() {
	clear(r.cells)
	r.wrapped = false
	r.extra = nil
}

// erase blanks the columns [from, to).
func (r *row) erase(from, to int) {
	if r.cells != nil {
		clear(r.cells[from:to])
	}
	r.dropExtra(from, to)
}

func (r *row) dropExtra(from, to int) {
	if r.extra == nil {
		return
	}
	for c := range r.extra {
		if c >= from && c < to {
			delete(r.extra, c)
		}
	}
}

// Parser states.
const (
	stGround    = iota
	stEsc       // after ESC
	stEscInter  // after ESC and an intermediate byte: one more byte ends it
	stCSI       // in a control sequence
	stString    // in an OSC, DCS, SOS, PM or APC string: skipped
	stStringEsc // ESC seen in a string: a backslash ends it
)

const maxParams = 16

type savedCursor struct {
	x, y        int
	pendingWrap bool
	origin      bool
	valid       bool
}

// screen is a small emulator of the part of xterm that shells and the
// usual full-screen programs rely on: printing with auto-wrap and wide
// characters, cursor movement, erasing, inserting and deleting characters
// and lines, scroll regions, tab stops and the alternate screen. Colours,
// character sets, mouse modes and answers to queries are ignored: the
// emulator only watches, it never answers the program.
type screen struct {
	cols, rows int
	main, alt  []*row // alt is nil until a program switches to it
	buf        []*row // main or alt
	altActive  bool

	x, y        int
	pendingWrap bool // the last column was written: the next character wraps
	autowrap    bool
	insert      bool // IRM
	origin      bool // DECOM
	top, bottom int  // scroll region, inclusive
	tabs        []bool
	saved       [2]savedCursor // DECSC per buffer
	lastRune    rune

	// scrolled counts the lines that left the top of the main screen
	// (less those that came back by scrolling down), so that y+scrolled
	// names a line of the main screen for as long as it is visible.
	scrolled int64

	// onLeave, when set, is called just before the cursor moves down
	// past the last row of its logical line (a line feed, a cursor
	// movement), with pos the index, in what write is processing, of the
	// byte that moves it. Auto-wrap does not count: it extends the line.
	onLeave func()
	pos     int

	// redraws counts absolute cursor positioning and clearing of the
	// screen: what full-screen programs do and line editors never do.
	redraws uint64

	// Parser.
	state    int
	osc      bool // the string being skipped is an OSC (BEL ends it)
	params   [maxParams]int
	nparams  int
	hasParam bool
	private  byte
	inter    byte
	utf8buf  [utf8.UTFMax]byte
	utf8n    int
}

// The largest screen emulated. Window sizes come from the client and are
// clamped to these, so that a size of 65535x65535 costs no gigabytes; a
// terminal larger than this is emulated wrongly (lines wrap too early).
const (
	MaxCols = 1024 // columns
	MaxRows = 512  // rows
)

// The size of a terminal whose size is not known: clients without a
// terminal of their own (ssh -tt in a script) ask for a PTY of 0x0, which
// SSH defines as unspecified, and terminals start at 80x24.
const (
	defaultCols = 80
	defaultRows = 24
)

func clampSize(cols, rows int) (int, int) {
	if cols <= 0 || rows <= 0 {
		// As the recording's header has it (recording.Header).
		cols, rows = defaultCols, defaultRows
	}
	return min(max(cols, 2), MaxCols), min(rows, MaxRows)
}

func newScreen(cols, rows int) *screen {
	cols, rows = clampSize(cols, rows)
	s := &screen{cols: cols, rows: rows}
	s.main = makeRows(cols, rows)
	s.reset()
	return s
}

func makeRows(cols, rows int) []*row {
	rs := make([]*row, rows)
	for i := range rs {
		rs[i] = newRow()
	}
	return rs
}

// reset puts the terminal in its initial state (RIS), screen cleared.
func (s *screen) reset() {
	for _, r := range s.main {
		r.clear()
	}
	for _, r := range s.alt {
		r.clear()
	}
	s.buf, s.altActive = s.main, false
	s.x, s.y, s.pendingWrap = 0, 0, false
	s.autowrap, s.insert, s.origin = true, false, false
	s.top, s.bottom = 0, s.rows-1
	s.resetTabs()
	s.saved = [2]savedCursor{}
	s.state = stGround
	s.utf8n = 0
}

func (s *screen) resetTabs() {
	s.tabs = make([]bool, s.cols)
	for i := 8; i < s.cols; i += 8 {
		s.tabs[i] = true
	}
}

// resize changes the size of the screen. Rows keep their content, cut or
// padded on the right (no reflow); when the screen gets shorter, lines
// leave at the top as far as needed to keep the cursor's row visible.
func (s *screen) resize(cols, rows int) {
	cols, rows = clampSize(cols, rows)
	if cols == s.cols && rows == s.rows {
		return
	}
	active := func(isMain bool) bool { return isMain != s.altActive }
	resizeBuf := func(b []*row, isMain bool) []*row {
		if rows < len(b) {
			drop := 0
			if active(isMain) && s.y >= rows {
				drop = s.y - rows + 1
			}
			if drop > 0 && isMain {
				s.scrolled += int64(drop)
			}
			b = append([]*row(nil), b[drop:drop+rows]...)
		}
		for len(b) < rows {
			b = append(b, newRow())
		}
		for _, r := range b {
			if r.cells == nil || len(r.cells) == cols {
				continue
			}
			cells := make([]rune, cols)
			copy(cells, r.cells)
			if cols < len(r.cells) {
				if cells[cols-1] > 0 && runeWidth(cells[cols-1]) == 2 {
					cells[cols-1] = blank
				}
				r.dropExtra(cols, len(r.cells))
			}
			r.cells = cells
		}
		return b
	}
	s.main = resizeBuf(s.main, true)
	if s.alt != nil {
		s.alt = resizeBuf(s.alt, false)
	}
	s.y = min(s.y, rows-1)
	if s.altActive {
		s.buf = s.alt
	} else {
		s.buf = s.main
	}
	s.cols, s.rows = cols, rows
	s.top, s.bottom = 0, rows-1
	s.resetTabs()
	s.x = min(s.x, cols-1)
	s.pendingWrap = false
	for i := range s.saved {
		s.saved[i].x = min(s.saved[i].x, cols-1)
		s.saved[i].y = min(s.saved[i].y, rows-1)
	}
}

// write feeds the terminal's output to the emulator.
func (s *screen) write(p []byte) {
	i := 0
	if s.utf8n > 0 {
		i = s.finishRune(p)
	}
	skipFrom := 0 // where skipScrolledOff may find something new
	for i < len(p) {
		switch s.state {
		case stGround:
			if i >= skipFrom && len(p)-i >= skipMin && s.onLeave == nil {
				i, skipFrom = s.skipScrolledOff(p, i)
			}
			b := p[i]
			if b >= 0x20 && b < 0x7f {
				i = s.printASCII(p, i)
				continue
			}
			if b < 0x20 {
				s.pos = i
				s.control(b)
				i++
				continue
			}
			if b == 0x7f {
				i++
				continue
			}
			if !utf8.FullRune(p[i:]) {
				s.utf8n = copy(s.utf8buf[:], p[i:])
				return
			}
			r, n := utf8.DecodeRune(p[i:])
			s.printRune(r)
			i += n
		case stEsc:
			s.pos = i
			s.escByte(p[i])
			i++
		case stEscInter:
			b := p[i]
			s.pos = i
			i++
			if b < 0x20 {
				s.control(b)
				continue
			}
			if b >= 0x20 && b < 0x30 {
				s.inter = b
				continue
			}
			if s.inter == '#' && b == '8' {
				s.alignmentTest()
			}
			s.state = stGround
		case stCSI:
			i = s.csiBytes(p, i)
		case stString:
			j := i
			for j < len(p) && p[j] != 0x1b && p[j] != 0x07 && p[j] != 0x18 && p[j] != 0x1a {
				j++
			}
			if j == len(p) {
				return
			}
			switch p[j] {
			case 0x1b:
				s.state = stStringEsc
			case 0x07:
				if s.osc {
					s.state = stGround
				}
			default: // CAN, SUB
				s.state = stGround
			}
			i = j + 1
		case stStringEsc:
			if p[i] == '\\' {
				s.state = stGround
				i++
			} else {
				s.state = stEsc
			}
		}
	}
}

// finishRune completes a UTF-8 sequence split across writes and returns
// how many bytes of p it used.
func (s *screen) finishRune(p []byte) int {
	var b [2 * utf8.UTFMax]byte
	n := copy(b[:], s.utf8buf[:s.utf8n])
	k := copy(b[n:utf8.UTFMax], p)
	if !utf8.FullRune(b[:n+k]) {
		s.utf8n = copy(s.utf8buf[:], b[:n+k])
		return len(p)
	}
	r, size := utf8.DecodeRune(b[:n+k])
	s.utf8n = 0
	if size <= n {
		// Not a valid sequence: show it as one replacement character and
		// go on with p from its start.
		s.printRune(utf8.RuneError)
		return 0
	}
	s.printRune(r)
	return size - n
}

// printASCII prints the printable ASCII characters from p[i:] on and
// returns where they end.
func (s *screen) printASCII(p []byte, i int) int {
	if s.insert {
		for ; i < len(p) && p[i] >= 0x20 && p[i] < 0x7f; i++ {
			s.printRune(rune(p[i]))
		}
		return i
	}
	for i < len(p) && p[i] >= 0x20 && p[i] < 0x7f {
		if s.pendingWrap {
			s.wrap()
		}
		r := s.buf[s.y]
		x0, x, j := s.x, s.x, i
		cells := r.cellsFor(s.cols)
		for x < len(cells) && j < len(p) {
			b := p[j]
			if b < 0x20 || b >= 0x7f {
				break
			}
			cells[x] = rune(b)
			x++
			j++
		}
		s.lastRune = rune(p[j-1])
		// Characters that replaced halves of wide characters.
		if x0 > 0 && x0 < len(cells) && cells[x0-1] > 0 && runeWidth(cells[x0-1]) == 2 {
			cells[x0-1] = hole
		}
		if x < len(cells) && cells[x] == wideTail {
			cells[x] = hole
		}
		if r.extra != nil {
			r.dropExtra(x0, x)
		}
		i = j
		s.x = x
		if s.x >= s.cols {
			s.x = s.cols - 1
			if s.autowrap {
				s.pendingWrap = true
				continue
			}
			// Without auto-wrap the rest lands on the last column.
			for ; i < len(p) && p[i] >= 0x20 && p[i] < 0x7f; i++ {
				cells[s.cols-1] = rune(p[i])
			}
		}
		break
	}
	return i
}

// skipMin is the least output that skipScrolledOff looks at.
const skipMin = 16 << 10

// skipScrolledOff passes over output that cannot matter any more, and
// returns where to go on from and where it is worth trying again. It is the fast path for bulk output such
// as cat of a large file: when p[i:] holds a long stretch without escape
// sequences (so printing, CR, LF, BS and tabs only), every line of it but
// the last few scrolls off the screen, and the screen after the stretch
// depends only on its end. The stretch is cut after a CR (column 0) that
// is followed by at least 2*rows line feeds: whatever the screen and the
// cursor's row were, those line feeds scroll everything before the cut
// off, so the screen is cleared and the cursor put on the last row
// instead. It needs the full screen as scroll region and insert mode off.
func (s *screen) skipScrolledOff(p []byte, i int) (next, again int) {
	if s.top != 0 || s.bottom != s.rows-1 || s.insert || s.utf8n != 0 {
		return i, len(p)
	}
	j := bytes.IndexByte(p[i:], 0x1b)
	if j < 0 {
		j = len(p)
	} else {
		j += i
	}
	if j-i < skipMin {
		return i, j
	}
	k := j
	for n := 0; n < 2*s.rows; n++ {
		k = bytes.LastIndexByte(p[i:k], '\n')
		if k < 0 {
			return i, j
		}
		k += i
	}
	c := bytes.LastIndexByte(p[i:k], '\r')
	if c < 0 {
		return i, j
	}
	c += i + 1
	for _, r := range s.buf {
		r.clear()
	}
	if !s.altActive {
		// More than the lines that really scrolled: enough that no line
		// seen before gets the number of a line seen after.
		s.scrolled += int64(bytes.Count(p[i:c], []byte{'\n'}) + s.rows)
	}
	s.x, s.y, s.pendingWrap = 0, s.rows-1, false
	return c, j
}

// fixWideAt blanks the halves of wide characters that writing n columns
// from x would split.
func (s *screen) fixWideAt(r *row, x, n int) {
	if r.cells == nil {
		return
	}
	if x > 0 && x < s.cols && r.cells[x] == wideTail {
		r.cells[x-1] = hole
	}
	if e := x + n; e < s.cols && r.cells[e] == wideTail {
		r.cells[e] = hole
	}
}

// wrap moves the cursor to the start of the next line because a character
// is printed past the last column, and marks the line as going on there.
func (s *screen) wrap() {
	s.buf[s.y].wrapped = true
	s.pendingWrap = false
	s.x = 0
	s.index()
}

// printRune prints one character of any width.
func (s *screen) printRune(ch rune) {
	w := runeWidth(ch)
	if w == 0 {
		s.attachZeroWidth(ch)
		return
	}
	s.lastRune = ch
	if s.pendingWrap {
		if s.autowrap {
			s.wrap()
		} else {
			s.pendingWrap = false
		}
	}
	r := s.buf[s.y]
	if w == 2 && s.x == s.cols-1 {
		if !s.autowrap {
			s.x--
		} else {
			s.fixWideAt(r, s.x, 1)
			r.cellsFor(s.cols)[s.x] = wrapPad
			s.wrap()
			r = s.buf[s.y]
		}
	}
	if s.insert {
		s.insertCells(w)
	}
	s.fixWideAt(r, s.x, w)
	cells := r.cellsFor(s.cols)
	cells[s.x] = ch
	if w == 2 {
		cells[s.x+1] = wideTail
	}
	if r.extra != nil {
		r.dropExtra(s.x, s.x+w)
	}
	s.x += w
	if s.x >= s.cols {
		s.x = s.cols - 1
		s.pendingWrap = s.autowrap
	}
}

// attachZeroWidth adds a zero-width code point to the character before
// the cursor.
func (s *screen) attachZeroWidth(ch rune) {
	x, y := s.x-1, s.y
	if s.pendingWrap {
		x = s.x
	}
	r := s.buf[y]
	if x < 0 {
		if y == 0 || !s.buf[y-1].wrapped {
			return
		}
		r, x = s.buf[y-1], s.cols-1
	}
	if r.cells == nil {
		return // a blank column: nothing to attach to
	}
	if x > 0 && r.cells[x] == wideTail {
		x--
	}
	if r.cells[x] < 0 || r.cells[x] == blank {
		return
	}
	if r.extra == nil {
		r.extra = map[int]string{}
	}
	r.extra[x] += string(ch)
}

// control carries out a C0 control character.
func (s *screen) control(b byte) {
	switch b {
	case 0x08: // BS
		s.pendingWrap = false
		if s.x > 0 {
			s.x--
		}
	case 0x09: // HT
		s.tab(1)
	case 0x0a, 0x0b, 0x0c: // LF, VT, FF
		s.pendingWrap = false
		s.leaving(s.y + 1)
		s.index()
	case 0x0d: // CR
		s.pendingWrap = false
		s.x = 0
	case 0x18, 0x1a: // CAN, SUB
		s.state = stGround
	case 0x1b:
		s.state = stEsc
	}
}

func (s *screen) tab(n int) {
	s.pendingWrap = false
	for ; n > 0 && s.x < s.cols-1; n-- {
		s.x++
		for s.x < s.cols-1 && !s.tabs[s.x] {
			s.x++
		}
	}
}

func (s *screen) backTab(n int) {
	s.pendingWrap = false
	for ; n > 0 && s.x > 0; n-- {
		s.x--
		for s.x > 0 && !s.tabs[s.x] {
			s.x--
		}
	}
}

// index moves the cursor down one line, scrolling at the bottom margin.
func (s *screen) index() {
	switch {
	case s.y == s.bottom:
		s.scrollUp(s.top, s.bottom, 1)
	case s.y < s.rows-1:
		s.y++
	}
}

// reverseIndex moves the cursor up one line, scrolling at the top margin.
func (s *screen) reverseIndex() {
	switch {
	case s.y == s.top:
		s.scrollDown(s.top, s.bottom, 1)
	case s.y > 0:
		s.y--
	}
}

// scrollUp moves rows top+n..bottom up by n, blanking the rows freed at
// the bottom.
func (s *screen) scrollUp(top, bottom, n int) {
	n = min(n, bottom-top+1)
	if n <= 0 {
		return
	}
	if !s.altActive && top == 0 && bottom == s.rows-1 {
		s.scrolled += int64(n)
	}
	b := s.buf
	var freed [8]*row
	f := freed[:0]
	f = append(f, b[top:top+n]...)
	copy(b[top:], b[top+n:bottom+1])
	for i, r := range f {
		r.clear()
		b[bottom-n+1+i] = r
	}
}

// scrollDown moves rows top..bottom-n down by n, blanking the rows freed
// at the top.
func (s *screen) scrollDown(top, bottom, n int) {
	n = min(n, bottom-top+1)
	if n <= 0 {
		return
	}
	if !s.altActive && top == 0 && bottom == s.rows-1 {
		s.scrolled -= int64(n)
	}
	b := s.buf
	var freed [8]*row
	f := freed[:0]
	f = append(f, b[bottom-n+1:bottom+1]...)
	copy(b[top+n:], b[top:bottom-n+1])
	for i, r := range f {
		r.clear()
		b[top+i] = r
	}
}

func (s *screen) escByte(b byte) {
	if b < 0x20 {
		s.control(b)
		return
	}
	s.state = stGround
	switch b {
	case '[':
		s.state = stCSI
		s.nparams, s.hasParam, s.private, s.inter = 0, false, 0, 0
		s.params[0] = 0
	case ']':
		s.state, s.osc = stString, true
	case 'P', 'X', '^', '_':
		s.state, s.osc = stString, false
	case '7':
		s.saveCursor()
	case '8':
		s.restoreCursor()
	case 'D':
		s.pendingWrap = false
		s.leaving(s.y + 1)
		s.index()
	case 'E':
		s.leaving(s.y + 1)
		s.pendingWrap = false
		s.x = 0
		s.index()
	case 'M':
		s.pendingWrap = false
		s.reverseIndex()
	case 'c':
		s.reset()
	case 'H':
		s.tabs[s.x] = true
	default:
		if b < 0x30 { // intermediate: character set designation and the like
			s.state, s.inter = stEscInter, b
		}
	}
}

// alignmentTest fills the screen with E (DECALN).
func (s *screen) alignmentTest() {
	for _, r := range s.buf {
		r.clear()
		cells := r.cellsFor(s.cols)
		for i := range cells {
			cells[i] = 'E'
		}
	}
	s.x, s.y, s.pendingWrap = 0, 0, false
}

// csiBytes consumes bytes of a control sequence from p[i:] and returns
// where it stopped.
func (s *screen) csiBytes(p []byte, i int) int {
	for ; i < len(p); i++ {
		b := p[i]
		switch {
		case b >= '0' && b <= '9':
			if s.nparams < maxParams {
				v := s.params[s.nparams]*10 + int(b-'0')
				s.params[s.nparams] = min(v, 1<<16)
				s.hasParam = true
			}
		case b == ';' || b == ':':
			if s.nparams < maxParams {
				s.nparams++
				if s.nparams < maxParams {
					s.params[s.nparams] = 0
				}
			}
		case b >= '<' && b <= '?':
			if s.private == 0 && !s.hasParam && s.nparams == 0 {
				s.private = b
			}
		case b >= 0x20 && b < 0x30:
			s.inter = b
		case b >= 0x40 && b < 0x7f:
			if s.hasParam || s.nparams > 0 {
				s.nparams = min(s.nparams+1, maxParams)
			}
			s.state = stGround
			s.pos = i
			s.csiDispatch(b)
			return i + 1
		case b < 0x20:
			s.pos = i
			s.control(b)
			if s.state != stCSI {
				return i + 1
			}
		}
	}
	return i
}

// param returns parameter i, or def when it is absent or zero.
func (s *screen) param(i, def int) int {
	if i >= s.nparams || s.params[i] == 0 {
		return def
	}
	return s.params[i]
}

func (s *screen) csiDispatch(final byte) {
	if s.private != 0 {
		if s.private == '?' && (final == 'h' || final == 'l') {
			for i := 0; i < max(s.nparams, 1); i++ {
				s.decMode(s.params[i], final == 'h')
			}
		}
		return
	}
	if s.inter != 0 {
		if s.inter == '!' && final == 'p' { // DECSTR
			s.autowrap, s.insert, s.origin = true, false, false
			s.top, s.bottom = 0, s.rows-1
			s.saved[s.bufIndex()] = savedCursor{}
		}
		return
	}
	n := s.param(0, 1)
	switch final {
	case '@': // ICH
		s.pendingWrap = false
		s.insertCells(n)
	case 'A': // CUU
		s.cursorUp(n)
	case 'B', 'e': // CUD, VPR
		s.cursorDown(n)
	case 'C', 'a': // CUF, HPR
		s.pendingWrap = false
		s.x = min(s.x+n, s.cols-1)
	case 'D': // CUB
		s.pendingWrap = false
		s.x = max(s.x-n, 0)
	case 'E': // CNL
		s.cursorDown(n)
		s.x = 0
	case 'F': // CPL
		s.cursorUp(n)
		s.x = 0
	case 'G', '`': // CHA, HPA
		s.pendingWrap = false
		s.x = min(n, s.cols) - 1
	case 'H', 'f': // CUP, HVP
		s.moveTo(s.param(1, 1)-1, n-1)
	case 'd': // VPA
		s.moveTo(s.x, n-1)
	case 'I': // CHT
		s.tab(n)
	case 'Z': // CBT
		s.backTab(n)
	case 'J':
		s.eraseDisplay(s.param(0, 0))
	case 'K':
		s.eraseLine(s.param(0, 0))
	case 'L': // IL
		if s.y >= s.top && s.y <= s.bottom {
			s.scrollDown(s.y, s.bottom, n)
			s.x, s.pendingWrap = 0, false
		}
	case 'M': // DL
		if s.y >= s.top && s.y <= s.bottom {
			s.scrollUp(s.y, s.bottom, n)
			s.x, s.pendingWrap = 0, false
		}
	case 'P': // DCH
		s.deleteCells(n)
	case 'X': // ECH
		s.pendingWrap = false
		r := s.buf[s.y]
		e := min(s.x+n, s.cols)
		s.fixWideAt(r, s.x, e-s.x)
		r.erase(s.x, e)
	case 'S': // SU
		s.scrollUp(s.top, s.bottom, n)
	case 'T': // SD (with more parameters it is a mouse tracking request)
		if s.nparams <= 1 {
			s.scrollDown(s.top, s.bottom, n)
		}
	case 'b': // REP
		if s.lastRune != 0 {
			for range min(n, s.cols*s.rows) {
				s.printRune(s.lastRune)
			}
		}
	case 'g': // TBC
		switch s.param(0, 0) {
		case 0:
			s.tabs[s.x] = false
		case 3:
			clear(s.tabs)
		}
	case 'h', 'l': // SM, RM
		for i := 0; i < s.nparams; i++ {
			if s.params[i] == 4 {
				s.insert = final == 'h'
			}
		}
	case 'r': // DECSTBM
		t, b := s.param(0, 1)-1, s.param(1, s.rows)-1
		b = min(b, s.rows-1)
		if t < b {
			s.top, s.bottom = t, b
			s.moveTo(0, 0)
		}
	case 's': // SCOSC
		s.saveCursor()
	case 'u': // SCORC
		s.restoreCursor()
	}
}

// decMode sets or resets a DEC private mode.
func (s *screen) decMode(mode int, set bool) {
	switch mode {
	case 6:
		s.origin = set
		s.moveTo(0, 0)
	case 7:
		s.autowrap = set
		if !set {
			s.pendingWrap = false
		}
	case 47:
		s.switchBuffer(set, false)
	case 1047:
		if !set && s.altActive {
			for _, r := range s.alt {
				r.clear()
			}
		}
		s.switchBuffer(set, false)
	case 1048:
		if set {
			s.saveCursor()
		} else {
			s.restoreCursor()
		}
	case 1049:
		if set {
			if !s.altActive {
				s.saveCursor()
				s.switchBuffer(true, true)
			}
		} else if s.altActive {
			s.switchBuffer(false, false)
			s.restoreCursor()
			s.alt = nil // cleared on the next entry anyway: not kept meanwhile
		}
	}
}

func (s *screen) switchBuffer(alt, clearAlt bool) {
	if alt == s.altActive {
		return
	}
	s.altActive = alt
	if alt {
		if s.alt == nil {
			// Made on first use: a shell session that never runs a
			// full-screen program does not hold a second screen.
			s.alt = makeRows(s.cols, s.rows)
		}
		s.buf = s.alt
		if clearAlt {
			for _, r := range s.alt {
				r.clear()
			}
		}
	} else {
		s.buf = s.main
	}
	s.pendingWrap = false
}

func (s *screen) bufIndex() int {
	if s.altActive {
		return 1
	}
	return 0
}

func (s *screen) saveCursor() {
	s.saved[s.bufIndex()] = savedCursor{x: s.x, y: s.y, pendingWrap: s.pendingWrap, origin: s.origin, valid: true}
}

func (s *screen) restoreCursor() {
	c := s.saved[s.bufIndex()]
	if !c.valid {
		s.x, s.y, s.pendingWrap, s.origin = 0, 0, false, false
		return
	}
	s.x, s.y = min(c.x, s.cols-1), min(c.y, s.rows-1)
	s.pendingWrap, s.origin = c.pendingWrap, c.origin
}

// moveTo puts the cursor at column x and line y (relative to the scroll
// region in origin mode).
func (s *screen) moveTo(x, y int) {
	s.pendingWrap = false
	lo, hi := 0, s.rows-1
	if s.origin {
		y += s.top
		lo, hi = s.top, s.bottom
	}
	y = min(max(y, lo), hi)
	s.redraws++
	s.leaving(y)
	s.x = min(max(x, 0), s.cols-1)
	s.y = y
}

func (s *screen) cursorUp(n int) {
	s.pendingWrap = false
	lo := 0
	if s.y >= s.top {
		lo = s.top
	}
	s.y = max(s.y-n, lo)
}

func (s *screen) cursorDown(n int) {
	s.pendingWrap = false
	hi := s.rows - 1
	if s.y <= s.bottom {
		hi = s.bottom
	}
	y := min(s.y+n, hi)
	s.leaving(y)
	s.y = y
}

// leaving calls onLeave if the cursor is about to go from its row to row
// y, below the last row of its logical line. A line feed on the last row
// counts even when it scrolls instead.
func (s *screen) leaving(y int) {
	if s.onLeave != nil && y > s.lineEnd(s.y) {
		s.onLeave()
	}
}

func (s *screen) eraseLine(mode int) {
	r := s.buf[s.y]
	switch mode {
	case 0:
		s.fixWideAt(r, s.x, 0)
		r.erase(s.x, s.cols)
		r.wrapped = false
	case 1:
		s.fixWideAt(r, s.x, 1)
		r.erase(0, min(s.x+1, s.cols))
	case 2:
		r.clear()
	}
	s.pendingWrap = false
}

func (s *screen) eraseDisplay(mode int) {
	switch mode {
	case 0:
		s.eraseLine(0)
		for _, r := range s.buf[s.y+1:] {
			r.clear()
		}
	case 1:
		s.eraseLine(1)
		for _, r := range s.buf[:s.y] {
			r.clear()
		}
	case 2, 3:
		s.redraws++
		for _, r := range s.buf {
			r.clear()
		}
	}
	s.pendingWrap = false
}

// insertCells inserts n blank columns at the cursor (ICH, and printing in
// insert mode).
func (s *screen) insertCells(n int) {
	r := s.buf[s.y]
	n = min(n, s.cols-s.x)
	r.cellsFor(s.cols)
	s.fixWideAt(r, s.x, 0)
	copy(r.cells[s.x+n:], r.cells[s.x:s.cols-n])
	clear(r.cells[s.x : s.x+n])
	if r.cells[s.cols-1] > 0 && runeWidth(r.cells[s.cols-1]) == 2 {
		r.cells[s.cols-1] = blank
	}
	if r.extra != nil {
		moved := map[int]string{}
		for c, v := range r.extra {
			switch {
			case c < s.x:
				moved[c] = v
			case c+n < s.cols:
				moved[c+n] = v
			}
		}
		r.extra = moved
	}
}

// deleteCells removes n columns at the cursor (DCH), pulling the rest of
// the row left.
func (s *screen) deleteCells(n int) {
	s.pendingWrap = false
	r := s.buf[s.y]
	n = min(n, s.cols-s.x)
	r.cellsFor(s.cols)
	s.fixWideAt(r, s.x, n)
	copy(r.cells[s.x:], r.cells[s.x+n:])
	clear(r.cells[s.cols-n:])
	if r.cells[s.x] == wideTail {
		r.cells[s.x] = blank
	}
	if r.extra != nil {
		moved := map[int]string{}
		for c, v := range r.extra {
			switch {
			case c < s.x:
				moved[c] = v
			case c >= s.x+n:
				moved[c-n] = v
			}
		}
		r.extra = moved
	}
}

// lineStart returns the first row of the logical line that row y belongs
// to: rows joined by auto-wrap make one logical line.
func (s *screen) lineStart(y int) int {
	for y > 0 && s.buf[y-1].wrapped {
		y--
	}
	return y
}

// lineEnd returns the last row of the logical line that row y belongs to.
func (s *screen) lineEnd(y int) int {
	for y < s.rows-1 && s.buf[y].wrapped {
		y++
	}
	return y
}

// text returns the characters of rows from..to, stopping before column
// endX of row to when endX >= 0. Blank cells read as spaces.
func (s *screen) text(from, to, endX int) string {
	var b strings.Builder
	for y := from; y <= to; y++ {
		r := s.buf[y]
		n := s.cols
		if r.cells != nil {
			n = len(r.cells)
		}
		if y == to && endX >= 0 {
			n = min(endX, n)
		}
		if r.cells == nil {
			for range n {
				b.WriteByte(' ')
			}
			continue
		}
		for x, c := range r.cells[:n] {
			switch c {
			case blank:
				b.WriteByte(' ')
			case wideTail, wrapPad, hole:
			default:
				b.WriteRune(c)
				if r.extra != nil {
					b.WriteString(r.extra[x])
				}
			}
		}
	}
	return b.String()
}

// cursorLine returns the logical line at the cursor: the absolute number
// of its first row (see scrolled), its text with trailing blanks removed,
// and the text left of the cursor.
func (s *screen) cursorLine() (start int64, line, left string) {
	first, last := s.lineStart(s.y), s.lineEnd(s.y)
	line = strings.TrimRight(s.text(first, last, -1), " ")
	left = s.text(first, s.y, s.cursorX())
	return int64(first) + s.scrolled, line, left
}

// cursorLineStart is the first value cursorLine returns, for less.
func (s *screen) cursorLineStart() int64 {
	return int64(s.lineStart(s.y)) + s.scrolled
}

// cursorX is the cursor's column, or the width when the last column was
// written and the cursor waits to wrap.
func (s *screen) cursorX() int {
	if s.pendingWrap {
		return s.cols
	}
	return s.x
}
