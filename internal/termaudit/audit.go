package termaudit

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/internal/ansi"
)

// DefaultOutputLimit is the size of Command.Output when Options.OutputLimit
// is zero.
const DefaultOutputLimit = 1024

// Command is one command line the operator submitted.
type Command struct {
	// Input is the command line as the shell received it: what its line
	// editor showed when it took the line, less the prompt and trailing
	// blanks. Lines of a command that the shell read in several lines
	// (an open quote, a here-document...) are joined with "\n". For an
	// exec request it is the command as requested.
	Input string
	// Output is the start of what the command printed, up to the next
	// prompt and at most Options.OutputLimit bytes, as UTF-8 text without
	// escape sequences, with line ends as "\n".
	Output string
	// At is when the operator pressed Enter (or when the exec request
	// came).
	At time.Time
	// Cols and Rows are the terminal's size at that time.
	Cols, Rows int
}

// Options configures an Auditor.
type Options struct {
	// OutputLimit caps Command.Output in bytes. Zero means
	// DefaultOutputLimit; a negative value keeps no output, and then each
	// command is handed out as soon as it is submitted.
	OutputLimit int
	// OnCommand, when set, receives every command once it is complete
	// (its output excerpt collected), in order. It is called from the
	// goroutine whose Input, Output, Exec or Flush call completed the
	// command, never with the Auditor's lock held, and one call at a
	// time. When nil, commands wait for Commands or Flush.
	OnCommand func(Command)
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// promptMark is what the terminal showed when the operator started typing
// a line: where that logical line began and the text left of the cursor,
// which is the prompt.
type promptMark struct {
	start int64 // first row of the logical line (screen.scrolled based); -1 when unknown
	text  string
	// right is text that stood right of the cursor, apart, when the line
	// started: a right-hand prompt (zsh's RPROMPT), cut off the end of the
	// command line if it is still there.
	right string
}

// Bounds on what an Auditor keeps while it waits for the shell.
const (
	maxPending = 256      // Enters not answered yet
	maxPartial = 64 << 10 // bytes of an unfinished multi-line command
)

// enter is an Enter key the shell has not answered with a line feed yet.
type enter struct {
	prompt     promptMark
	left       string // the text left of the cursor when it was pressed
	line       int64  // the logical line the cursor was on then
	redraws    uint64 // screen.redraws then
	at         time.Time
	cols, rows int
	// typed is set when no output came from the line's first key to this
	// Enter and the keys were plain text (no editing keys), so they may
	// not have been echoed at all (a password at a read -s prompt): it is
	// the start of their text. When the line the shell answers the Enter
	// on does not hold it, the Enter submitted no command line: what the
	// screen shows after the prompt is output. (Keys that were echoed,
	// late as with a paste, are on the line.)
	typed string
}

// Auditor turns the two byte streams of an interactive terminal session
// into the command lines the shell ran. Its methods are safe for
// concurrent use: the input and output copy loops of a session may call
// Input and Output at the same time.
type Auditor struct {
	mu  sync.Mutex
	dmu sync.Mutex // one delivery to OnCommand at a time, in order
	opt Options
	now func() time.Time
	scr *screen

	inLine        bool       // a key of the current line has been typed
	prompt        promptMark // where the current line started
	primary       string     // the last prompt a command line was found after
	pending       []enter    // Enters waiting for the shell's line feed
	outSinceEnter bool       // output came after the last Enter
	unechoed      bool       // keys were typed after the last output
	lastCR        bool       // the last input byte was a CR
	inPaste       bool       // in a bracketed paste
	lineText      []byte     // the start of the text typed on the current line
	lineEdited    bool       // the current line's keys include control keys
	lineOutput    bool       // output came since the current line's first key

	partial       []string // lines of a command the shell still reads
	partialPrompt string   // the prompt its first line was typed at

	cur *Command // the command whose output is being collected
	ex  excerpt

	chunk []byte // the output the screen is processing
	fed   int    // how much of chunk the excerpt has been handed

	ready []Command
}

// New returns an Auditor for a terminal of cols columns and rows rows, in
// its initial state (empty screen, cursor at the top left, as a session
// starts).
func New(cols, rows int, opt Options) *Auditor {
	if opt.OutputLimit == 0 {
		opt.OutputLimit = DefaultOutputLimit
	}
	a := &Auditor{opt: opt, now: opt.Now, scr: newScreen(cols, rows)}
	if a.now == nil {
		a.now = time.Now
	}
	a.prompt.start = -1
	return a
}

// Input takes bytes the operator typed, before they go to the target.
// Keys typed while a full-screen program has the alternate screen are not
// looked at. Enter is CR, LF or CR LF.
func (a *Auditor) Input(p []byte) {
	a.mu.Lock()
	a.input(p)
	a.mu.Unlock()
	a.deliver()
}

// Output takes bytes the target's terminal sent, before they go to the
// operator.
func (a *Auditor) Output(p []byte) {
	a.Feed(p)
	a.Deliver()
}

// Feed is Output without handing the commands it completes to OnCommand:
// for a caller that holds a lock of its own while feeding, and calls
// Deliver once it has let go (OnCommand may be slow, a database write).
func (a *Auditor) Feed(p []byte) {
	a.mu.Lock()
	a.output(p)
	a.mu.Unlock()
}

// Deliver hands the commands completed so far to OnCommand, in order.
func (a *Auditor) Deliver() { a.deliver() }

// Resize tells the Auditor the terminal's new size (a window-change
// request).
func (a *Auditor) Resize(cols, rows int) {
	a.mu.Lock()
	a.scr.resize(cols, rows)
	a.mu.Unlock()
}

// Exec records command, the command of an exec request, as it is. The
// output that follows through Output becomes its excerpt.
func (a *Auditor) Exec(command string) {
	a.mu.Lock()
	a.start(command, enter{at: a.now(), cols: a.scr.cols, rows: a.scr.rows})
	a.mu.Unlock()
	a.deliver()
}

// FullScreen reports whether a full-screen program that switched to the
// alternate screen (vim, less, most curses programs) has the terminal now:
// then keys and Enter are that program's, not the shell's. Some programs
// draw on the main screen instead (top): see the package documentation.
func (a *Auditor) FullScreen() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.scr.altActive
}

// Pending returns the command line that an Enter pressed now would submit,
// for a command filter that decides before the Enter reaches the target.
// Hand Input every byte typed before the Enter first, then call Pending,
// then pass the Enter on (and to Input) or not.
//
// The line is read from the screen, as Commands are: with edits, completion
// and history recall applied, and lines of an unfinished multi-line command
// joined with "\n". ok is false when no line can be seen: a full-screen
// program has the terminal (see FullScreen), the shell has not yet answered
// an earlier Enter, or keys typed since the terminal last sent output have
// not been echoed (typed ahead, pasted faster than the round trip, or typed
// at a prompt that does not echo, such as a password prompt). A filter
// must not take ok == false for an empty line: it can wait for output and
// ask again, and decide by its own policy if no echo ever comes.
func (a *Auditor) Pending() (line string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.scr.altActive || a.unechoed || len(a.pending) > 0 {
		return "", false
	}
	start, text, left := a.scr.cursorLine()
	pm := a.prompt
	if !a.inLine {
		pm = promptMark{start: start, text: left, right: a.rightPrompt(left)}
	} else if pm.start != start {
		pm = a.reprompt(pm, start, text, left)
	}
	cmd, ok := a.commandLine(pm, start)
	if !ok {
		return "", false
	}
	if len(a.partial) > 0 {
		cmd = strings.Join(append(append([]string(nil), a.partial...), cmd), "\n")
	}
	return cmd, true
}

// Commands returns the commands completed so far and not yet returned.
// It returns nothing when Options.OnCommand is set: they went there.
func (a *Auditor) Commands() []Command {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opt.OnCommand != nil {
		return nil
	}
	c := a.ready
	a.ready = nil
	return c
}

// Flush completes what is still open, for the end of a session: the
// command whose output is being collected, a line submitted with Enter
// that the shell never answered (the session ended first), and the lines
// of a multi-line command the shell was still reading (recorded as they
// are). It returns the commands not yet returned by Commands, or nothing
// when Options.OnCommand is set, which gets them instead. Calling it
// during a session cuts the current command's output excerpt short.
func (a *Auditor) Flush() []Command {
	a.mu.Lock()
	if len(a.pending) > 0 && !a.scr.altActive {
		a.chunk, a.fed = nil, 0
		a.scr.pos = 0
		a.leave()
	}
	a.setPending(nil)
	a.finishCollecting("")
	if len(a.partial) > 0 {
		a.start(strings.Join(a.partial, "\n"), enter{at: a.now(), cols: a.scr.cols, rows: a.scr.rows})
		a.partial = nil
		a.finishCollecting("")
	}
	a.mu.Unlock()
	a.deliver()
	return a.Commands()
}

// deliver hands completed commands to OnCommand.
func (a *Auditor) deliver() {
	if a.opt.OnCommand == nil {
		return
	}
	a.dmu.Lock()
	defer a.dmu.Unlock()
	for {
		a.mu.Lock()
		batch := a.ready
		a.ready = nil
		a.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, c := range batch {
			a.opt.OnCommand(c)
		}
	}
}

func (a *Auditor) input(p []byte) {
	if len(p) == 0 {
		return
	}
	if a.scr.altActive {
		a.lastCR = p[len(p)-1] == '\r'
		return
	}
	for len(p) > 0 {
		k := a.indexEnter(p)
		if k != 0 {
			a.keys()
			a.lastCR = false
			keys := p
			if k > 0 {
				keys = p[:k]
			}
			a.noteText(keys)
		}
		if k < 0 {
			return
		}
		if !(p[k] == '\n' && a.lastCR) {
			a.enter()
		}
		a.lastCR = p[k] == '\r'
		p = p[k+1:]
	}
}

// Bracketed paste: the terminal marks pasted text so, when the program
// asked for it, and line ends in it are text, not Enter.
var (
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// indexEnter returns the index of the first Enter in p, or -1. It keeps
// track of bracketed pastes (markers split across writes are missed).
func (a *Auditor) indexEnter(p []byte) int {
	for i, b := range p {
		switch {
		case b == 0x1b && bytes.HasPrefix(p[i:], pasteStart):
			a.inPaste = true
		case b == 0x1b && bytes.HasPrefix(p[i:], pasteEnd):
			a.inPaste = false
		case (b == '\r' || b == '\n') && !a.inPaste:
			return i
		}
	}
	return -1
}

// keys handles keys other than Enter.
func (a *Auditor) keys() {
	a.unechoed = true
	if a.inLine {
		if a.prompt.start >= 0 && a.scr.cursorLineStart() != a.prompt.start {
			start, line, left := a.scr.cursorLine()
			a.prompt = a.reprompt(a.prompt, start, line, left)
		}
		return
	}
	a.startLine(a.scr.cursorLine())
}

// startLine takes the first key of a line: what the screen shows left of
// the cursor now is the prompt the shell is waiting at.
func (a *Auditor) startLine(start int64, line, left string) {
	a.inLine = true
	a.lineText, a.lineEdited, a.lineOutput = a.lineText[:0], false, false
	if len(a.pending) > 0 && a.outSinceEnter && strings.TrimSpace(a.primary) != "" &&
		left == a.primary && line == strings.TrimRight(a.primary, " ") {
		// The shell waits at a fresh prompt of its usual kind: it has
		// answered every Enter, in ways that showed no command line.
		a.setPending(nil)
	}
	if n := len(a.pending); n > 0 && a.outSinceEnter && a.pending[n-1].prompt.start == start && a.newPrompt(a.pending[n-1], left) {
		// The shell answered the last Enter without a line feed, with a
		// new prompt on the same line: that Enter submitted no command
		// line (input not echoed, such as read -s).
		for n > 0 && a.pending[n-1].prompt.start == start {
			n--
		}
		a.setPending(a.pending[:n])
	}
	if len(a.pending) > 0 {
		// Typed ahead: the shell has not shown this line's prompt yet.
		a.prompt = promptMark{start: -1, text: a.primary}
		return
	}
	a.finishCollecting(left)
	a.prompt = promptMark{start: start, text: left, right: a.rightPrompt(left)}
}

// maxLineText bounds the typed text kept to compare with an echo.
const maxLineText = 64

// noteText keeps the start of the printable text of keys typed on the
// current line, and whether they held editing keys, while no output has
// come since its first key (after that, nothing reads them).
func (a *Auditor) noteText(keys []byte) {
	if a.lineOutput {
		return
	}
	a.lineText = ansi.AppendText(a.lineText, keys, maxLineText)
	if !a.lineEdited && bytes.ContainsFunc(keys, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		a.lineEdited = true
	}
}

// rightPrompt returns the text right of the cursor on the logical line at
// the cursor, when blanks set it apart from left (the text left of it).
func (a *Auditor) rightPrompt(left string) string {
	_, line, _ := a.scr.cursorLine()
	rest, ok := strings.CutPrefix(line, left)
	if !ok || !strings.HasPrefix(rest, " ") {
		return ""
	}
	return strings.TrimLeft(rest, " ")
}

// newPrompt reports whether left, the text left of the cursor on the line
// where e was pressed, shows a new prompt drawn after it, rather than an
// echo that came late: it ends with the shell's usual prompt.
func (a *Auditor) newPrompt(e enter, left string) bool {
	if left == e.left {
		return false
	}
	if a.primary != "" {
		return strings.HasSuffix(left, a.primary)
	}
	return looksLikePrompt(left)
}

// reprompt finds the prompt again when the line being edited moved to
// another logical line (redrawn after a completion listing, Ctrl-L, a
// resize): the old prompt text stands if the new line starts with it.
func (a *Auditor) reprompt(old promptMark, start int64, line, left string) promptMark {
	blank := strings.TrimSpace(old.text) == ""
	switch {
	case !blank && strings.HasPrefix(line, old.text):
		// Redrawn: below a completion listing, after Ctrl-L or a resize.
		return promptMark{start: start, text: old.text, right: old.right}
	case strings.TrimSpace(a.primary) != "" && strings.HasPrefix(line, a.primary):
		// A new prompt: the old one was given up (Ctrl-C).
		return promptMark{start: start, text: a.primary}
	case !blank && a.promptStillAt(old):
		// The cursor is on a lower line of the same command buffer (a
		// multi-line buffer in zsh).
		return old
	}
	return promptMark{start: start, text: left, right: old.right}
}

// promptStillAt reports whether the screen still shows pm's prompt at the
// start of the logical line it was seen on.
func (a *Auditor) promptStillAt(pm promptMark) bool {
	y := pm.start - a.scr.scrolled
	if pm.start < 0 || y < 0 || y >= int64(a.scr.rows) || a.scr.lineStart(int(y)) != int(y) {
		return false
	}
	first := int(y)
	return strings.HasPrefix(a.scr.text(first, a.scr.lineEnd(first), -1), pm.text)
}

// bufferText returns the text of the logical lines from the one pm was
// seen on down to the one at the cursor, joined with "\n", when the
// cursor is below pm's line and pm's prompt is still in place: a command
// buffer of several lines. ok is false otherwise.
func (a *Auditor) bufferText(pm promptMark) (string, bool) {
	if a.scr.cursorLineStart() <= pm.start || !a.promptStillAt(pm) {
		return "", false
	}
	var lines []string
	for y, end := int(pm.start-a.scr.scrolled), a.scr.lineEnd(a.scr.y); y <= end; {
		last := a.scr.lineEnd(y)
		lines = append(lines, strings.TrimRight(a.scr.text(y, last, -1), " "))
		y = last + 1
	}
	return strings.TrimPrefix(strings.Join(lines, "\n"), pm.text), true
}

func (a *Auditor) enter() {
	start, line, left := a.scr.cursorLine()
	if !a.inLine {
		a.startLine(start, line, left)
	} else if a.prompt.start >= 0 && start != a.prompt.start {
		a.prompt = a.reprompt(a.prompt, start, line, left)
	}
	if len(a.pending) >= maxPending {
		a.pending = a.pending[1:] // never answered: no command line seen
	}
	e := enter{prompt: a.prompt, left: left, line: start, redraws: a.scr.redraws,
		at: a.now(), cols: a.scr.cols, rows: a.scr.rows}
	if !a.lineOutput && !a.lineEdited && len(a.lineText) > 0 {
		e.typed = string(a.lineText)
	}
	a.setPending(append(a.pending, e))
	a.inLine = false
	a.outSinceEnter = false
}

// setPending sets the Enters waiting for an answer, and has the screen
// report the cursor leaving its line while there are any.
func (a *Auditor) setPending(p []enter) {
	a.pending = p
	if len(p) > 0 {
		a.scr.onLeave = a.leave
	} else {
		a.scr.onLeave = nil
	}
}

func (a *Auditor) output(p []byte) {
	if len(p) == 0 {
		return
	}
	a.unechoed = false
	a.outSinceEnter = true
	a.lineOutput = true
	a.chunk, a.fed = p, 0
	wasAlt := a.scr.altActive
	a.scr.write(p)
	a.excerptUpTo(len(p))
	a.chunk = nil
	if a.scr.altActive != wasAlt {
		// A full-screen program starts or ends: its keys are not shell
		// lines, and the shell's next prompt comes on a fresh line.
		a.finishCollecting("")
		a.setPending(nil)
		a.inLine = false
		a.prompt.start = -1
	}
}

// excerptUpTo hands the excerpt being collected the output being processed
// up to index end.
func (a *Auditor) excerptUpTo(end int) {
	if a.cur != nil && end > a.fed && a.ex.write(a.chunk[a.fed:end]) {
		a.finishCollecting("")
	}
	a.fed = max(a.fed, end)
}

// leave is called by the screen, while Enters are pending, just before the
// cursor leaves its logical line downwards: that is how a shell answers
// Enter (a line feed, or a cursor movement when the row below is in use),
// and the logical line at the cursor now is the command line it read.
func (a *Auditor) leave() {
	if a.scr.altActive {
		return
	}
	e := a.pending[0]
	if a.scr.redraws != e.redraws {
		// The screen was redrawn since Enter: a full-screen program that
		// keeps the main screen (top) took that Enter, no line editor.
		a.setPending(a.pending[1:])
		return
	}
	cmd, ok := a.commandLine(e.prompt, e.line)
	if !ok {
		return
	}
	a.excerptUpTo(a.scr.pos)
	a.setPending(a.pending[1:])
	if e.typed != "" && !strings.Contains(cmd, e.typed) {
		// Typed without echo (a password): the line holds output.
		cmd = ""
	}
	a.submit(cmd, e)
	a.fed = a.scr.pos + 1 // the line feed itself is no output
}

// commandLine reads the command line typed at pm off the screen, the
// cursor being on logical line at (or below it) when Enter was pressed. ok
// is false when the screen does not show it there.
func (a *Auditor) commandLine(pm promptMark, at int64) (string, bool) {
	if pm.start >= 0 && at > pm.start {
		// A buffer of several lines: only its last line (or below) ends it.
		if a.scr.cursorLineStart() < at {
			return "", false
		}
		if cmd, ok := a.bufferText(pm); ok {
			return cutRight(cmd, pm.right), true
		}
	}
	start, line, _ := a.scr.cursorLine()
	cmd, ok := a.extract(line, start, pm)
	return cutRight(cmd, pm.right), ok
}

// extract takes the prompt off the logical line line that starts at row
// start. ok is false when the line is not the one typed at pm.
func (a *Auditor) extract(line string, start int64, pm promptMark) (string, bool) {
	strip := func(t string) (string, bool) {
		if strings.HasPrefix(line, t) {
			return line[len(t):], true
		}
		if line == strings.TrimRight(t, " ") {
			return "", true
		}
		return "", false
	}
	if pm.start >= 0 && start == pm.start {
		if s, ok := strip(pm.text); ok {
			return s, true
		}
		if s, ok := isearch(line); ok {
			return s, true
		}
		if a.primary != "" {
			if s, ok := strip(a.primary); ok {
				return s, true
			}
		}
		// The prompt changed as the line was edited: keep it all rather
		// than lose any of the command.
		return line, true
	}
	for _, t := range []string{pm.text, a.primary} {
		if strings.TrimSpace(t) != "" {
			if s, ok := strip(t); ok {
				return s, true
			}
		}
	}
	return "", false
}

// cutRight removes the right-hand prompt right from the end of cmd, where
// blanks set it apart.
func cutRight(cmd, right string) string {
	if right == "" {
		return cmd
	}
	if rest, ok := strings.CutSuffix(cmd, right); ok && strings.HasSuffix(rest, " ") {
		return strings.TrimRight(rest, " ")
	}
	return cmd
}

// isearch returns the line found by bash's incremental history search,
// which shows "(reverse-i-search)`text': line" in place of the prompt.
func isearch(line string) (string, bool) {
	for _, p := range []string{"(reverse-i-search)`", "(failed reverse-i-search)`", "(i-search)`", "(failed i-search)`"} {
		if rest, ok := strings.CutPrefix(line, p); ok {
			if i := strings.Index(rest, "': "); i >= 0 {
				return rest[i+3:], true
			}
			if strings.HasSuffix(rest, "':") {
				return "", true
			}
		}
	}
	return "", false
}

// submit takes a command line the shell read.
func (a *Auditor) submit(cmd string, e enter) {
	if len(a.partial) == 0 && e.prompt.start >= 0 && strings.TrimSpace(cmd) != "" && strings.TrimSpace(e.prompt.text) != "" {
		a.primary = e.prompt.text
	}
	if len(a.partial) > 0 {
		if e.prompt.text != a.partialPrompt {
			a.partial = append(a.partial, cmd)
			full := strings.Join(a.partial, "\n")
			if len(full) < maxPartial && incomplete(full) {
				return
			}
			a.partial = nil
			a.start(full, e)
			return
		}
		// The shell shows its first prompt again: it gave up the
		// unfinished lines (Ctrl-C), or they were complete after all.
		a.start(strings.Join(a.partial, "\n"), e)
		a.partial = nil
	}
	if strings.TrimSpace(cmd) == "" {
		return // an empty line, or input that was not echoed
	}
	if incomplete(cmd) {
		a.finishCollecting("")
		a.partial = []string{cmd}
		a.partialPrompt = e.prompt.text
		return
	}
	a.start(cmd, e)
}

// start begins a command: its output excerpt is collected from now on.
func (a *Auditor) start(cmd string, e enter) {
	a.finishCollecting("")
	c := &Command{Input: cmd, At: e.at, Cols: e.cols, Rows: e.rows}
	if a.opt.OutputLimit < 0 {
		a.ready = append(a.ready, *c)
		return
	}
	a.cur = c
	a.ex.reset(a.opt.OutputLimit)
}

// finishCollecting completes the command whose output is being collected.
// prompt is the text of the prompt that ended the output, if one did: it
// is cut off the excerpt when it looks like a prompt.
func (a *Auditor) finishCollecting(prompt string) {
	if a.cur == nil {
		return
	}
	if prompt != a.primary && !looksLikePrompt(prompt) {
		prompt = ""
	}
	// The text left of the cursor at a prompt starts the excerpt's last
	// line; whatever follows it there (a right-hand prompt) goes too.
	a.cur.Output = a.ex.text(prompt)
	a.ready = append(a.ready, *a.cur)
	a.cur = nil
}

// looksLikePrompt reports whether s ends as shell prompts usually do.
func looksLikePrompt(s string) bool {
	t := strings.TrimRight(s, " ")
	return t != "" && strings.ContainsAny(t[len(t)-1:], "$#%>")
}
