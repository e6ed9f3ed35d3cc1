// Package recording writes and reads terminal session recordings in
// asciicast v2, the format asciinema and asciinema-player play.
//
// It is for: turning the byte streams of one interactive session (output,
// input, window size) into a file as the session runs, so that a crash of the
// gateway loses at most about a second of it; compressing the file when the
// session ends; recovering files left open by a crash; and reading a
// recording back for replay or for tools. It is not for: deciding which
// sessions are recorded or who may replay them (the gateway and the API do),
// command-level audit, file transfers, or shipping recordings to other
// storage.
//
// # Files
//
// A recording with id ID lives in one directory as ID.cast (plain asciicast,
// mode 0600) while the session runs, and as ID.cast.gz once it is closed or
// recovered. The text is
//
//	{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"TERM":"xterm"}}
//	[0.012345, "o", "output bytes"]
//	[0.501000, "i", "typed bytes"]
//	[0.750000, "r", "120x40"]
//
// Times are seconds since the start, never decreasing. Ids are limited to
// ASCII letters, digits and '-' so that an id can never name a file outside
// the directory.
//
// # Text
//
// Terminal streams are bytes, JSON strings are Unicode. A UTF-8 sequence
// split across two writes is carried over and written whole with the later
// event, so nothing valid is damaged; each byte that is not part of valid
// UTF-8 is written as U+FFFD (so the file stays valid JSON and the reader
// sees that something undecodable was sent). Control characters, escape
// sequences included, are kept exactly through JSON escapes, except NUL in
// output: terminals ignore it and the standard lets it be removed, so it is
// left out of the recording (a stream of zeros records as nothing, instead
// of six bytes of "\u0000" for each). NUL in input (Ctrl-@, which programs
// do read) is kept.
//
// # Durability and cost
//
// Output and Input only escape the bytes into an in-memory buffer; a
// goroutine per Recorder hands the buffer to write(2) every 250ms and
// fsyncs at most once a second (see Options for why). A kill of the gateway
// loses at most the last quarter second, a power loss at most about a
// second plus the partial line Recover drops. Recording never drops data to
// keep up: when more than a few megabytes wait for the disk, Output and
// Input wait too, which slows the session to the disk's pace instead of
// leaving a gap in the audit trail. Only a failed write (a full or broken
// disk) stops a recording, and Options.OnError tells the gateway.
package recording

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Event kinds, as asciicast v2 names them.
const (
	KindOutput = "o" // bytes the host sent to the user's terminal
	KindInput  = "i" // bytes the user typed
	KindResize = "r" // the terminal's new size, data "COLSxROWS"
	KindMarker = "m" // a marker: a note for whoever replays it
)

// Header describes a recording: the first line of the file.
type Header struct {
	// Width and Height are the terminal size at the start, in columns and
	// rows. Start uses 80x24 when they are not positive, because players
	// need a size to lay out the screen.
	Width, Height int
	// Timestamp is the Unix time the session started; Start fills it in
	// when it is zero.
	Timestamp int64
	// Title is shown by players; may be empty.
	Title string
	// Env holds environment values players use, asciinema's TERM and SHELL.
	Env map[string]string
}

// Event is one line after the header.
type Event struct {
	Time float64 // seconds since the start of the recording
	Kind string  // KindOutput, KindInput, KindResize (other kinds are passed through by Parse)
	Data string
}

// Options tune a Recorder. The zero value is what a gateway wants.
type Options struct {
	// MaxBytes, if positive, bounds the event data recorded (Bytes). When
	// output would pass it, the output up to the limit is recorded, then an
	// output event with a visible notice, and later output is no longer
	// recorded while the session itself goes on. Input and resizes go on
	// being recorded, since what the user typed is what an audit needs most
	// and it is small, up to twice MaxBytes in all so that a huge paste
	// cannot fill the disk either (another notice marks that point).
	MaxBytes int64
	// FlushEvery is how often buffered events are written to the file
	// (default 250ms). Data handed to write(2) survives the death of the
	// process, so this bounds what a crash of the gateway can lose.
	FlushEvery time.Duration
	// SyncEvery is how often, at most, written data is also fsynced
	// (default 1s). fsync is what protects against a power loss or kernel
	// crash, but it costs a disk flush; doing it on every write would make a
	// busy gateway disk-bound, and once a second bounds the loss the same way.
	SyncEvery time.Duration
	// MergeWithin: an output event that starts less than this after the
	// previous output event began is appended to it (default 2ms; negative
	// turns merging off). Bulk output (cat of a large file) arrives in many
	// small reads and would otherwise cost one line each. Merging never
	// crosses an input or resize event, so the order of what the user saw
	// and typed is kept.
	MergeWithin time.Duration
	// HideUnechoed leaves out of the recorded input the text typed at a
	// password prompt, which the terminal did not echo (see echo.go):
	// control keys are still recorded, printable characters are not, and
	// a marker event says how many were left out. For sessions with a
	// terminal; without one nothing is echoed and input is data, recorded
	// as it is.
	HideUnechoed bool
	// OnError, if set, is called once, in a goroutine of its own, when
	// writing the file fails. From then on events are dropped: the
	// gateway decides whether a session that can no longer be recorded may
	// go on.
	OnError func(error)
}

const (
	defaultFlushEvery  = 250 * time.Millisecond
	defaultSyncEvery   = time.Second
	defaultMergeWithin = 2 * time.Millisecond

	// maxBuffer bounds the events waiting for the disk. Past it, Output and
	// Input wait for the writer instead of dropping data: an audit trail
	// must not silently lose what a session showed, and the wait throttles
	// the session (through SSH flow control) to what the disk can take.
	maxBuffer = 4 << 20
	// kickAt is the buffer size at which the writer is woken early, so bulk
	// output is written in large pieces rather than waiting for the tick.
	kickAt = 256 << 10
	// maxChunk bounds the bytes of one call escaped at once (escaping can
	// grow them six times), so a single huge write cannot overshoot
	// maxBuffer by much.
	maxChunk = 1 << 20
	// keepBuffer: a buffer that grew beyond this during a burst is let go
	// when the session goes quiet (see shrink).
	keepBuffer = 1 << 20
)

// eventEnd closes every event line; merging removes and re-adds it.
const eventEnd = "\"]\n"

// Recorder records one session. Its methods are safe for concurrent use.
// Close must be called when the session ends: it stops the Recorder's
// writing goroutine, if one runs (one runs only while there is something
// to write or sync, so an idle session holds none), and compresses the
// file.
type Recorder struct {
	dir, id string
	f       *os.File
	opt     Options
	start   time.Time // carries the monotonic clock reading event times use

	kick    chan struct{}  // wakes the writer early; capacity 1
	stop    chan struct{}  // closed by Close
	writers sync.WaitGroup // the writer, while it runs

	bytes atomic.Int64

	mu     sync.Mutex
	space  sync.Cond // signalled when buf is taken by the writer, or on close or failure
	buf    []byte    // complete event lines not yet written
	out    carry     // unfinished UTF-8 sequence at the end of the output so far
	in     carry     // the same for input
	open   bool      // the last line in buf is an output event that may be extended
	openAt time.Duration
	// outputOff and inputOff are set when MaxBytes stopped that stream.
	outputOff, inputOff bool
	closed              bool
	// Input held back until the terminal shows whether it echoed it
	// (HideUnechoed): the keys, their size, whether they were typed at
	// what looks like a password prompt, and the output since the last
	// line feed (the line the cursor is on).
	held      []heldKeys
	heldSize  int
	heldAhead bool // the held keys were typed ahead of an echoed Enter
	marked    bool // a marker was written for the line the cursor is on
	lastLine  []byte

	writing bool  // the writer runs (started by record, ends when idle)
	err     error // first write error; events are dropped after it

	closeOnce sync.Once
	closeErr  error
}

// Start creates <dir>/<id>.cast (creating dir with mode 0700 if needed),
// writes and syncs the header, and starts recording. It refuses an id that is
// not a safe file name, and an id that already has a recording, plain or
// compressed: a recording is never overwritten.
func Start(dir, id string, h Header, opt Options) (*Recorder, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = defaultFlushEvery
	}
	if opt.SyncEvery <= 0 {
		opt.SyncEvery = defaultSyncEvery
	}
	if opt.MergeWithin == 0 {
		opt.MergeWithin = defaultMergeWithin
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording %s: %w", id, err)
	}
	if _, err := os.Lstat(gzPath(dir, id)); err == nil {
		return nil, fmt.Errorf("recording %s: %w", id, os.ErrExist)
	}
	path := castPath(dir, id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", id, err)
	}
	start := time.Now()
	if h.Timestamp == 0 {
		h.Timestamp = start.Unix()
	}
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = 80, 24
	}
	line, err := marshalHeader(h)
	if err == nil {
		_, err = f.Write(line)
	}
	// The header is synced now, with the directory entry, so that a
	// recording that exists after a crash always has one.
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("recording %s: %w", id, err)
	}
	r := &Recorder{
		dir: dir, id: id, f: f, opt: opt, start: start,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	r.out.dropNUL = true
	r.space.L = &r.mu
	return r, nil
}

// headerJSON is the header line as asciicast v2 spells it.
type headerJSON struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

func marshalHeader(h Header) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Titles and commands are easier to read in the file unescaped; JSON
	// does not need <, > and & escaped.
	enc.SetEscapeHTML(false)
	err := enc.Encode(headerJSON{Version: 2, Width: h.Width, Height: h.Height,
		Timestamp: h.Timestamp, Title: h.Title, Env: h.Env})
	return b.Bytes(), err // Encode ends the line with '\n'
}

// Output records bytes sent to the user's terminal. It only copies p
// (escaped) into memory, unless the disk has fallen more than a few
// megabytes behind, in which case it waits for the writer. It does nothing
// after Close, after a write error, or once MaxBytes stopped output.
func (r *Recorder) Output(p []byte) { r.record(false, p) }

// Input records bytes the user typed, as Output does.
func (r *Recorder) Input(p []byte) { r.record(true, p) }

func (r *Recorder) record(input bool, p []byte) {
	if len(p) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(p) > 0 && r.waitLocked() {
		chunk := p[:min(len(p), maxChunk)]
		p = p[len(chunk):]
		now := time.Since(r.start)
		switch {
		case input && r.holdLocked(now, chunk):
		case input:
			r.inputLocked(now, chunk)
		default:
			r.outputSeenLocked(now, chunk)
			r.outputLocked(now, chunk)
		}
	}
	r.startWriterLocked()
	if len(r.buf) >= kickAt {
		r.kickWriter()
	}
}

// startWriterLocked starts the writer if there is something to write and
// none runs.
func (r *Recorder) startWriterLocked() {
	if r.writing || r.closed || r.err != nil || len(r.buf) == 0 {
		return
	}
	r.writing = true
	r.writers.Add(1)
	go r.writer()
}

// waitLocked waits while the buffer is full and reports whether events may
// still be recorded.
func (r *Recorder) waitLocked() bool {
	for len(r.buf) >= maxBuffer && !r.closed && r.err == nil {
		r.startWriterLocked()
		r.kickWriter()
		r.space.Wait()
	}
	return !r.closed && r.err == nil
}

func (r *Recorder) kickWriter() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// allowance returns how many of n more data bytes may be recorded before
// limit, and whether that cuts them short.
func (r *Recorder) allowance(n int, limit int64) (int, bool) {
	if r.opt.MaxBytes <= 0 {
		return n, false
	}
	left := max(limit-r.bytes.Load(), 0)
	if int64(n) > left {
		return int(left), true
	}
	return n, false
}

func (r *Recorder) outputLocked(now time.Duration, p []byte) {
	if r.outputOff {
		return
	}
	n, cut := r.allowance(len(p), r.opt.MaxBytes)
	p = p[:n]
	if len(p) > 0 {
		mark := len(r.buf)
		merge := r.open && now-r.openAt < r.opt.MergeWithin
		if merge {
			r.buf = r.buf[:mark-len(eventEnd)]
		} else {
			r.buf = appendEventStart(r.buf, now, KindOutput)
		}
		dataAt := len(r.buf)
		r.buf = r.out.appendData(r.buf, p)
		if len(r.buf) == dataAt && !merge {
			// Every byte was carried over: no empty event.
			r.buf = r.buf[:mark]
		} else {
			r.buf = append(r.buf, eventEnd...)
			if !merge {
				r.open, r.openAt = true, now
			}
		}
		r.bytes.Add(int64(len(p)))
	}
	if cut {
		r.outputOff = true
		r.out.n = 0 // the rest of a sequence cut by the limit will never come
		r.buf = appendNotice(r.buf, now, fmt.Sprintf(
			"recording size limit (%d bytes) reached: output from here on is not recorded", r.opt.MaxBytes))
		r.open = false
	}
}

func (r *Recorder) inputLocked(now time.Duration, p []byte) {
	r.open = false // input ends the output event being merged, even if it is not recorded
	if r.inputOff {
		return
	}
	n, cut := r.allowance(len(p), 2*r.opt.MaxBytes)
	p = p[:n]
	if len(p) > 0 {
		mark := len(r.buf)
		r.buf = appendEventStart(r.buf, now, KindInput)
		dataAt := len(r.buf)
		r.buf = r.in.appendData(r.buf, p)
		if len(r.buf) == dataAt {
			r.buf = r.buf[:mark]
		} else {
			r.buf = append(r.buf, eventEnd...)
		}
		r.bytes.Add(int64(len(p)))
	}
	if cut {
		r.inputOff, r.outputOff = true, true
		r.in.n, r.out.n = 0, 0
		r.buf = appendNotice(r.buf, now, fmt.Sprintf(
			"recording size limit (twice %d bytes) reached: input from here on is not recorded", r.opt.MaxBytes))
	}
}

// Resize records a new terminal size. Sizes that are not positive are
// ignored.
func (r *Recorder) Resize(cols, rows int) {
	if cols <= 0 || rows <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.waitLocked() {
		return
	}
	r.releaseLocked(time.Since(r.start), false, nil) // typed before the resize; no echo seen
	r.open = false
	if r.inputOff {
		// Past the hard limit nothing more is written, or a client
		// sending window changes in a loop could still fill the disk.
		return
	}
	r.buf = appendEventStart(r.buf, time.Since(r.start), KindResize)
	r.buf = strconv.AppendInt(r.buf, int64(cols), 10)
	r.buf = append(r.buf, 'x')
	r.buf = strconv.AppendInt(r.buf, int64(rows), 10)
	r.buf = append(r.buf, eventEnd...)
	r.startWriterLocked()
}

func appendEventStart(dst []byte, t time.Duration, kind string) []byte {
	dst = append(dst, '[')
	dst = appendTime(dst, t)
	dst = append(dst, ", \""...)
	dst = append(dst, kind...)
	return append(dst, "\", \""...)
}

// appendNotice appends an output event a viewer of the replay will see,
// set apart on its own lines and in reverse video.
func appendNotice(dst []byte, t time.Duration, msg string) []byte {
	dst = appendEventStart(dst, t, KindOutput)
	dst, _ = appendEscaped(dst, []byte("\r\n\x1b[0;7m[postern: "+msg+"]\x1b[0m\r\n"), false)
	return append(dst, eventEnd...)
}

// Bytes returns how many bytes of output and input data have been recorded
// (before escaping).
func (r *Recorder) Bytes() int64 { return r.bytes.Load() }

// Err returns the write error that stopped the recording, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// writer is the Recorder's goroutine: it hands buffered events to the file
// every FlushEvery (or sooner when a lot is waiting) and fsyncs at most every
// SyncEvery, so that recording never waits on the disk under the lock.
func (r *Recorder) writer() {
	defer r.writers.Done()
	tick := time.NewTicker(r.opt.FlushEvery)
	defer tick.Stop()
	var spare []byte
	lastSync := time.Now()
	dirty := false
	for {
		ticked := false
		select {
		case <-r.stop:
			return
		case <-tick.C:
			ticked = true
		case <-r.kick:
		}
		var wrote bool
		spare, wrote = r.flush(spare)
		dirty = dirty || wrote
		if ticked && !wrote {
			// A tick with nothing to write: the session has gone quiet.
			// (A kick finding nothing is only a burst's leftover wake-up,
			// and shrinking then would reallocate in the middle of it.)
			spare = r.shrink(spare)
			if !dirty && r.idleStop() {
				return
			}
		}
		if dirty && time.Since(lastSync) >= r.opt.SyncEvery {
			if err := r.f.Sync(); err != nil {
				r.fail(err)
			}
			lastSync, dirty = time.Now(), false
		}
	}
}

// flush writes what is buffered, giving the writers spare to fill meanwhile,
// and returns the buffer just written for reuse.
func (r *Recorder) flush(spare []byte) ([]byte, bool) {
	r.mu.Lock()
	out := r.buf
	if len(out) == 0 || r.err != nil {
		r.mu.Unlock()
		return spare, false
	}
	r.buf = spare[:0]
	r.open = false // its line is leaving; the next output starts a new one
	r.space.Broadcast()
	r.mu.Unlock()
	if _, err := r.f.Write(out); err != nil {
		r.fail(err)
	}
	return out[:0], true
}

// idleStop ends the writer when nothing waits to be written; the next
// event starts another.
func (r *Recorder) idleStop() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		return false
	}
	r.writing = false
	r.buf = nil // an idle session holds no buffer
	return true
}

// shrink lets go of buffers a burst grew beyond keepBuffer, once a tick
// passes with nothing to write: bulk output keeps its big buffers (no
// reallocation per write), an idle session does not pin megabytes.
func (r *Recorder) shrink(spare []byte) []byte {
	r.mu.Lock()
	if len(r.buf) == 0 && cap(r.buf) > keepBuffer {
		r.buf = nil
	}
	r.mu.Unlock()
	if cap(spare) > keepBuffer {
		return nil
	}
	return spare
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	first := r.err == nil
	if first {
		r.err = fmt.Errorf("recording %s: %w", r.id, err)
		err = r.err
	}
	r.buf = nil
	r.space.Broadcast()
	r.mu.Unlock()
	if first && r.opt.OnError != nil {
		// A goroutine of its own, so that OnError may call Close, which
		// waits for this goroutine to end.
		go r.opt.OnError(err)
	}
}

// Close ends the recording: it writes what is buffered (an unfinished UTF-8
// sequence becomes U+FFFD), syncs, and compresses the file to <id>.cast.gz,
// removing the plain file. It takes time in proportion to the recording's
// size. Events recorded after Close are ignored. If writing had failed, the
// part that reached the disk is still compressed and the write error is
// returned; if compressing fails, the plain file is kept (Pending and
// Recover find it at the next start). Calling Close again returns the same
// result.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.finish() })
	return r.closeErr
}

func (r *Recorder) finish() error {
	r.mu.Lock()
	r.releaseLocked(time.Since(r.start), false, nil) // never echoed: the session ended first
	now := time.Since(r.start)
	if r.out.n > 0 {
		r.buf = appendEventStart(r.buf, now, KindOutput)
		r.buf = append(r.out.flush(r.buf), eventEnd...)
	}
	if r.in.n > 0 {
		r.buf = appendEventStart(r.buf, now, KindInput)
		r.buf = append(r.in.flush(r.buf), eventEnd...)
	}
	r.closed = true
	r.space.Broadcast()
	r.mu.Unlock()

	close(r.stop)
	r.writers.Wait()
	// The writer has stopped and no event can be added any more.
	r.mu.Lock()
	out, err := r.buf, r.err
	r.buf = nil
	r.mu.Unlock()
	if err == nil && len(out) > 0 {
		if _, werr := r.f.Write(out); werr != nil {
			err = fmt.Errorf("recording %s: %w", r.id, werr)
		}
	}
	if err == nil {
		if serr := r.f.Sync(); serr != nil {
			err = fmt.Errorf("recording %s: %w", r.id, serr)
		}
	}
	if cerr := r.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("recording %s: %w", r.id, cerr)
	}
	// After a write error the file may end in a torn line: check the lines
	// then, and only then (it costs a JSON scan of the whole file).
	if cerr := compress(r.dir, r.id, err != nil); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

func castPath(dir, id string) string { return filepath.Join(dir, id+".cast") }
func gzPath(dir, id string) string   { return filepath.Join(dir, id+".cast.gz") }
