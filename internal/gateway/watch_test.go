package gateway

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/postern/postern/internal/termaudit"
)

func TestFanoutKeepsTheLatestOutput(t *testing.T) {
	f := newFanout()
	var all []byte
	for i := 0; i < 5000; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%97)
		all = append(all, chunk...)
		f.write(chunk)
	}
	screen, c := f.subscribe()
	if want := all[len(all)-watchBacklog:]; !bytes.Equal(screen, want) {
		t.Fatalf("backlog is not the last %d bytes", watchBacklog)
	}
	f.write([]byte("next"))
	if got := <-c; string(got) != "next" {
		t.Fatalf("update %q", got)
	}
	f.close()
	if _, ok := <-c; ok {
		t.Fatal("channel open after the session ended")
	}
	// Output that ends exactly at the ring's end is kept too.
	h := newFanout()
	h.write(bytes.Repeat([]byte("a"), 1000))
	h.write(bytes.Repeat([]byte("b"), watchBacklog-1000+10))
	h.write(bytes.Repeat([]byte("c"), watchBacklog-10))
	if s, _ := h.subscribe(); len(s) != watchBacklog || s[9] != 'b' || s[10] != 'c' {
		t.Fatalf("backlog after an exact wrap: %d bytes", len(s))
	}
	// A short session keeps everything.
	g := newFanout()
	g.write([]byte("hello "))
	g.write([]byte("world"))
	if s, _ := g.subscribe(); string(s) != "hello world" {
		t.Fatalf("short backlog %q", s)
	}
}

func TestFanoutDropsASlowWatcher(t *testing.T) {
	f := newFanout()
	_, c := f.subscribe()
	for i := 0; i < 1000; i++ {
		f.write([]byte("x")) // nobody reads c: the session must not block
	}
	n := 0
	for range c {
		n++
	}
	if n == 0 || n >= 1000 {
		t.Fatalf("slow watcher got %d chunks; want its stream cut, not the session slowed", n)
	}
}

// A watcher of an interactive session joins on the emulator's screen: what
// a full-screen program drew long ago is there, though its output since is
// far more than any backlog, and the updates follow on from it.
func TestFanoutFollowedByEmulatorStartsFromTheScreen(t *testing.T) {
	f := newFanout()
	a := termaudit.New(80, 24, termaudit.Options{})
	f.follow(a.Feed, a.Screen, a.Deliver)
	f.write([]byte("\x1b[?1049h\x1b[H\x1b[2JTITLE-LINE drawn once\r\n"))
	for i := range 20000 {
		f.write(fmt.Appendf(nil, "\x1b[5;1Hcounter %06d", i))
	}
	screen, c := f.subscribe()
	if !bytes.Contains(screen, []byte("TITLE-LINE drawn once")) || !bytes.Contains(screen, []byte("counter 019999")) {
		t.Fatalf("the screen a watcher joins on lacks what the terminal shows: %q", screen)
	}
	if len(f.ring) != 0 {
		t.Fatalf("a followed session keeps a %d-byte backlog it does not need", len(f.ring))
	}
	f.write([]byte("next"))
	if got := <-c; string(got) != "next" {
		t.Fatalf("update %q", got)
	}
}
