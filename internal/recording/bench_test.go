//go:build unix

package recording

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used, user and system, all
// goroutines included: the background writer's work counts too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPUPerGB reports the process CPU seconds spent per GB recorded,
// the figure that says what recording costs a busy gateway (wall time also
// includes waiting for the disk).
func reportCPUPerGB(b *testing.B, cpu0 time.Duration, bytesPerOp int) {
	cpu := cpuTime(b) - cpu0
	gb := float64(b.N) * float64(bytesPerOp) / 1e9
	b.ReportMetric(cpu.Seconds()/gb, "cpu-s/GB")
}

// BenchmarkOutput records bulk output (cat of a large file) in 64 KiB
// writes of mixed text, the background writes to the file included: what a
// session pays, in time and allocations, for being recorded.
func BenchmarkOutput(b *testing.B) { benchOutput(b, mixedText(64<<10)) }

// BenchmarkOutputZeros records head -c 1G /dev/zero: NUL bytes, which
// terminals ignore and the recording leaves out.
func BenchmarkOutputZeros(b *testing.B) { benchOutput(b, make([]byte, 64<<10)) }

func benchOutput(b *testing.B, chunk []byte) {
	r, err := Start(b.TempDir(), "bench", Header{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		r.Output(chunk)
	}
	reportCPUPerGB(b, cpu0, len(chunk))
	b.StopTimer()
	r.Close()
}

// BenchmarkOutputSmall records keystrokes and their echoes: a few bytes per
// write, the cost of the lock and the event framing.
func BenchmarkOutputSmall(b *testing.B) {
	r, err := Start(b.TempDir(), "bench", Header{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("l")
	echo := []byte("l\x1b[K")
	b.SetBytes(int64(len(key) + len(echo)))
	b.ReportAllocs()
	for b.Loop() {
		r.Input(key)
		r.Output(echo)
	}
	b.StopTimer()
	r.Close()
}

// BenchmarkEscape is the escaping alone, to compare with encoding/json.
func BenchmarkEscape(b *testing.B) {
	chunk := mixedText(64 << 10)
	dst := make([]byte, 0, 2*len(chunk))
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		var c carry
		dst = c.appendData(dst[:0], chunk)
	}
}

// BenchmarkEscapeASCII is plain ASCII text, the most common output.
func BenchmarkEscapeASCII(b *testing.B) {
	line := []byte("2024-05-01T10:00:00Z INFO request handled path=/api/v2/assets status=200 in 3.2ms\r\n")
	var chunk []byte
	for len(chunk) < 64<<10 {
		chunk = append(chunk, line...)
	}
	dst := make([]byte, 0, 2*len(chunk))
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		var c carry
		dst = c.appendData(dst[:0], chunk)
	}
}

func BenchmarkEscapeEncodingJSON(b *testing.B) {
	chunk := mixedText(64 << 10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(string(chunk)); err != nil {
			b.Fatal(err)
		}
	}
}
