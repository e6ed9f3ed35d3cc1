package recording

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// step is one write to a Recorder: typed keys, terminal output, or a
// resize (cols > 0).
type step struct {
	in, out    string
	cols, rows int
}

func record(t *testing.T, opt Options, steps []step) []Event {
	t.Helper()
	dir := t.TempDir()
	r := start(t, dir, "e", opt)
	for _, s := range steps {
		switch {
		case s.in != "":
			r.Input([]byte(s.in))
		case s.out != "":
			r.Output([]byte(s.out))
		default:
			r.Resize(s.cols, s.rows)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return checkAsciicast(t, readText(t, dir, "e"))
}

func TestUnechoedInputLeftOut(t *testing.T) {
	sudo := []step{
		{out: "$ "}, {in: "s"}, {out: "s"}, {in: "udo id"}, {out: "udo id"}, {in: "\r"}, {out: "\r\n"},
		{out: "[sudo] password for ops: "},
		{in: "h"}, {in: "unter2"}, {in: "\r"}, {out: "\r\n"}, {out: "uid=0(root)\r\n$ "},
		{in: "exit\r"}, {out: "exit\r\n"},
	}
	cases := []struct {
		name  string
		steps []step
		want  string
	}{
		{"sudo prompt", sudo, "sudo id\r\rexit\r"},
		{"pasted password with its Enter", []step{{out: "Password: "}, {in: "p4ss word\r"}, {out: "\r\nLogin ok\r\n"}}, "\r"},
		{"non-ASCII password", []step{{out: "Passwort: "}, {in: "\u00fcber"}, {in: "\r"}, {out: "\n"}}, "\r"},
		{"only the key that abandons the answer kept", []step{{out: "PIN: "}, {in: "12\x1b[D3\x7f\x03"}, {out: "^C\r\n"}}, "\x03"},
		{"echo in colour", []step{{out: "$ "}, {in: "ls"}, {out: "\x1b[32ml\x1b[0ms"}}, "ls"},
		{"echo after a title string", []step{{out: "$ "}, {in: "x"}, {out: "\x1b]0;title\x07x"}}, "x"},
		{"Ctrl-R search shows the key", []step{{in: "\x12"}, {out: "(reverse-i-search)`': "}, {in: "g"}, {out: "\x1b[1@g\x1b[C"}}, "\x12g"},
		{"typed, then the session ends", []step{{out: "Password: "}, {in: "secret"}}, ""},
		{"typed, then a resize", []step{{out: "Password: "}, {in: "secret"}, {cols: 90, rows: 20}, {out: "\r\n"}}, ""},
		{"full-screen keys as typed", []step{{out: "\x1b[?1049h\x1b[H"}, {in: "dd"}, {out: "\x1b[2;1H~"}, {in: ":q\r"}, {out: "\x1b[?1049l$ "}}, "dd:q\r"},
		{"password after a full-screen program", []step{{out: "\x1b[?1049h"}, {in: "q"}, {out: "\x1b[?1049lPassword: "}, {in: "pw\r"}, {out: "\r\n"}}, "q\r"},
	}
	cases = append(cases, []struct {
		name  string
		steps []step
		want  string
	}{
		{"password typed ahead of sudo's prompt", []step{{out: "$ "}, {in: "sudo id\r"}, {in: "s3cret\r"},
			{out: "sudo id\r\n[sudo] password for ops: "}, {out: "\r\n"}, {out: "uid=0(root)\r\n$ "}}, "sudo id\r\r"},
		{"answer that starts like the password", []step{{out: "Secret: "}, {in: "topsecret\r"}, {out: "thanks\r\n"}}, "\r"},
		{"prompt after a long line", []step{{out: strings.Repeat("x", 300) + "Password: "}, {in: "pw\r"}, {out: "\r\n"}}, "\r"},
		{"prompt ending a long line in pieces", []step{{out: strings.Repeat("y", 250)}, {out: "Password: "}, {in: "pw\r"}, {out: "\r\n"}}, "\r"},
		{"stty -echo at a shell prompt is recorded", []step{{out: "$ "}, {in: "rm -rf /data\r"}, {out: "\r\n$ "}}, "rm -rf /data\r"},
		{"password in a full-screen multiplexer", []step{{out: "\x1b[?1049h\x1b[5;1H[sudo] password for ops: "}, {in: "pw"}, {in: "\r"}, {out: "\x1b[6;1H"}}, "\r"},
		// sudo prints its prompt after the shell's echo has gone out.
		{"typed ahead, echo and prompt apart", []step{{out: "$ "}, {in: "sudo id\r"}, {in: "s3cret\r"},
			{out: "sudo id\r\n"}, {out: "[sudo] password for ops: "}, {out: "\r\n"}, {out: "uid=0(root)\r\n$ "}}, "sudo id\r\r"},
		{"typed ahead, echo in pieces", []step{{out: "$ "}, {in: "sudo id\rs3cret\r"},
			{out: "s"}, {out: "udo id\r\n"}, {out: "[sudo] password for ops: "}, {out: "\r\n"}}, "sudo id\r\r"},
		{"a host named ping is no PIN prompt", []step{{out: "ops@ping-gw % "}, {in: "ls\r"}, {out: "\r\r\n"}}, "ls\r"},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := record(t, Options{HideUnechoed: true, MergeWithin: -1}, c.steps)
			if got := inputOf(evs); got != c.want {
				t.Fatalf("recorded input %q, want %q", got, c.want)
			}
		})
	}
	t.Run("marker says that typing was left out, not how much", func(t *testing.T) {
		evs := record(t, Options{HideUnechoed: true, MergeWithin: -1}, sudo)
		if got := dataOf(evs, KindMarker); got != unechoedMarker {
			t.Fatalf("marker %q", got)
		}
	})
	t.Run("editing keys typed on their own at a password prompt are left out", func(t *testing.T) {
		evs := record(t, Options{HideUnechoed: true, MergeWithin: -1},
			[]step{{out: "Password: "}, {in: "\x7f"}, {in: "\x15"}, {in: "\x1b[D"}, {in: "hi"}, {in: "\r"}, {out: "\r\n"}})
		if got := inputOf(evs); got != "\r" {
			t.Fatalf("recorded input %q, want only the Enter", got)
		}
	})
	t.Run("one marker per prompt, however many pieces the typing came in", func(t *testing.T) {
		evs := record(t, Options{HideUnechoed: true, MergeWithin: -1},
			[]step{{out: "Password: "}, {in: "hunter3"}, {out: "\a"}, {in: "\x7f"}, {in: "2\r"}, {out: "\r\n"},
				{out: "Sorry, try again.\r\nPassword: "}, {in: "pw\r"}, {out: "\r\n"}})
		if got := inputOf(evs); got != "\r\r" {
			t.Fatalf("recorded input %q, want only the Enters", got)
		}
		marks := 0
		for _, e := range evs {
			if e.Kind == KindMarker {
				marks++
			}
		}
		if marks != 2 {
			t.Fatalf("%d markers for two prompts", marks)
		}
	})
	t.Run("corrections at a password prompt are left out too", func(t *testing.T) {
		evs := record(t, Options{HideUnechoed: true, MergeWithin: -1},
			[]step{{out: "Password: "}, {in: "hunx\x7fter\x15hunter2\x1b[D\t\r"}, {out: "\r\n"}})
		if got := inputOf(evs); got != "\r" {
			t.Fatalf("recorded input %q, want only the Enter", got)
		}
	})
	t.Run("nothing held or marked past the size limit", func(t *testing.T) {
		long := strings.Repeat("a", 25)
		evs := record(t, Options{HideUnechoed: true, MergeWithin: -1, MaxBytes: 10},
			[]step{{out: "$ "}, {in: long}, {out: long}, {out: "Password: "}, {in: "pw\r"}, {out: "\r\n"}})
		if got := dataOf(evs, KindMarker); got != "" {
			t.Fatalf("marker %q after input recording stopped", got)
		}
	})
	t.Run("off records all", func(t *testing.T) {
		if got := inputOf(record(t, Options{}, sudo)); got != "sudo id\rhunter2\rexit\r" {
			t.Fatalf("recorded input %q", got)
		}
	})
}

// Held keys keep the time they were typed, and the events stay in order.
func TestHeldInputKeepsItsTime(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "t", Options{HideUnechoed: true, MergeWithin: -1})
	r.Output([]byte("$ "))
	r.Input([]byte("l"))
	before := time.Since(r.start)
	r.Output([]byte("l"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	evs := checkAsciicast(t, readText(t, dir, "t"))
	if len(evs) != 3 || evs[1].Kind != KindInput || evs[1].Data != "l" || evs[2].Kind != KindOutput {
		t.Fatalf("events %+v", evs)
	}
	if evs[1].Time > before.Seconds() {
		t.Fatalf("input recorded at %v, typed before %v", evs[1].Time, before.Seconds())
	}
}

func FuzzUnechoedMask(f *testing.F) {
	f.Add([]byte("Password: "), []byte("hunter2\r"))
	f.Add([]byte("\x1b]0;t\x07"), []byte("\x1b[A\x1bOBx"))
	f.Fuzz(func(t *testing.T, out, in []byte) {
		kept := answerKeys(in)
		if hasText(kept) || bytes.ContainsAny(kept, "\x7f\b\x15\x17\x1b") {
			t.Fatalf("answerKeys(%q) = %q keeps text or editing keys", in, kept)
		}
		// Typed text echoed as it is, however the keys came, is an echo;
		// the answer to a password (a line feed first) never is.
		if text := textOnly(in); len(text) > 0 {
			if echoed(text, in) < 0 {
				t.Fatalf("%q is not seen as the echo of %q", text, in)
			}
			if echoed(append([]byte("\r\n"), text...), in) >= 0 {
				t.Fatalf("a line feed before %q is taken for an echo", text)
			}
		}
		echoed(out, in)
		secretPrompt(out)
	})
}
