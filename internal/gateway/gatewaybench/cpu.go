package gatewaybench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the times in /proc/PID/stat: USER_HZ, 100 on every architecture
// Linux runs socle on (reading sysconf(_SC_CLK_TCK) would need cgo).
const clockTick = 10 * time.Millisecond

// procStat is what the bench reads of /proc/PID/stat: the parent's pid, the CPU time the
// process used (user + system), and the CPU time of its children it has waited for.
type procStat struct {
	ppid          int
	cpu, children time.Duration
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces and parentheses: the fields that
	// follow start after the last ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// From field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var n [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} {
		if n[k], err = strconv.ParseInt(f[idx], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return procStat{ppid: int(n[0]), cpu: time.Duration(n[1]+n[2]) * clockTick,
		children: time.Duration(n[3]+n[4]) * clockTick}, nil
}

// processCPU is the CPU time process pid has used so far.
func processCPU(pid int) (time.Duration, error) {
	s, err := readProcStat(pid)
	return s.cpu, err
}

// treeCPU is the CPU time of process pid and of its children, those running and those it
// has reaped (a PostgreSQL backend that ended during a phase is counted in its postmaster's
// children's time).
func treeCPU(pid int) (time.Duration, error) {
	root, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	total := root.cpu + root.children
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil || child == pid {
			continue
		}
		s, err := readProcStat(child)
		if err != nil || s.ppid != pid {
			continue // gone meanwhile, or not a child
		}
		total += s.cpu
	}
	return total, nil
}

// postmasterPID reads the pid of the PostgreSQL server whose data directory is dir: the
// first line of postmaster.pid.
func postmasterPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, errors.New(filepath.Join(dir, "postmaster.pid") + ": no pid on its first line")
	}
	return pid, nil
}

// loadAverage is the machine's load average over the last minute, or 0 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}
