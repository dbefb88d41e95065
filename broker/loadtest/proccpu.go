package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ProcessCPU is the CPU time process pid has used so far: the sum of its
// threads' run time (the first field of /proc/PID/task/*/schedstat, in
// nanoseconds, finer than the clock ticks of /proc/PID/stat). Linux only.
func ProcessCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err == nil && len(tasks) == 0 {
		err = fmt.Errorf("no process %d here (or no /proc/PID/task/*/schedstat: Linux only)", pid)
	}
	if err != nil {
		return 0, fmt.Errorf("loadtest: broker CPU: %w", err)
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if os.IsNotExist(err) {
			continue // a thread that has just ended
		}
		if err != nil {
			return 0, fmt.Errorf("loadtest: broker CPU: %w", err)
		}
		f, _, _ := bytes.Cut(b, []byte(" "))
		ns, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadtest: broker CPU: %s: %q: %w", t, b, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}
