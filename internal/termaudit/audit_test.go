package termaudit

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake drives an Auditor with hand-built streams, as a shell on a
// terminal of the given size would produce them.
type fake struct {
	t *testing.T
	a *Auditor
}

func newFake(t *testing.T, cols, rows int) *fake {
	t.Helper()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &fake{t: t, a: New(cols, rows, Options{Now: func() time.Time { return clock }})}
}

func (f *fake) in(s string)  { f.a.Input([]byte(s)) }
func (f *fake) out(s string) { f.a.Output([]byte(s)) }

// typ types s one key at a time, each echoed as it is.
func (f *fake) typ(s string) {
	for _, r := range s {
		f.in(string(r))
		f.out(string(r))
	}
}

// inputs returns the Input of every command flushed so far.
func (f *fake) inputs() []string {
	var in []string
	for _, c := range f.a.Flush() {
		in = append(in, c.Input)
	}
	return in
}

func (f *fake) want(want ...string) {
	f.t.Helper()
	if got := f.inputs(); !slices.Equal(got, want) {
		f.t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
}

func TestPlainLine(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("ls -l")
	f.in("\r")
	f.out("\r\nfile-a\r\nfile-b\r\n$ ")
	f.in("e")
	cs := f.a.Commands()
	if len(cs) != 1 {
		t.Fatalf("got %d commands, want 1", len(cs))
	}
	c := cs[0]
	if c.Input != "ls -l" || c.Output != "file-a\nfile-b\n" || c.Cols != 80 || c.Rows != 24 || c.At.IsZero() {
		t.Errorf("got %+v", c)
	}
}

func TestBackspaceAndKill(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("lx")
	f.in("\x7f")
	f.out("\b \b") // the way a cooked tty echoes an erase
	f.typ("s")
	f.in("\r")
	f.out("\r\n$ ")
	// Ctrl-U: readline moves back and clears to the end of the line.
	f.typ("rm -rf /")
	f.in("\x15")
	f.out("\r$ \x1b[K")
	f.typ("pwd")
	f.in("\r")
	f.out("\r\n/root\r\n$ ")
	// Ctrl-W erases a word.
	f.typ("echo a bad")
	f.in("\x17")
	f.out("\b\b\b\x1b[K")
	f.typ("good")
	f.in("\r")
	f.out("\r\n")
	f.want("ls", "pwd", "echo a good")
}

func TestCursorMovesAndInsert(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("echo wrld")
	f.in("\x1b[D\x1b[D\x1b[D")
	f.out("\b\b\b")
	f.in("o")
	f.out("\x1b[1@o") // ICH then the character
	f.in("\x05")      // Ctrl-E
	f.out("\x1b[3C")
	f.in("\r")
	f.out("\r\n$ ")
	// Insert mode (IRM) and Home, as other line editors do it.
	f.typ("cho hi")
	f.in("\x1b[H")
	f.out("\r\x1b[2C")
	f.in("e")
	f.out("\x1b[4he\x1b[4l")
	f.in("\r")
	f.out("\x1b[5C\r\n")
	f.want("echo world", "echo hi")
}

func TestWrappedLine(t *testing.T) {
	f := newFake(t, 20, 5)
	f.out("$ ")
	long := "echo " + strings.Repeat("abcdefghij", 5) // 55 columns with the prompt: 3 rows
	f.typ(long)
	f.in("\r")
	f.out("\r\n" + strings.Repeat("abcdefghij", 5) + "\r\n$ ")
	f.typ("true")
	f.in("\r")
	f.out("\r\n")
	f.want(long, "true")
}

func TestWrappedLineScrollsAndIsEditedBack(t *testing.T) {
	f := newFake(t, 10, 3)
	f.out("x\r\ny\r\n$ ")
	f.typ("echo 0123456789abcdef") // wraps twice, scrolling the screen
	// Go back to the first row and change a character there, as readline
	// does: cursor up, then forward.
	f.in("\x01")
	f.out("\x1b[2A\r\x1b[2C")
	f.in("\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C")
	f.out("\x1b[5C")
	f.in("\x04") // delete the 0
	f.out("\x1b[P123\r\n456789abcd\r\nef \x1b[3D\x1b[2A\x1b[7C")
	f.in("\r")
	f.out("\x1b[2B\r\x1b[2C\r\n")
	f.want("echo 123456789abcdef")
}

func TestWideCharacters(t *testing.T) {
	f := newFake(t, 12, 5)
	f.out("$ ")
	f.typ("echo 你好世界") // 2+5+8 = 15 columns: 好's second half would not fit
	f.in("\r")
	f.out("\r\n你好世界\r\n$ ")
	f.typ("echo ❤️ 👨‍👩‍👧 é")
	f.in("\r")
	f.out("\r\n")
	f.want("echo 你好世界", "echo ❤️ 👨‍👩‍👧 é")
}

func TestWideCharacterAtLastColumn(t *testing.T) {
	f := newFake(t, 8, 5)
	f.out("$ ")
	f.typ("echo 你") // "$ echo " is 7 columns: 你 cannot take the 8th alone
	f.in("\r")
	f.out("\r\n")
	f.want("echo 你")
}

func TestAlternateScreen(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("vim notes.txt")
	f.in("\r")
	f.out("\r\n\x1b[?1049h\x1b[22;0;0t\x1b[H\x1b[2J~\r\n~\r\n\x1b[24;1H\"notes.txt\" [New]")
	f.in("ihello\x1b:wq\r")
	f.out("\x1b[24;1H:wq\r\n")
	f.out("\x1b[?1049l\x1b[23;0;0t$ ")
	f.typ("less /etc/passwd")
	f.in("\r")
	f.out("\r\n\x1b[?1047h\x1b[?1h\x1b=root:x:0:0\r\n:")
	f.in("q")
	f.out("\r\x1b[K\x1b[?1047l\x1b[?1l\x1b>$ ")
	f.typ("echo done")
	f.in("\r")
	f.out("\r\ndone\r\n$ ")
	f.want("vim notes.txt", "less /etc/passwd", "echo done")
}

func TestPasswordNotRecorded(t *testing.T) {
	f := newFake(t, 80, 24)
	var got []Command
	f.a = New(80, 24, Options{OnCommand: func(c Command) { got = append(got, c) }})
	f.out("$ ")
	f.typ("sudo true")
	f.in("\r")
	f.out("\r\n[sudo] password for ops: ")
	f.in("hunter2")
	if _, ok := f.a.Pending(); ok {
		t.Error("Pending is ok although the typed keys were not echoed")
	}
	f.in("\r")
	f.out("\r\n$ ")
	// read -s answers Enter with no line feed at all.
	f.typ("read -s -p 'Password: ' pw")
	f.in("\r")
	f.out("\r\nPassword: ")
	f.in("s3cret\r")
	f.out("$ ")
	f.typ("echo ok")
	f.in("\r")
	f.out("\r\nok\r\n$ ")
	f.a.Flush()
	var in []string
	for _, c := range got {
		in = append(in, c.Input)
		for _, s := range []string{"hunter2", "s3cret"} {
			if strings.Contains(c.Input, s) || strings.Contains(c.Output, s) {
				t.Errorf("%q leaked into %+v", s, c)
			}
		}
	}
	if want := []string{"sudo true", "read -s -p 'Password: ' pw", "echo ok"}; !slices.Equal(in, want) {
		t.Errorf("commands:\n got %q\nwant %q", in, want)
	}
}

func TestTabCompletionAndHistory(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("ech")
	f.in("\t")
	f.out("o ")
	f.typ("hel")
	f.in("\t")
	f.out("lo.txt ")
	f.in("\r")
	f.out("\r\nhello.txt\r\n$ ")
	// A completion listing redraws the prompt and the line below it.
	f.typ("ls hel")
	f.in("\t\t")
	f.out("\r\nhello.txt  help.md\r\n$ ls hel")
	f.typ("p.md")
	f.in("\r")
	f.out("\r\nhelp.md\r\n$ ")
	// Up arrow brings the last line back.
	f.in("\x1b[A")
	f.out("ls help.md")
	f.in("\r")
	f.out("\r\nhelp.md\r\n$ ")
	// Ctrl-R: bash shows the search in place of the prompt.
	f.in("\x12")
	f.out("\r(reverse-i-search)`': \x1b[K")
	f.in("ech")
	f.out("\r(reverse-i-search)`ech': echo hello.txt\x1b[22D")
	if line, ok := f.a.Pending(); !ok || line != "echo hello.txt" {
		t.Errorf("Pending during reverse search = %q, %v", line, ok)
	}
	f.in("\r")
	f.out("\r$ echo hello.txt\x1b[K\r\nhello.txt\r\n$ ")
	f.want("echo hello.txt", "ls help.md", "ls help.md", "echo hello.txt")
}

func TestContinuationLines(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ(`echo "a`)
	f.in("\r")
	f.out("\r\n> ")
	f.typ(`b"`)
	if line, ok := f.a.Pending(); !ok || line != "echo \"a\nb\"" {
		t.Errorf("Pending = %q, %v", line, ok)
	}
	f.in("\r")
	f.out("\r\na\r\nb\r\n$ ")
	f.typ("cat <<EOF")
	f.in("\r")
	f.out("\r\n> ")
	f.typ("x")
	f.in("\r")
	f.out("\r\n> ")
	f.typ("EOF")
	f.in("\r")
	f.out("\r\nx\r\n$ ")
	// Ctrl-C at a continuation prompt: the shell drops the lines.
	f.typ("echo 'oops")
	f.in("\r")
	f.out("\r\n> ")
	f.in("\x03")
	f.out("^C\r\n$ ")
	f.typ("id")
	f.in("\r")
	f.out("\r\nuid=0(root)\r\n$ ")
	f.want("echo \"a\nb\"", "cat <<EOF\nx\nEOF", "echo 'oops", "id")
}

func TestTypedAhead(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.in("ls\rpwd\r") // pasted: nothing echoed yet
	if _, ok := f.a.Pending(); ok {
		t.Error("Pending is ok before the echo")
	}
	f.out("ls\r\na.txt\r\nb.txt\r\n$ pwd\r\n/root\r\n$ ")
	f.want("ls", "pwd")
}

func TestEmptyLinesAndPrompts(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("\x1b[01;32mops@web\x1b[00m:\x1b[01;34m~\x1b[00m$ ")
	f.in("\r")
	f.out("\r\n\x1b[01;32mops@web\x1b[00m:\x1b[01;34m~\x1b[00m$ ")
	f.typ("cd /tmp")
	f.in("\r")
	f.out("\r\n\x1b[01;32mops@web\x1b[00m:\x1b[01;34m/tmp\x1b[00m$ ")
	f.typ("  ls")
	f.in("\r")
	f.out("\r\n")
	f.want("cd /tmp", "  ls")
}

func TestResize(t *testing.T) {
	f := newFake(t, 20, 5)
	f.out("$ ")
	f.typ("echo abc")
	f.a.Resize(40, 3)
	// bash redraws the line after a window change.
	f.out("\r\x1b[K$ echo abc")
	f.typ("def")
	f.in("\r")
	f.out("\r\n")
	f.want("echo abcdef")
}

func TestCtrlL(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("a\r\nb\r\n$ ")
	f.typ("echo one")
	f.in("\x0c")
	f.out("\x1b[H\x1b[2J$ echo one")
	f.typ(" two")
	f.in("\r")
	f.out("\r\n")
	f.want("echo one two")
}

func TestExec(t *testing.T) {
	f := newFake(t, 80, 24)
	f.a.Exec("uptime")
	f.out(" 10:00:00 up 1 day\n")
	cs := f.a.Flush()
	if len(cs) != 1 || cs[0].Input != "uptime" || cs[0].Output != " 10:00:00 up 1 day\n" {
		t.Errorf("got %+v", cs)
	}
}

func TestOutputExcerpt(t *testing.T) {
	a := New(80, 24, Options{OutputLimit: 10})
	a.Output([]byte("$ "))
	a.Input([]byte("x"))
	a.Output([]byte("x"))
	a.Input([]byte("\r"))
	a.Output([]byte("\r\n\x1b[31m\x1b]0;title\x07red\x1b[0m 世界世界"))
	cs := a.Commands()
	if len(cs) != 0 {
		t.Fatalf("completed before the excerpt was full: %+v", cs)
	}
	a.Output([]byte(strings.Repeat("y", 300)))
	cs = a.Commands()
	if len(cs) != 1 || cs[0].Output != "red 世界" {
		t.Fatalf("got %+v", cs)
	}
}

func TestOutputLimitNegative(t *testing.T) {
	var got []Command
	a := New(80, 24, Options{OutputLimit: -1, OnCommand: func(c Command) { got = append(got, c) }})
	a.Output([]byte("$ "))
	a.Input([]byte("w"))
	a.Output([]byte("w"))
	a.Input([]byte("\r"))
	a.Output([]byte("\r\n"))
	if len(got) != 1 || got[0].Input != "w" || got[0].Output != "" {
		t.Errorf("got %+v", got)
	}
}

// Keys and output from one goroutine, as a shell session has them, while
// another resizes the terminal and asks for the pending line (run with
// -race): no race, and the commands are still seen.
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	var n int
	a := New(80, 24, Options{OnCommand: func(c Command) {
		mu.Lock()
		if c.Input == "echo 1" {
			n++
		}
		mu.Unlock()
	}})
	a.Output([]byte("$ "))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 200 {
			a.Input([]byte("echo 1"))
			a.Output([]byte("echo 1"))
			a.Input([]byte("\r"))
			a.Output([]byte("\r\n1\r\n$ "))
			a.Pending()
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 200 {
			a.Resize(80+i%3, 24)
			a.Pending()
			a.FullScreen()
		}
	}()
	wg.Wait()
	a.Flush()
	mu.Lock()
	defer mu.Unlock()
	if n < 100 {
		t.Errorf("%d of 200 commands seen", n)
	}
}

func TestIncomplete(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{`echo hi`, false},
		{`echo "hi`, true},
		{`echo 'it''s'`, false},
		{`echo it\'s`, false},
		{`echo $'a\'b'`, false},
		{`echo a \`, true},
		{`ls |`, true},
		{`ls | wc`, false},
		{`true &&`, true},
		{`sleep 1 &`, false},
		{`for i in 1 2; do`, true},
		{"for i in 1 2; do\necho $i\ndone", false},
		{`if true; then echo if; fi`, false},
		{`echo if then`, false},
		{`case $x in a) echo;; esac`, false},
		{`case $x in`, true},
		{`f() {`, true},
		{`(cd /tmp`, true},
		{`echo $(date)`, false},
		{"cat <<EOF", true},
		{"cat <<EOF\nx", true},
		{"cat <<'EOF'\nx\nEOF", false},
		{"cat <<-EOF\n\tx\n\tEOF", false},
		{`cat <<< word`, false},
		{`echo # "comment`, false},
		{`echo a#"b"`, false},
	} {
		if got := incomplete(tc.text); got != tc.want {
			t.Errorf("incomplete(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestRightPrompt(t *testing.T) {
	f := newFake(t, 40, 5)
	// zsh: the left prompt, the right one at the end of the row, and the
	// cursor back after the left one.
	f.out("$ \x1b[33C<~>\r\x1b[2C")
	f.typ("ls -l")
	if line, ok := f.a.Pending(); !ok || line != "ls -l" {
		t.Errorf("Pending = %q, %v", line, ok)
	}
	f.in("\r")
	f.out("\r\n$ \x1b[31C</tmp>\r\x1b[2C")
	// A line long enough to reach it: zsh takes the right prompt away.
	f.typ("echo " + strings.Repeat("x", 30))
	f.out("\x1b[K")
	f.in("\r")
	f.out("\r\n")
	f.want("ls -l", "echo "+strings.Repeat("x", 30))
}

func TestHugeSizesAreClamped(t *testing.T) {
	a := New(1<<20, 1<<20, Options{})
	a.Resize(65535, 65535)
	a.Output([]byte("\x1b[65535;65535H\x1b[65535@x\x1b[65535b\x1b[65535L"))
	if a.scr.cols != MaxCols || a.scr.rows != MaxRows {
		t.Errorf("size %dx%d", a.scr.cols, a.scr.rows)
	}
}

func TestUnansweredEntersAreBounded(t *testing.T) {
	a := New(80, 24, Options{})
	a.Output([]byte("$ "))
	for range 3 * maxPending {
		a.Input([]byte("x\r"))
	}
	if len(a.pending) > maxPending {
		t.Errorf("%d Enters kept", len(a.pending))
	}
	a.Output([]byte("\x1b[?1049h"))
	if len(a.pending) != 0 || a.scr.onLeave != nil {
		t.Errorf("full-screen program left %d Enters pending", len(a.pending))
	}
}

// TestLateEchoAfterEnter: the echo of the end of a line comes after Enter
// was pressed, and the operator types on before the shell answers. The
// Enter still submitted that line (it is not a no-echo prompt).
func TestLateEchoAfterEnter(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("id")
	f.in("\r")
	f.out("\r\nuid=0(root)\r\n$ ")
	for _, k := range "ls -l" {
		f.in(string(k))
	}
	f.out("ls")
	f.in("\r")
	f.out(" -l")
	f.in("p")
	f.out("\r\nfile\r\n$ p")
	f.typ("wd")
	f.in("\r")
	f.out("\r\n/root\r\n$ ")
	f.want("id", "ls -l", "pwd")
}

func TestFlushTakesUnansweredLine(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("reboot")
	f.in("\r") // the connection drops before the shell answers
	f.want("reboot")

	f = newFake(t, 80, 24)
	f.out("$ sudo -k; sudo true\r\n[sudo] password for ops: ")
	f.in("secret\r")
	f.want()
}

// TestMultiLineBuffer: a bracketed paste of two lines into zsh, which
// shows its buffer on two rows and runs it with one Enter.
func TestMultiLineBuffer(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("id")
	f.in("\r")
	f.out("\r\nuid=0\r\n$ ")
	f.in("\x1b[200~echo a\recho b\x1b[201~")
	f.out("\x1b[7mecho a\x1b[27m\r\r\n\x1b[7mecho b\x1b[27m\x1b[K")
	f.in("\r")
	f.out("\x1b[A\b\b\b\b\x1b[27mecho a\x1b[1B\r\x1b[27mecho b\r\r\na\r\nb\r\n$ ")
	f.want("id", "echo a\necho b")
}

// TestEnterInTop: top draws on the main screen; Enter there refreshes it
// and is no command.
func TestEnterInTop(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("top")
	f.in("\r")
	f.out("\r\n\x1b[H\x1b[2Jtop - 12:00:00 up 1 day\r\nTasks: 100 total\r\n")
	f.in("\r")
	f.out("\x1b[H\x1b[2Jtop - 12:00:01 up 1 day\r\nTasks: 101 total\r\n")
	f.in("q")
	f.out("\x1b[24;1H\r\n$ ")
	f.typ("ls")
	f.in("\r")
	f.out("\r\n")
	f.want("top", "ls")
}

// A password typed at read -s is not echoed, and bash prints no line feed
// after it: the next output lands on the prompt's line, and is not a
// command.
func TestUnechoedAnswerOnThePromptLine(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.typ("read -rsp 'Secret: ' s; echo got-${#s}")
	f.in("\r")
	f.out("\r\nSecret: ")
	f.in("hunter2")
	f.in("\r")
	f.out("got-7\r\n$ ")
	f.typ("echo after")
	f.in("\r")
	f.out("\r\nafter\r\n$ ")
	f.want("read -rsp 'Secret: ' s; echo got-${#s}", "echo after")
}

// A line typed in one write with editing keys in it (a fast typist on a
// slow link, a paste, a macro) is a command even though no output came
// before its Enter: what the shell runs is not the raw text typed.
func TestEditedLineInOneWrite(t *testing.T) {
	f := newFake(t, 80, 24)
	f.out("$ ")
	f.in("X\x7frm -rf /data\r")
	f.out("X\b\x1b[Krm -rf /data\r\n$ ")
	f.in("-rf /tmp/x\x01rm \r")
	f.out("-rf /tmp/x\r$ rm -rf /tmp/x\r\n$ ")
	f.want("rm -rf /data", "rm -rf /tmp/x")
}
