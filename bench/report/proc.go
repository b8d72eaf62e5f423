package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// Linux fixes it at 100 in its user-space ABI on every architecture Go
// supports, so it is not read through sysconf (which would need cgo).
const clockTicks = 100

// maxProcFile bounds what is read of a /proc file.
const maxProcFile = 64 << 10

// Proc is switchd's resource use over a run.
type Proc struct {
	PID          int     `json:"pid"`
	CPUSeconds   float64 `json:"cpu_seconds"`      // user+system during the run
	CPUPer1000   float64 `json:"cpu_s_per_1000"`   // CPU seconds per 1,000 requests
	PeakRSSBytes int64   `json:"peak_rss_bytes"`   // VmHWM at the end of the run: peak since start
	RSSBytes     int64   `json:"rss_bytes_at_end"` // VmRSS at the end of the run
}

// ProcSample is one reading of a process's CPU time and memory.
type ProcSample struct {
	CPUSeconds   float64
	PeakRSSBytes int64
	RSSBytes     int64
}

// ReadProc samples /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := readBounded(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	cpu, err := ParseStatCPU(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	status, err := readBounded(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	hwm, rss, err := ParseStatusMemory(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("parsing /proc/%d/status: %w", pid, err)
	}
	return ProcSample{CPUSeconds: cpu, PeakRSSBytes: hwm, RSSBytes: rss}, nil
}

// readBounded reads at most maxProcFile bytes of a /proc file (which
// reports no size, so it cannot be refused up front).
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProcFile))
}

// ParseStatCPU returns utime+stime in seconds from a /proc/<pid>/stat line.
// The command name (field 2) may contain spaces and parentheses, so fields
// are counted from the last ')'.
func ParseStatCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After ')': field 3 (state) is rest[0]; utime is field 14, stime 15.
	rest := strings.Fields(string(stat[i+1:]))
	const utimeIdx, stimeIdx = 14 - 3, 15 - 3
	if len(rest) <= stimeIdx {
		return 0, fmt.Errorf("only %d fields after the command name", len(rest))
	}
	ut, err := strconv.ParseUint(rest[utimeIdx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(rest[stimeIdx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return float64(ut+st) / clockTicks, nil
}

// ParseStatusMemory returns VmHWM and VmRSS in bytes from /proc/<pid>/status.
func ParseStatusMemory(status []byte) (hwm, rss int64, err error) {
	var seenHWM, seenRSS bool
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", name, strings.TrimSpace(val))
		}
		kb, perr := strconv.ParseInt(f[0], 10, 64)
		if perr != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, 0, fmt.Errorf("%s: bad number %q", name, f[0])
		}
		if name == "VmHWM" {
			hwm, seenHWM = kb*1024, true
		} else {
			rss, seenRSS = kb*1024, true
		}
	}
	if !seenHWM || !seenRSS {
		return 0, 0, errors.New("VmHWM or VmRSS missing (kernel thread or exited process?)")
	}
	return hwm, rss, nil
}

// CPUPer1000 is CPU seconds per 1,000 requests; 0 when n is 0.
func CPUPer1000(cpuSeconds float64, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpuSeconds * 1000 / float64(n)
}

// ProcOver builds a run's Proc from samples taken at its start and end.
func ProcOver(pid int, start, end ProcSample, requests int64) *Proc {
	cpu := end.CPUSeconds - start.CPUSeconds
	return &Proc{PID: pid, CPUSeconds: cpu, CPUPer1000: CPUPer1000(cpu, requests), PeakRSSBytes: end.PeakRSSBytes, RSSBytes: end.RSSBytes}
}
