package rpc

import (
	"os"
	"path/filepath"
	"strings"
)

// Sanitize turns an id into a file name as hololinked does for ipc paths:
// the characters <>:"/\|?* and control characters become '_', runs of '_'
// collapse to one, and '_' is trimmed from both ends.
func Sanitize(id string) string {
	var b strings.Builder
	last := false
	for _, r := range id {
		if strings.ContainsRune(`<>:"/\|?*`, r) || r < 0x20 || r == 0x7f {
			r = '_'
		}
		if r == '_' {
			if last {
				continue
			}
			last = true
		} else {
			last = false
		}
		b.WriteRune(r)
	}
	return strings.Trim(b.String(), "_")
}

// IPCEndpoints returns hololinked's ipc request and event endpoints for a
// server id under dir ("" = ~/.hololinked): DIR/sockets/{id}.ipc and
// DIR/sockets/{id}.event-publisher.ipc.
func IPCEndpoints(dir, serverID string) (req, events string) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".hololinked")
	}
	sock := filepath.Join(dir, "sockets")
	ev := strings.Replace(Sanitize(serverID+"/event-publisher"), "_event-publisher", ".event-publisher", 1)
	return "ipc://" + filepath.Join(sock, Sanitize(serverID)+".ipc"), "ipc://" + filepath.Join(sock, ev+".ipc")
}

// EventEndpoint derives the event publisher's endpoint from a request
// endpoint as a hololinked server lays them out: tcp port + 1; for ipc,
// "X.ipc" → "X.event-publisher.ipc"; for inproc, "inproc://ID" →
// "inproc://ID/event-publisher".
func EventEndpoint(req string) string {
	switch {
	case strings.HasPrefix(req, "tcp://"):
		i := strings.LastIndexByte(req, ':')
		port := 0
		for _, c := range req[i+1:] {
			if c < '0' || c > '9' {
				return ""
			}
			port = port*10 + int(c-'0')
		}
		if i < 6 || port == 0 {
			return ""
		}
		return req[:i+1] + itoa(port+1)
	case strings.HasPrefix(req, "ipc://"):
		return strings.TrimSuffix(req, ".ipc") + ".event-publisher.ipc"
	case strings.HasPrefix(req, "inproc://"):
		return req + "/event-publisher"
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
