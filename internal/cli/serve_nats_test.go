package cli

import (
	"strings"
	"testing"
)

// TestNATSClusterSettingsAreCheckedBeforeStart: a replica with contradictory or unsafe
// cluster settings refuses to start and names the setting.
func TestNATSClusterSettingsAreCheckedBeforeStart(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SOCLE_NATS_ROUTES": "nats-route://socle-1:6222"}, "SOCLE_NATS_ROUTES needs SOCLE_NATS_CLUSTER_ADDR"},
		{map[string]string{"SOCLE_NATS_CLUSTER_ADDR": "0.0.0.0:6222", "SOCLE_NATS_URL": "tls://nats:4222"}, "exclude each other"},
		{map[string]string{"SOCLE_NATS_CLUSTER_ADDR": "0.0.0.0:6222", "SOCLE_NATS_CLUSTER_TLS": "none"}, "SOCLE_NATS_CLUSTER_TLS=none: only for routes on loopback"},
		{map[string]string{"SOCLE_NATS_CLUSTER_ADDR": "0.0.0.0:6222", "SOCLE_NATS_ROUTES": "socle-1:6222"}, `SOCLE_NATS_ROUTES: item 1 "socle-1:6222": want nats-route://host:port`},
		{map[string]string{"SOCLE_NATS_CLUSTER_ADDR": "0.0.0.0:6222", "SOCLE_NATS_CLUSTER_TLS": "plain"}, "SOCLE_NATS_CLUSTER_TLS=plain: want one of mutual, none"},
		{map[string]string{"SOCLE_SHUTDOWN_DRAIN": "soon"}, "SOCLE_SHUTDOWN_DRAIN=soon: want a positive duration"},
	} {
		t.Run(c.want, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, errs := run("serve", "--print-config")
			if code != 2 || !strings.Contains(errs, c.want) {
				t.Errorf("%v: exit %d, %q: want %q", c.env, code, errs, c.want)
			}
		})
	}
	t.Setenv("SOCLE_NATS_CLUSTER_ADDR", "0.0.0.0:6222")
	t.Setenv("SOCLE_NATS_ROUTES", "nats-route://socle-0.socle-nats:6222,nats-route://socle-1.socle-nats:6222")
	t.Setenv("SOCLE_SHUTDOWN_DRAIN", "5s")
	if code, out, errs := run("serve", "--print-config"); code != 0 || !strings.Contains(out, "SOCLE_NATS_ROUTES") {
		t.Fatalf("a StatefulSet's settings: exit %d\n%s%s", code, out, errs)
	}
}
