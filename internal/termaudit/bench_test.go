package termaudit

import (
	"bytes"
	"fmt"
	"testing"
)

// bulkText is what cat of a text file prints: lines of 60 to 100
// characters, CR LF ended as a terminal driver sends them.
func bulkText(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%06d the quick brown fox jumps over the lazy dog %s\r\n", i, "0123456789abcdefghijklmnopqrstuvwxyz"[:i%37])
	}
	return b.Bytes()[:size]
}

// colorText is what ls --color and the like print: short fields between
// SGR sequences.
func colorText(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "drwxr-xr-x 2 root root 4096 Nov 23 12:00 \x1b[01;34mdir-%d\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\r\n", i)
	}
	return b.Bytes()[:size]
}

// longLines has lines far wider than the terminal, which wrap.
func longLines(size int) []byte {
	line := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 100)
	var b bytes.Buffer
	for b.Len() < size {
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()[:size]
}

// benchOutput feeds data through Output in 32 KiB chunks (what an SSH
// channel read gives) while a command's output is being collected, as
// while cat runs.
func benchOutput(b *testing.B, data []byte) { benchOutputChunks(b, data, 32<<10) }

func benchOutputChunks(b *testing.B, data []byte, chunk int) {
	a := New(120, 40, Options{})
	a.Output([]byte("$ "))
	a.Input([]byte("cat big.txt"))
	a.Output([]byte("cat big.txt"))
	a.Input([]byte("\r"))
	a.Output([]byte("\r\n"))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		for i := 0; i < len(data); i += chunk {
			a.Output(data[i:min(i+chunk, len(data))])
		}
	}
}

func BenchmarkOutputBulk(b *testing.B) { benchOutput(b, bulkText(8<<20)) }

// BenchmarkOutputBulk4K is BenchmarkOutputBulk in reads of 4 KiB, too
// small for the screen's fast path: the emulator's own speed.
func BenchmarkOutputBulk4K(b *testing.B) { benchOutputChunks(b, bulkText(8<<20), 4<<10) }

func BenchmarkOutputColor(b *testing.B)     { benchOutput(b, colorText(8<<20)) }
func BenchmarkOutputLongLines(b *testing.B) { benchOutput(b, longLines(8<<20)) }

// BenchmarkKeystroke is one key typed and echoed, with Enter, the shell's
// answer and a new prompt every 40 keys.
func BenchmarkKeystroke(b *testing.B) {
	a := New(120, 40, Options{})
	a.Output([]byte("ops@web-01:~$ "))
	keys := []byte("echo the quick brown fox jumps over it")
	i := 0
	for b.Loop() {
		k := keys[i%len(keys) : i%len(keys)+1]
		a.Input(k)
		a.Output(k)
		i++
		if i%len(keys) == 0 {
			a.Input([]byte("\r"))
			a.Output([]byte("\r\nthe quick brown fox jumps over it\r\nops@web-01:~$ "))
		}
	}
}
