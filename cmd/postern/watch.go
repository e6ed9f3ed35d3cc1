package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/coder/websocket"
	"golang.org/x/term"
)

// watch follows a live session in this terminal through the API: the
// screen as it is, then every update. Ctrl-X asks Postern to terminate
// the session (administrators); Ctrl-C stops watching.
func watch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	server := fs.String("url", "http://127.0.0.1:8080", "Postern's API address")
	token := fs.String("token", "", "API token of an administrator or auditor (or POSTERN_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("watch: give exactly one SESSION-ID")
	}
	if *token == "" {
		return errors.New("watch: an API token is needed: --token or POSTERN_TOKEN")
	}
	u, err := url.Parse(*server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("watch: --url must be http(s)://HOST:PORT")
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/api/v2/terminal/sessions/" + url.PathEscape(fs.Arg(0)) + "/watch/"

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + *token}}})
	if err != nil {
		if resp != nil {
			var e struct{ Detail string }
			json.NewDecoder(resp.Body).Decode(&e)
			if e.Detail != "" {
				return fmt.Errorf("watch: %s (HTTP %d)", e.Detail, resp.StatusCode)
			}
			return fmt.Errorf("watch: HTTP %d", resp.StatusCode)
		}
		return fmt.Errorf("watch: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)

	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		if old, err := term.MakeRaw(fd); err == nil {
			defer term.Restore(fd, old)
			fmt.Fprint(os.Stderr, "watching; Ctrl-X terminates the session, Ctrl-C stops watching\r\n")
			go keys(ctx, stop, conn)
		}
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil || websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil
			}
			return fmt.Errorf("watch: %w", err)
		}
		if typ == websocket.MessageBinary {
			os.Stdout.Write(data)
			continue
		}
		var ev struct{ Type, Detail string }
		if json.Unmarshal(data, &ev) == nil {
			fmt.Fprintf(os.Stderr, "\r\n[postern: %s]\r\n", ev.Detail)
		}
	}
}

// keys reads the watcher's keyboard in raw mode: Ctrl-X terminates the
// session, Ctrl-C stops watching.
func keys(ctx context.Context, stop context.CancelFunc, conn *websocket.Conn) {
	buf := make([]byte, 16)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil {
			return
		}
		for _, b := range buf[:n] {
			switch b {
			case 0x03:
				stop()
				return
			case 0x18:
				conn.Write(ctx, websocket.MessageText, []byte(`{"type":"terminate"}`))
			}
		}
	}
}
