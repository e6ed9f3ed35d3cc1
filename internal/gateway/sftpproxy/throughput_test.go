package sftpproxy_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/gateway/sftpproxy"
	"github.com/postern/postern/internal/sshtest"
)

// TestThroughput's settings: the size of its file in MiB (default 200, at
// most 1024), and how many rounds it takes the best of (default 3).
const (
	benchEnv  = "POSTERN_SFTP_BENCH_MB"
	roundsEnv = "POSTERN_SFTP_BENCH_ROUNDS"
)

// TestThroughput puts and gets one file with the real sftp client straight
// to the target and through the proxy, and logs the rates and their ratio.
// It asserts only that the data arrives intact: rates depend on the
// machine. Run it alone for figures worth quoting:
//
//	POSTERN_SFTP_BENCH_MB=1024 go test -run TestThroughput -v ./internal/gateway/sftpproxy/
func TestThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement skipped in -short mode")
	}
	mb := 200
	if v := os.Getenv(benchEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			t.Fatalf("%s=%q: want a number of MiB from 1 to 1024", benchEnv, v)
		}
		mb = n
	}
	g := startGateway(t)
	// Streamed to and from disk, never held in memory: the test shares
	// its process, and so its heap, with the proxy it measures.
	local := filepath.Join(t.TempDir(), "big.bin")
	want := writeRandom(t, local, int64(mb)<<20)
	back := filepath.Join(t.TempDir(), "back.bin")
	home := g.tg.Home

	// run times one sftp run, and measures the CPU this process (the
	// proxy, the test idles meanwhile) spent on it: a figure that, unlike
	// the rate, hardly depends on what else the machine is doing.
	run := func(args []string, commands string) (wall, cpu time.Duration) {
		t.Helper()
		cpu0, start := selfCPU(), time.Now()
		r := sshtest.Invocation{Program: "sftp", Stdin: commands, Timeout: 10 * time.Minute,
			Args: append([]string{"-b", "-"}, args...)}.Run(t)
		wall, cpu = time.Since(start), selfCPU()-cpu0
		if r.ExitCode != 0 {
			t.Fatalf("sftp %v: exit %d\n%s\n%s", args, r.ExitCode, r.Stdout, r.Stderr)
		}
		return wall, cpu
	}
	// Straight to the target with the client's defaults, and through the
	// proxy twice: with the cipher OpenSSH picks from the gateway's list
	// (chacha20-poly1305, which Go implements without assembly on amd64)
	// and with AES-GCM.
	type leg struct{ wall, cpu time.Duration }
	type config struct {
		name, remote string
		args         []string
		put, get     leg
	}
	best := func(l *leg, wall, cpu time.Duration) {
		if l.wall == 0 || wall < l.wall {
			l.wall = wall
		}
		if l.cpu == 0 || cpu < l.cpu {
			l.cpu = cpu
		}
	}
	configs := []*config{
		{name: "direct", remote: home + "/direct.bin", args: []string{"-P", strconv.Itoa(g.tg.Port), "-i", g.tgKey, g.tg.User + "@127.0.0.1"}},
		{name: "proxy, client's cipher", remote: onTarget(home + "/proxy.bin"), args: []string{"-P", strconv.Itoa(g.port), "-i", g.opKey, "alice@127.0.0.1"}},
		{name: "proxy, aes128-gcm", remote: onTarget(home + "/proxy.bin"), args: []string{"-c", "aes128-gcm@openssh.com", "-P", strconv.Itoa(g.port), "-i", g.opKey, "alice@127.0.0.1"}},
	}
	rounds := 3
	if v := os.Getenv(roundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", roundsEnv, v)
		}
		rounds = n
	}
	for range rounds {
		// Alternated, so that whatever else the machine does falls on all.
		for _, c := range configs {
			n := g.eventCount()
			w, cpu := run(c.args, fmt.Sprintf("put %s %s\n", local, c.remote))
			best(&c.put, w, cpu)
			w, cpu = run(c.args, fmt.Sprintf("get %s %s\n", c.remote, back))
			best(&c.get, w, cpu)
			if c.name == "direct" {
				continue
			}
			evs := g.eventsSince(n)
			for _, op := range []string{sftpproxy.OpUpload, sftpproxy.OpDownload} {
				if e := find(t, evs, op, home+"/proxy.bin"); !e.Success || e.Size != int64(mb)<<20 || e.SHA256 != want {
					t.Fatalf("%s audited as %+v", op, e)
				}
			}
			if got := fileSum(t, back); got != want {
				t.Fatalf("the file that came back through the proxy differs: sha256 %s, want %s", got, want)
			}
		}
	}
	rate := func(d time.Duration) float64 { return float64(mb) / d.Seconds() }
	perGiB := func(d time.Duration) float64 { return d.Seconds() * 1024 / float64(mb) }
	d := configs[0]
	t.Logf("%d MiB, best of %d, whole sftp runs (login included); proxy CPU in seconds per GiB:", mb, rounds)
	for _, c := range configs {
		line := fmt.Sprintf("  %-23s put %6.1f MiB/s (%.2f of direct)   get %6.1f MiB/s (%.2f of direct)",
			c.name, rate(c.put.wall), rate(c.put.wall)/rate(d.put.wall), rate(c.get.wall), rate(c.get.wall)/rate(d.get.wall))
		if c != d {
			line += fmt.Sprintf("   CPU put %.2f get %.2f", perGiB(c.put.cpu), perGiB(c.get.cpu))
		}
		t.Logf("%s", line)
	}
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeRandom writes size random bytes to a new file at p and returns
// their SHA-256.
func writeRandom(t *testing.T, p string, size int64) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileSum returns the SHA-256 of the file at p.
func fileSum(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
