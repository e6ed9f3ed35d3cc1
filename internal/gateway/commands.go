package gateway

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/recording"
	"github.com/postern/postern/internal/termaudit"
)

// commandAudit follows an interactive session's command lines: it records
// each one the shell ran, and asks the command filter about each before
// the Enter that submits it reaches the target.
type commandAudit struct {
	s         *Server
	sessionID string
	auditor   *termaudit.Auditor
	ch        ssh.Channel
	rec       *recording.Recorder

	mu      sync.Mutex
	checked string  // the last line checked at Enter
	verdict Verdict // and what the filter said of it
}

// verdictFor is the filter's verdict on a command the shell ran: the one
// given at its Enter when it is that line (most are), else asked anew (a
// pasted block, a line the screen showed differently at Enter).
func (a *commandAudit) verdictFor(input string) Verdict {
	a.mu.Lock()
	v, ok := a.verdict, a.checked == input && input != ""
	a.mu.Unlock()
	if ok {
		return v
	}
	return a.s.core.CheckCommand(context.Background(), a.sessionID, input)
}

func (s *Server) auditCommands(ctx context.Context, sessionID string, cols, rows int, ch ssh.Channel, rec *recording.Recorder) *commandAudit {
	a := &commandAudit{s: s, sessionID: sessionID, ch: ch, rec: rec}
	a.auditor = termaudit.New(cols, rows, termaudit.Options{OutputLimit: s.cfg.OutputExcerpt, OnCommand: func(c termaudit.Command) {
		v := a.verdictFor(c.Input)
		if v.Action == ActionReject {
			// Refused at Enter and recorded there; what reaches here was
			// already let through (a paste of several lines, say).
			v.Action = ActionWarn
		}
		s.core.RecordCommands(context.Background(), []Command{{SessionID: sessionID, Input: c.Input, Output: c.Output,
			Risk: v.Risk, Action: v.Action, At: c.At}})
	}})
	return a
}

// filter sees the operator's keystrokes before they are forwarded. For
// each Enter it forwards what came before, waits briefly for the shell
// to echo it (a paste arrives in one piece with its Enter), and asks the
// command filter about the line on screen. A refused line gets a line
// kill (Ctrl-U) and a bare Enter instead, so it never runs and the shell
// shows a fresh prompt; the operator is told why.
func (a *commandAudit) filter(p []byte, send func([]byte) error) error {
	for {
		i := bytes.IndexByte(p, '\r')
		if i < 0 || a.auditor.FullScreen() {
			return send(p)
		}
		if i > 0 {
			if err := send(p[:i]); err != nil {
				return err
			}
			a.settle()
		}
		enter := []byte{'\r'}
		if line, ok := a.auditor.Pending(); ok && line != "" {
			v := a.s.core.CheckCommand(context.Background(), a.sessionID, line)
			a.mu.Lock()
			a.checked, a.verdict = line, v
			a.mu.Unlock()
			switch v.Action {
			case ActionReject:
				a.s.core.RecordCommands(context.Background(), []Command{{SessionID: a.sessionID, Input: line, Risk: v.Risk, Action: ActionReject, At: time.Now()}})
				a.notify(fmt.Sprintf("\r\n\x1b[1;31mpostern: command rejected by rule %q; it was not run\x1b[0m\r\n", v.Rule))
				enter = []byte{0x15, '\r'}
			case ActionWarn:
				a.notify(fmt.Sprintf("\r\n\x1b[1;33mpostern: warning: this command matches rule %q and is flagged for review\x1b[0m\r\n", v.Rule))
			}
		}
		if err := send(enter); err != nil {
			return err
		}
		p = p[i+1:]
		if len(p) == 0 {
			return nil
		}
	}
}

// settle waits until the line being typed stops changing on the emulated
// screen (the shell has echoed what was sent), at most 200 ms.
func (a *commandAudit) settle() {
	deadline := time.Now().Add(200 * time.Millisecond)
	last, _ := a.auditor.Pending()
	stable := 0
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		line, _ := a.auditor.Pending()
		if line == last && line != "" {
			if stable++; stable >= 4 {
				return
			}
			continue
		}
		last, stable = line, 0
	}
}

// notify writes a message to the operator's terminal and the recording.
func (a *commandAudit) notify(msg string) {
	a.ch.Write([]byte(msg))
	if a.rec != nil {
		a.rec.Output([]byte(msg))
	}
}
