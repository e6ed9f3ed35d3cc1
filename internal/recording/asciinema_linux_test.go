package recording

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// requireTool skips (or, under POSTERN_E2E=required, fails) when a system
// tool the test drives is missing.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed: this end-to-end test needs it (apt-get install %s)", name, pkg)
	if os.Getenv("POSTERN_E2E") == "required" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED LOUDLY: " + msg)
	return ""
}

// The real player accepts what Postern writes: asciinema cat prints the
// output exactly, and asciinema play replays it to the end.
func TestAsciinemaPlaysRecording(t *testing.T) {
	bin := requireTool(t, "asciinema", "asciinema")
	dir := t.TempDir()
	r := start(t, dir, "play", Options{MergeWithin: -1})
	r.Output([]byte("\x1b[1;32mwelcome\x1b[0m to db-1\r\n$ "))
	r.Input([]byte("echo 你好\r"))
	nihao := []byte("你好 👩‍💻\r\n")
	r.Output(nihao[:1]) // split runes must still play
	r.Output(nihao[1:7])
	r.Output(nihao[7:])
	r.Resize(100, 30)
	r.Output([]byte("tab\there \"quotes\" back\\slash\r\n$ "))
	bulk := mixedText(256 << 10) // a cat of a file, in odd-sized reads
	for rest := bulk; len(rest) > 0; rest = rest[min(len(rest), 4093):] {
		r.Output(rest[:min(len(rest), 4093)])
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// asciinema reads plain files: write out what Open returns, as the
	// replay API serves it.
	cast := filepath.Join(t.TempDir(), "play.cast")
	if err := os.WriteFile(cast, []byte(readText(t, dir, "play")), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "\x1b[1;32mwelcome\x1b[0m to db-1\r\n$ 你好 👩‍💻\r\ntab\there \"quotes\" back\\slash\r\n$ " + string(bulk)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// asciinema cat insists on opening /dev/tty (to put it in raw mode),
	// which a test run by CI does not have: give it a terminal of its own,
	// while its output still goes to a pipe so the bytes compare exactly.
	cat := exec.CommandContext(ctx, bin, "cat", cast)
	closeTTY := withTerminal(t, cat)
	out, err := cat.CombinedOutput()
	closeTTY()
	if err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, out)
	}
	if string(out) != want {
		t.Fatalf("asciinema cat printed %d bytes, not the %d recorded: %q", len(out), len(want), tail(string(out)))
	}

	play := exec.CommandContext(ctx, bin, "play", "-s", "100", "-i", "0.1", cast)
	play.Stdin = nil // not a terminal: asciinema must not need one to play
	out, err = play.CombinedOutput()
	if err != nil {
		t.Fatalf("asciinema play: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "welcome") || !strings.Contains(string(out), "你好 👩‍💻") {
		t.Fatalf("asciinema play printed %q", out)
	}
}

// withTerminal makes a new pseudo-terminal the controlling terminal and the
// standard input of cmd, in a session of its own. It returns a function that
// closes the terminal once cmd has ended.
func withTerminal(t *testing.T, cmd *exec.Cmd) func() {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal for asciinema: %v", err)
	}
	var n uint32
	unlock := int32(0)
	if err := ioctl(ptmx, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	if err := ioctl(ptmx, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pseudo-terminal: %v", err)
	}
	cmd.Stdin = tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	return func() {
		tty.Close()
		ptmx.Close()
	}
}

func ioctl(f *os.File, req uint, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
