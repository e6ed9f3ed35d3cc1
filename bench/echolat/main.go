// Command echolat measures keystroke echo latency over SSH: it opens one
// session with a pseudo-terminal, runs cat on a raw, non-echoing terminal,
// then sends one byte at a time and times how long each takes to come
// back. The same client runs against direct OpenSSH and against Postern,
// so the difference between the two is what the gateway adds.
//
//	echolat -addr 127.0.0.1:2222 -user bench@ops@target -key id_ed25519 -n 2000
//
// It prints one line: n=... p50_us=... p90_us=... p99_us=... max_us=... mean_us=...
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

func main() {
	addr := flag.String("addr", "", "host:port of the SSH server")
	user := flag.String("user", "", "login name")
	keyFile := flag.String("key", "", "private key file (unencrypted)")
	n := flag.Int("n", 2000, "measured round trips")
	warmup := flag.Int("warmup", 100, "round trips before measuring")
	cipher := flag.String("cipher", "aes128-gcm@openssh.com", "SSH cipher")
	timeout := flag.Duration("timeout", 5*time.Second, "longest wait for one echo")
	setupLimit := flag.Duration("setup-timeout", 20*time.Second, "longest wait for the session to be ready")
	waitPty := flag.Bool("pty-wait-reply", false, "send pty-req wanting a reply and wait for it before exec (x/crypto/ssh's RequestPty); the default sends it without wanting a reply, then exec")
	flag.Parse()
	if *addr == "" || *user == "" || *keyFile == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "echolat: -addr, -user, -key and a positive -n are required")
		os.Exit(2)
	}
	if err := run(*addr, *user, *keyFile, *cipher, *n, *warmup, *timeout, *setupLimit, *waitPty); err != nil {
		fmt.Fprintln(os.Stderr, "echolat:", err)
		os.Exit(1)
	}
}

func run(addr, user, keyFile, cipher string, n, warmup int, timeout, setupLimit time.Duration, waitPty bool) error {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s: %v", keyFile, err)
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throwaway server on 127.0.0.1
		Timeout:         10 * time.Second,
	}
	cfg.Ciphers = []string{cipher}
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	// Keystrokes must not wait for Nagle's algorithm (Go's default, stated).
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		return fmt.Errorf("login to %s as %s: %v", addr, user, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	// A server that never answers a step must not hang the benchmark:
	// closing the connection unblocks every call below.
	var stage atomic.Value
	stage.Store("opening the session")
	stuck := time.AfterFunc(setupLimit, func() { client.Close() })
	setupErr := func(err error) error {
		if !stuck.Stop() {
			return fmt.Errorf("setup did not finish within %v, stuck at: %s", setupLimit, stage.Load())
		}
		return fmt.Errorf("%s: %v", stage.Load(), err)
	}

	sess, err := client.NewSession()
	if err != nil {
		return setupErr(err)
	}
	defer sess.Close()
	// Raw and silent from the start, so that no byte is echoed by the
	// terminal itself: only cat sends it back.
	modes := ssh.TerminalModes{ssh.ECHO: 0, ssh.ICANON: 0, ssh.ISIG: 0, ssh.IEXTEN: 0, ssh.OPOST: 0, ssh.ICRNL: 0}
	if waitPty {
		stage.Store("waiting for the reply to pty-req (sent before exec, as x/crypto/ssh's RequestPty does)")
		err = sess.RequestPty("xterm", 24, 80, modes)
	} else {
		// As OpenSSH's client does, exec follows pty-req without waiting
		// for its answer (here by not asking for one).
		stage.Store("sending pty-req")
		_, err = sess.SendRequest("pty-req", false, PtyRequest("xterm", 80, 24, modes))
	}
	if err != nil {
		return setupErr(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	stage.Store("waiting for the reply to exec")
	if err := sess.Start("stty raw -echo && echo ECHOLAT-READY && exec cat"); err != nil {
		return setupErr(err)
	}
	stage.Store("waiting for the command to print ECHOLAT-READY")
	r := bufio.NewReaderSize(out, 64)
	if err := waitFor(r, []byte("ECHOLAT-READY")); err != nil {
		return setupErr(err)
	}
	// The rest of the READY line: "\n" or "\r\n".
	if _, err := r.ReadBytes('\n'); err != nil {
		return setupErr(err)
	}
	if !stuck.Stop() {
		return fmt.Errorf("setup did not finish within %v", setupLimit)
	}

	got := make(chan byte, 1)
	errc := make(chan error, 1)
	go func() {
		for {
			b, err := r.ReadByte()
			if err != nil {
				errc <- err
				return
			}
			got <- b
		}
	}()
	samples := make([]time.Duration, 0, n)
	one := []byte{0}
	for i := range warmup + n {
		one[0] = 'a' + byte(i%26)
		start := time.Now()
		if _, err := stdin.Write(one); err != nil {
			return fmt.Errorf("write: %v", err)
		}
		select {
		case b := <-got:
			d := time.Since(start)
			if b != one[0] {
				return fmt.Errorf("round trip %d: sent %q, got %q", i, one[0], b)
			}
			if i >= warmup {
				samples = append(samples, d)
			}
		case err := <-errc:
			return fmt.Errorf("round trip %d: read: %v", i, err)
		case <-time.After(timeout):
			return fmt.Errorf("round trip %d: no echo within %v", i, timeout)
		}
	}
	_ = stdin.Close()

	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
	fmt.Printf("n=%d p50_us=%s p90_us=%s p99_us=%s max_us=%s mean_us=%s\n", len(samples),
		us(pct(samples, 50)), us(pct(samples, 90)), us(pct(samples, 99)), us(samples[len(samples)-1]),
		us(sum/time.Duration(len(samples))))
	return nil
}

// pct returns the p-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// waitFor reads r until it has seen marker.
func waitFor(r *bufio.Reader, marker []byte) error {
	var seen []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("the session ended before it was ready; it printed %q", seen)
			}
			return err
		}
		seen = append(seen, b)
		if bytes.HasSuffix(seen, marker) {
			return nil
		}
	}
}

// PtyRequest is the payload of a pty-req request (RFC 4254, 6.2).
func PtyRequest(term string, cols, rows uint32, modes ssh.TerminalModes) []byte {
	var m []byte
	for op, v := range modes {
		m = append(m, op, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	m = append(m, 0) // TTY_OP_END
	return ssh.Marshal(struct {
		Term              string
		Columns, Rows     uint32
		WidthPx, HeightPx uint32
		Modes             string
	}{term, cols, rows, 0, 0, string(m)})
}
