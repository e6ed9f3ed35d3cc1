package sshtest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/creack/pty"
)

// DefaultExpectTimeout is how long Expect waits when given no timeout.
const DefaultExpectTimeout = 10 * time.Second

// DefaultWaitTimeout is how long Client.Wait waits for the client to exit.
const DefaultWaitTimeout = 30 * time.Second

// BaseArgs returns the options every client started by this package gets
// before the caller's arguments. They work for ssh, sftp and scp alike:
// no configuration file, no known_hosts file (the host key is accepted
// without a question and forgotten), and errors only on standard error.
func BaseArgs() []string {
	return []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR",
	}
}

// withBaseArgs returns base followed by args, less the base options
// that args set themselves (as "-F FILE", "-o Key=value" or "-oKey=value"):
// ssh keeps the first value it is given, so the caller's would otherwise
// lose. Tests of host key checking pass their own StrictHostKeyChecking
// and UserKnownHostsFile this way.
func withBaseArgs(base, args []string) []string {
	set := map[string]bool{}
	for i, a := range args {
		var opt string
		switch {
		case a == "-F":
			set["-f"] = true
		case a == "-o" && i+1 < len(args):
			opt = args[i+1]
		case strings.HasPrefix(a, "-o"):
			opt = a[2:]
		}
		if key, _, ok := strings.Cut(opt, "="); ok {
			set[strings.ToLower(strings.TrimSpace(key))] = true
		}
	}
	var out []string
	for i := 0; i+1 < len(base); i += 2 {
		key := strings.ToLower(base[i])
		if base[i] == "-o" {
			key, _, _ = strings.Cut(strings.ToLower(base[i+1]), "=")
		}
		if !set[key] {
			out = append(out, base[i], base[i+1])
		}
	}
	return append(out, args...)
}

// clientEnv returns the environment for a client: the test's own, less
// whatever would let the user's agent, askpass program or display into
// the test, plus extra (NAME=value entries, which win).
func clientEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY", "TERM":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// ClientOption configures SSHWith and Spawn.
type ClientOption func(*clientOptions)

type clientOptions struct {
	cols, rows int
	env        []string
}

// WithSize sets the size of the client's terminal (default 120 columns by
// 40 rows).
func WithSize(cols, rows int) ClientOption {
	return func(o *clientOptions) { o.cols, o.rows = cols, rows }
}

// WithEnv adds NAME=value entries to the client's environment. TERM is
// xterm unless set here.
func WithEnv(kv ...string) ClientOption {
	return func(o *clientOptions) { o.env = append(o.env, kv...) }
}

// Client is a program, usually the real ssh client, running in a
// pseudo-terminal of its own, as an operator's terminal would run it.
// ssh reads passwords from that terminal: answer with
// Expect("password:", 0) and SendLine(password). Its methods call t.Fatal
// on errors, so call them from the test's goroutine. It is closed when the
// test ends.
type Client struct {
	tb   testing.TB
	name string
	cmd  *exec.Cmd
	ptmx *os.File

	mu       sync.Mutex
	out      []byte
	pos      int           // how far Expect has consumed out
	changed  chan struct{} // closed and replaced when out grows or reading ends
	readDone bool

	readerDone chan struct{} // closed when the reader goroutine ends
	waitDone   chan struct{} // closed when the process has been waited for
	closeOnce  sync.Once
}

// SSH runs the real ssh client with BaseArgs and args in a 120x40
// pseudo-terminal, for example SSH(t, target.SSHArgs()...). An option in
// args replaces the BaseArgs option of the same name.
func SSH(t testing.TB, args ...string) *Client {
	t.Helper()
	return SSHWith(t, nil, args...)
}

// SSHWith is SSH with client options such as WithSize.
func SSHWith(t testing.TB, opts []ClientOption, args ...string) *Client {
	t.Helper()
	return Spawn(t, opts, "ssh", withBaseArgs(BaseArgs(), args)...)
}

// Spawn runs the program name with exactly args (add BaseArgs for an
// interactive sftp) in a pseudo-terminal and returns a Client to drive it.
func Spawn(t testing.TB, opts []ClientOption, name string, args ...string) *Client {
	t.Helper()
	Require(t)
	o := clientOptions{cols: 120, rows: 40}
	for _, opt := range opts {
		opt(&o)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = clientEnv(append([]string{"TERM=xterm"}, o.env...))
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(o.cols), Rows: uint16(o.rows)})
	if err != nil {
		t.Fatalf("sshtest: starting %s in a pty: %v", name, err)
	}
	c := &Client{
		tb:         t,
		name:       name,
		cmd:        cmd,
		ptmx:       nonblocking(ptmx),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
		waitDone:   make(chan struct{}),
	}
	go c.read()
	go func() {
		_ = cmd.Wait()
		close(c.waitDone)
	}()
	t.Cleanup(c.Close)
	return c
}

// nonblocking returns f, switched to the runtime's poller so that Close
// interrupts a pending Read (pty's size calls put it in blocking mode).
func nonblocking(f *os.File) *os.File {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return f
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return f
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	f.Close()
	return nf
}

// read copies the terminal's output into c.out until it ends.
func (c *Client) read() {
	defer close(c.readerDone)
	buf := make([]byte, 32*1024)
	for {
		n, err := c.ptmx.Read(buf)
		c.mu.Lock()
		if n > 0 {
			c.out = append(c.out, buf[:n]...)
		}
		if err != nil {
			c.readDone = true
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Expect reads until the regular expression re matches the output not
// yet consumed by an earlier Expect, and returns that output up to the
// end of the match. A timeout of 0 means DefaultExpectTimeout. When the
// time is up, or the output ends first, the test fails with everything
// read so far.
func (c *Client) Expect(re string, timeout time.Duration) string {
	c.tb.Helper()
	rx, err := regexp.Compile(re)
	if err != nil {
		c.tb.Fatalf("sshtest: Expect(%q): %v", re, err)
	}
	if timeout <= 0 {
		timeout = DefaultExpectTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		pending := c.out[c.pos:]
		if loc := rx.FindIndex(pending); loc != nil {
			text := string(pending[:loc[1]])
			c.pos += loc[1]
			c.mu.Unlock()
			return text
		}
		done, changed := c.readDone, c.changed
		c.mu.Unlock()
		if done {
			c.tb.Fatalf("sshtest: Expect(%q): %s's output ended first; everything it wrote:\n%s", re, c.name, c.Output())
		}
		select {
		case <-changed:
		case <-timer.C:
			c.tb.Fatalf("sshtest: Expect(%q): no match within %v; everything %s wrote:\n%s", re, timeout, c.name, c.Output())
		}
	}
}

// Send types s into the terminal as it is.
func (c *Client) Send(s string) {
	c.tb.Helper()
	if _, err := c.ptmx.Write([]byte(s)); err != nil {
		c.tb.Fatalf("sshtest: Send(%q): %v", s, err)
	}
}

// SendLine types s and presses Enter (a carriage return, as a terminal
// sends it).
func (c *Client) SendLine(s string) {
	c.tb.Helper()
	c.Send(s + "\r")
}

// Resize changes the terminal's size. The kernel signals SIGWINCH to the
// client, and ssh forwards the new size to the server.
func (c *Client) Resize(cols, rows int) {
	c.tb.Helper()
	ws := pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}
	raw, err := c.ptmx.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
			if errno != 0 {
				err = errno
			}
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.tb.Fatalf("sshtest: Resize(%d, %d): %v", cols, rows, err)
	}
}

// Wait waits up to DefaultWaitTimeout for the client to exit and returns
// its exit status (ssh's is the remote command's, or 255 for its own
// errors); -1 means a signal killed it. The test fails if it does not
// exit in time.
func (c *Client) Wait() int {
	c.tb.Helper()
	return c.WaitTimeout(DefaultWaitTimeout)
}

// WaitTimeout is Wait with a time limit of its own.
func (c *Client) WaitTimeout(timeout time.Duration) int {
	c.tb.Helper()
	select {
	case <-c.waitDone:
	case <-time.After(timeout):
		c.tb.Fatalf("sshtest: %s did not exit within %v; everything it wrote:\n%s", c.name, timeout, c.Output())
	}
	// Let the reader drain what the client wrote last.
	select {
	case <-c.readerDone:
	case <-time.After(2 * time.Second):
	}
	return c.cmd.ProcessState.ExitCode()
}

// Exited reports whether the client has exited.
func (c *Client) Exited() bool {
	select {
	case <-c.waitDone:
		return true
	default:
		return false
	}
}

// Close kills the client if it still runs and releases its terminal. It
// is safe to call more than once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		select {
		case <-c.waitDone:
		default:
			_ = c.cmd.Process.Kill()
			select {
			case <-c.waitDone:
			case <-time.After(5 * time.Second):
			}
		}
		select {
		case <-c.readerDone:
		case <-time.After(time.Second):
		}
		_ = c.ptmx.Close()
		<-c.readerDone
	})
}

// Output returns everything the client has written so far.
func (c *Client) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}
