package recording

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const crashDirEnv = "POSTERN_RECORDING_CRASH_DIR"

// TestCrashHelperProcess is not a test: TestKill9LosesAtMostASecond runs the
// test binary again with crashDirEnv set, and this records output until it
// is killed, printing "seq unix-nanoseconds" after each event is recorded.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	r, err := Start(dir, "crash", Header{Width: 80, Height: 24}, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for seq := 0; ; seq++ {
		r.Output(fmt.Appendf(nil, "line %d: 你好 \x1b[1mbold\x1b[0m\r\n", seq))
		fmt.Fprintf(out, "%d %d\n", seq, time.Now().UnixNano())
		out.Flush()
		time.Sleep(time.Millisecond)
	}
}

// A kill -9 of the gateway loses at most about one second of a recording,
// and what is left is valid asciicast that Recover compresses.
func TestKill9LosesAtMostASecond(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	recordedAt := map[int]int64{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	parse := func(l string) {
		f := strings.Fields(l)
		if len(f) != 2 {
			return // a line cut by the kill
		}
		seq, err1 := strconv.Atoi(f[0])
		ns, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 == nil && err2 == nil {
			recordedAt[seq] = ns
		}
	}
	// Let it record for about 1.6s after its first event, so that several
	// flushes and at least one fsync have happened, then kill it
	// mid-stream: half-way between two of its 250ms flushes, where the
	// most is lost.
	first, ok := <-lines
	if !ok {
		t.Fatal("helper process printed nothing")
	}
	parse(first)
	timer := time.After(1625 * time.Millisecond)
wait:
	for {
		select {
		case l := <-lines:
			parse(l)
		case <-timer:
			break wait
		}
	}
	killedAt := time.Now().UnixNano()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	for l := range lines {
		parse(l)
	}
	cmd.Wait()

	if _, err := os.Stat(filepath.Join(dir, "crash.cast")); err != nil {
		t.Fatalf("no plain recording after the kill: %v", err)
	}
	ids, err := Pending(dir)
	if err != nil || len(ids) != 1 || ids[0] != "crash" {
		t.Fatalf("Pending = %q, %v", ids, err)
	}
	// Read the plain file as the replay API would before Recover runs.
	_, events, err := Parse(strings.NewReader(readText(t, dir, "crash")))
	if err != nil {
		t.Fatalf("plain recording after kill -9 does not parse: %v", err)
	}
	last := lastSeq(t, outputOf(events))

	var lostFrom int64
	for seq, at := range recordedAt {
		if seq > last && (lostFrom == 0 || at < lostFrom) {
			lostFrom = at
		}
	}
	lost := time.Duration(0)
	if lostFrom != 0 {
		lost = time.Duration(killedAt - lostFrom)
	}
	t.Logf("recorded %d events in %.1fs; file holds events up to #%d; lost the last %v before the kill",
		len(recordedAt), float64(killedAt-recordedAt[0])/1e9, last, lost)
	if last < 0 {
		t.Fatal("nothing of 1.5s of recording survived the kill")
	}
	if lost > time.Second {
		t.Fatalf("lost %v of recording before the kill, want at most about 1s", lost)
	}

	if err := Recover(dir, "crash"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := Pending(dir); len(ids) != 0 {
		t.Fatalf("Pending after Recover = %q", ids)
	}
	text := readText(t, dir, "crash")
	checkAsciicast(t, text)
	_, recovered, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if lastSeq(t, outputOf(recovered)) != last {
		t.Fatal("Recover lost complete events")
	}
}

// lastSeq checks that output holds "line 0" to "line N" in order with no gap
// or damage, and returns N (-1 for none).
func lastSeq(t *testing.T, output string) int {
	t.Helper()
	lines := strings.Split(output, "\r\n")
	lines = lines[:len(lines)-1] // after the last "\r\n"
	for i, l := range lines {
		if want := fmt.Sprintf("line %d: 你好 \x1b[1mbold\x1b[0m", i); l != want {
			t.Fatalf("recorded line %d = %q, want %q", i, l, want)
		}
	}
	return len(lines) - 1
}
