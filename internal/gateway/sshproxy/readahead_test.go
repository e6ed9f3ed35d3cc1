package sshproxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// chunkConn is a connection whose reads return the scripted chunks, one
// per read at most (as a socket returns what has arrived), then EOF.
type chunkConn struct {
	net.Conn
	chunks [][]byte
	reads  int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	c.reads++
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// Whatever sizes arrive and are asked for, the bytes come out whole and
// in order, and the end of the stream is reported.
func TestBulkReadsKeepTheStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := rand.NewChaCha8([32]byte{})
	for round := range 40 {
		var want []byte
		var chunks [][]byte
		for range rng.IntN(20) + 1 {
			c := make([]byte, rng.IntN(300<<10)+1)
			fill.Read(c)
			want = append(want, c...)
			chunks = append(chunks, c)
		}
		bc := BulkReads(&chunkConn{chunks: chunks})
		var got []byte
		for {
			p := make([]byte, []int{4, 4096, 32 << 10, rng.IntN(70<<10) + 1}[rng.IntN(4)])
			n, err := bc.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: %d bytes read, %d sent, or not the same bytes", round, len(got), len(want))
		}
	}
}

// Bulk data is read in large pieces; a trickle (an interactive session)
// goes straight to the caller with no buffer held.
func TestBulkReadsBatchOnlyWhileStreaming(t *testing.T) {
	big := make([]byte, 8<<20)
	src := &chunkConn{chunks: [][]byte{big}}
	bc := BulkReads(src).(*bulkConn)
	p := make([]byte, 4096)
	for n := 0; n < len(big); {
		k, err := bc.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	if max := len(big)/largeBuf + 4; src.reads > max {
		t.Fatalf("8 MiB read in %d reads of the socket, want at most %d", src.reads, max)
	}
	keys := &chunkConn{chunks: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}
	bc = BulkReads(keys).(*bulkConn)
	for range 3 {
		if n, err := bc.Read(p); n != 1 || err != nil {
			t.Fatalf("read %d, %v", n, err)
		}
		if bc.buf != nil {
			t.Fatal("a read-ahead buffer is held for single keystrokes")
		}
	}
}
