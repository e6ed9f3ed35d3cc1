package sftpproxy

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/pkg/sftp"
)

// sizedFiles serves one in-memory file and notes the size of every read and
// write request that reaches it.
type sizedFiles struct {
	sftp.Handlers
	mu     sync.Mutex
	data   []byte
	reads  []int
	writes []int
	short  int // when set, no read returns more than this (as a pipe's)
}

func (f *sizedFiles) Fileread(*sftp.Request) (io.ReaderAt, error)  { return f, nil }
func (f *sizedFiles) Filewrite(*sftp.Request) (io.WriterAt, error) { return f, nil }

func (f *sizedFiles) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, len(p))
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	end := len(f.data)
	if f.short > 0 {
		end = min(end, int(off)+f.short)
	}
	n := copy(p, f.data[off:end])
	if end == len(f.data) && n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *sizedFiles) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, len(p))
	if end := int(off) + len(p); end > len(f.data) {
		f.data = append(f.data, make([]byte, end-len(f.data))...)
	}
	return copy(f.data[off:], p), nil
}

// serveFiles starts a pkg/sftp server of files on one end of a pipe,
// answering limits@openssh.com or not, and returns a client from
// newClientOn on the other.
func serveFiles(t *testing.T, files *sizedFiles, withLimits bool) *Client {
	t.Helper()
	cc, sc := net.Pipe()
	h := sftp.InMemHandler()
	h.FileGet, h.FilePut = files, files
	var conn io.ReadWriteCloser = sc
	opts := []sftp.RequestServerOption{}
	if withLimits {
		// The proxy's own server side answers limits as OpenSSH does.
		conn, opts = newLimitsConn(sc), append(opts, sftp.WithRSMaxTxPacket(maxReadLength))
	}
	srv := sftp.NewRequestServer(conn, h, opts...)
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	c, err := newClientOn(cc, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A target whose reads come back short without being at the end of the
// file (a pipe, /proc) is read whole by downloads, read ahead or not,
// whatever request size the target allows: short replies are never taken
// for the end of the file.
func TestShortReplies(t *testing.T) {
	for _, withLimits := range []bool{true, false} {
		want := make([]byte, 3<<20+12345)
		rand.Read(want)
		files := &sizedFiles{data: want, short: 7000}
		c := serveFiles(t, files, withLimits)
		f, err := c.Open("/f")
		if err != nil {
			t.Fatal(err)
		}
		// Straight reads of a block, and a download's reads through the
		// read-ahead, as the server side makes them (255 KiB at a time).
		got := make([]byte, len(want))
		if n, err := (splitReader{f, c.chunk()}).ReadAt(got, 0); n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(got, want) {
			t.Fatalf("limits %v: a straight read gave %d of %d bytes (%v), equal %v", withLimits, n, len(want), err, bytes.Equal(got, want))
		}
		clear(got)
		ra := newReadAhead(splitReader{f, c.chunk()})
		for off := 0; off < len(want); off += maxReadLength {
			n, err := ra.ReadAt(got[off:min(off+maxReadLength, len(want))], int64(off))
			if err != nil && err != io.EOF || n != min(maxReadLength, len(want)-off) {
				t.Fatalf("limits %v: read-ahead at %d: %d bytes, %v", withLimits, off, n, err)
			}
		}
		ra.close()
		f.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("limits %v: the download through the read-ahead differs", withLimits)
		}
	}
}

// transferOver writes and reads back 1 MiB through a client from
// newClientOn to a pkg/sftp server, with limits@openssh.com answered or
// not, and returns the largest read and write request the server saw.
func transferOver(t *testing.T, withLimits bool) (maxRead, maxWrite int) {
	t.Helper()
	files := &sizedFiles{}
	c := serveFiles(t, files, withLimits)
	want := make([]byte, 1<<20)
	rand.Read(want)
	f, err := c.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if f, err = c.Open("/f"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if n, err := f.ReadAt(got, 0); n != len(want) || (err != nil && err != io.EOF) {
		t.Fatalf("read back %d bytes, %v", n, err)
	}
	f.Close()
	if !bytes.Equal(got, want) {
		t.Fatal("the file read back differs from the one written")
	}
	files.mu.Lock()
	defer files.mu.Unlock()
	return slices.Max(files.reads), slices.Max(files.writes)
}

func TestClientRequestSize(t *testing.T) {
	// A server that states its limits gets requests of that size: eight
	// times fewer than at pkg/sftp's default.
	if r, w := transferOver(t, true); r != maxReadLength || w != maxReadLength {
		t.Errorf("with limits@openssh.com: largest read %d, write %d; want %d", r, w, maxReadLength)
	}
	// One that does not gets what every server takes: a larger read could
	// come back short, which the client takes for the end of the file.
	if r, w := transferOver(t, false); r != defaultPacket || w != defaultPacket {
		t.Errorf("without limits@openssh.com: largest read %d, write %d; want %d", r, w, defaultPacket)
	}
}

func TestPacketFromLimits(t *testing.T) {
	reply := func(id uint32, packet, read, write uint64) []byte {
		return frame(fxpExtendedReply, u32(id), u64(packet), u64(read), u64(write), u64(0))
	}
	for _, c := range []struct {
		name  string
		reply []byte
		want  int
	}{
		{"OpenSSH", reply(limitsID, 256<<10, 255<<10, 255<<10), 255 << 10},
		{"more than the proxy takes", reply(limitsID, 1<<30, 1<<30, 1<<30), maxReadLength},
		{"smaller writes", reply(limitsID, 256<<10, 255<<10, 64<<10), 64 << 10},
		{"a small packet limit", reply(limitsID, 40<<10, 255<<10, 255<<10), 40<<10 - 1024},
		{"no read limit stated", reply(limitsID, 256<<10, 0, 255<<10), defaultPacket},
		{"absurd packet limit", reply(limitsID, 10, 255<<10, 255<<10), defaultPacket},
		{"packet limit of 1024", reply(limitsID, 1024, 255<<10, 255<<10), defaultPacket},
		{"another request's reply", reply(limitsID+1, 256<<10, 255<<10, 255<<10), defaultPacket},
		{"a status instead", frame(101, u32(limitsID), u32(8), str("unsupported"), str("")), defaultPacket},
		{"truncated", reply(limitsID, 256<<10, 255<<10, 255<<10)[:20], defaultPacket},
	} {
		if got := packetFromLimits(c.reply); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestDropFirst(t *testing.T) {
	pkt := frame(fxpInit, u32(3))
	rest := frame(16, u32(1), str("."))
	// However the first packet and what follows are cut into writes, only
	// the first packet is left out.
	all := append(append([]byte(nil), pkt...), rest...)
	for cut := 0; cut <= len(all); cut++ {
		for cut2 := cut; cut2 <= len(all); cut2++ {
			var out bytes.Buffer
			d := &dropFirst{w: nopCloser{&out}}
			for _, p := range [][]byte{all[:cut], all[cut:cut2], all[cut2:]} {
				if n, err := d.Write(p); n != len(p) || err != nil {
					t.Fatalf("write of %d: %d, %v", len(p), n, err)
				}
			}
			if !bytes.Equal(out.Bytes(), rest) {
				t.Fatalf("cut at %d, %d: passed on %x, want %x", cut, cut2, out.Bytes(), rest)
			}
		}
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func FuzzHandshake(f *testing.F) {
	f.Add(frame(fxpVersion, u32(3), str(limitsExt), str("1")), frame(fxpExtendedReply, u32(limitsID), make([]byte, 32)))
	f.Add(frame(fxpVersion, u32(3)), []byte{})
	f.Add([]byte{0, 0, 0, 0}, []byte{})
	f.Fuzz(func(t *testing.T, version, reply []byte) {
		// Whatever a target sends, the handshake ends with a packet size
		// the proxy can use, or an error; it never panics.
		_, packet, err := handshake(io.MultiReader(bytes.NewReader(version), bytes.NewReader(reply)), io.Discard)
		if err == nil && (packet < 1 || packet > maxReadLength) {
			t.Fatalf("packet size %d", packet)
		}
	})
}
