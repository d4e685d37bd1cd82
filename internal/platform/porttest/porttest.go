// Package porttest picks loopback ports for listeners a test must name before they start:
// a cluster's routes, known to every node in advance as a StatefulSet's pod names are.
package porttest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	taken = map[int]bool{} // handed out in this test binary: never twice
)

// Free returns a loopback port nothing listens on, taken below the kernel's ephemeral range:
// the ports that processes bind with port 0 — an embedded NATS server's in-process client
// listener among them — come from that range, and one of them landing on a port picked (and
// released) in advance for another node made a cluster fail to form in CI.
func Free(t testing.TB) int {
	t.Helper()
	low := 32768 // Linux's default, if the range cannot be read
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(max(low-10000, 1000))
		if taken[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		taken[port] = true
		return port
	}
	t.Fatal("porttest: no free port below the ephemeral range")
	return 0
}

// Addr is Free as 127.0.0.1:port.
func Addr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", Free(t)) }
