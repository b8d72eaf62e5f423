package report

import (
	"bytes"
	"math"
	"testing"
)

// The report reads /proc files and `go test -bench` output: hostile input
// must give an error or a sane value, never a panic.

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("4242 (switchd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 566 0 0 20 0 12 0 100 2000000 5000\n"))
	f.Add([]byte("1 (a) b) c) R 0 0 0 0 0 0 0 0 0 0 18446744073709551615 1 0 0"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStatCPU(b)
		if err == nil && (v < 0 || math.IsNaN(v)) {
			t.Fatalf("ParseStatCPU = %v without error", v)
		}
	})
}

func FuzzParseStatusMemory(f *testing.F) {
	f.Add([]byte("Name:\tswitchd\nVmHWM:\t   65536 kB\nVmRSS:\t   32768 kB\n"))
	f.Add([]byte("VmHWM: 1 kB\nVmRSS: 9223372036854775807 kB\n"))
	f.Add([]byte("VmHWM:\nVmRSS:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hwm, rss, err := ParseStatusMemory(b)
		if err == nil && (hwm < 0 || rss < 0) {
			t.Fatalf("ParseStatusMemory = %d, %d without error", hwm, rss)
		}
	})
}

func FuzzParseGoBench(f *testing.F) {
	f.Add([]byte("pkg: x\nBenchmarkA-2 \t 100\t 243678 ns/op\t 4104 commits/s\t 99212 B/op\t 110 allocs/op\n"))
	f.Add([]byte("BenchmarkB 1 2 ns/op 3\n"))
	f.Add([]byte("Benchmark\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, _ := ParseGoBench(bytes.NewReader(b))
		for _, m := range ms {
			if m.Name == "" {
				t.Fatalf("result without a name: %+v", m)
			}
		}
	})
}
