package sftpproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkg/sftp"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunks splits data into pieces of size at their offsets.
func chunks(data []byte, size int) (offs []int64, parts [][]byte) {
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		offs, parts = append(offs, int64(off)), append(parts, data[off:end])
	}
	return offs, parts
}

func TestDigest(t *testing.T) {
	data := make([]byte, 1<<20+123)
	rand.Read(data)
	offs, parts := chunks(data, 32<<10)
	feed := func(order []int) string {
		d := newDigest()
		for _, i := range order {
			d.add(parts[i], offs[i])
		}
		return d.sum()
	}
	inOrder := make([]int, len(parts))
	for i := range inOrder {
		inOrder[i] = i
	}
	if got := feed(inOrder); got != hexSum(data) {
		t.Fatalf("in order: %s, want %s", got, hexSum(data))
	}
	// Shuffled in small groups, as concurrent workers deliver them.
	shuffled := append([]int(nil), inOrder...)
	for i := 0; i+8 <= len(shuffled); i += 8 {
		mrand.Shuffle(8, func(a, b int) { shuffled[i+a], shuffled[i+b] = shuffled[i+b], shuffled[i+a] })
	}
	if got := feed(shuffled); got != hexSum(data) {
		t.Fatalf("reordered: %s, want %s", got, hexSum(data))
	}
	// Reversed entirely: still one run, and within the reorder bound.
	rev := make([]int, len(inOrder))
	for i := range rev {
		rev[i] = len(inOrder) - 1 - i
	}
	if got := feed(rev); got != hexSum(data) {
		t.Fatalf("reversed: %s", got)
	}
	if got := feed(inOrder[1:]); got != "" {
		t.Fatalf("a transfer that skipped the start got a digest %s", got)
	}
	if got := feed(append(inOrder[:3:3], inOrder[4:]...)); got != "" {
		t.Fatalf("a transfer with a gap got a digest %s", got)
	}
	if got := feed(append(inOrder[:5:5], inOrder[3:]...)); got != "" {
		t.Fatalf("a transfer that rewrote bytes got a digest %s", got)
	}
	if got := newDigest().sum(); got != hexSum(nil) {
		t.Fatalf("an empty transfer: %s", got)
	}
	// More out-of-order data than the bound gives up instead of holding it.
	d := newDigest()
	big := make([]byte, 1<<20)
	for off := int64(1); off < maxPending/int64(len(big))+3; off++ {
		d.add(big, off*int64(len(big)))
	}
	if d.held > maxPending {
		t.Fatalf("the digest holds %d bytes, over its bound", d.held)
	}
	d.add(big, 0)
	if d.sum() != "" {
		t.Fatalf("a digest that gave up still has a sum")
	}
}

// Small out-of-order pieces are held at what they cost, not at a pooled
// buffer's size each, so a client sending bytes one at a time out of order
// cannot make a digest hold more than maxPending.
func TestDigestHoldsSmallPiecesAtTheirSize(t *testing.T) {
	base := buffered.Load()
	d := newDigest()
	const pieces = 2000
	for i := range pieces {
		d.add([]byte{1}, int64(2*i+1))
	}
	held := 0
	for _, q := range d.pending {
		held += cap(q)
	}
	if len(d.pending) != pieces || held > 16*pieces || d.held < held {
		t.Fatalf("%d one-byte pieces held in %d bytes of buffers (counted %d)", len(d.pending), held, d.held)
	}
	// Past the bound it gives up rather than hold more.
	for i := pieces; !d.broken; i++ {
		d.add([]byte{1}, int64(2*i+1))
		if d.held > maxPending {
			t.Fatalf("the digest holds %d, over its bound of %d", d.held, maxPending)
		}
	}
	if d.sum() != "" {
		t.Fatal("a transfer with gaps got a digest")
	}
	if got := buffered.Load(); got != base {
		t.Fatalf("the budget is at %d after the digest let go, was %d", got, base)
	}
}

// With the gateway's budget spent, a download is read straight from the
// target and a reordered transfer gets no digest; both give their part of
// the budget back when done.
func TestBudget(t *testing.T) {
	base := buffered.Load()
	readAheadPass(t, readChunk, 3*raBlock)
	data := make([]byte, 1<<20)
	offs, parts := chunks(data, 32<<10)
	d := newDigest()
	d.add(parts[1], offs[1])
	d.add(parts[0], offs[0])
	for i := 2; i < len(parts); i++ {
		d.add(parts[i], offs[i])
	}
	if d.sum() != hexSum(data) {
		t.Fatal("a reordered transfer within the budget got no digest")
	}
	if got := buffered.Load(); got != base {
		t.Fatalf("the budget is at %d after the transfers, was %d", got, base)
	}

	// Spent: only a little is left.
	if !reserve(maxBuffered - int(base) - 1000) {
		t.Fatal("cannot take the budget")
	}
	defer unreserve(maxBuffered - int(base) - 1000)
	src := &countingReader{r: bytes.NewReader(make([]byte, 8*raBlock))}
	ra := newReadAhead(splitReader{src, readChunk})
	buf := make([]byte, 32<<10)
	for off := 0; off < 4*raBlock; off += len(buf) {
		if n, err := ra.ReadAt(buf, int64(off)); n != len(buf) || err != nil {
			t.Fatalf("read at %d: %d, %v", off, n, err)
		}
	}
	ra.close()
	if read := src.bytes.Load(); read != 4*raBlock {
		t.Fatalf("read %d bytes from the target for %d asked, with no budget to read ahead", read, 4*raBlock)
	}
	d = newDigest()
	d.add(parts[1], offs[1])
	d.add(parts[0], offs[0])
	if d.sum() != "" {
		t.Fatal("a reordered transfer got a digest with no budget to hold its data")
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r     io.ReaderAt
	bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

func TestReadAhead(t *testing.T) {
	// Requests to the target of pkg/sftp's default size, and of the size
	// OpenSSH's limits allow.
	for _, chunk := range []int{readChunk, maxReadLength} {
		for _, size := range []int{0, 1000, 3 * raBlock, 5*raBlock + 12345} {
			readAheadPass(t, chunk, size)
		}
	}

	// Random access reads only what is asked (and at most one window
	// started before the reads are seen to jump about), whatever the
	// offsets: the test tries several sequences of them.
	for seed := range uint64(20) {
		randomReads(t, mrand.New(mrand.NewPCG(seed, seed)))
	}

	// Two reads that look sequential start a window; a jump into the
	// middle of it is seen as random access and moves nothing further.
	data := make([]byte, 16*raBlock)
	src := &countingReader{r: bytes.NewReader(data)}
	ra := newReadAhead(splitReader{src, readChunk})
	buf := make([]byte, 32<<10)
	for _, off := range []int64{0, 32 << 10, 3 * raBlock, 3*raBlock + 64<<10, 4 * raBlock} {
		if n, err := ra.ReadAt(buf, off); n != len(buf) || err != nil {
			t.Fatalf("read at %d: %d, %v", off, n, err)
		}
	}
	ra.close()
	if read, limit := src.bytes.Load(), int64(raBlock*(raWindow+1)+5*len(buf)); read > limit {
		t.Fatalf("a jump into the window read %d bytes from the target, want at most %d", read, limit)
	}
}

// A client that reads in large requests (OpenSSH's sftp after the limits
// extension) is not read ahead: the target is asked for what the client
// asks, and no more.
func TestLargeReadsNotReadAhead(t *testing.T) {
	data := make([]byte, 8*raBlock)
	rand.Read(data)
	src := &countingReader{r: bytes.NewReader(data)}
	ra := newReadAhead(splitReader{src, maxReadLength})
	buf := make([]byte, maxReadLength)
	asked := 0
	for off := 0; off < 4*raBlock; off += len(buf) {
		n, err := ra.ReadAt(buf, int64(off))
		if n != len(buf) || err != nil || !bytes.Equal(buf, data[off:off+n]) {
			t.Fatalf("read at %d: %d, %v, or not the file's bytes", off, n, err)
		}
		asked += n
	}
	ra.close()
	if read := src.bytes.Load(); read != int64(asked) {
		t.Fatalf("read %d bytes from the target for %d asked", read, asked)
	}
}

// readAheadPass reads a file of size bytes in order through a read-ahead
// making requests of chunk bytes, as a client downloading it would.
func readAheadPass(t *testing.T, chunk, size int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	src := &countingReader{r: bytes.NewReader(data)}
	ra := newReadAhead(splitReader{src, chunk})
	// Eight workers take 32 KiB reads in order and run them at once,
	// as pkg/sftp's server does, past the end as clients do.
	got := make([]byte, size)
	offs := make(chan int64)
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for off := range offs {
				n, err := ra.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					bad.Store(err)
				}
				if want := max(0, min(len(buf), size-int(off))); n != want || (n < len(buf)) != (err == io.EOF) {
					bad.Store(fmt.Errorf("read at %d: %d, %v; want %d", off, n, err, want))
				}
				if n > 0 {
					copy(got[off:], buf[:n])
				}
			}
		}()
	}
	for off := int64(0); off < int64(size)+64<<10; off += 32 << 10 {
		offs <- off
	}
	close(offs)
	wg.Wait()
	ra.close()
	if err := bad.Load(); err != nil {
		t.Fatalf("chunk %d, size %d: %v", chunk, size, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("chunk %d, size %d: the data read differs", chunk, size)
	}
	if read := src.bytes.Load(); read > int64(size)+raBlock {
		t.Fatalf("chunk %d, size %d: read %d bytes from the target for one pass", chunk, size, read)
	}
}

func randomReads(t *testing.T, rng *mrand.Rand) {
	data := make([]byte, 8*raBlock)
	rand.Read(data)
	src := &countingReader{r: bytes.NewReader(data)}
	ra := newReadAhead(splitReader{src, readChunk})
	buf := make([]byte, 4096)
	var asked int64
	for range 50 {
		off := int64(rng.IntN(len(data)-len(buf)-1) + 1)
		n, err := ra.ReadAt(buf, off)
		if err != nil || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("random read at %d: %d, %v", off, n, err)
		}
		asked += int64(n)
	}
	ra.close()
	if src.bytes.Load() > asked+int64(raBlock*(raWindow+1)) {
		t.Fatalf("random reads of %d bytes read %d from the target", asked, src.bytes.Load())
	}
}

func TestFromTarget(t *testing.T) {
	cases := []struct {
		in   error
		want error
	}{
		{io.ErrUnexpectedEOF, sftp.ErrSSHFxConnectionLost},
		{sftp.ErrSSHFxConnectionLost, sftp.ErrSSHFxConnectionLost},
		{errors.New("odd"), sftp.ErrSSHFxFailure},
	}
	for _, c := range cases {
		if err := fromTarget(c.in); !errors.Is(err, c.want) {
			t.Errorf("fromTarget(%v) = %v, want code %v", c.in, err, c.want)
		}
	}
	if fromTarget(io.EOF) != io.EOF {
		t.Errorf("a file's end must stay io.EOF")
	}
}

func readFrame(t *testing.T, r io.Reader) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return hdr[4], body
}

func TestLimits(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	srv := sftp.NewRequestServer(newLimitsConn(server), sftp.InMemHandler())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()

	client.Write(frame(1, u32(3))) // INIT, version 3
	typ, body := readFrame(t, client)
	if typ != fxpVersion || !bytes.Contains(body, str(limitsExt)) || !bytes.Contains(body, str("posix-rename@openssh.com")) {
		t.Fatalf("VERSION: type %d, body %q", typ, body)
	}
	client.Write(frame(fxpExtended, u32(7), str(limitsExt)))
	typ, body = readFrame(t, client)
	if typ != fxpExtendedReply || len(body) != 4+32 || binary.BigEndian.Uint32(body) != 7 ||
		binary.BigEndian.Uint64(body[4:]) != maxPacketLength || binary.BigEndian.Uint64(body[12:]) != maxReadLength || binary.BigEndian.Uint64(body[20:]) != maxReadLength {
		t.Fatalf("limits reply: type %d, body %x", typ, body)
	}
	if got := binary.BigEndian.Uint64(body[28:]); got != maxFiles {
		t.Fatalf("limits reply: %d open files, want %d", got, maxFiles)
	}
	// Other requests, extended ones included, reach the server.
	client.Write(frame(16, u32(8), str("/"))) // REALPATH
	if typ, body = readFrame(t, client); typ != 104 || binary.BigEndian.Uint32(body) != 8 {
		t.Fatalf("REALPATH reply: type %d, body %q", typ, body)
	}
	client.Write(frame(fxpExtended, u32(9), str("no-such@example.com")))
	if typ, body = readFrame(t, client); typ != 101 || binary.BigEndian.Uint32(body) != 9 {
		t.Fatalf("unknown extension: type %d, body %q", typ, body)
	}
	client.Close()
	<-done
}

// Packets too short to be SFTP or longer than the server takes end the
// conversation at the filter, where the session sees it end.
func TestLimitsConnRefusesBadLengths(t *testing.T) {
	for _, length := range []uint32{0, 4, maxPacketLength + 1, 1 << 31} {
		in := binary.BigEndian.AppendUint32(nil, length)
		in = append(in, make([]byte, 8)...)
		c := newLimitsConn(struct {
			io.Reader
			io.Writer
			io.Closer
		}{bytes.NewReader(in), io.Discard, io.NopCloser(nil)})
		if n, err := c.Read(make([]byte, 64)); err == nil {
			t.Errorf("a packet of length %d was read (%d bytes)", length, n)
		}
	}
}

// fakeBackend has targets that a test changes, and no targets to dial.
type fakeBackend struct {
	mu     sync.Mutex
	ts     []Target
	events []Event
}

func (f *fakeBackend) Targets(context.Context) ([]Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.ts...), nil
}

func (f *fakeBackend) Dial(context.Context, Target) (*Client, io.Closer, error) {
	return nil, nil, errors.New("no targets here")
}

func (f *fakeBackend) Audit(_ context.Context, e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeBackend) set(actions ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ts = []Target{{Asset: "web-01", SystemUser: "deploy", AssetID: "a1", SystemUserID: "s1", Actions: actions}}
}

// TestRecheck shows that changed actions and revoked permissions apply to
// the operations after the next re-read of the targets.
func TestRecheck(t *testing.T) {
	for _, direct := range []bool{false, true} {
		b := &fakeBackend{}
		b.set("connect", "upload")
		var d *Target
		dir := "/web-01/deploy/tmp/x"
		if direct {
			d, dir = &Target{AssetID: "a1", SystemUserID: "s1", Asset: "web-01", SystemUser: "deploy"}, "/tmp/x"
		}
		s := newSession(context.Background(), b, d)
		// Allowed: it goes on to dial, which fails here.
		if err := s.Filecmd(sftp.NewRequest("Mkdir", dir)); !errors.Is(err, sftp.ErrSSHFxNoConnection) {
			t.Fatalf("direct=%v: mkdir with upload: %v", direct, err)
		}
		b.set("connect", "download")
		if err := s.Filecmd(sftp.NewRequest("Mkdir", dir)); !errors.Is(err, sftp.ErrSSHFxNoConnection) {
			t.Fatalf("direct=%v: mkdir before the re-check: %v", direct, err)
		}
		s.mu.Lock()
		s.reachAt = s.reachAt.Add(-recheckEvery)
		s.mu.Unlock()
		if err := s.Filecmd(sftp.NewRequest("Mkdir", dir)); !errors.Is(err, sftp.ErrSSHFxPermissionDenied) {
			t.Fatalf("direct=%v: mkdir after upload was removed: %v", direct, err)
		}
		b.mu.Lock()
		b.ts = nil
		b.mu.Unlock()
		s.mu.Lock()
		s.reachAt = s.reachAt.Add(-recheckEvery)
		s.mu.Unlock()
		_, err := s.Filelist(sftp.NewRequest("List", dir))
		want := sftp.ErrSSHFxNoSuchFile
		if direct {
			want = sftp.ErrSSHFxPermissionDenied
		}
		if !errors.Is(err, want) {
			t.Fatalf("direct=%v: listing after the permission went: %v", direct, err)
		}
		last := b.events[len(b.events)-1]
		if last.Op != OpMkdir || last.Success || !strings.Contains(last.Err, `"upload" action`) {
			t.Fatalf("direct=%v: the refusal was audited as %+v", direct, last)
		}
	}
}
