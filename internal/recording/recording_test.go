package recording

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readText returns the asciicast text of a recording through Open.
func readText(t *testing.T, dir, id string) string {
	t.Helper()
	rc, err := Open(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkAsciicast checks text independently of Parse: every line is JSON, the
// first a version 2 header, the others [number, string, string] with times
// that never decrease. It returns the events.
func checkAsciicast(t *testing.T, text string) []Event {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("recording does not end with a newline: %q", tail(text))
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		t.Fatalf("header line %q: %v", lines[0], err)
	}
	if hdr["version"] != float64(2) {
		t.Fatalf("header version = %v, want 2", hdr["version"])
	}
	var events []Event
	last := -1.0
	for i, l := range lines[1:] {
		var a []any
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %d %q: %v", i+2, l, err)
		}
		if len(a) != 3 {
			t.Fatalf("line %d has %d elements", i+2, len(a))
		}
		tm, ok1 := a[0].(float64)
		kind, ok2 := a[1].(string)
		data, ok3 := a[2].(string)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("line %d: wrong types: %q", i+2, l)
		}
		if tm < last {
			t.Fatalf("line %d: time %v before previous %v", i+2, tm, last)
		}
		last = tm
		events = append(events, Event{tm, kind, data})
	}
	return events
}

func tail(s string) string {
	if len(s) > 80 {
		return "..." + s[len(s)-80:]
	}
	return s
}

// outputOf concatenates the data of the output events.
func outputOf(events []Event) string { return dataOf(events, KindOutput) }

// inputOf concatenates the data of the input events.
func inputOf(events []Event) string { return dataOf(events, KindInput) }

func dataOf(events []Event, kind string) string {
	var b strings.Builder
	for _, e := range events {
		if e.Kind == kind {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

func start(t *testing.T, dir, id string, opt Options) *Recorder {
	t.Helper()
	r, err := Start(dir, id, Header{Width: 100, Height: 30, Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	h := Header{Width: 120, Height: 40, Timestamp: 1700000000, Title: `root@db-1 "prod" <&>`,
		Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/zsh"}}
	r, err := Start(dir, "sess-1", h, Options{MergeWithin: -1})
	if err != nil {
		t.Fatal(err)
	}
	r.Output([]byte("$ "))
	time.Sleep(2 * time.Millisecond)
	r.Input([]byte("ls\r"))
	r.Output([]byte("ls\r\nfile.txt\r\n"))
	r.Resize(132, 43)
	r.Output([]byte("$ "))
	r.Resize(0, 10) // ignored
	if got := r.Bytes(); got != int64(len("$ ls\rls\r\nfile.txt\r\n$ ")) {
		t.Fatalf("Bytes = %d", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(filepath.Join(dir, "sess-1.cast")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("plain file still there after Close: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, "sess-1.cast.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("recording mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) > 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}

	text := readText(t, dir, "sess-1")
	raw := checkAsciicast(t, text)
	want := []Event{
		{Kind: "o", Data: "$ "}, {Kind: "i", Data: "ls\r"}, {Kind: "o", Data: "ls\r\nfile.txt\r\n"},
		{Kind: "r", Data: "132x43"}, {Kind: "o", Data: "$ "},
	}
	gh, got, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if gh.Width != 120 || gh.Height != 40 || gh.Timestamp != 1700000000 || gh.Title != h.Title ||
		gh.Env["TERM"] != "xterm-256color" || gh.Env["SHELL"] != "/bin/zsh" {
		t.Fatalf("header = %+v", gh)
	}
	if len(got) != len(want) || len(raw) != len(want) {
		t.Fatalf("events = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].Data != want[i].Data || got[i] != raw[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got[1].Time < 0.002 {
		t.Fatalf("input at %v, after a 2ms pause", got[1].Time)
	}
}

func TestStartDefaultsAndRefusals(t *testing.T) {
	dir := t.TempDir()
	r, err := Start(dir, "a", Header{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(dir, "a", Header{}, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Start of a running id: %v, want ErrExist", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(dir, "a", Header{}, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Start over a closed recording: %v, want ErrExist", err)
	}
	h, events, err := Parse(strings.NewReader(readText(t, dir, "a")))
	if err != nil {
		t.Fatal(err)
	}
	if h.Width != 80 || h.Height != 24 || time.Since(time.Unix(h.Timestamp, 0)) > time.Minute {
		t.Fatalf("defaults not filled: %+v", h)
	}
	if len(events) != 0 {
		t.Fatalf("events = %v", events)
	}
}

func TestCloseIdempotentAndLateEventsIgnored(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "x", Options{})
	r.Output([]byte("before"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r.Output([]byte("after"))
	r.Input([]byte("after"))
	r.Resize(1, 1)
	events := checkAsciicast(t, readText(t, dir, "x"))
	if len(events) != 1 || events[0].Data != "before" {
		t.Fatalf("events = %+v", events)
	}
}

func TestCoalescing(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "c", Options{MergeWithin: time.Hour, FlushEvery: time.Hour})
	var want strings.Builder
	for i := range 1000 {
		s := strings.Repeat("x", i%50) + "\r\n"
		want.WriteString(s)
		r.Output([]byte(s))
	}
	r.Input([]byte("q"))
	r.Output([]byte("a"))
	r.Resize(10, 10)
	r.Output([]byte("b"))
	r.Output([]byte("c"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	events := checkAsciicast(t, readText(t, dir, "c"))
	var kinds string
	for _, e := range events {
		kinds += e.Kind
	}
	if kinds != "oioro" {
		t.Fatalf("kinds = %q, want oioro (bulk merged, never across input or resize)", kinds)
	}
	if events[0].Data != want.String() || events[2].Data != "a" || events[4].Data != "bc" {
		t.Fatalf("merged data wrong: %+v", events[2:])
	}

	// With the default 2ms window, output spread over time is not merged
	// into one event.
	r = start(t, dir, "d", Options{})
	for range 5 {
		r.Output([]byte("tick"))
		time.Sleep(5 * time.Millisecond)
	}
	r.Close()
	if events := checkAsciicast(t, readText(t, dir, "d")); len(events) != 5 {
		t.Fatalf("%d events for 5 outputs 5ms apart, want 5", len(events))
	}
}

func TestUTF8SplitAcrossWrites(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "u", Options{MergeWithin: -1})
	nihao := []byte("你好")  // two 3-byte runes
	emoji := []byte("👩‍💻") // woman technologist: 4+3+4 bytes
	r.Output(nihao[:2])
	r.Output(nihao[2:4])
	r.Output(nihao[4:])
	r.Output([]byte{'\r', '\n'})
	r.Output(emoji[:1])
	r.Output(emoji[1:3])
	r.Output(emoji[3:])
	// Input splits too (a paste arrives in pieces).
	r.Input([]byte("é")[:1])
	r.Input([]byte("é")[1:])
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	events := checkAsciicast(t, readText(t, dir, "u"))
	if got := outputOf(events); got != "你好\r\n👩‍💻" {
		t.Fatalf("output = %q", got)
	}
	for _, e := range events {
		if strings.ContainsRune(e.Data, '\uFFFD') || e.Data == "" {
			t.Fatalf("event damaged or empty: %+v", e)
		}
	}
	if events[len(events)-1].Kind != KindInput || events[len(events)-1].Data != "é" {
		t.Fatalf("last event = %+v", events[len(events)-1])
	}
}

func TestInvalidUTF8AndControls(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "v", Options{})
	controls := "\x1b[1;31mred\x1b[0m\r\n\x00\x01\x07\b\t\f\x7f \"quoted\" back\\slash \u2028 </script> \U0010FFFF"
	r.Output([]byte(controls))
	r.Output([]byte("bad:\xff\xfe;"))
	r.Output([]byte("\xe4\xbd")) // 你 cut short, then not finished...
	r.Output([]byte("A"))        // ...by an ASCII byte
	r.Output([]byte("\xed\xa0\x80"))
	r.Output([]byte("end\xf0\x9f")) // unfinished when the session ends
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := outputOf(checkAsciicast(t, readText(t, dir, "v")))
	// NUL is left out of output (terminals ignore it): only that byte.
	want := strings.ReplaceAll(controls, "\x00", "") + "bad:\uFFFD\uFFFD;" + "\uFFFD\uFFFDA" + "\uFFFD\uFFFD\uFFFD" + "end\uFFFD\uFFFD"
	if got != want {
		t.Fatalf("output\n got %q\nwant %q", got, want)
	}
}

// Output that is all NUL (head -c 1G /dev/zero) records as nothing, and costs
// no event; NUL typed as input (Ctrl-@) is kept.
func TestNULLeftOutOfOutputOnly(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "z", Options{MergeWithin: -1})
	r.Output(make([]byte, 1<<20))
	r.Output([]byte("a\x00\x00b"))
	r.Output(make([]byte, 13))
	r.Input([]byte("\x00x"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	evs := checkAsciicast(t, readText(t, dir, "z"))
	if len(evs) != 2 || evs[0].Kind != KindOutput || evs[0].Data != "ab" || evs[1].Kind != KindInput || evs[1].Data != "\x00x" {
		t.Fatalf("events %+v, want output \"ab\" and input \"\\x00x\" only", evs)
	}
}

// Splitting any byte stream at any points must record what Go's own UTF-8
// decoding of the whole stream gives: valid text intact, one U+FFFD per
// invalid byte.
func TestRandomSplitsMatchWholeDecoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := [][]byte{[]byte("a"), []byte("\x1b["), []byte("\r\n"), []byte("é"), []byte("你"), []byte("😀"),
		{0xff}, {0x80}, {0xe4}, {0xf0, 0x9f}, []byte(`"\`), {0}}
	dir := t.TempDir()
	for n := range 40 {
		var stream []byte
		for range rng.IntN(300) {
			stream = append(stream, alphabet[rng.IntN(len(alphabet))]...)
		}
		id := "r" + string(rune('a'+n%26)) + string(rune('a'+n/26))
		r := start(t, dir, id, Options{MergeWithin: time.Duration(rng.IntN(2)*2 - 1)})
		for rest := stream; len(rest) > 0; {
			k := 1 + rng.IntN(min(len(rest), 7))
			r.Output(rest[:k])
			rest = rest[k:]
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		got := outputOf(checkAsciicast(t, readText(t, dir, id)))
		if want := strings.ReplaceAll(string([]rune(string(stream))), "\x00", ""); got != want {
			t.Fatalf("stream %q\n got %q\nwant %q", stream, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add([]byte("plain text"), 3)
	f.Add([]byte("\x1b[0m\x00\"\\\n你好\xff"), 1)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00é\x00"), 0x103)
	f.Add([]byte("😀\xf0\x9f\x98"), 2)
	f.Fuzz(func(t *testing.T, p []byte, step int) {
		drop := step&0x100 != 0
		step = 1 + (step&0xff)%16
		c := carry{dropNUL: drop}
		var dst []byte
		for rest := p; len(rest) > 0; {
			k := min(step, len(rest))
			dst = c.appendData(dst, rest[:k])
			rest = rest[k:]
		}
		dst = c.flush(dst)
		var s string
		if err := json.Unmarshal(append(append([]byte{'"'}, dst...), '"'), &s); err != nil {
			t.Fatalf("%q escaped to invalid JSON %q: %v", p, dst, err)
		}
		want := string([]rune(string(p)))
		if drop {
			want = strings.ReplaceAll(want, "\x00", "")
		}
		if s != want {
			t.Fatalf("%q came back as %q, want %q", p, s, want)
		}
	})
}

func TestSizeLimit(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "big", Options{MaxBytes: 1000})
	chunk := bytes.Repeat([]byte("0123456789"), 30) // 300 bytes
	for range 10 {
		r.Output(chunk)
	}
	if got := r.Bytes(); got != 1000 {
		t.Fatalf("Bytes = %d after the limit, want 1000", got)
	}
	r.Input([]byte("exit\r")) // input goes on being recorded
	r.Output([]byte("more output"))
	r.Input(bytes.Repeat([]byte("p"), 2000)) // a paste past twice the limit
	r.Input([]byte("lost"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	events := checkAsciicast(t, readText(t, dir, "big"))
	var recorded string
	var notices []string
	for _, e := range events {
		if e.Kind == KindOutput && strings.Contains(e.Data, "postern:") {
			notices = append(notices, e.Data)
			continue
		}
		if e.Kind == KindOutput {
			recorded += e.Data
		}
	}
	if want := strings.Repeat("0123456789", 100); recorded != want {
		t.Fatalf("recorded %d bytes of output, want exactly the first 1000", len(recorded))
	}
	if len(notices) != 2 || !strings.Contains(notices[0], "size limit") || !strings.Contains(notices[0], "not recorded") ||
		!strings.Contains(notices[1], "input") {
		t.Fatalf("notices = %q", notices)
	}
	var input string
	for _, e := range events {
		if e.Kind == KindInput {
			input += e.Data
		}
	}
	if !strings.HasPrefix(input, "exit\r") || len(input) != 1000 || strings.Contains(input, "lost") {
		t.Fatalf("input recorded = %d bytes %q..., want 1000 up to twice the limit", len(input), input[:10])
	}
	if r.Bytes() != 2000 {
		t.Fatalf("Bytes = %d, want 2000", r.Bytes())
	}
}

func TestUnsafeIDsRejected(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", "../etc", "a/b", "a.b", "a b", "é", ".", "..", "x\x00", strings.Repeat("a", 129)} {
		if _, err := Start(dir, id, Header{}, Options{}); !errors.Is(err, ErrBadID) {
			t.Errorf("Start(%q): %v, want ErrBadID", id, err)
		}
		if _, err := Open(dir, id); !errors.Is(err, ErrBadID) {
			t.Errorf("Open(%q): %v, want ErrBadID", id, err)
		}
		if err := Recover(dir, id); !errors.Is(err, ErrBadID) {
			t.Errorf("Recover(%q): %v, want ErrBadID", id, err)
		}
	}
	if _, err := Start(dir, "Ok-123-"+strings.Repeat("z", 121), Header{}, Options{}); err != nil {
		t.Fatalf("valid 128-character id refused: %v", err)
	}
	if _, err := Open(dir, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing recording: %v", err)
	}
}

// A crash leaves a plain file that may end in a partial line: Open still
// reads it as valid asciicast, Pending lists it, Recover compresses it.
func TestPendingOpenRecover(t *testing.T) {
	dir := t.TempDir()
	full := "{\"version\": 2, \"width\": 80, \"height\": 24}\n" +
		"[0.100000, \"o\", \"hello\\r\\n\"]\n" +
		"[0.200000, \"i\", \"x\"]\n"
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("crashed.cast", full+"[0.300000, \"o\", \"par")
	write("torn.cast", full+"\x00\x00\x00\x00\n[0.400000, \"o\", \"after\"]\n")
	write("empty.cast", "{\"version\": 2, \"wid")
	write("alien.cast", "not a recording\n")
	write("bad.id.cast", full)
	write("done.cast.gz", "")
	write("stale.cast.gz.tmp", "")

	ids, err := Pending(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "alien,crashed,empty,torn" {
		t.Fatalf("Pending = %q", ids)
	}

	if got := readText(t, dir, "crashed"); got != full {
		t.Fatalf("Open of a crashed plain file = %q, want up to the last full line", got)
	}
	if err := Recover(dir, "crashed"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "crashed.cast")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Recover left the plain file")
	}
	if got := readText(t, dir, "crashed"); got != full {
		t.Fatalf("recovered = %q", got)
	}
	if err := Recover(dir, "crashed"); err != nil {
		t.Fatalf("Recover of a compressed recording: %v", err)
	}

	if err := Recover(dir, "torn"); err != nil {
		t.Fatal(err)
	}
	_, events, err := Parse(strings.NewReader(readText(t, dir, "torn")))
	if err != nil || len(events) != 3 || events[2].Data != "after" {
		t.Fatalf("torn recovered to %+v, %v", events, err)
	}

	if err := Recover(dir, "empty"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Recover of a headerless file: %v, want ErrEmpty", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty.cast")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("headerless file not removed")
	}
	if err := Recover(dir, "alien"); err == nil {
		t.Fatal("Recover accepted a file that is not asciicast")
	}
	if _, err := os.Stat(filepath.Join(dir, "alien.cast")); err != nil {
		t.Fatalf("a file Recover does not understand must be kept: %v", err)
	}
	if err := Recover(dir, "nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Recover of a missing id: %v", err)
	}
	ids, _ = Pending(dir)
	if strings.Join(ids, ",") != "alien" {
		t.Fatalf("Pending after Recover = %q", ids)
	}
	if ids, err := Pending(filepath.Join(dir, "nope")); err != nil || ids != nil {
		t.Fatalf("Pending of a missing dir = %q, %v", ids, err)
	}
}

// A live recording can be replayed while it runs: Open returns what has
// reached the file, and it parses.
func TestOpenWhileRecording(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "live", Options{FlushEvery: 10 * time.Millisecond})
	defer r.Close()
	r.Output([]byte("first"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, events, err := Parse(strings.NewReader(readText(t, dir, "live")))
		if err != nil {
			t.Fatal(err)
		}
		if outputOf(events) == "first" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("output not in the file after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Bulk output faster than the disk is throttled, never dropped.
func TestBulkOutputIsKeptWhole(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "bulk", Options{})
	chunk := mixedText(32 << 10)
	const n = 1024 // 32 MiB, several times the in-memory buffer
	for range n {
		r.Output(chunk)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, events, err := Parse(strings.NewReader(readText(t, dir, "bulk")))
	if err != nil {
		t.Fatal(err)
	}
	got := outputOf(events)
	if len(got) != n*len(chunk) || got[:len(chunk)] != string(chunk) || got[len(got)-len(chunk):] != string(chunk) {
		t.Fatalf("recorded %d bytes, want %d", len(got), n*len(chunk))
	}
	if len(events) > n {
		t.Fatalf("%d events for %d writes: bulk output not merged", len(events), n)
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "conc", Options{FlushEvery: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				switch g {
				case 0, 1:
					r.Output([]byte("out 你好\r\n"))
				case 2:
					r.Input([]byte("k"))
				default:
					r.Resize(80+i%5, 24)
				}
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	events := checkAsciicast(t, readText(t, dir, "conc"))
	if got, want := len(outputOf(events)), 1000*len("out 你好\r\n"); got != want {
		t.Fatalf("output bytes %d, want %d", got, want)
	}
}

// When the file cannot be written any more, the gateway is told once, the
// session is not blocked, and what reached the disk is still kept.
func TestWriteErrorReported(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 10)
	r := start(t, dir, "fail", Options{FlushEvery: time.Millisecond, OnError: func(err error) { errs <- err }})
	r.Output([]byte("kept\r\n"))
	time.Sleep(50 * time.Millisecond)
	r.f.Close() // the disk goes away
	deadline := time.After(5 * time.Second)
	for r.Err() == nil {
		r.Output(bytes.Repeat([]byte("lost "), 1000))
		select {
		case <-deadline:
			t.Fatal("write error not noticed")
		default:
		}
	}
	for range 100 {
		r.Output(bytes.Repeat([]byte("x"), 64<<10)) // must not block
	}
	if err := r.Close(); err == nil {
		t.Fatal("Close hid the write error")
	}
	if len(errs) != 1 {
		t.Fatalf("OnError called %d times, want once", len(errs))
	}
	_, events, err := Parse(strings.NewReader(readText(t, dir, "fail")))
	if err != nil || outputOf(events) != "kept\r\n" {
		t.Fatalf("after a write error the recording holds %+v, %v", events, err)
	}
}

func TestCompressedIsGzip(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "gz", Options{})
	r.Output(mixedText(1 << 20))
	r.Close()
	f, err := os.Open(filepath.Join(dir, "gz.cast.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	st, _ := f.Stat()
	if !bytes.HasPrefix(b, []byte(`{"version":2`)) || st.Size()*3 > int64(len(b)) {
		t.Fatalf("gzip holds %d bytes in %d: not the recording, or barely compressed", len(b), st.Size())
	}
}

// mixedText is terminal output as a busy session produces it: mostly ASCII
// lines, colour escapes, some CJK and accented text.
func mixedText(n int) []byte {
	parts := []string{
		"drwxr-xr-x  2 root root  4096 Jan  1 12:00 ", "\x1b[01;34mdirectory\x1b[0m", "\r\n",
		"-rw-r--r--  1 postern postern 18231 Feb 29 23:59 access.log", "\r\n",
		"2024-05-01T10:00:00Z INFO request handled path=/api/v2/assets status=200 in 3.2ms", "\r\n",
		"Ünïcödé façade naïve — 你好，世界 — データベース", "\r\n", "\t{\"key\": \"value\"}\r\n",
	}
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = append(b, parts[i%len(parts)]...)
	}
	return b[:n]
}

// An idle recording holds no writing goroutine, and events after a quiet
// spell (a resize alone, too) still reach the disk within the flush
// interval.
func TestWriterStopsWhenIdle(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "idle", Options{FlushEvery: 10 * time.Millisecond, SyncEvery: 20 * time.Millisecond})
	defer r.Close()
	for _, word := range []string{"first", "second", "132x43"} {
		if word == "132x43" {
			r.Resize(132, 43)
		} else {
			r.Output([]byte(word))
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "idle.cast"))
			r.mu.Lock()
			writing := r.writing
			r.mu.Unlock()
			if strings.Contains(string(b), word) && !writing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %q: on disk %v, writer still running %v", word, strings.Contains(string(b), word), writing)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// One write bigger than the buffer, on a recording whose writer is not
// running, does not wait forever for a writer to make room.
func TestLargeWriteOnIdleRecording(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "big", Options{})
	done := make(chan struct{})
	go func() {
		r.Input(bytes.Repeat([]byte{1}, 2<<20)) // escapes to 12 MiB
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a large write on an idle recording hung")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for _, e := range checkAsciicast(t, readText(t, dir, "big")) {
		if e.Kind == KindInput {
			in.WriteString(e.Data)
		}
	}
	if in.String() != strings.Repeat("\x01", 2<<20) {
		t.Fatalf("the large write was recorded as %d bytes of input, not the %d written", in.Len(), 2<<20)
	}
}
