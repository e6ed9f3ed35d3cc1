// Command idle opens many interactive SSH sessions (each a connection with
// a pseudo-terminal and a login shell), checks that each shell answers,
// and holds them all open until it gets SIGTERM or SIGINT, so that the
// memory a server spends per idle session can be read from outside.
//
//	idle -addr 127.0.0.1:2222 -user bench@ops@target -key id_ed25519 -n 1000
//
// When every attempt has finished it prints a line
// "READY established=N failed=M" (preceded by the distinct errors, if
// any); on the signal it closes every session, prints "CLOSED" and exits.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

func main() {
	addr := flag.String("addr", "", "host:port of the SSH server")
	user := flag.String("user", "", "login name")
	keyFile := flag.String("key", "", "private key file (unencrypted)")
	n := flag.Int("n", 1000, "sessions to open")
	parallel := flag.Int("parallel", 16, "sessions being opened at once")
	timeout := flag.Duration("timeout", 60*time.Second, "limit for opening one session and seeing its shell answer")
	cipher := flag.String("cipher", "aes128-gcm@openssh.com", "SSH cipher")
	flag.Parse()
	if *addr == "" || *user == "" || *keyFile == "" || *n <= 0 || *parallel <= 0 {
		fmt.Fprintln(os.Stderr, "idle: -addr, -user, -key and positive -n, -parallel are required")
		os.Exit(2)
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		fmt.Fprintf(os.Stderr, "idle: %s: %v\n", *keyFile, err)
		os.Exit(1)
	}
	cfg := &ssh.ClientConfig{
		User:            *user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throwaway server on 127.0.0.1
		Timeout:         *timeout,
	}
	cfg.Ciphers = []string{*cipher}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	var (
		mu      sync.Mutex
		clients []*ssh.Client
		errs    = map[string]int{}
		wg      sync.WaitGroup
		slots   = make(chan struct{}, *parallel)
	)
	start := time.Now()
	for range *n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c, err := open(*addr, cfg, *timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[err.Error()]++
				return
			}
			clients = append(clients, c)
		}()
	}
	wg.Wait()
	failed := *n - len(clients)
	if failed > 0 {
		msgs := make([]string, 0, len(errs))
		for m := range errs {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			fmt.Printf("ERROR x%d: %s\n", errs[m], m)
		}
	}
	fmt.Printf("READY established=%d failed=%d open_seconds=%.1f\n", len(clients), failed, time.Since(start).Seconds())

	// Watch for sessions that end while held: an idle session should not.
	var dropped sync.WaitGroup
	var lost int
	var lostMu sync.Mutex
	closing := make(chan struct{})
	for _, c := range clients {
		dropped.Add(1)
		go func() {
			defer dropped.Done()
			err := c.Wait()
			select {
			case <-closing:
			default:
				lostMu.Lock()
				lost++
				lostMu.Unlock()
				fmt.Printf("DROPPED: %v\n", err)
			}
		}()
	}

	<-sigs
	close(closing)
	for _, c := range clients {
		_ = c.Close()
	}
	dropped.Wait()
	fmt.Printf("CLOSED dropped_while_held=%d\n", lost)
}

// open connects, starts a login shell on a pseudo-terminal and waits until
// the shell has evaluated a command.
func open(addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	deadline := time.Now().Add(timeout)
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("login: %v", err)
	}
	client := ssh.NewClient(c, chans, reqs)
	fail := func(format string, err error) (*ssh.Client, error) {
		client.Close()
		return nil, fmt.Errorf(format, err)
	}
	sess, err := client.NewSession()
	if err != nil {
		return fail("session: %v", err)
	}
	// As OpenSSH's client does, the shell request follows pty-req without
	// waiting for its answer (here by not asking for one).
	if _, err := sess.SendRequest("pty-req", false, ptyRequest("xterm", 80, 24)); err != nil {
		return fail("pty-req: %v", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fail("stdin: %v", err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		return fail("stdout: %v", err)
	}
	if err := sess.Shell(); err != nil {
		return fail("shell: %v", err)
	}
	// The terminal echoes the command line itself; only the shell's
	// evaluation prints "42ok".
	if _, err := io.WriteString(stdin, "echo $((6*7))ok\n"); err != nil {
		return fail("write: %v", err)
	}
	r := bufio.NewReader(out)
	var seen []byte
	for !bytes.Contains(seen, []byte("42ok")) {
		b, err := r.ReadByte()
		if err != nil {
			if len(seen) > 200 {
				seen = seen[len(seen)-200:]
			}
			client.Close()
			return nil, fmt.Errorf("waiting for the shell: %v (it printed %q)", err, seen)
		}
		seen = append(seen, b)
	}
	_ = nc.SetDeadline(time.Time{})
	// Keep reading so that nothing the shell prints later can stall the
	// connection's flow control.
	go func() { _, _ = io.Copy(io.Discard, r) }()
	return client, nil
}

// ptyRequest is the payload of a pty-req request (RFC 4254, 6.2) with no
// terminal modes.
func ptyRequest(term string, cols, rows uint32) []byte {
	return ssh.Marshal(struct {
		Term              string
		Columns, Rows     uint32
		WidthPx, HeightPx uint32
		Modes             string
	}{term, cols, rows, 0, 0, "\x00"})
}
