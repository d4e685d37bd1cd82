package visio_test

import (
	"strings"
	"testing"

	"socle/internal/platform/config"
	"socle/internal/visio"
)

// SOCLE_VISIO_JWT_KEY_SERVER is Jitsi's asap_key_server (jitsi-meet
// resources/prosody-plugins/token/util.lib.lua, get_public_key), https only: the keys it
// serves decide who enters a meeting, so they must not be replaceable on the way.
func TestTheKeyServerSettingIsHTTPSOnly(t *testing.T) {
	for value, ok := range map[string]bool{
		"https://keys.example/asap/": true,
		"http://keys.example/asap/":  false,
		"http://127.0.0.1:8080/":     false,
		"keys.example":               false,
	} {
		var c visio.Config
		s := config.New()
		c.Register(s)
		env := map[string]string{"SOCLE_VISIO_JWT_KEY_SERVER": value}
		if err := s.LoadEnv(func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		err := s.Validate()
		if ok && err != nil || !ok && (err == nil || !strings.Contains(err.Error(), "SOCLE_VISIO_JWT_KEY_SERVER")) {
			t.Errorf("%s: %v", value, err)
		}
	}
}
