package recording

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// ErrBadID is returned for an id that is not 1 to 128 ASCII letters, digits
// and '-'. Ids become file names; the restriction keeps them from ever
// naming another directory or a hidden or temporary file.
var ErrBadID = errors.New("recording id must be 1-128 characters of A-Z, a-z, 0-9 and '-'")

// ErrEmpty is returned by Recover for a plain recording that holds not even
// a complete header line: the gateway stopped before the session started, so
// nothing was recorded. Recover removes such a file.
var ErrEmpty = errors.New("recording holds no complete header")

func checkID(id string) error {
	if len(id) == 0 || len(id) > 128 {
		return fmt.Errorf("%q: %w", id, ErrBadID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%q: %w", id, ErrBadID)
		}
	}
	return nil
}

// syncDir makes a file's creation, rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// compress writes <id>.cast.gz from <id>.cast and removes the plain file. It
// writes a temporary file, syncs it and renames it into place, so that a
// .cast.gz that exists is always complete; the plain file is removed only
// after that, so a crash at any point leaves one whole copy. With check set
// it copies only the complete lines that are valid JSON (what survives a
// crash or a failed write); without, it copies the bytes as they are.
func compress(dir, id string, check bool) (err error) {
	src, dst := castPath(dir, id), gzPath(dir, id)
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("recording %s: %w", id, err)
	}
	defer in.Close()
	// A fixed temporary name: a crash mid-way leaves one stale file that
	// the next attempt truncates, rather than a new one each time.
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("recording %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	// Level 1 (BestSpeed): terminal text compresses well even so, and Close
	// runs at every session end on a gateway whose CPU serves live sessions.
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	zw.Name = id + ".cast"
	if check {
		err = copyValidLines(zw, in)
	} else {
		_, err = io.Copy(zw, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if err == nil {
		err = out.Close()
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("recording %s: %w", id, err)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("recording %s: %w", id, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("recording %s: %w", id, err)
	}
	return nil
}

// copyValidLines copies the header line and every later complete line that
// is a JSON array. A line without its newline at the end is the write a
// crash cut short; a line that is not JSON is what a power loss can leave
// (zeroed blocks); both are dropped rather than failing the whole recording.
func copyValidLines(w io.Writer, r io.Reader) error {
	lr := newLineReader(r)
	first := true
	for {
		line, complete, err := lr.next()
		if err != nil {
			return err
		}
		if !complete {
			if first {
				return ErrEmpty
			}
			return nil
		}
		if first {
			if _, err := parseHeader(line); err != nil {
				// Not ours or damaged at the very start: refuse rather
				// than turn it into something else.
				return err
			}
			first = false
		} else if len(line) < 2 || line[0] != '[' || !json.Valid(line) {
			continue
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
}

// lineReader splits a stream into lines of any length (a merged output event
// can be megabytes long, more than bufio.Scanner allows by default).
type lineReader struct {
	br   *bufio.Reader
	line []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its '\n' (and without a '\r' before
// it), and whether it ended with '\n'. At the end of the stream it returns
// the unterminated rest (possibly empty) with complete false. The line is
// valid until the next call.
func (lr *lineReader) next() (line []byte, complete bool, err error) {
	lr.line = lr.line[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			lr.line = append(lr.line, chunk...)
			continue
		}
		var l []byte
		if len(lr.line) > 0 {
			lr.line = append(lr.line, chunk...)
			l = lr.line
		} else {
			l = chunk
		}
		if err == io.EOF {
			return l, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		l = bytes.TrimSuffix(l[:len(l)-1], []byte{'\r'})
		return l, true, nil
	}
}

// Open returns the asciicast text of a recording, compressed or not, for
// replay. For a plain file (a session still running, or left by a crash) it
// returns the text up to the last complete line at the time of the call, so
// what it returns always parses.
func Open(dir, id string) (io.ReadCloser, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	// Close renames the .cast.gz into place before removing the .cast, so
	// trying the compressed file again after a missing plain one cannot
	// miss a recording that is being compressed right now.
	for range 2 {
		rc, err := openGz(gzPath(dir, id))
		if !errors.Is(err, fs.ErrNotExist) {
			return rc, err
		}
		rc, err = openPlain(castPath(dir, id))
		if !errors.Is(err, fs.ErrNotExist) {
			return rc, err
		}
	}
	return nil, fmt.Errorf("recording %s: %w", id, fs.ErrNotExist)
}

type gzFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

func openGz(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gzFile{zr, f}, nil
}

type plainFile struct {
	*io.SectionReader
	f *os.File
}

func (p plainFile) Close() error { return p.f.Close() }

func openPlain(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	n, err := completeLength(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return plainFile{io.NewSectionReader(f, 0, n), f}, nil
}

// completeLength returns the length of f up to and including its last '\n',
// reading backwards from the end so a long recording costs one block.
func completeLength(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	buf := make([]byte, 32<<10)
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// Recover finishes a recording left as a plain <id>.cast by a crash: it
// drops a partial last line (and any line a power loss damaged), compresses
// the rest to <id>.cast.gz and removes the plain file, as Close would have.
// It is meant for the ids Pending returns, at start, before any session
// runs; it must not be called for a recording that is still being written.
// A recording that is already compressed is left as it is (nil); one that
// holds no complete header is removed and ErrEmpty returned; one whose first
// line is not an asciicast v2 header is left in place and an error returned.
func Recover(dir, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if _, err := os.Lstat(castPath(dir, id)); errors.Is(err, fs.ErrNotExist) {
		if _, gzErr := os.Lstat(gzPath(dir, id)); gzErr == nil {
			return nil
		}
		return fmt.Errorf("recording %s: %w", id, fs.ErrNotExist)
	}
	err := compress(dir, id, true)
	if errors.Is(err, ErrEmpty) {
		if rmErr := os.Remove(castPath(dir, id)); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		return errors.Join(err, syncDir(dir))
	}
	return err
}

// Pending returns, sorted, the ids that have a plain <id>.cast in dir: at
// start, before any session runs, these are the recordings a crash left open
// (pass each to Recover). A missing dir has none.
func Pending(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".cast")
		if ok && e.Type().IsRegular() && checkID(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
