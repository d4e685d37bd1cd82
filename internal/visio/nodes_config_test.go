package visio_test

import (
	"strings"
	"testing"

	"socle/internal/platform/config"
	"socle/internal/visio"
)

// The node's name is a NATS subject token (visio.node.<id>.open): a dot, a space or a
// wildcard in it would make the subjects of another node or of none.
func TestTheNodeSettingsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" valid, else the setting named in the error
	}{
		{map[string]string{"SOCLE_VISIO_NODE_ID": "media-1"}, ""},
		{map[string]string{"SOCLE_VISIO_NODE_ID": "Media_2"}, ""},
		{map[string]string{"SOCLE_VISIO_NODE_ID": "media.1"}, "SOCLE_VISIO_NODE_ID"},
		{map[string]string{"SOCLE_VISIO_NODE_ID": "media *"}, "SOCLE_VISIO_NODE_ID"},
		{map[string]string{"SOCLE_VISIO_NODE_ID": "-media"}, "SOCLE_VISIO_NODE_ID"},
		{map[string]string{"SOCLE_VISIO_NODE_LIMIT": "150"}, ""},
		{map[string]string{"SOCLE_VISIO_NODE_LIMIT": "-1"}, "SOCLE_VISIO_NODE_LIMIT"},
		{map[string]string{"SOCLE_VISIO_NODE_LIMIT": "many"}, "SOCLE_VISIO_NODE_LIMIT"},
	} {
		var c visio.Config
		s := config.New()
		c.Register(s)
		err := s.LoadEnv(func(k string) string { return tc.env[k] })
		if err == nil {
			err = s.Validate()
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want an error naming %q", tc.env, err, tc.want)
		}
	}
}
