package termaudit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/creack/pty"

	"github.com/postern/postern/internal/sshtest"
)

// The corpus: real interactive sessions of the real ssh client, in a
// pseudo-terminal, against a real sshd and real shells. A tap between the
// test and the client's terminal hands every byte typed to Auditor.Input
// and every byte the client prints to Auditor.Output, as the gateway does
// with the two directions of a session channel; the commands the Auditor
// extracts must be exactly the ones the shell ran.

// tap runs the ssh client in a pseudo-terminal and feeds both directions
// of its terminal to an Auditor.
type tap struct {
	t    *testing.T
	ptmx *os.File
	cmd  *exec.Cmd
	a    *Auditor

	mu        sync.Mutex
	appCursor bool // the program asked for application cursor keys (DECCKM)
	out       []byte
	pos       int // how far expect has consumed out
	changed   chan struct{}
	done      chan struct{}
}

// corpusTarget starts a target whose user logs in to shell with a key, in
// a UTF-8 locale, with hello.txt in its home directory. It skips the test
// loudly when not run as root (the throwaway user with the chosen shell
// needs it).
func corpusTarget(t *testing.T, shell string) (*sshtest.Target, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		sshtest.Missing(t, "the terminal corpus needs root, for a throwaway user whose login shell is "+shell)
	}
	if _, err := os.Stat(shell); err != nil {
		sshtest.Missing(t, fmt.Sprintf("%s is missing: %v", shell, err))
	}
	key, pub := sshtest.ClientKey(t)
	tg := sshtest.StartTarget(t, sshtest.WithShell(shell), sshtest.WithAuthorizedKey(pub),
		sshtest.WithConfig("SetEnv LANG=C.UTF-8 LC_ALL=C.UTF-8"))
	if out, err := tg.Run("echo hello > hello.txt && echo 1 > data-2025.csv && echo 2 > data-2026.csv"); err != nil {
		t.Fatalf("preparing the home directory: %v: %s", err, out)
	}
	return tg, key
}

func startTap(t *testing.T, tg *sshtest.Target, key string, cols, rows int) *tap {
	t.Helper()
	args := append(sshtest.BaseArgs(), "-tt", "-i", key, "-o", "IdentitiesOnly=yes")
	args = append(args, tg.SSHArgs()...)
	cmd := exec.Command("ssh", args...)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	// A UTF-8 terminal: ssh passes the mode on to the target's terminal,
	// whose line editing then erases whole characters.
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatalf("reading the terminal's modes: %v", e)
	}
	tio.Iflag |= syscall.IUTF8
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatalf("setting the terminal's modes: %v", e)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		t.Fatalf("sizing the pty: %v", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ssh: %v", err)
	}
	tty.Close()
	tp := &tap{t: t, ptmx: ptmx, cmd: cmd, a: New(cols, rows, Options{}), changed: make(chan struct{}), done: make(chan struct{})}
	go tp.read()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		ptmx.Close()
		<-tp.done
		_ = cmd.Wait()
	})
	return tp
}

func (tp *tap) read() {
	defer close(tp.done)
	buf := make([]byte, 32*1024)
	for {
		n, err := tp.ptmx.Read(buf)
		if n > 0 {
			if tp.a != nil {
				tp.a.Output(buf[:n])
			}
			tp.mu.Lock()
			if on, off := bytes.LastIndex(buf[:n], []byte("\x1b[?1h")), bytes.LastIndex(buf[:n], []byte("\x1b[?1l")); on != off {
				tp.appCursor = on > off
			}
			tp.out = append(tp.out, buf[:n]...)
			close(tp.changed)
			tp.changed = make(chan struct{})
			tp.mu.Unlock()
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EIO) {
				tp.t.Logf("reading the terminal: %v", err)
			}
			return
		}
	}
}

// resize changes the size of the terminal, which ssh passes on; the
// gateway would see the window-change request first.
func (tp *tap) resize(cols, rows int) {
	tp.a.Resize(cols, rows)
	if err := pty.Setsize(tp.ptmx, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		tp.t.Fatalf("resizing: %v", err)
	}
}

// send types s as one burst (a paste, or one key's escape sequence).
func (tp *tap) send(s string) {
	tp.mu.Lock()
	app := tp.appCursor
	tp.mu.Unlock()
	if app && len(s) == 3 && strings.HasPrefix(s, "\x1b[") && strings.Contains("ABCDHF", s[2:]) {
		s = "\x1bO" + s[2:] // what xterm sends for cursor keys in that mode
	}
	if tp.a != nil {
		tp.a.Input([]byte(s))
	}
	if _, err := tp.ptmx.Write([]byte(s)); err != nil {
		tp.t.Fatalf("typing %q: %v", s, err)
	}
}

// typ types s one key at a time, a few milliseconds apart, without waiting
// for the echo, as a person types.
func (tp *tap) typ(s string) {
	for _, r := range s {
		tp.send(string(r))
		time.Sleep(3 * time.Millisecond)
	}
}

// expect waits until the output not consumed yet matches re.
func (tp *tap) expect(re string) {
	tp.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(15 * time.Second)
	for {
		tp.mu.Lock()
		loc := rx.FindIndex(tp.out[tp.pos:])
		ch := tp.changed
		if loc != nil {
			tp.pos += loc[1]
			tp.mu.Unlock()
			return
		}
		tp.mu.Unlock()
		select {
		case <-ch:
		case <-tp.done:
			tp.mu.Lock()
			loc = rx.FindIndex(tp.out[tp.pos:])
			tp.mu.Unlock()
			if loc == nil {
				tp.t.Fatalf("session ended before %q; output:\n%q", re, tp.output())
			}
		case <-deadline:
			tp.t.Fatalf("no %q within 15s; output:\n%q", re, tp.output())
		}
	}
}

func (tp *tap) output() string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return string(tp.out)
}

// prompt waits for the shell's prompt, "$ " at the end of the output.
func (tp *tap) prompt() { tp.t.Helper(); tp.expect(`\$ (\x1b\[[0-9;?]*[a-zA-Z]|\x1b[=>])*$`) }

// prompt2 waits for a prompt followed by a right-hand prompt: the cursor
// goes back after "$ " once the right one is drawn.
func (tp *tap) prompt2() {
	tp.t.Helper()
	tp.expect(`>\x1b\[[0-9]+D(\x1b\[[0-9;?]*[a-zA-Z]|\x1b[=>])*$`)
}

// enter presses Enter and waits for the next prompt.
func (tp *tap) enter() { tp.t.Helper(); tp.send("\r"); tp.prompt() }

// finish ends the session with exit and returns the commands found.
func (tp *tap) finish() []Command {
	tp.t.Helper()
	tp.typ("exit")
	tp.send("\r")
	select {
	case <-tp.done:
	case <-time.After(15 * time.Second):
		tp.t.Fatalf("the session did not end; output:\n%q", tp.output())
	}
	return tp.a.Flush()
}

// checkOutputs compares the output excerpts of the commands named in want.
func checkOutputs(t *testing.T, got []Command, want map[string]string) {
	t.Helper()
	for _, c := range got {
		if w, ok := want[c.Input]; ok && c.Output != w {
			t.Errorf("output of %q: got %q, want %q", c.Input, c.Output, w)
		}
	}
}

// check compares the commands found with want, reports N/N, and makes sure
// no secret got into them.
func check(t *testing.T, tp *tap, got []Command, want []string, secrets ...string) {
	t.Helper()
	var in []string
	for _, c := range got {
		in = append(in, c.Input)
		for _, s := range secrets {
			if strings.Contains(c.Input, s) || strings.Contains(c.Output, s) {
				t.Errorf("secret %q recorded in %+v", s, c)
			}
		}
	}
	right := 0
	for i, w := range want {
		if i < len(in) && in[i] == w {
			right++
		}
	}
	t.Logf("corpus accuracy %s: %d/%d commands exact", t.Name(), right, len(want))
	if testing.Verbose() {
		for _, c := range got {
			t.Logf("  %q -> %q", c.Input, c.Output)
		}
	}
	if !slices.Equal(in, want) {
		for i := range max(len(in), len(want)) {
			var g, w string
			if i < len(in) {
				g = in[i]
			}
			if i < len(want) {
				w = want[i]
			}
			mark := "  "
			if g != w {
				mark = "!!"
			}
			t.Logf("%s %2d got %q want %q", mark, i, g, w)
		}
		t.Errorf("commands differ; output was:\n%q", tp.output())
	}
}

const (
	keyLeft  = "\x1b[D"
	keyRight = "\x1b[C"
	keyUp    = "\x1b[A"
	keyHome  = "\x1b[H"
	keyEnd   = "\x1b[F"
	keyBS    = "\x7f"
)

func TestCorpusBash(t *testing.T) {
	tg, key := corpusTarget(t, "/bin/bash")
	tp := startTap(t, tg, key, 80, 24)
	tp.prompt()
	var want []string
	run := func(w string) { t.Helper(); tp.enter(); want = append(want, w) }

	// Typos fixed with backspace.
	tp.typ("ecp")
	tp.send(keyBS)
	tp.typ("ho typo-fixedd")
	tp.send(keyBS)
	run("echo typo-fixed")

	// Arrow keys: fix the middle of the line, then append at the end.
	tp.typ("echo wrld")
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.typ("o")
	tp.send(keyEnd)
	tp.typ(" again")
	run("echo world again")

	// Home and Ctrl-A, insertion at the start.
	tp.typ("cho start")
	tp.send(keyHome)
	tp.typ("e")
	tp.send("\x05") // Ctrl-E
	tp.typ(" end")
	tp.send("\x01") // Ctrl-A
	tp.send(keyRight)
	tp.send(keyRight)
	tp.send(keyRight)
	tp.send(keyRight)
	tp.typ(" mid")
	run("echo mid start end")

	// Ctrl-U, Ctrl-W, Ctrl-K.
	tp.typ("rm -rf /nonexistent")
	tp.send("\x15")
	tp.typ("true")
	run("true")
	tp.typ("echo one two")
	tp.send("\x17")
	tp.typ("three")
	run("echo one three")
	tp.typ("echo keep drop")
	for range 5 {
		tp.send(keyLeft)
	}
	tp.send("\x0b")
	run("echo keep")

	// Tab completion of a command and of a file name.
	tp.typ("ech")
	tp.send("\t")
	tp.expect(`echo $`)
	tp.typ("hel")
	tp.send("\t")
	tp.expect(`hello\.txt $`)
	run("echo hello.txt")
	// Two tabs list the choices, then the line is typed on.
	tp.typ("cat da")
	tp.send("\t")
	tp.expect(`ta-202$`)
	tp.send("\t") // rings the bell: this tab completed nothing
	tp.send("\t") // lists the choices
	tp.expect(`data-2026\.csv`)
	tp.expect(`\$ cat data-202$`)
	tp.typ("6")
	tp.send("\t")
	run("cat data-2026.csv")

	// History: Up arrow, twice, and Ctrl-R.
	tp.send(keyUp)
	tp.expect(`cat data-2026\.csv $`)
	run("cat data-2026.csv")
	tp.send(keyUp) // cat data-2026.csv, run twice
	tp.send(keyUp)
	tp.send(keyUp)
	tp.expect(`echo hello\.txt`)
	run("echo hello.txt")
	tp.send("\x12")
	tp.typ("typo")
	tp.expect(`typo-fixed`)
	run("echo typo-fixed")

	// Wide characters.
	tp.typ("echo 你好世界")
	run("echo 你好世界")
	tp.typ("echo 日本語")
	tp.send(keyLeft)
	tp.send(keyBS)
	tp.typ("本")
	run("echo 日本語")

	// A line longer than the terminal is wide, edited on its first row.
	long := "echo " + strings.Repeat("0123456789", 12)
	tp.typ(long)
	tp.send("\x01")
	tp.send(keyRight)
	tp.send(keyRight)
	tp.send(keyRight)
	tp.send(keyRight)
	tp.send(keyRight)
	tp.typ("X")
	run("echo X" + strings.Repeat("0123456789", 12))

	// The window changes size in the middle of a line; bash redraws it.
	tp.typ("echo before-resize")
	tp.resize(50, 20)
	time.Sleep(200 * time.Millisecond)
	tp.typ(" after-resize " + strings.Repeat("z", 40))
	run("echo before-resize after-resize " + strings.Repeat("z", 40))

	// A pasted line, Enter included.
	tp.send("echo pasted\r")
	tp.prompt()
	want = append(want, "echo pasted")

	// A password read without echo is not a command.
	tp.typ(`read -s -p "Password: " pw`)
	tp.send("\r")
	tp.expect(`\nPassword: $`) // the prompt, not the echo of the command
	tp.typ("hunter2")
	run(`read -s -p "Password: " pw`)
	tp.typ(`echo ${#pw}`)
	run(`echo ${#pw}`)

	// An unclosed quote continues on the next line.
	tp.typ(`echo "multi`)
	tp.send("\r")
	tp.expect(`> $`)
	tp.typ(`line"`)
	run("echo \"multi\nline\"")

	// Full-screen programs: keys inside are not commands.
	tp.typ("less /etc/passwd")
	tp.send("\r")
	tp.expect(`\x1b\[\?1049h`)
	tp.expect(`root`)
	tp.send("j")
	tp.send("/bin\r")
	time.Sleep(100 * time.Millisecond)
	tp.send("q")
	tp.prompt()
	want = append(want, "less /etc/passwd")

	tp.typ("vim -u NONE -i NONE notes.txt")
	tp.send("\r")
	tp.expect(`\x1b\[\?1049h`)
	tp.expect(`notes\.txt`)
	tp.typ("ihello from vim")
	tp.send("\x1b")
	tp.typ(":wq")
	tp.send("\r")
	tp.prompt()
	want = append(want, "vim -u NONE -i NONE notes.txt")

	// top keeps the main screen; Enter there only refreshes it.
	tp.typ("top -d 0.5")
	tp.send("\r")
	tp.expect(`load average`)
	tp.send("\r")
	tp.expect(`load average`)
	tp.send("q")
	tp.prompt()
	want = append(want, "top -d 0.5")

	tp.typ("cat notes.txt")
	run("cat notes.txt")

	got := tp.finish()
	want = append(want, "exit")
	check(t, tp, got, want, "hunter2")
	for _, c := range got {
		if strings.Contains(c.Input, "hello from vim") || strings.Contains(c.Input, ":wq") {
			t.Errorf("keys typed in vim recorded as a command: %+v", c)
		}
	}
	checkOutputs(t, got, map[string]string{
		"echo typo-fixed":      "typo-fixed\n",
		"true":                 "",
		"cat data-2026.csv":    "2\n",
		"echo 你好世界":            "你好世界\n",
		`echo ${#pw}`:          "7\n",
		"echo \"multi\nline\"": "multi\nline\n",
		"less /etc/passwd":     "",
		"cat notes.txt":        "hello from vim\n",
	})
}

func TestCorpusDash(t *testing.T) {
	tg, key := corpusTarget(t, "/bin/dash")
	tp := startTap(t, tg, key, 80, 24)
	tp.prompt()
	var want []string
	run := func(w string) { t.Helper(); tp.enter(); want = append(want, w) }

	// dash has no line editor: the terminal driver echoes and edits.
	tp.typ("echo hello")
	run("echo hello")
	tp.typ("ecoh")
	tp.send(keyBS)
	tp.send(keyBS)
	tp.typ("ho fixed")
	run("echo fixed")
	tp.typ("rm -rf /nonexistent")
	tp.send("\x15") // kill the line
	tp.typ("true")
	run("true")
	tp.typ("echo one two")
	tp.send("\x17") // erase a word
	tp.typ("three")
	run("echo one three")
	tp.typ("echo 你好世界")
	run("echo 你好世界")
	tp.typ("echo 日本")
	tp.send(keyBS)
	tp.typ("本語")
	run("echo 日本語")
	long := "echo " + strings.Repeat("abcdefghij", 10)
	tp.typ(long)
	run(long)
	tp.send("echo pasted\r")
	tp.prompt()
	want = append(want, "echo pasted")

	// No echo while the terminal's echo is off.
	tp.typ("stty -echo; echo ready; read pw; stty echo")
	tp.send("\r")
	tp.expect(`\nready\r\n$`)
	tp.typ("hunter2")
	run("stty -echo; echo ready; read pw; stty echo")
	tp.typ(`echo ${#pw}`)
	run(`echo ${#pw}`)

	tp.typ(`echo "multi`)
	tp.send("\r")
	tp.expect(`> $`)
	tp.typ(`line"`)
	run("echo \"multi\nline\"")

	tp.typ("less /etc/passwd")
	tp.send("\r")
	tp.expect(`\x1b\[\?1049h`)
	tp.expect(`root`)
	tp.send("q")
	tp.prompt()
	want = append(want, "less /etc/passwd")

	got := tp.finish()
	want = append(want, "exit")
	check(t, tp, got, want, "hunter2")
	checkOutputs(t, got, map[string]string{
		"echo hello":  "hello\n",
		"echo 日本語":    "日本語\n",
		`echo ${#pw}`: "7\n",
	})
}

// zshTarget is corpusTarget for zsh, installed with apt-get when missing
// (as root): zsh draws its line differently from bash (PROMPT_SP, its own
// completion listing and search display).
func zshTarget(t *testing.T, rc ...string) (*sshtest.Target, string) {
	t.Helper()
	const zsh = "/usr/bin/zsh"
	if _, err := os.Stat(zsh); err != nil && os.Geteuid() == 0 {
		zshOnce.Do(func() {
			if _, err := exec.LookPath("apt-get"); err != nil {
				return
			}
			t.Logf("installing zsh with apt-get")
			cmd := exec.Command("apt-get", "install", "-y", "-q", "--no-install-recommends", "zsh")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("apt-get install zsh: %v\n%s", err, out)
			}
		})
	}
	tg, key := corpusTarget(t, zsh)
	// zsh reads none of the dotfiles sshtest writes; without one of its
	// own it would start its new-user menu.
	lines := append([]string{"PS1='$ '", "HISTSIZE=100"}, rc...)
	if err := os.WriteFile(tg.Home+"/.zshrc", []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("writing .zshrc: %v", err)
	}
	return tg, key
}

var zshOnce sync.Once

func TestCorpusZsh(t *testing.T) {
	tg, key := zshTarget(t)
	tp := startTap(t, tg, key, 80, 24)
	tp.prompt()
	var want []string
	run := func(w string) { t.Helper(); tp.enter(); want = append(want, w) }

	tp.typ("ecp")
	tp.send(keyBS)
	tp.typ("ho typo-fixedd")
	tp.send(keyBS)
	run("echo typo-fixed")

	tp.typ("echo wrld")
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.typ("o")
	tp.send("\x05")
	tp.typ(" again")
	run("echo world again")

	tp.typ("cho start")
	tp.send("\x01")
	tp.typ("e")
	tp.send("\x05")
	tp.typ(" end")
	run("echo start end")

	tp.typ("rm -rf /nonexistent")
	tp.send("\x15")
	tp.typ("true")
	run("true")
	tp.typ("echo one two")
	tp.send("\x17")
	tp.typ("three")
	run("echo one three")
	tp.typ("echo keep drop")
	for range 5 {
		tp.send(keyLeft)
	}
	tp.send("\x0b")
	run("echo keep")

	tp.typ("ech")
	tp.send("\t") // echo, echotc and echoti: completes to echo
	tp.expect(`echo$`)
	tp.typ(" hel")
	tp.send("\t")
	tp.expect(`hello\.txt(\x1b\[1m)? (\x1b\[0m)?$`) // the added space is bold
	run("echo hello.txt")
	// An ambiguous completion: zsh lists the choices under the line.
	tp.typ("cat da")
	tp.send("\t") // completes to data-202
	tp.expect(`ta-202$`)
	tp.send("\t") // lists
	tp.expect(`data-2026\.csv`)
	tp.typ("6")
	tp.send("\t")
	tp.expect(`6\.csv(\x1b\[1m)? (\x1b\[0m)?$`)
	run("cat data-2026.csv")

	tp.send(keyUp)
	tp.expect(`cat data-2026\.csv`)
	run("cat data-2026.csv")
	tp.send(keyUp) // cat data-2026.csv, run twice
	tp.send(keyUp)
	tp.send(keyUp)
	tp.expect(`echo hello\.txt`)
	run("echo hello.txt")
	tp.send("\x12")
	tp.typ("typo")
	tp.expect(`o_`) // zsh shows the search under the line, the match underlined
	run("echo typo-fixed")

	tp.typ("echo 你好世界")
	run("echo 你好世界")
	tp.typ("echo 日本語")
	tp.send(keyLeft)
	tp.send(keyBS)
	tp.typ("本")
	run("echo 日本語")

	long := "echo " + strings.Repeat("0123456789", 12)
	tp.typ(long)
	tp.send("\x01")
	for range 5 {
		tp.send(keyRight)
	}
	tp.typ("X")
	run("echo X" + strings.Repeat("0123456789", 12))

	tp.send("echo pasted\r")
	tp.prompt()
	want = append(want, "echo pasted")

	// A paste of two lines, bracketed as zsh asks the terminal to: zsh
	// takes both into one buffer and runs them with the next Enter.
	tp.send("\x1b[200~echo first\recho second\x1b[201~")
	tp.expect(`second`)
	run("echo first\necho second")

	tp.typ(`read -s "pw?Password: "`)
	tp.send("\r")
	tp.expect(`\nPassword: $`) // the prompt, not the echo of the command
	tp.typ("hunter2")
	run(`read -s "pw?Password: "`)
	tp.typ(`echo ${#pw}`)
	run(`echo ${#pw}`)

	// zsh's continuation prompt names what is open: "dquote> ".
	tp.typ(`echo "multi`)
	tp.send("\r")
	tp.expect(`dquote> (\x1b\[[0-9;?]*[a-zA-Z]|\x1b[=>])*$`)
	tp.typ(`line"`)
	run("echo \"multi\nline\"")

	tp.typ("less /etc/passwd")
	tp.send("\r")
	tp.expect(`\x1b\[\?1049h`)
	tp.expect(`root`)
	tp.send("q")
	tp.prompt()
	want = append(want, "less /etc/passwd")

	tp.typ("vim -u NONE -i NONE notes.txt")
	tp.send("\r")
	tp.expect(`\x1b\[\?1049h`)
	tp.expect(`notes\.txt`)
	tp.typ("ihello from vim")
	tp.send("\x1b")
	tp.typ(":wq")
	tp.send("\r")
	tp.prompt()
	want = append(want, "vim -u NONE -i NONE notes.txt")

	tp.typ("cat notes.txt")
	run("cat notes.txt")

	got := tp.finish()
	want = append(want, "exit")
	check(t, tp, got, want, "hunter2")
	checkOutputs(t, got, map[string]string{
		"echo typo-fixed":   "typo-fixed\n",
		"cat data-2026.csv": "2\n",
		`echo ${#pw}`:       "7\n",
		"cat notes.txt":     "hello from vim\n",
	})
}

// TestCorpusZshRightPrompt runs zsh with a right-hand prompt, which stays
// on the line the command is typed on.
func TestCorpusZshRightPrompt(t *testing.T) {
	tg, key := zshTarget(t, "RPROMPT='<%~>'")
	tp := startTap(t, tg, key, 60, 20)
	tp.prompt2()
	var want []string
	run := func(w string) { t.Helper(); tp.send("\r"); tp.prompt2(); want = append(want, w) }

	tp.typ("ls hello.txt")
	run("ls hello.txt")
	tp.typ("cd /tmp")
	run("cd /tmp")
	tp.typ("echo wrold") // swap r and o: w r|o l d, delete r, move past o, type r
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.send(keyLeft)
	tp.send(keyBS)
	tp.send(keyRight)
	tp.typ("r")
	run("echo world")
	long := "echo " + strings.Repeat("y", 70) // past the right prompt, wrapping
	tp.typ(long)
	run(long)
	tp.typ("echo 你好")
	run("echo 你好")
	tp.typ("exit")
	tp.send("\r")
	select {
	case <-tp.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the session did not end; output:\n%q", tp.output())
	}
	want = append(want, "exit")
	check(t, tp, tp.a.Flush(), want)
}

// TestSessionThroughput measures what the Auditor costs a real session:
// cat of 100 MB through the ssh client's terminal, with the tap feeding
// the Auditor and without. It takes a while, so it runs only with
// POSTERN_TERMAUDIT_THROUGHPUT=1.
func TestSessionThroughput(t *testing.T) {
	if os.Getenv("POSTERN_TERMAUDIT_THROUGHPUT") == "" {
		t.Skip("set POSTERN_TERMAUDIT_THROUGHPUT=1 to measure")
	}
	const size = 100 << 20
	tg, key := corpusTarget(t, "/bin/bash")
	if out, err := tg.Run(fmt.Sprintf("yes 'the quick brown fox jumps over the lazy dog 0123456789 abcdefghij' | head -c %d > big.txt", size)); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rate := map[bool][]float64{}
	for _, audit := range []bool{false, true, false, true, false, true} {
		tp := startTap(t, tg, key, 120, 40)
		if !audit {
			tp.a = nil
		}
		tp.prompt()
		start := time.Now()
		tp.send("cat big.txt; echo END-OF-CAT\r")
		for !tp.endsWith("END-OF-CAT\r\n$ ") {
			time.Sleep(time.Millisecond)
		}
		mbs := float64(size) / 1e6 / time.Since(start).Seconds()
		rate[audit] = append(rate[audit], mbs)
		t.Logf("audit=%v: %.1f MB/s", audit, mbs)
		tp.send("exit\r")
		<-tp.done
	}
	best := func(r []float64) float64 { return slices.Max(r) }
	t.Logf("best of 3: without the Auditor %.1f MB/s, with it %.1f MB/s: ratio %.2f",
		best(rate[false]), best(rate[true]), best(rate[true])/best(rate[false]))
}

func (tp *tap) endsWith(s string) bool {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return bytes.HasSuffix(tp.out, []byte(s))
}
